"""Channel and ephemeral messages: results, rotation progress, deletions, dry runs, help.

Pure builders: each returns ``(text, blocks)`` (the text is the notification and the
accessibility fallback, so it says the same thing in words). They name secrets,
instances, people and times; they are never given a secret value.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta

from ecs_secret_bot.bot.ids import Action, Block
from ecs_secret_bot.bot.parse import USAGE, spell
from ecs_secret_bot.bot.views.blocks import (
    Block as BlockDict,
)
from ecs_secret_bot.bot.views.blocks import (
    actions,
    button,
    context,
    esc,
    fields_section,
    mention,
    section,
    short_name,
    slack_date,
)
from ecs_secret_bot.commands.outcomes import (
    CreateResult,
    DeleteResult,
    DryRunReport,
    HeldForApproval,
    RestoreResult,
    RotateResult,
    RotationPolicyResult,
)
from ecs_secret_bot.commands.tracker import RotationOutcome
from ecs_secret_bot.errors import Subcommand

__all__ = [
    "Message",
    "action_words",
    "created_message",
    "deletion_message",
    "dry_run_message",
    "error_blocks",
    "held_notice",
    "help_message",
    "restore_actions",
    "restore_value",
    "restored_message",
    "rotation_finished_message",
    "rotation_policy_message",
    "rotation_triggered_message",
]

Message = tuple[str, list[BlockDict]]

_HELP_LINES = {
    "help": "this help; `help <subcommand>` for one",
    "create": "host an existing password or SSH key of an ECS user as a dynamic secret",
    "rotate": "rotate now (KMS-generated, or your own value); the channel sees when it is done",
    "rotation": "turn automatic rotation on (with an interval such as `7d`) or off",
    "delete": "schedule deletion in 7-30 days, or delete at once (needs approval by default)",
    "restore": "cancel a scheduled deletion",
    "list": "list ECS secrets, optionally filtered by name",
    "show": "one secret: instance, user, rotation, deletion",
    "pending": "secrets scheduled for deletion, with days left",
    "approvals": "approval requests waiting for you",
    "audit": "recent activity, of one secret or all",
    "whoami": "who you are to the policies, and what you may do here",
    "sweep": (
        "rotate every secret of some instances (by id, tag or name) at once, as one "
        "approved request"
    ),
}


def error_blocks(text: str) -> list[BlockDict]:
    """Return the blocks of an error or refusal said to one person."""
    return [section(f":warning: {text}")]


def help_message(available: Sequence[str], topic: str = "", *, note: str = "") -> Message:
    """Return usage that fits what the caller may do (``available`` subcommands)."""
    if topic and topic in USAGE:
        allowed = topic in available
        line = f"`{USAGE[topic]}`\n{_HELP_LINES[topic]}"
        if not allowed:
            line += "\n_You may not use this one: ask an admin if you need it._"
        return line, [section(line)]
    lines = [f"`{USAGE[name]}`  {_HELP_LINES[name]}" for name in USAGE if name in available]
    intro = note or "Manage Alibaba Cloud KMS dynamic ECS secrets."
    tail = (
        "Names may be typed with or without `acs/ecs/`. Add `--dry-run` to a command that "
        "changes something to see what it would do."
    )
    if list(available) == ["help"]:
        tail = "No policy is bound to you yet, so you may use nothing but help. Ask an admin."
    text = "\n".join([intro, *lines, tail])
    blocks = [section(intro), section("\n".join(lines)), context(tail)]
    return text, blocks


def dry_run_message(report: DryRunReport) -> Message:
    """Return what a mutating request would do (nothing was done)."""
    verdict = "would be allowed" if report.allowed else "would be refused"
    title = f"Dry run: `{esc(short_name(report.secret_name))}` {verdict}. Nothing was done."
    pairs = [
        ("Action", f"`{report.action}`"),
        ("Region", report.region),
        ("Decision", esc(report.decision)),
        ("Approval", esc(report.approval_rule) or "none needed"),
        ("Cloud call", f"`{esc(report.cloud_call)}`"),
    ]
    checks = "\n".join(f"• {esc(line)}" for line in report.preflight) or "none"
    text = f"{title}\n{report.summary}"
    return text, [
        section(title),
        *fields_section(pairs),
        section(f"*Pre-flight*\n{checks}"),
        context(esc(report.summary)),
    ]


_REFUSALS = {
    "not_in_channel": "I am not a member there",
    "channel_not_found": "I cannot see it: private without me, or deleted",
    "is_archived": "it is archived",
}


def _refused(refused: Sequence[tuple[str, str]]) -> str:
    return " nor ".join(
        f"<#{channel}> ({_REFUSALS.get(error, f'Slack said {esc(error)}')})"
        for channel, error in refused
    )


def held_notice(
    held: HeldForApproval,
    posted_in: str = "",
    *,
    refused: Sequence[tuple[str, str]] = (),
    messaged: int = 0,
    retry_for: timedelta | None = None,
) -> Message:
    """Tell the requester their request waits for approval, and truthfully where it went.

    ``refused`` are ``(channel, Slack error)`` of the channels that would not take the card;
    ``retry_for`` says how long the bot keeps trying when no channel took it.
    """
    what = (
        f"Your request ({action_words(held.action)} `{esc(short_name(held.secret_name))}`) needs "
        f"approval under rule `{esc(held.rule)}`: {esc(held.needs)}."
    )
    if posted_in:
        told = f"I posted it in <#{posted_in}>"
        if refused:
            told = f"I could not post it in {_refused(refused)}, so I posted it in <#{posted_in}>"
        if messaged:
            told += f" and sent {messaged} approver(s) a direct message"
        text = f"{what} {told}. I will tell you when it is decided."
        return text, [section(f":hourglass_flowing_sand: {text}")]
    where = f"in {_refused(refused)}" if refused else "anywhere: no channel is set for it"
    text = f"{what} I could not post it {where}, so no approver has seen it yet."
    if retry_for is not None:
        text += f" I will try again for about {int(retry_for.total_seconds() // 60)} minutes."
    text += (
        " To reach the approvers, invite me there (`/invite @ecs-secret-bot`), or ask again "
        "from a channel I am in."
    )
    return text, [section(f":warning: {text}")]


_ACTION_WORDS = {
    "kms:rotatesecret": "rotate",
    "kms:putsecretvalue": "rotate with a custom value",
    "kms:deletesecret": "delete",
    "kms:restoresecret": "restore",
    "kms:createsecret": "create",
    "kms:updatesecretrotationpolicy": "change automatic rotation of",
    "kms:describesecret": "look at",
    "kms:listsecrets": "list secrets",
    "ecs:describeinstances": "list instances",
}


def action_words(action: str) -> str:
    """Say a RAM action name (``kms:DeleteSecret``) as people would: ``delete``."""
    return _ACTION_WORDS.get(action.lower(), f"`{esc(action)}`")


def _who(principal: str) -> str:
    return mention(principal) if principal.startswith("slack:") else f"`{esc(principal)}`"


def rotation_triggered_message(result: RotateResult) -> Message:
    """Return the channel message that a rotation started (edited when it ends)."""
    name = esc(short_name(result.secret_name))
    instance = _instance(result.instance_id, result.instance_name)
    how = (
        "a custom value, which KMS accepted (PutSecretValue)"
        if result.custom
        else "a KMS-generated value"
    )
    text = (
        f"Rotation triggered by {_who(result.requested_by)}: `{name}` on {instance} "
        f"({result.region}), with {how}."
    )
    waiting = (
        f"Waiting for KMS to show the value as current (until {slack_date(result.deadline)}); "
        "KMS cannot confirm whether the instance receives a custom value."
        if result.custom
        else f"Waiting for KMS to report it done (until {slack_date(result.deadline)})."
    )
    blocks = [
        section(f":arrows_counterclockwise: {text}"),
        context(waiting + _approved(result.approved_by)),
    ]
    return text, blocks


def rotation_finished_message(outcome: RotationOutcome) -> Message:
    """Return the edited rotation message: completed, accepted (custom), failed, not confirmed."""
    name = esc(short_name(outcome.secret_name))
    instance = _instance(outcome.instance_id, outcome.instance_name)
    who = _who(outcome.requested_by)
    checks = _checks(outcome.checks)
    if outcome.instance_confirmed:
        text = f"Rotation completed on {instance}: `{name}` has a new value (asked by {who})."
        icon, step = ":white_check_mark:", "Nothing to do."
    elif outcome.state == "completed":  # a custom value: KMS took it; the instance, unknown
        text = (
            f"KMS accepted the custom value of `{name}` as its current version (asked by "
            f"{who}). Whether the credential on {instance} changed can't be confirmed by KMS."
        )
        icon = ":ballot_box_with_check:"
        step = (
            f"{checks} If it did not change, rotate with a KMS-generated value "
            f"({spell(Subcommand('rotate', (name,)))})."
        ).lstrip()
    elif outcome.state == "timed_out":
        seen = "; ".join(esc(line) for line in outcome.seen) or "no answer from KMS"
        by = f" by {slack_date(outcome.deadline)}" if outcome.deadline else " in time"
        text = (
            f"Rotation of `{name}` on {instance} not confirmed{by} (asked by {who}): {seen}. "
            "It may still finish."
        )
        now = spell(Subcommand("show", (name,)))
        icon, step = ":hourglass:", f"{checks} Its state now: {now}."
    else:
        reason = esc(outcome.reason or "KMS reported the rotation as failed")
        text = f"Rotation failed: {reason}. Secret `{name}` on {instance} (asked by {who})."
        icon = ":x:"
        step = f"{checks} Then {spell(Subcommand('rotate', (name,)))} again.".lstrip()
    return text, [section(f"{icon} {text}"), context(step)]


def _checks(checks: Sequence[str]) -> str:
    return f"Check {'; '.join(esc(c) for c in checks)}." if checks else ""


def _instance(instance_id: str, instance_name: str) -> str:
    label = f"`{esc(instance_id)}`"
    return f"{label} ({esc(instance_name)})" if instance_name else label


def _approved(approved_by: Sequence[str]) -> str:
    if not approved_by:
        return ""
    return " Approved by " + ", ".join(_who(p) for p in approved_by) + "."


def restore_value(name: str, region: str) -> str:
    """Return a Restore button's value: ids only, re-checked on click."""
    return json.dumps({"n": name, "r": region}, separators=(",", ":"))


def restore_actions(name: str, region: str) -> BlockDict:
    """Return the Restore button of a scheduled deletion, in its own actions block."""
    restore = button("Restore", Action.RESTORE, value=restore_value(name, region), style="primary")
    return actions([restore], block_id=Block.RESTORE_ACTIONS)


def deletion_message(result: DeleteResult, *, restorable: bool = True) -> Message:
    """Return the channel message of a deletion (scheduled: with a Restore button)."""
    name = esc(short_name(result.secret_name))
    who = _who(result.requested_by)
    approved = _approved(result.approved_by)
    if result.immediately:
        text = f"Secret `{name}` ({result.region}) was deleted immediately by {who}."
        return text, [section(f":wastebasket: {text}{approved}"), context("It cannot be restored.")]
    when = slack_date(result.planned_delete_time)
    text = f"Secret `{name}` ({result.region}) is scheduled for deletion on {when} by {who}."
    blocks = [section(f":calendar: {text}{approved}")]
    if restorable:
        blocks.append(
            context(
                "Until then it can be restored. Restore runs at once for those allowed to "
                "restore; for others it becomes a restore request for approval."
            )
        )
        blocks.append(restore_actions(result.secret_name, result.region))
    return text, blocks


def restored_message(result: RestoreResult) -> Message:
    """Return the message that a scheduled deletion was cancelled."""
    name = esc(short_name(result.secret_name))
    text = (
        f"Secret `{name}` ({result.region}) was restored by {_who(result.requested_by)}: "
        "its deletion is cancelled."
    )
    return text, [section(f":leftwards_arrow_with_hook: {text}{_approved(result.approved_by)}")]


def rotation_policy_message(result: RotationPolicyResult) -> Message:
    """Return the message that automatic rotation was turned on or off."""
    name = esc(short_name(result.secret_name))
    if result.enabled:
        text = f"Automatic rotation of `{name}` is on, every {esc(result.interval)}"
    else:
        text = f"Automatic rotation of `{name}` is off"
    text += f" (set by {_who(result.requested_by)})."
    return text, [section(f":gear: {text}{_approved(result.approved_by)}")]


def created_message(result: CreateResult) -> Message:
    """Return the message that a secret was created."""
    name = esc(short_name(result.secret_name))
    kind = "password" if result.kind == "Password" else "SSH key pair"
    text = (
        f"Secret `{name}` created by {_who(result.requested_by)}: the {kind} of "
        f"`{esc(result.user_name)}` on `{esc(result.instance_id)}` ({result.region})."
    )
    rotation = (
        f"Automatic rotation every {esc(result.rotation_interval)}, next "
        f"{slack_date(result.next_rotation)}."
        if result.automatic_rotation
        else "Automatic rotation is off."
    )
    return text, [section(f":lock: {text}{_approved(result.approved_by)}"), context(rotation)]
