"""The one ``/ecs-secret`` router: parse strictly, ack at once, then one core call.

Help, usage mistakes and ``whoami`` (answered from memory) go back in the ack itself.
Modals open right after the ack, in the listener, on the command's ``trigger_id`` (good
for 3 seconds): never queued behind cloud work. The rotate modal opens with a loading
state and is filled (``views.update`` with its ``hash``) once the secret is described;
if the person closed it meanwhile, there is nothing to fill. Everything that reaches the
cloud runs after the ack (``later``) and answers ephemerally (reads) or in the channel
(changes).

When Slack is slow to say who asked (a cold cache, a rate limit), the command is acked
empty after a short budget and answered once it has: the same answers, through the
command's ``response_url``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from ecs_secret_bot.bot.announce import Outcome, announce
from ecs_secret_bot.bot.errors import InAck, InModal, later, report, where_of
from ecs_secret_bot.bot.metadata import ModalMeta
from ecs_secret_bot.bot.middleware import Asker
from ecs_secret_bot.bot.parse import Command, parse_command
from ecs_secret_bot.bot.replies import Where, tell
from ecs_secret_bot.bot.services import BotServices
from ecs_secret_bot.bot.sweeps import fill_sweep_modal, runner_of, selector_of, sweep_dry_run
from ecs_secret_bot.bot.views.listings import (
    approvals_message,
    audit_message,
    list_message,
    pending_message,
    show_message,
    whoami_message,
)
from ecs_secret_bot.bot.views.messages import Message, help_message
from ecs_secret_bot.bot.views.modals import (
    create_modal,
    delete_modal,
    loading_modal,
    rotate_modal,
)
from ecs_secret_bot.bot.views.sweep import sweep_working_modal
from ecs_secret_bot.commands import queries as views
from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.operations.delete import delete_secret
from ecs_secret_bot.commands.operations.restore import restore_secret
from ecs_secret_bot.commands.operations.rotate import rotate_secret
from ecs_secret_bot.commands.operations.rotation_policy import set_rotation_policy
from ecs_secret_bot.commands.queries.access import require_bound
from ecs_secret_bot.commands.requests import (
    DeleteRequest,
    ListRequest,
    RestoreRequest,
    RotateRequest,
    RotationPolicyRequest,
)
from ecs_secret_bot.errors import BotError

__all__ = ["COMMAND", "register_slash"]

COMMAND = "/ecs-secret"

Ack = Callable[..., Awaitable[Any]]
OPEN_AFTER_ACKS = 0.25
"""Seconds a modal waits at most for the acks of other requests before it opens."""


@dataclass(frozen=True)
class Invocation:
    """One slash command: what was asked, by whom, from where."""

    cmd: Command
    actor: Actor
    where: Where
    trigger_id: str
    services: BotServices
    ack: Ack
    """The command's ack; after it, a stand-in that answers the asker privately."""

    def meta(self) -> ModalMeta:
        """Return the ids a modal opened from here carries."""
        return ModalMeta(
            name=self.cmd.secret,
            region=self.cmd.region,
            channel_id=self.actor.channel_id,
            channel_name=self.actor.channel_name,
            dry_run=self.cmd.dry_run,
            days=self.cmd.days,
            now=self.cmd.now,
            key=self.services.metadata_key,
        )

    def later(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run cloud ``work`` after the ack; a failure is told to the asker."""
        later(self.services, self.where, work)

    async def now(self, work: Awaitable[Any]) -> None:
        """Await Slack ``work`` in the listener, after the ack; a failure is told to the asker."""
        try:
            await work
        except Exception as error:  # after the ack: never into bolt (see errors.later)
            await report(self.services, error, self.where)

    async def open(self, view: Callable[[], dict[str, Any]]) -> str:
        """Open the ``view()`` built then on the command's trigger; return its id, or ""."""
        opened: list[str] = []

        async def open_it() -> None:
            # the acks of the requests behind this one first, briefly: the trigger lives 3 s
            await self.services.tasks.after_acks(at_most=OPEN_AFTER_ACKS)
            reply = await self.services.client.views_open(trigger_id=self.trigger_id, view=view())
            opened.append(self.services.modals.opened(reply))

        await self.now(open_it())
        return opened[0] if opened else ""

    async def run(self, work: Awaitable[Outcome]) -> None:
        """Await a core operation and show its outcome."""
        outcome = await work
        await announce(self.services, outcome, actor=self.actor, where=self.where)

    def request_id(self) -> str:
        """Return an id that makes a redelivered command run once."""
        return f"slash:{self.trigger_id}" if self.trigger_id else ""


Handler = Callable[[Invocation], Awaitable[None]]


async def _help(inv: Invocation) -> None:
    async def work_out() -> Message:
        available = views.available_subcommands(inv.actor, inv.services.core)
        return help_message(available, inv.cmd.topic)

    # in the ack: answered from memory when this actor asked a moment ago
    key = ("help", inv.actor, inv.cmd.topic)
    text, blocks = await inv.services.answers.get(key, work_out)
    await inv.ack(response_type="ephemeral", text=text, blocks=blocks)


async def _whoami(inv: Invocation) -> None:
    async def work_out() -> Message:
        return whoami_message(await views.whoami(actor=inv.actor, core=inv.services.core))

    text, blocks = await inv.services.answers.get(("whoami", inv.actor), work_out)
    await inv.ack(response_type="ephemeral", text=text, blocks=blocks)


async def _create(inv: Invocation) -> None:
    core = inv.services.core
    require_bound(inv.actor, core)
    region = core.region(inv.cmd.region)
    await inv.ack()
    await inv.open(
        lambda: create_modal(regions=core.settings.cloud.regions, region=region, meta=inv.meta())
    )


async def _rotate(inv: Invocation) -> None:
    cmd = inv.cmd
    inv.services.core.secret(cmd.secret, cmd.region)  # a bad name or region: refused in the ack
    await inv.ack()
    if cmd.dry_run:
        request = RotateRequest(cmd.secret, region=cmd.region, dry_run=True)
        inv.later(inv.run(rotate_secret(request, actor=inv.actor, core=inv.services.core)))
        return
    view_id = await inv.open(lambda: loading_modal("Rotate secret", f"Looking up `{cmd.secret}`…"))
    if view_id:
        inv.later(_fill_rotate_modal(inv, view_id))


async def _fill_rotate_modal(inv: Invocation, view_id: str) -> None:
    """Describe the secret, then show it in the loading modal (unless it was closed)."""
    cmd, core, services = inv.cmd, inv.services.core, inv.services
    try:
        secret = await views.prepare_rotation(cmd.secret, cmd.region, actor=inv.actor, core=core)
    except BotError as exc:
        await report(services, exc, InModal(view_id, "Cannot rotate", person=inv.where))
        return
    meta = ModalMeta(
        name=secret.name,
        region=secret.region,
        channel_id=inv.actor.channel_id,
        channel_name=inv.actor.channel_name,
        sub_type=secret.sub_type,
        user_name=secret.user_name,
        key=inv.services.metadata_key,
    )
    hash = services.modals.hash_of(view_id)
    await services.modals.update(rotate_modal(secret, meta), view_id=view_id, hash=hash)


async def _rotation(inv: Invocation) -> None:
    cmd = inv.cmd
    request = RotationPolicyRequest(
        cmd.secret,
        enabled=bool(cmd.enabled),
        interval=cmd.interval,
        region=cmd.region,
        request_id=inv.request_id(),
        dry_run=cmd.dry_run,
    )
    await inv.ack()
    inv.later(inv.run(set_rotation_policy(request, actor=inv.actor, core=inv.services.core)))


async def _delete(inv: Invocation) -> None:
    cmd, core = inv.cmd, inv.services.core
    ref = core.secret(cmd.secret, cmd.region)
    await inv.ack()
    if cmd.dry_run:
        request = DeleteRequest(
            ref.name,
            days=None if cmd.now else (cmd.days or 30),
            immediately=cmd.now,
            region=ref.region,
            dry_run=True,
        )
        inv.later(inv.run(delete_secret(request, actor=inv.actor, core=core)))
        return
    meta = ModalMeta(
        name=ref.name,
        region=ref.region,
        channel_id=inv.actor.channel_id,
        channel_name=inv.actor.channel_name,
        days=cmd.days,
        now=cmd.now,
        key=inv.services.metadata_key,
    )
    await inv.open(lambda: delete_modal(meta))


async def _restore(inv: Invocation) -> None:
    cmd = inv.cmd
    request = RestoreRequest(
        cmd.secret, region=cmd.region, request_id=inv.request_id(), dry_run=cmd.dry_run
    )
    await inv.ack()
    inv.later(inv.run(restore_secret(request, actor=inv.actor, core=inv.services.core)))


async def _sweep(inv: Invocation) -> None:
    services, selector = inv.services, selector_of(inv.cmd)
    require_bound(inv.actor, services.core)
    if selector.region:
        services.core.region(selector.region)  # a region not configured: refused in the ack
    runner_of(services)
    await inv.ack()
    if inv.cmd.dry_run:
        inv.later(sweep_dry_run(services, selector, actor=inv.actor, where=inv.where))
        return
    view_id = await inv.open(lambda: sweep_working_modal(selector.describe()))
    if view_id:
        work = fill_sweep_modal(
            services, selector, actor=inv.actor, where=inv.where, view_id=view_id
        )
        inv.later(work)


async def _read(inv: Invocation) -> None:
    await inv.ack()
    inv.later(_answer_read(inv))


async def _answer_read(inv: Invocation) -> None:
    """Answer list, show, pending, approvals and audit ephemerally."""
    cmd, core, actor = inv.cmd, inv.services.core, inv.actor
    if cmd.name == "list":
        listing = await views.list_secrets(
            ListRequest(name_filter=cmd.filter, region=cmd.region), actor=actor, core=core
        )
        text, blocks = list_message(listing)
    elif cmd.name == "show":
        text, blocks = show_message(
            await views.show_secret(cmd.secret, cmd.region, actor=actor, core=core)
        )
    elif cmd.name == "pending":
        text, blocks = pending_message(
            await views.list_pending(actor=actor, core=core, region=cmd.region)
        )
    elif cmd.name == "approvals":
        text, blocks = approvals_message(await views.list_approvals(actor=actor, core=core))
    else:
        rows = await views.audit_view(cmd.secret or None, cmd.region, actor=actor, core=core)
        text, blocks = audit_message(rows, cmd.secret)
    await tell(inv.services.client, inv.where, text, blocks)


ROUTES: dict[str, Handler] = {
    "help": _help,
    "whoami": _whoami,
    "create": _create,
    "rotate": _rotate,
    "rotation": _rotation,
    "delete": _delete,
    "restore": _restore,
    "list": _read,
    "show": _read,
    "pending": _read,
    "approvals": _read,
    "audit": _read,
    "sweep": _sweep,
}


def _replier(services: BotServices, where: Where) -> Ack:
    """Return an ``ack`` stand-in for after the real ack: it tells the asker privately."""

    async def say(**reply: Any) -> None:
        if reply.get("text"):
            await tell(services.client, where, str(reply["text"]), reply.get("blocks"))

    return say


async def _after_the_ack(
    services: BotServices, asker: Asker, invocation: Callable[[Actor], Invocation]
) -> None:
    """Run a command whose asker Slack was slow to describe, once it has (acked already)."""
    where = Where(asker.user_id, channel_id=asker.channel_id)
    try:
        inv = invocation(await asker.resolve())
        where = inv.where
        await ROUTES[inv.cmd.name](inv)
    except Exception as error:  # after the ack: never into bolt (see errors.later)
        await report(services, error, where)


def register_slash(app: AsyncApp, services: BotServices) -> None:
    """Route ``/ecs-secret`` to its subcommands."""

    @app.command(COMMAND)
    async def ecs_secret(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        asker: Asker = context["asker"]
        try:
            cmd = parse_command(str(body.get("text") or ""))
            actor = await asker.within(services.directory_budget)
        except BotError as exc:
            await report(services, exc, InAck(ack, "command"))
            return
        where = where_of(body)

        def invocation(actor: Actor, answer: Ack = ack) -> Invocation:
            trigger_id = str(body.get("trigger_id") or "")
            return Invocation(cmd, actor, where, trigger_id, services, answer)

        if actor is not None:
            await ROUTES[cmd.name](invocation(actor))
            return
        await ack()
        late = _replier(services, where)
        await _after_the_ack(services, asker, lambda actor: invocation(actor, late))
