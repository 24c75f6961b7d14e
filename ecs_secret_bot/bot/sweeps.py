"""The sweep's Slack handlers: its modal, its submission, its dry run, Stop, an approval.

``/ecs-secret sweep ...`` opens a "working" modal right after the ack (``slash``), and
``fill_sweep_modal`` plans the sweep (cloud calls: every region's secrets, their
instances, each secret authorized) and fills the modal with the exact set, with its hash;
a modal the person closed meanwhile is left alone. The submission needs a reason (checked
in the modal, ``response_action: errors``); it is acked with a "starting" view, then the
set is planned again: if it is not the one the person saw (``SweepMeta.digest``), the
modal shows the new set and asks again; else the runner starts it, and either it runs
(the ``SlackSweepNotifier`` posts its message in the channel) or its one approval card is
delivered as every card is. ``--dry-run`` answers privately with the listing. Stop asks
the runner, which decides who may stop (the requester, or someone allowed to rotate the
secrets left), and says so to the clicker. An approval that completes a sweep hands it to
the runner (``sweep_approved``). Never decides who may do what: the core does.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from ecs_secret_bot.bot.announce import deliver_card
from ecs_secret_bot.bot.errors import InModal, later, report, where_of
from ecs_secret_bot.bot.ids import Action, Block, Callback
from ecs_secret_bot.bot.metadata import SweepMeta, state_values
from ecs_secret_bot.bot.middleware import Asker
from ecs_secret_bot.bot.parse import Command
from ecs_secret_bot.bot.replies import Where, tell
from ecs_secret_bot.bot.services import BotServices
from ecs_secret_bot.bot.views.blocks import esc
from ecs_secret_bot.bot.views.modals import loading_modal, notice_modal
from ecs_secret_bot.bot.views.sweep import TITLE, sweep_dry_run_message, sweep_modal
from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.sweeps import (
    ItemState,
    SweepRunner,
    SweepSelector,
    SweepSnapshot,
    SweepStatus,
    plan_sweep,
)
from ecs_secret_bot.errors import BotError

__all__ = [
    "fill_sweep_modal",
    "register_sweeps",
    "runner_of",
    "selector_of",
    "sweep_approved",
    "sweep_dry_run",
]

logger = logging.getLogger(__name__)

_TO_ROTATE = frozenset({ItemState.READY, ItemState.QUEUED, ItemState.RUNNING})
CHANGED = (
    "The set changed since you opened this (a secret came or went, or its state changed). "
    "Here it is now: check it and confirm again."
)


def selector_of(cmd: Command) -> SweepSelector:
    """Return the sweep selector a parsed ``/ecs-secret sweep`` gives."""
    return SweepSelector(
        instances=cmd.instances, tags=cmd.tags, match=cmd.match, region=cmd.region or None
    )


def _selector(meta: SweepMeta) -> SweepSelector:
    return SweepSelector(
        instances=meta.instances, tags=meta.tags, match=meta.match, region=meta.region or None
    )


def runner_of(services: BotServices) -> SweepRunner:
    """Return the process's sweep runner (``runtime`` gives one to every serving bot)."""
    if services.sweeps is None:
        raise RuntimeError("this bot was built without a sweep runner")
    return services.sweeps


async def sweep_dry_run(
    services: BotServices, selector: SweepSelector, *, actor: Actor, where: Where
) -> None:
    """Tell the asker privately what a sweep would do; change nothing."""
    plan = await plan_sweep(selector, actor=actor, core=services.core)
    text, blocks = sweep_dry_run_message(plan)
    await tell(services.client, where, text, blocks)


async def fill_sweep_modal(
    services: BotServices, selector: SweepSelector, *, actor: Actor, where: Where, view_id: str
) -> None:
    """Plan the sweep and show its exact set in the working modal (unless it was closed)."""
    try:
        plan = await plan_sweep(selector, actor=actor, core=services.core)
    except BotError as exc:
        await report(services, exc, InModal(view_id, TITLE, person=where))
        return
    meta = SweepMeta(
        instances=selector.instances,
        tags=selector.tags,
        match=selector.match,
        region=selector.region or "",
        channel_id=actor.channel_id,
        channel_name=actor.channel_name,
        digest=plan.digest,
        key=services.metadata_key,
    )
    hash = services.modals.hash_of(view_id)
    await services.modals.update(sweep_modal(plan, meta), view_id=view_id, hash=hash)


async def _start(
    services: BotServices, meta: SweepMeta, *, reason: str, asker: Asker, view_id: str
) -> None:
    """Plan again; show a changed set, or start the sweep and say how it goes."""
    where = Where(asker.user_id, channel_id=asker.channel_id)
    actor = await asker.resolve()
    plan = await plan_sweep(_selector(meta), actor=actor, core=services.core)
    if plan.digest != meta.digest:
        again = sweep_modal(plan, replace(meta, digest=plan.digest), note=CHANGED, reason=reason)
        if not await services.modals.update(again, view_id=view_id):
            await tell(services.client, where, f"{CHANGED} Run the sweep again to see it.")
        return
    snapshot = await runner_of(services).start(plan, actor=actor, reason=reason)
    notice = await _started(services, snapshot)
    if not await services.modals.update(notice_modal(TITLE, notice), view_id=view_id):
        await tell(services.client, where, notice)


async def _started(services: BotServices, snapshot: SweepSnapshot) -> str:
    """Deliver the card of a held sweep; return what to tell the requester."""
    count = sum(1 for i in snapshot.items if i.state in _TO_ROTATE)
    if snapshot.status is not SweepStatus.AWAITING_APPROVAL:
        where = snapshot.channel_id or services.core.rules.channel or ""
        there = f"<#{where}>" if where[:1] in ("C", "G") else "a direct message"
        return f"The sweep runs: {count} secret(s) rotate, a few at a time. Follow it in {there}."
    row = await services.core.workflow.get(snapshot.approval_id)
    delivery = await deliver_card(services, row, first=snapshot.channel_id)
    rule = f"rule `{esc(snapshot.approval_rule)}`" if snapshot.approval_rule else "a rule"
    if delivery.posted is None:
        return (
            f"The sweep ({count} secrets) needs one approval under {rule}, but I could not "
            "post the request in any channel: invite me to this channel (`/invite "
            "@ecs-secret-bot`) or to the approval channel, and ask again."
        )
    return (
        f"The sweep ({count} secrets) needs one approval under {rule}, for exactly this set. "
        f"I posted the request in <#{delivery.posted.channel}>; once approved it runs, and "
        "its progress is posted there."
    )


async def sweep_approved(services: BotServices, sweep_id: str) -> None:
    """Run a sweep whose approval just completed (the runner checks its set is unchanged)."""
    await runner_of(services).approved(sweep_id)


async def _stop(services: BotServices, body: dict[str, Any], asker: Asker) -> None:
    where = where_of(body)
    action = (body.get("actions") or [{}])[0]
    sweep_id = str(action.get("value") or "") if isinstance(action, dict) else ""
    actor = await asker.resolve()
    snapshot = await runner_of(services).stop(sweep_id, actor=actor)
    running = sum(1 for i in snapshot.items if i.state is ItemState.RUNNING)
    stopped = sum(1 for i in snapshot.items if i.state is ItemState.STOPPED)
    text = f"You stopped the sweep: {stopped} secret(s) not yet started stay untouched" + (
        f"; {running} rotation(s) under way finish." if running else "."
    )
    await tell(services.client, where, text)


def register_sweeps(app: AsyncApp, services: BotServices) -> None:
    """Handle the sweep modal's submission and the Stop button."""

    @app.view(Callback.SWEEP)
    async def on_sweep(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        view = body.get("view") or {}
        meta = SweepMeta.load(view.get("private_metadata"), key=services.metadata_key)
        reason = str(state_values(view).get(Block.REASON) or "").strip()
        if not reason:
            await ack(
                response_action="errors",
                errors={Block.REASON: "Say why (the incident): approvers and the audit see it."},
            )
            return
        if not meta.digest:
            await ack(response_action="errors", errors={Block.REASON: "Nothing to confirm."})
            return
        await ack(response_action="update", view=loading_modal(TITLE, "Starting the sweep…"))
        asker: Asker = context["asker"]
        where = Where(asker.user_id, channel_id=asker.channel_id)
        view_id = str(view.get("id") or "")
        later(services, where, _start(services, meta, reason=reason, asker=asker, view_id=view_id))

    @app.action(Action.SWEEP_STOP)
    async def on_stop(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        later(services, where_of(body), _stop(services, body, context["asker"]))
