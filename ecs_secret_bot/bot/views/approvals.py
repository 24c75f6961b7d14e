"""The approval card: who asks what on which secret, why, under which rule, and its state.

One builder for every moment of a request's life (waiting, each approval, approved and
run, denied, expired, failed), so the message edited in place always reads the same
way. A sweep's card (one request for many secrets) lists its secrets, collapsed past a
screenful (``views.sweep.card_members``). Approve and Deny carry only the approval id; each
click is re-checked. Approve asks
for confirmation where it would destroy something (a deletion: immediate ones cannot be
undone); Deny never does, since denying changes nothing in the cloud. ``approver_note`` is
the DM that points an approver to the card.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ecs_secret_bot.bot.ids import Action, Block
from ecs_secret_bot.bot.views.blocks import (
    actions,
    button,
    confirm_dialog,
    context,
    esc,
    fields_section,
    mention,
    section,
    short_name,
    slack_date,
)
from ecs_secret_bot.bot.views.messages import Message
from ecs_secret_bot.bot.views.sweep import card_members
from ecs_secret_bot.commands.approval.requests import sweep_of
from ecs_secret_bot.commands.records import ApprovalRow

__all__ = ["approval_card", "approver_note", "describe_request", "is_destructive"]

_STATE_ICONS = {
    "pending": ":hourglass_flowing_sand:",
    "approved": ":white_check_mark:",
    "executed": ":white_check_mark:",
    "denied": ":no_entry:",
    "expired": ":alarm_clock:",
    "failed": ":x:",
}


def describe_request(action: str, params: Mapping[str, Any]) -> str:
    """Say in words what an approval request would do."""
    inner: Mapping[str, Any] = params.get("params", params) or {}
    key = action.lower()
    if inner.get("sweep_id"):
        count = len(inner.get("members") or ())
        return f"rotate {count} secrets with KMS-generated values (an incident sweep)"
    if key == "kms:deletesecret":
        if inner.get("immediately"):
            return "delete immediately (no recovery window)"
        return f"schedule deletion in {inner.get('days') or 30} days"
    if key == "kms:putsecretvalue":
        return "rotate with a custom value (held encrypted until approved, never shown)"
    if key == "kms:rotatesecret":
        return "rotate with a KMS-generated value"
    if key == "kms:restoresecret":
        return "restore (cancel the scheduled deletion)"
    if key == "kms:updatesecretrotationpolicy":
        if inner.get("enabled"):
            return f"turn automatic rotation on, every {inner.get('interval') or '7d'}"
        return "turn automatic rotation off"
    if key == "kms:createsecret":
        user, instance = esc(inner.get("user_name", "")), esc(inner.get("instance_id", ""))
        return f"create it for `{user}` on `{instance}`"
    return action


def is_destructive(action: str) -> bool:
    """Say whether approving ``action`` may destroy something (a deletion)."""
    return action.lower() == "kms:deletesecret"


def _target(row: ApprovalRow) -> str:
    """Return what the request acts on: one secret, or a sweep's set."""
    if sweep_of(row):
        return f"the set of sweep `{esc(sweep_of(row))}`"
    return f"`{esc(short_name(row.secret_name))}` ({row.region})"


def _asked_why(row: ApprovalRow) -> str:
    """Return the reason the requester gave (a sweep keeps it with its request)."""
    inner = row.params.get("params") or {}
    return str(inner.get("reason") or row.reason) if sweep_of(row) else row.reason


def approver_note(row: ApprovalRow, channel: str, *, link: str = "") -> Message:
    """Return the DM that points an eligible approver to the card of ``row`` in ``channel``."""
    what = describe_request(row.action, row.params)
    text = (
        f"An approval request waits for you in <#{channel}>: {mention(row.requester)} asks to "
        f"{what}: {_target(row)}, rule `{esc(row.rule)}`."
    )
    if link:
        text += f" <{link}|Open the request> to approve or deny it."
    return text, [section(f":raising_hand: {text}")]


def approval_card(
    row: ApprovalRow,
    *,
    progress: str,
    approvers: Sequence[str],
    outcome: str = "",
) -> Message:
    """Return the approval message as it should read now."""
    what = describe_request(row.action, row.params)
    who = mention(row.requester)
    head = f"{who} asks to {what}: {_target(row)}."
    waiting = row.status == "pending"
    icon = _STATE_ICONS.get(row.status, ":grey_question:")
    ask = ""
    if waiting and approvers:
        ask = " " + ", ".join(mention(a) for a in approvers) + ": please review."
    sweep = sweep_of(row)
    pairs = [
        ("Requested by", who),
        ("Secrets", "listed below: exactly these")
        if sweep
        else ("Secret", f"`{esc(short_name(row.secret_name))}` in {row.region}"),
        ("Why", esc(_asked_why(row)) or "_no reason given_"),
        ("Rule", f"`{esc(row.rule)}`"),
        ("Approvals", esc(progress) or "none yet"),
        ("Expires", slack_date(row.expires_at) if row.expires_at else "never"),
    ]
    if row.approved_by:
        pairs.append(("Approved by", ", ".join(mention(p) for p in row.approved_by)))
    if row.denied_by:
        pairs.append(("Denied by", ", ".join(mention(p) for p in row.denied_by)))
    blocks = [section(f"{icon} *Approval request*: {head}{ask}"), *fields_section(pairs)]
    if sweep:
        blocks.extend(card_members(row.params.get("params") or {}))
    state = outcome or _state_line(row)
    if state:
        blocks.append(context(esc(state)))
    if waiting:
        confirm = None
        if is_destructive(row.action):
            confirm = confirm_dialog(
                "Approve this deletion?",
                f"Approving may run it at once: {what}, {_target(row)}.",
                confirm="Approve",
            )
        blocks.append(
            actions(
                [
                    button(
                        "Approve", Action.APPROVE, value=row.id, style="primary", confirm=confirm
                    ),
                    button("Deny", Action.DENY, value=row.id, style="danger"),
                ],
                block_id=Block.APPROVAL_ACTIONS,
            )
        )
    text = f"Approval request ({row.status}): {head}"
    return text, blocks


def _state_line(row: ApprovalRow) -> str:
    if row.status == "pending":
        return "Waiting for approval. Anyone may click; only eligible approvers count."
    if row.status == "denied":
        return f"Denied. {row.outcome}".strip()
    if row.status == "expired":
        return "Expired before it was approved. Ask again if it is still needed."
    if row.status in ("executed", "approved"):
        done = "" if row.outcome in ("", "done") else f" ({row.outcome})"
        return f"Approved and carried out{done}."
    if row.status == "failed":
        return f"Approved, but it could not run: {row.outcome}"
    return row.outcome
