"""What follows an operation in Slack: its result posted, its approval card, its follow-up.

Owns turning a core outcome (``Result``, ``HeldForApproval``, ``DryRunReport``) into the
right messages in the right places: a result in the channel it was asked from (the
person's DM for App Home and DMs); an approval card posted once where approvers see it
(``deliver_card``: the channel asked from, else ``[approval] channel``; never to the
requester alone, whose Approve button nobody else could click), with the approvers
mentioned and each eligible approver sent a DM pointing to it (up to ``[approval]
dm_limit``), and the requester told truthfully where it went or that it could not be
posted (then the duties try again a bounded number of times); the "rotation triggered"
message remembered and its rotation handed to the tracker (which has the message edited
when the rotation ends), a scheduled deletion's message remembered for its Restore button.
Never decides anything: who may approve is the workflow's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from slack_sdk.errors import SlackApiError

from ecs_secret_bot.bot import observe
from ecs_secret_bot.bot.replies import Posted, Where, post, tell, try_post, update
from ecs_secret_bot.bot.services import BotServices
from ecs_secret_bot.bot.views.approvals import approval_card, approver_note
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
from ecs_secret_bot.commands.approval.votes import attach_approval_message, count_card_failure
from ecs_secret_bot.commands.duties import CARD_ATTEMPTS, CARD_RETRIES_FOR
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
from ecs_secret_bot.errors import BotError

__all__ = [
    "CardDelivery",
    "Outcome",
    "announce",
    "announce_result",
    "approvers_of",
    "card_channels",
    "card_for",
    "deliver_card",
    "result_channel",
    "update_card",
]

logger = logging.getLogger(__name__)

Outcome = OperationResult | HeldForApproval | DryRunReport
USER = "slack:user:"
LOOKUPS_PER_DM = 4
"""Directory look-ups allowed per DM to send: a large group is not read to the end."""


def result_channel(channel_id: str, user_id: str) -> str:
    """Return where a result is posted: the channel asked from, else the person's DM."""
    if channel_id and channel_id[0] in "CG":
        return channel_id
    return user_id


async def announce(services: BotServices, outcome: Outcome, *, actor: Actor, where: Where) -> None:
    """Show an operation's outcome to the asker and, for a change, to the channel."""
    if isinstance(outcome, DryRunReport):
        observe.settle(observe.Outcome.DRY_RUN)
        text, blocks = dry_run_message(outcome)
        await tell(services.client, where, text, blocks)
    elif isinstance(outcome, HeldForApproval):
        observe.settle(observe.Outcome.HELD)
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
    services: BotServices,
    result: OperationResult,
    *,
    channel: str,
    asker: Where | None,
    fallback: str = "",
) -> Posted | None:
    """Post a result in ``channel`` (else in ``fallback``, if Slack refuses it there) and
    start what follows it (a rotation's follow-up)."""
    text, blocks = _message(result)
    explain = asker if not fallback or fallback == channel else None
    posted = await post(services.client, channel, text, blocks, on_behalf_of=explain)
    if posted is None and explain is None and fallback:
        posted = await post(services.client, fallback, text, blocks, on_behalf_of=asker)
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


@dataclass(frozen=True)
class CardDelivery:
    """Where an approval card went, where it was refused, and how many approvers got a DM."""

    posted: Posted | None
    refused: tuple[tuple[str, str], ...] = ()
    """``(channel, Slack error code)`` of each channel that refused it, in the order tried."""
    messaged: int = 0


def card_channels(services: BotServices, row: ApprovalRow, *, first: str = "") -> tuple[str, ...]:
    """Return where the card of ``row`` may go, in order: its channel, then the approval one.

    Only channels: a DM or App Home has none, and a card there would reach the requester alone.
    """
    candidates = (first, row.channel_id, services.core.rules.channel or "")
    return tuple(dict.fromkeys(c for c in candidates if c[:1] in ("C", "G")))


async def deliver_card(services: BotServices, row: ApprovalRow, *, first: str = "") -> CardDelivery:
    """Post the card of ``row`` in the first channel that takes it, remember it, DM approvers."""
    text, blocks = card_for(services, row)
    refused: list[tuple[str, str]] = []
    for channel in card_channels(services, row, first=first):
        posted = await try_post(services.client, channel, text, blocks)
        if isinstance(posted, str):
            refused.append((channel, posted))
            continue
        await attach_approval_message(
            row.id, channel_id=posted.channel, ts=posted.ts, core=services.core
        )
        messaged = await message_approvers(services, row, posted)
        return CardDelivery(posted, tuple(refused), messaged)
    return CardDelivery(None, tuple(refused))


async def message_approvers(services: BotServices, row: ApprovalRow, posted: Posted) -> int:
    """DM each eligible approver of ``row`` (up to ``dm_limit``) a link to its card."""
    limit = services.core.rules.dm_limit
    rule = services.core.rules.rule(row.rule)
    if rule is None or limit <= 0:
        return 0
    principals = [p for approver_set in rule.approver_sets for p in approver_set.approvers]
    candidates = [
        user_id
        for user_id in await services.directory.users_of(principals)
        if USER + user_id != row.requester
    ]
    try:
        channel_name = await services.directory.channel_name(posted.channel)
    except BotError:
        return 0  # eligibility may depend on the channel's name: no DM rather than a wrong one
    text, blocks = approver_note(row, posted.channel, link=await _permalink(services, posted))
    sent = 0
    for user_id in candidates[: limit * LOOKUPS_PER_DM]:
        if sent >= limit:
            break
        try:
            approver = await services.directory.lookup(USER + user_id)
        except BotError:
            continue  # Slack could not say who it is: no DM rather than a wrong one
        if approver is None:
            continue
        # Eligible as they would be clicking on the card, in its channel.
        approver = replace(approver, channel_id=posted.channel, channel_name=channel_name)
        if services.core.workflow.why_not_approver(row, approver) is not None:
            continue
        if isinstance(await try_post(services.client, user_id, text, blocks), Posted):
            sent += 1
    return sent


async def _permalink(services: BotServices, posted: Posted) -> str:
    try:
        reply = await services.client.chat_getPermalink(
            channel=posted.channel, message_ts=posted.ts
        )
    except SlackApiError:
        return ""
    return str(reply.get("permalink") or "")


async def post_approval_request(
    services: BotServices, held: HeldForApproval, *, where: Where
) -> None:
    """Deliver the approval card and tell the requester where it went, or that it did not."""
    core = services.core
    row = await core.workflow.get(held.approval_id)
    delivery = await deliver_card(services, row, first=held.announce_channel)
    retrying = False
    if delivery.posted is None:
        logger.warning("the card of %s could not be posted: %s", row.id, delivery.refused)
        retrying = await count_card_failure(row.id, core=core) < CARD_ATTEMPTS
    text, blocks = held_notice(
        held,
        delivery.posted.channel if delivery.posted else "",
        refused=delivery.refused,
        messaged=delivery.messaged,
        retry_for=CARD_RETRIES_FOR if retrying else None,
    )
    await tell(services.client, where, text, blocks)


async def update_card(services: BotServices, row: ApprovalRow, outcome: str = "") -> None:
    """Edit the approval card in place to show ``row``'s state."""
    if not row.message_channel or not row.message_ts:
        return
    text, blocks = card_for(services, row, outcome)
    await update(services.client, Posted(row.message_channel, row.message_ts), text, blocks)
