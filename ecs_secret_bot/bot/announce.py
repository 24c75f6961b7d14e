"""What follows an operation in Slack: its result posted, its approval card, its follow-up.

Owns turning a core outcome (``Result``, ``HeldForApproval``, ``DryRunReport``) into the
right messages in the right places: a result in the channel it was asked from (the
person's DM for App Home and DMs), an approval card once in its channel with the
approvers mentioned (and DMs only where the rule asks), the requester told, the
"rotation triggered" message remembered and its rotation handed to the tracker (which has
the message edited when the rotation ends), a scheduled deletion's message remembered for
its Restore button. Never decides anything.
"""

from __future__ import annotations

from ecs_secret_bot.bot.replies import Posted, Where, post, tell, update
from ecs_secret_bot.bot.services import BotServices
from ecs_secret_bot.bot.views.approvals import approval_card
from ecs_secret_bot.bot.views.blocks import esc, section, short_name
from ecs_secret_bot.bot.views.messages import (
    Message,
    created_message,
    deletion_message,
    dry_run_message,
    held_notice,
    restored_message,
    rotation_policy_message,
    rotation_triggered_message,
)
from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.approval.votes import attach_approval_message
from ecs_secret_bot.commands.operations.delete import attach_deletion_message
from ecs_secret_bot.commands.operations.rotate import attach_rotation_message
from ecs_secret_bot.commands.outcomes import (
    CreateResult,
    DeleteResult,
    DryRunReport,
    HeldForApproval,
    OperationResult,
    RestoreResult,
    RotateResult,
    RotationPolicyResult,
)
from ecs_secret_bot.commands.records import ApprovalRow

__all__ = [
    "Outcome",
    "announce",
    "announce_result",
    "approvers_of",
    "card_for",
    "result_channel",
    "update_card",
]

Outcome = OperationResult | HeldForApproval | DryRunReport


def result_channel(channel_id: str, user_id: str) -> str:
    """Return where a result is posted: the channel asked from, else the person's DM."""
    if channel_id and channel_id[0] in "CG":
        return channel_id
    return user_id


async def announce(services: BotServices, outcome: Outcome, *, actor: Actor, where: Where) -> None:
    """Show an operation's outcome to the asker and, for a change, to the channel."""
    if isinstance(outcome, DryRunReport):
        text, blocks = dry_run_message(outcome)
        await tell(services.client, where, text, blocks)
    elif isinstance(outcome, HeldForApproval):
        await post_approval_request(services, outcome, where=where)
    else:
        await announce_result(
            services, outcome, channel=result_channel(where.channel_id, where.user_id), asker=where
        )


def _message(result: OperationResult) -> Message:
    if isinstance(result, RotateResult):
        return rotation_triggered_message(result)
    if isinstance(result, DeleteResult):
        return deletion_message(result)
    if isinstance(result, RestoreResult):
        return restored_message(result)
    if isinstance(result, RotationPolicyResult):
        return rotation_policy_message(result)
    assert isinstance(result, CreateResult)
    return created_message(result)


async def announce_result(
    services: BotServices, result: OperationResult, *, channel: str, asker: Where | None
) -> Posted | None:
    """Post a result in ``channel`` and start what follows it (a rotation's follow-up)."""
    text, blocks = _message(result)
    posted = await post(services.client, channel, text, blocks, on_behalf_of=asker)
    core = services.core
    if isinstance(result, RotateResult):
        if posted is not None:
            await attach_rotation_message(
                result.rotation_id, channel_id=posted.channel, ts=posted.ts, core=core
            )
        services.tracker.follow(result.rotation_id, instance_name=result.instance_name)
    elif isinstance(result, DeleteResult) and posted is not None and result.pending_id:
        await attach_deletion_message(
            result.pending_id, channel_id=posted.channel, ts=posted.ts, core=core
        )
    return posted


def approvers_of(services: BotServices, rule_name: str) -> tuple[str, ...]:
    """Return the approver principals of a rule (for mentions)."""
    rule = services.core.rules.rule(rule_name)
    if rule is None:
        return ()
    found: list[str] = []
    for approver_set in rule.approver_sets:
        found.extend(approver_set.approvers)
    return tuple(dict.fromkeys(found))


def card_for(services: BotServices, row: ApprovalRow, outcome: str = "") -> Message:
    """Return the approval card of ``row`` as it reads now."""
    progress = services.core.workflow.progress(row).progress()
    return approval_card(
        row, progress=progress, approvers=approvers_of(services, row.rule), outcome=outcome
    )


async def post_approval_request(
    services: BotServices, held: HeldForApproval, *, where: Where
) -> None:
    """Post the approval card once, remember it, DM approvers if the rule says so."""
    core = services.core
    row = await core.workflow.get(held.approval_id)
    channel = held.announce_channel or result_channel(where.channel_id, where.user_id)
    text, blocks = card_for(services, row)
    posted = await post(services.client, channel, text, blocks, on_behalf_of=where)
    if posted is not None:
        await attach_approval_message(
            held.approval_id, channel_id=posted.channel, ts=posted.ts, core=core
        )
    notice_text, notice_blocks = held_notice(held, posted.channel if posted else "")
    await tell(services.client, where, notice_text, notice_blocks)
    if held.notify_dm and posted is not None:
        note = (
            f"An approval request waits for you in <#{posted.channel}>: "
            f"`{esc(short_name(held.secret_name))}` ({held.region}), rule `{esc(held.rule)}`."
        )
        for user_id in await services.directory.users_of(held.approvers):
            if f"slack:user:{user_id}" != held.requested_by:
                await post(services.client, user_id, note, [section(note)])


async def update_card(services: BotServices, row: ApprovalRow, outcome: str = "") -> None:
    """Edit the approval card in place to show ``row``'s state."""
    if not row.message_channel or not row.message_ts:
        return
    text, blocks = card_for(services, row, outcome)
    await update(services.client, Posted(row.message_channel, row.message_ts), text, blocks)
