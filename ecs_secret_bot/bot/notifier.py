"""The Slack side of the background work: ``SlackNotifier`` implements the duties'
``Notifier``, turning what the duties found into messages, edits and DMs;
``SlackRotationNotifier`` implements the rotation tracker's ``RotationNotifier``.

Reminders go to the channel where the deletion was scheduled and, as a DM, to whoever
scheduled it; a closed deletion edits its original message; an expired request edits its
card and tells its requester; a card nobody could post is delivered as a front end would
(its channel, else ``[approval] channel``, approvers sent a DM), its requester told when it
finally is or when the duties give up; a stale one gets one reply in its card's thread; the
audit log's daily anchor is posted in ``[approval] channel``; a rotation that ended edits
its "rotation triggered" message, whichever process or start followed it. Each goes through
the token of the workspace the record belongs to (its ``team_id``); a workspace the app was
uninstalled from is skipped (``workspaces.for_workspace``): its reminders are not sent, said once in
the log, and its records stay. Never decides anything.
"""

from __future__ import annotations

import logging

from slack_sdk.web.async_client import AsyncWebClient

from ecs_secret_bot.bot.announce import approvers_of, card_channels, deliver_card, update_card
from ecs_secret_bot.bot.replies import Posted, post, update
from ecs_secret_bot.bot.services import BotServices
from ecs_secret_bot.bot.views.blocks import section
from ecs_secret_bot.bot.views.duties import (
    anchor_message,
    card_late_notice,
    card_undeliverable_notice,
    deletion_closed_message,
    discovered_message,
    expired_notice,
    reminder_message,
    stale_reply,
)
from ecs_secret_bot.bot.views.messages import rotation_finished_message
from ecs_secret_bot.bot.workspaces import for_workspace
from ecs_secret_bot.commands.anchor import AuditAnchor
from ecs_secret_bot.commands.operations.delete import attach_deletion_message
from ecs_secret_bot.commands.records import ApprovalRow, PendingDeletion
from ecs_secret_bot.commands.tracker import RotationOutcome

__all__ = ["CardNotPosted", "SlackNotifier", "SlackRotationNotifier"]

logger = logging.getLogger(__name__)

USER = "slack:user:"


class CardNotPosted(RuntimeError):
    """No channel took an approval card (the duties count the try and retry later)."""


class SlackNotifier:
    """Says in Slack what the background duties did."""

    def __init__(self, services: BotServices) -> None:
        self.services = services

    async def remind(self, row: PendingDeletion, *, label: str) -> None:
        """Post the reminder in the deletion's channel and DM the person who scheduled it."""
        with for_workspace(row.team_id):
            text, blocks = reminder_message(row, label=label, now=self.services.core.clock())
            client = self.services.client
            sent = False
            if row.channel_id and row.channel_id[0] in "CG":
                sent = await post(client, row.channel_id, text, blocks) is not None
            if row.scheduled_by.startswith(USER):
                user = row.scheduled_by.removeprefix(USER)
                sent = await post(client, user, text, blocks) is not None or sent
            if not sent:
                raise RuntimeError(f"the reminder for {row.secret_name} reached nobody")

    async def deletion_closed(self, row: PendingDeletion) -> None:
        """Edit the deletion's message to say how it ended."""
        with for_workspace(row.team_id):
            if row.channel_id and row.message_ts:
                text, blocks = deletion_closed_message(row)
                await update(
                    self.services.client, Posted(row.channel_id, row.message_ts), text, blocks
                )

    async def deletion_discovered(self, row: PendingDeletion) -> None:
        """Announce a deletion scheduled elsewhere, with a Restore button, and remember it."""
        with for_workspace(row.team_id):
            if not row.channel_id:
                logger.info(
                    "%s is scheduled for deletion elsewhere; no channel to say so", row.secret_name
                )
                return
            text, blocks = discovered_message(row)
            posted = await post(self.services.client, row.channel_id, text, blocks)
            if posted is not None:
                await attach_deletion_message(
                    row.id, channel_id=posted.channel, ts=posted.ts, core=self.services.core
                )

    async def approval_unannounced(self, row: ApprovalRow) -> None:
        """Post the card of a request nobody posted (its channel, else the approval one)."""
        with for_workspace(row.team_id):
            delivery = await deliver_card(self.services, row)
            if delivery.posted is None:
                refused = ", ".join(f"{c}: {e}" for c, e in delivery.refused) or "no channel for it"
                raise CardNotPosted(f"the card of {row.id} could not be posted ({refused})")
            if row.card_attempts and row.requester.startswith(USER):
                # They were told it could not be posted: tell them it is now.
                note = card_late_notice(row, delivery.posted.channel)
                await post(
                    self.services.client, row.requester.removeprefix(USER), note, [section(note)]
                )

    async def approval_undeliverable(self, row: ApprovalRow) -> None:
        """Tell the requester the bot gave up posting the request's card."""
        with for_workspace(row.team_id):
            logger.warning("gave up posting the card of %s: invite the bot to its channel", row.id)
            if row.requester.startswith(USER):
                note = card_undeliverable_notice(row, card_channels(self.services, row))
                await post(
                    self.services.client, row.requester.removeprefix(USER), note, [section(note)]
                )

    async def approval_expired(self, row: ApprovalRow) -> None:
        """Edit the request's card and tell its requester."""
        with for_workspace(row.team_id):
            await update_card(self.services, row)
            if row.requester.startswith(USER):
                note = expired_notice(row)
                await post(
                    self.services.client, row.requester.removeprefix(USER), note, [section(note)]
                )

    async def approval_changed(self, row: ApprovalRow) -> None:
        """Edit the request's card in place to show its state now."""
        with for_workspace(row.team_id):
            await update_card(self.services, row)

    async def approval_stale(self, row: ApprovalRow) -> None:
        """Reply once in the card's thread, mentioning the approvers."""
        with for_workspace(row.team_id):
            if not row.message_channel or not row.message_ts:
                return
            text = stale_reply(row, approvers_of(self.services, row.rule))
            await self.services.client.chat_postMessage(
                channel=row.message_channel, thread_ts=row.message_ts, text=text
            )

    async def audit_anchor(self, anchor: AuditAnchor) -> None:
        """Post the audit log's head in the approval channel (the log has it already)."""
        with for_workspace(""):
            channel = self.services.core.rules.channel
            if not channel:
                logger.info(
                    "no [approval] channel: the audit anchor %s is in the log only", anchor.text
                )
                return
            text, blocks = anchor_message(anchor)
            # Not retried all day if Slack refuses (post logs why): the log line stands.
            await post(self.services.client, channel, text, blocks)


class SlackRotationNotifier:
    """Says in Slack how a rotation ended: its "rotation triggered" message, edited."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def rotation_finished(self, outcome: RotationOutcome) -> None:
        """Edit the "rotation triggered" message with how the rotation ended."""
        with for_workspace(outcome.team_id):
            text, blocks = rotation_finished_message(outcome)
            if outcome.message_channel and outcome.message_ts:
                where = Posted(outcome.message_channel, outcome.message_ts)
                await update(self.client, where, text, blocks)
            elif outcome.channel_id[:1] in ("C", "G"):
                # The replica that posted "rotation triggered" died before it noted where:
                # say the end in the channel as a message of its own.
                await post(self.client, outcome.channel_id, text, blocks)
