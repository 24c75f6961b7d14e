"""Messages of the background duties: reminders, deletions closed or discovered, stale and
expired approval requests, the audit log's daily anchor. Pure builders: data in, Block Kit
out, never a value."""

from __future__ import annotations

from datetime import datetime

from ecs_secret_bot.bot.views.blocks import (
    context,
    esc,
    mention,
    section,
    short_name,
    slack_date,
)
from ecs_secret_bot.bot.views.messages import Message, restore_actions
from ecs_secret_bot.commands.anchor import AuditAnchor
from ecs_secret_bot.commands.records import ApprovalRow, PendingDeletion

__all__ = [
    "anchor_message",
    "card_late_notice",
    "card_undeliverable_notice",
    "deletion_closed_message",
    "discovered_message",
    "expired_notice",
    "reminder_message",
    "stale_reply",
]


def _who(principal: str) -> str:
    return mention(principal) if principal.startswith("slack:") else f"`{esc(principal)}`"


def _left(planned: datetime, now: datetime) -> str:
    hours = max(0, int((planned - now).total_seconds() // 3600))
    if hours >= 48:
        return f"in {hours // 24} days"
    if hours >= 1:
        return f"in {hours} hour{'s' if hours != 1 else ''}"
    return "within the hour"


def reminder_message(row: PendingDeletion, *, label: str, now: datetime) -> Message:
    """Return the reminder that a scheduled deletion is near, with a Restore button."""
    name = esc(short_name(row.secret_name))
    when = slack_date(row.planned_delete_time)
    by = f" (scheduled by {_who(row.scheduled_by)})" if row.scheduled_by else ""
    text = (
        f"Reminder: secret `{name}` ({row.region}) will be deleted on {when}, "
        f"{_left(row.planned_delete_time, now)}{by}."
    )
    return text, [
        section(f":alarm_clock: {text}"),
        context(
            "If it is still needed, restore it before then. Restore runs at once for those "
            f"allowed; for others it becomes a request for approval. ({esc(label)} reminder)"
        ),
        restore_actions(row.secret_name, row.region),
    ]


def deletion_closed_message(row: PendingDeletion) -> Message:
    """Return the edited deletion message once the deletion ended (no buttons left)."""
    name = esc(short_name(row.secret_name))
    if row.status == "restored":
        text = (
            f"Secret `{name}` ({row.region}) is no longer scheduled for deletion: {esc(row.note)}."
        )
        return text, [section(f":leftwards_arrow_with_hook: {text}")]
    text = f"Secret `{name}` ({row.region}) was {esc(row.note) or 'deleted'}."
    return text, [section(f":wastebasket: {text}"), context("It can no longer be restored.")]


def discovered_message(row: PendingDeletion) -> Message:
    """Return the note that a deletion scheduled outside the bot is now tracked."""
    name = esc(short_name(row.secret_name))
    when = slack_date(row.planned_delete_time)
    text = (
        f"Secret `{name}` ({row.region}) is scheduled for deletion on {when}; it was "
        "scheduled outside the bot (console or API), and I will remind you before it goes."
    )
    return text, [section(f":mag: {text}"), restore_actions(row.secret_name, row.region)]


def stale_reply(row: ApprovalRow, approvers: tuple[str, ...]) -> str:
    """Return the thread reply that re-announces a request still waiting."""
    who = ", ".join(mention(a) for a in approvers) or "approvers"
    name = esc(short_name(row.secret_name))
    until = f" It expires {slack_date(row.expires_at)}." if row.expires_at else ""
    return (
        f"{who}: the request by {_who(row.requester)} about `{name}` ({row.region}) is "
        f"still waiting for approval.{until}"
    )


def expired_notice(row: ApprovalRow) -> str:
    """Return the DM that tells a requester their request expired."""
    name = esc(short_name(row.secret_name))
    return (
        f"Your request about `{name}` ({row.region}) under rule `{esc(row.rule)}` expired "
        "before it was approved; nothing was done. Ask again if it is still needed."
    )


def card_late_notice(row: ApprovalRow, channel: str) -> str:
    """Return the DM that tells a requester their card is posted at last, and where."""
    name = esc(short_name(row.secret_name))
    return (
        f"Your request about `{name}` ({row.region}) is now posted in <#{channel}> for its "
        "approvers. I will tell you when it is decided."
    )


def card_undeliverable_notice(row: ApprovalRow, channels: tuple[str, ...]) -> str:
    """Return the DM that tells a requester the bot stopped trying to post their card."""
    name = esc(short_name(row.secret_name))
    where = " or ".join(f"<#{c}>" for c in channels) or "any channel (none is set for it)"
    until = f" until it expires {slack_date(row.expires_at)}" if row.expires_at else ""
    return (
        f"I could not post your request about `{name}` ({row.region}) in {where}, and I have "
        f"stopped trying: no approver has seen it. It stays open{until}. Invite me to the "
        "channel (`/invite @ecs-secret-bot`) and ask again, or ask from a channel I am in."
    )


def anchor_message(anchor: AuditAnchor) -> Message:
    """Return the daily line that anchors the audit log outside its database."""
    text = f"Audit log anchor for {anchor.day.isoformat()}: entry {anchor.seq}, `{anchor.text}`"
    why = (
        "Kept here, outside the bot's database, it proves later that no entry up to this "
        f"one was removed or rewritten: `ecs-secret audit --verify --anchor {anchor.text}`."
    )
    return text, [section(text), context(why)]
