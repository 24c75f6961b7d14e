"""Buttons and pickers: Approve / Deny, Restore, the delete confirmation, the custom-value
switch, the create modal's region (which rebuilds the modal for it) and instance picker's
options, App Home's refresh.

Every handler acks first, then learns who clicked (the ``Asker``: Slack may be slow to
say). A click carries ids only (an approval id, a secret name and region); who clicked
comes from the verified payload, and the core re-authorizes the click as if it were a new
request. A click that changes nothing (not an approver, a second vote, too late) gets an
ephemeral explanation and leaves the message as it is. The delete confirmation announces
its outcome before it updates the modal, which the person may have closed. Clicks on the
custom-value switch of one modal update it one after the other, each on the newest view.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError

from ecs_secret_bot.bot.announce import (
    announce,
    announce_result,
    result_channel,
    update_card,
)
from ecs_secret_bot.bot.errors import InAck, InModal, describe, later, report, where_of
from ecs_secret_bot.bot.home import publish_home, refresh_home
from ecs_secret_bot.bot.ids import Action, Block
from ecs_secret_bot.bot.metadata import ModalMeta, state_values
from ecs_secret_bot.bot.middleware import Asker
from ecs_secret_bot.bot.replies import Posted, Where, post, tell, update
from ecs_secret_bot.bot.services import BotServices
from ecs_secret_bot.bot.submissions import outcome_notice
from ecs_secret_bot.bot.sweeps import sweep_approved
from ecs_secret_bot.bot.views.blocks import context as note
from ecs_secret_bot.bot.views.blocks import esc, mention, plain, short_name, with_mentions
from ecs_secret_bot.bot.views.modals import create_modal, notice_modal, toggle_custom
from ecs_secret_bot.commands import queries as views
from ecs_secret_bot.commands.approval.requests import VoteResult, sweep_of
from ecs_secret_bot.commands.approval.votes import ApprovalStep, approve_request, deny_request
from ecs_secret_bot.commands.operations.delete import delete_secret
from ecs_secret_bot.commands.operations.restore import restore_secret
from ecs_secret_bot.commands.outcomes import RestoreResult, RotateResult
from ecs_secret_bot.commands.requests import DeleteRequest, RestoreRequest
from ecs_secret_bot.errors import BotError

__all__ = ["register_actions"]

SLACK_USER = "slack:user:"

OPTIONS_BUDGET = 2.0


def _action(body: dict[str, Any]) -> dict[str, Any]:
    found = body.get("actions") or [{}]
    return found[0] if isinstance(found[0], dict) else {}


def _message_ref(body: dict[str, Any]) -> Posted | None:
    container = body.get("container") or {}
    if container.get("type") == "message" and container.get("message_ts"):
        return Posted(str(container.get("channel_id", "")), str(container["message_ts"]))
    return None


async def _after_vote(services: BotServices, step: ApprovalStep, clicker: Where) -> None:
    """Update the card, tell the clicker and the requester, post what ran."""
    client, row = services.client, step.approval
    if not step.vote.changed:
        await tell(client, clicker, with_mentions(step.vote.message))
        return
    outcome = f"Could not run: {step.error.user_message}" if step.error else ""
    await update_card(services, row, outcome)
    await tell(client, clicker, with_mentions(step.vote.message))
    requester = (
        row.requester.removeprefix(SLACK_USER) if row.requester.startswith(SLACK_USER) else ""
    )
    posted = None
    if step.result is not None:
        # A request made at a terminal has no channel and no Slack user: its card's channel.
        channel = (
            result_channel(row.channel_id, requester)
            if requester
            else (row.message_channel or services.core.rules.channel or "")
        )
        if channel:
            # Where the request was made, else where its card is (the bot can post there).
            fallback = row.message_channel or ""
            posted = await announce_result(
                services, step.result, channel=channel, asker=None, fallback=fallback
            )
    if step.vote.result is VoteResult.RECORDED or not requester:
        return
    name = esc(short_name(row.secret_name))
    said = {
        VoteResult.APPROVED: f"approved by {', '.join(mention(p) for p in row.approved_by)}",
        VoteResult.DENIED: f"denied by {mention(clicker_principal(clicker))}",
        VoteResult.WITHDRAWN: "withdrawn",
        VoteResult.EXPIRED: "expired",
    }.get(step.vote.result, str(step.vote.result))
    text = f"Your request on `{name}` ({row.region}) was {said}."
    if step.sweep_id:
        text = f"Your sweep `{esc(step.sweep_id)}` was {said}."
    if step.sweep_id and step.vote.result is VoteResult.APPROVED:
        text += " It runs now if its set is unchanged; the channel shows its progress."
    elif step.error is not None:
        text += f" It could not run: {describe(step.error)}"
    elif isinstance(step.result, RotateResult) and step.result.custom:
        text += (
            " KMS accepted the custom value; it cannot confirm that the instance receives it: "
            "the channel says what KMS shows."
        )
    elif step.result is not None:
        text += " It has run; " + _details_at(posted)
    await post(client, requester, text)


def _details_at(posted: Posted | None) -> str:
    """Say where the result of a request that ran was posted, truthfully."""
    if posted is None:
        return "I could not post its details, so see `/ecs-secret audit`."
    if posted.channel[:1] in ("C", "G"):
        return f"the details are in <#{posted.channel}>."
    return "the details are in the message above."


def clicker_principal(where: Where) -> str:
    """Return the principal of the person who clicked."""
    return f"{SLACK_USER}{where.user_id}"


async def _vote(services: BotServices, body: dict[str, Any], asker: Asker) -> None:
    actor = await asker.resolve()
    action = _action(body)
    vote = approve_request if action.get("action_id") == Action.APPROVE else deny_request
    step = await vote(str(action.get("value") or ""), actor=actor, core=services.core)
    sweep_id = step.sweep_id or sweep_of(step.approval)
    if sweep_id and step.vote.changed:  # it runs (or ends) under its runner, not in the click
        later(services, where_of(body), sweep_approved(services, sweep_id))
    await _after_vote(services, step, where_of(body))


async def _restore(services: BotServices, body: dict[str, Any], asker: Asker) -> None:
    actor = await asker.resolve()
    try:
        ids = json.loads(str(_action(body).get("value") or ""))
        name, region = str(ids["n"]), str(ids["r"])
    except (ValueError, KeyError, TypeError):
        raise BotError(
            "This Restore button is damaged.", next_step="Use /ecs-secret restore <name>."
        ) from None
    stamp = str(_action(body).get("action_ts") or "")
    request = RestoreRequest(name, region=region, request_id=f"restore:{name}:{stamp}")
    outcome = await restore_secret(request, actor=actor, core=services.core)
    await announce(services, outcome, actor=actor, where=where_of(body))
    message = _message_ref(body)
    if isinstance(outcome, RestoreResult) and message is not None:
        old = (body.get("message") or {}).get("blocks", [])
        blocks = [b for b in old if b.get("type") != "actions"]
        blocks.append(note(f"Restored by {mention(actor.principal)}."))
        text = f"Secret `{esc(short_name(name))}` was restored by {mention(actor.principal)}."
        await update(services.client, message, text, blocks[:50])
    if (body.get("view") or {}).get("type") == "home":
        await publish_home(services, actor)


async def _delete_go(services: BotServices, body: dict[str, Any], asker: Asker) -> None:
    view = body.get("view") or {}
    view_id = str(view.get("id") or "")
    meta = ModalMeta.load(view.get("private_metadata"), key=services.metadata_key)
    where = Where(asker.user_id, channel_id=meta.channel_id)
    request = DeleteRequest(
        meta.name,
        days=None if meta.now else (meta.days or 30),
        immediately=meta.now,
        region=meta.region,
        reason=meta.reason,
        request_id=f"view:{view_id}",
    )
    try:
        actor = await asker.resolve()
        outcome = await delete_secret(request, actor=actor, core=services.core)
    except BotError as exc:
        await report(services, exc, InModal(view_id, "Not deleted", person=where))
        return
    # announced first: the channel message and its Restore record must not wait on a modal
    # the person may have closed
    await announce(services, outcome, actor=actor, where=where)
    text = outcome_notice(outcome, channel_id=meta.channel_id)
    if not await services.modals.update(notice_modal("Delete secret", text), view_id=view_id):
        await tell(services.client, where, text)


async def _region(services: BotServices, body: dict[str, Any]) -> None:
    """Rebuild the create modal for the region just picked, so its picker offers that one's."""
    view = body.get("view") or {}
    meta = ModalMeta.load(view.get("private_metadata"), key=services.metadata_key)
    picked = _action(body).get("selected_option") or {}
    region = services.core.region(str(picked.get("value") or ""))
    regions = services.core.settings.cloud.regions
    updated = create_modal(regions=regions, region=region, meta=meta)
    try:
        await services.client.views_update(view_id=view["id"], hash=view.get("hash"), view=updated)
    except SlackApiError as exc:
        # A newer change of the modal won (its submission carries the region anyway), or
        # the person closed it: nothing to redo.
        if exc.response.get("error") not in ("hash_conflict", "not_found"):
            raise


async def _switch(services: BotServices, body: dict[str, Any]) -> None:
    view = body.get("view") or {}
    view_id = str(view.get("id") or "")
    meta = ModalMeta.load(view.get("private_metadata"), key=services.metadata_key)
    on = "custom" in (state_values(view).get(Block.USE_CUSTOM) or [])
    updated = toggle_custom(view, ModalMeta(**{**meta.__dict__, "custom": on}))
    modals = services.modals
    # Clicks arrive in order; each applies to the newest view this process made, else to the
    # view clicked. A view changed elsewhere since both (hash_conflict) is left as it is.
    async with modals.turn(view_id):
        for hash in dict.fromkeys([modals.hash_of(view_id), view.get("hash")]):
            if hash and await modals.update(updated, view_id=view_id, hash=hash):
                return


def register_actions(app: AsyncApp, services: BotServices) -> None:
    """Handle every button and picker: ack, then the work after the ack."""

    @app.action(Action.APPROVE)
    @app.action(Action.DENY)
    async def on_vote(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        later(services, where_of(body), _vote(services, body, context["asker"]))

    @app.action(re.compile(rf"^{Action.RESTORE}(:\d+)?$"))
    async def on_restore(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        later(services, where_of(body), _restore(services, body, context["asker"]))

    @app.action(Action.DELETE_GO)
    async def on_delete_go(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        later(services, where_of(body), _delete_go(services, body, context["asker"]))

    @app.action(Action.USE_CUSTOM)
    async def on_switch(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        try:  # Slack only, in the listener: never queued behind cloud work
            await _switch(services, body)
        except Exception as error:
            await report(services, error, where_of(body))

    @app.action(Action.REGION)
    async def on_region(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        later(services, where_of(body), _region(services, body))

    @app.options(Action.INSTANCE)
    async def on_instances(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        view = body.get("view") or {}
        meta = ModalMeta.load(view.get("private_metadata"), key=services.metadata_key)
        # Suggestions carry no unsubmitted input: the region is the one the modal was last
        # rebuilt for (on_region), kept in its metadata.
        region = meta.region or str(state_values(view).get(Block.REGION) or "")
        query = str(body.get("value") or "")[:100]
        asker: Asker = context["asker"]

        async def search() -> tuple[views.InstanceOption, ...]:
            actor = await asker.resolve()
            return await views.search_instances(region, query, actor=actor, core=services.core)

        try:
            found = await asyncio.wait_for(search(), OPTIONS_BUDGET)
        except TimeoutError:
            slow = BotError("ECS is slow; type to search again.")
            await report(services, slow, InAck(ack, "block_suggestion"))
            return
        except BotError as exc:
            await report(services, exc, InAck(ack, "block_suggestion"))
            return
        options = [{"text": plain(o.label, 75), "value": o.instance_id[:150]} for o in found]
        await ack(options=options[:100])

    @app.action(Action.HOME_REFRESH)
    async def on_refresh(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        later(services, where_of(body), refresh_home(services, context["asker"]))
