"""App Home: the approvals waiting for me, pending deletions with days left and their
Restore (or Request restore) buttons, and my recent activity.

A pure builder over the core's views; a part the reader may not see says so instead of
failing the whole tab.
"""

from __future__ import annotations

from typing import Any

from ecs_secret_bot.bot.views.blocks import Block, context, divider, esc, header, section
from ecs_secret_bot.bot.views.listings import approval_line, home_refresh, pending_rows
from ecs_secret_bot.bot.views.messages import Message
from ecs_secret_bot.commands.queries import ApprovalsListing, AuditTrail, PendingListing

__all__ = ["home_view"]

Part = tuple[str, str]


def home_view(
    *,
    approvals: ApprovalsListing | str,
    pending: PendingListing | str,
    activity: AuditTrail | str,
    activity_lines: Message | None = None,
) -> dict[str, Any]:
    """Return the App Home view; a part given as a string is shown as that explanation."""
    blocks: list[Block] = [header("ECS secrets"), home_refresh()]
    blocks.append(section("*Approvals waiting for you*"))
    if isinstance(approvals, str):
        blocks.append(context(esc(approvals)))
    elif approvals.waiting_for_me:
        for item in approvals.waiting_for_me[:15]:
            where = f" in <#{item.channel_id}>" if item.channel_id else ""
            blocks.append(section(approval_line(item) + where))
    else:
        blocks.append(context("Nothing waits for you."))
    blocks.append(divider())
    blocks.append(section("*Scheduled deletions*"))
    if isinstance(pending, str):
        blocks.append(context(esc(pending)))
    elif pending.rows:
        blocks.extend(pending_rows(pending.rows, 30))
    else:
        blocks.append(context("No deletion is scheduled."))
    blocks.append(divider())
    blocks.append(section("*Your recent activity*"))
    if isinstance(activity, str):
        blocks.append(context(esc(activity)))
    elif activity_lines is not None:
        blocks.extend(activity_lines[1][1:])
    return {"type": "home", "blocks": blocks[:100]}
