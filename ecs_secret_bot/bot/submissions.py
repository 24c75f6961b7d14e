"""Modal submissions: create, rotate, delete (then its confirmation view).

Each handler reads the inputs (``state_values``), checks what needs no one else (empty
fields, a name typed to confirm) and answers ``response_action: errors`` at once; then it
hands the typed request to the core with a time budget inside Slack's 3 seconds (the time
Slack takes to say who asked, on a cold cache, counts in it). A core answer within the
budget lands in the modal: field errors next to the field, other refusals as a notice
pushed on top of the form (closing it goes back to what was typed, a pasted key
included), success as a notice plus the channel message. A slower one gets a "working"
notice pushed at once; when the core answers, the outcome is announced first (channel
message, Restore record, rotation follow-up) and the notice updated after: a person who
closed the modal meanwhile gets the outcome privately instead. The request id is the view
id, so a double submit runs once. Values go only into the request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from ecs_secret_bot.bot.announce import Outcome, announce
from ecs_secret_bot.bot.errors import InAck, InModal, report
from ecs_secret_bot.bot.ids import Block, Callback
from ecs_secret_bot.bot.metadata import ModalMeta, state_values
from ecs_secret_bot.bot.middleware import Asker
from ecs_secret_bot.bot.replies import Where, tell
from ecs_secret_bot.bot.services import BotServices
from ecs_secret_bot.bot.views.blocks import esc, short_name
from ecs_secret_bot.bot.views.modals import delete_confirm_modal, notice_modal
from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.operations.create import create_secret
from ecs_secret_bot.commands.operations.rotate import rotate_secret
from ecs_secret_bot.commands.outcomes import DryRunReport, HeldForApproval, RotateResult
from ecs_secret_bot.commands.requests import CreateRequest, RotateRequest
from ecs_secret_bot.errors import BotError

__all__ = [
    "CREATE_FORM",
    "ROTATE_FORM",
    "ModalForm",
    "outcome_notice",
    "register_submissions",
    "run_in_modal",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModalForm:
    """A submission's modal title, and the block that shows each request field's error."""

    title: str
    fields: Mapping[str, str]


CREATE_FORM = ModalForm(
    "Create ECS secret",
    {
        "name": Block.NAME,
        "region": Block.REGION,
        "instance_id": Block.INSTANCE,
        "user_name": Block.USER,
        "kind": Block.KIND,
        "password": Block.PASSWORD,
        "private_key": Block.PRIVATE_KEY,
        "public_key": Block.PRIVATE_KEY,
        "automatic_rotation": Block.AUTO_ROTATE,
        "rotation_interval": Block.INTERVAL,
        "description": Block.DESCRIPTION,
        "reason": Block.REASON,
    },
)
ROTATE_FORM = ModalForm(
    "Rotate secret",
    {
        "custom_password": Block.PASSWORD,
        "custom_private_key": Block.PRIVATE_KEY,
        "custom_public_key": Block.PUBLIC_KEY,
        "user_name": Block.USER,
        "reason": Block.REASON,
    },
)


def outcome_notice(outcome: Outcome, *, channel_id: str) -> str:
    """Say in the modal what happened; the details go to ``channel_id``'s channel or a DM."""
    if isinstance(outcome, DryRunReport):
        verdict = "would be allowed" if outcome.allowed else "would be refused"
        return (
            f"Dry run, nothing done: it {verdict}. {esc(outcome.decision)}\n"
            f"Cloud call: `{esc(outcome.cloud_call)}`"
        )
    if isinstance(outcome, HeldForApproval):
        return (
            f"This needs approval (rule `{esc(outcome.rule)}`: {esc(outcome.needs)}). "
            "I am sending the request to its approvers and will tell you where it went; "
            "you will hear back when it is decided."
        )
    name = esc(short_name(outcome.secret_name))
    in_channel = channel_id[:1] in ("C", "G")
    if isinstance(outcome, RotateResult) and outcome.custom:
        says = f"<#{channel_id}> says" if in_channel else "I will tell you in a direct message"
        return (
            f"KMS accepted the custom value for `{name}`. KMS cannot confirm that the "
            f"instance receives it: {says} when KMS shows it as current."
        )
    if in_channel:
        return f"Done for `{name}`. The details go to <#{channel_id}>."
    return f"Done for `{name}`. I am sending you the details in a direct message."


Work = Callable[[Actor], Awaitable[Outcome]]
"""A core operation waiting only for who asked."""


async def run_in_modal(
    ack: AsyncAck,
    *,
    body: dict[str, Any],
    services: BotServices,
    asker: Asker,
    work: Work,
    form: ModalForm,
) -> None:
    """Run ``work`` for a submission and answer in the modal within Slack's time."""
    title, fields = form.title, form.fields
    where = Where(asker.user_id, channel_id=asker.channel_id)

    async def run() -> tuple[Actor, Outcome]:
        actor = await asker.resolve()
        return actor, await work(actor)

    task = asyncio.ensure_future(run())
    done, _ = await asyncio.wait({task}, timeout=services.modal_budget)
    if not done:
        working = f"working:{body.get('view', {}).get('id', '')}"
        pushed = notice_modal(title, "Working on it…", external_id=working, final=True)
        await ack(response_action="push", view=pushed)
        await _finish_later(services, task, where=where, title=title, working=working)
        return
    failure = task.exception()
    if isinstance(failure, BotError):
        await report(services, failure, InAck(ack, "view_submission", title, fields))
        return
    if failure is not None:
        raise failure
    actor, outcome = task.result()
    notice = outcome_notice(outcome, channel_id=where.channel_id)
    await ack(response_action="update", view=notice_modal(title, notice))
    try:
        await announce(services, outcome, actor=actor, where=where)
    except Exception as error:  # after the ack: never into bolt (see errors.later)
        await report(services, error, where)


async def _finish_later(
    services: BotServices,
    task: asyncio.Future[tuple[Actor, Outcome]],
    *,
    where: Where,
    title: str,
    working: str,
) -> None:
    """Announce the outcome of a slow submission, then show it in its pushed "working" view."""
    try:
        actor, outcome = await task
    except Exception as error:
        # the notice says "Back": the form underneath still holds what was typed
        await report(services, error, InModal("", title, person=where, external_id=working))
        return
    try:
        await announce(services, outcome, actor=actor, where=where)
    except Exception as error:
        await report(services, error, where)
    text = outcome_notice(outcome, channel_id=where.channel_id)
    done = notice_modal(title, text, external_id=working, final=True)
    if not await services.modals.update(done, external_id=working):
        await tell(services.client, where, text)


def _request_id(body: dict[str, Any]) -> str:
    view = body.get("view") or {}
    return f"view:{view.get('id', '')}" if view.get("id") else ""


def _create_request(values: dict[str, Any], meta: ModalMeta, request_id: str) -> CreateRequest:
    kind = str(values.get(Block.KIND) or "Password")
    return CreateRequest(
        name=str(values.get(Block.NAME) or "").strip(),
        instance_id=str(values.get(Block.INSTANCE) or ""),
        user_name=str(values.get(Block.USER) or "root").strip() or "root",
        kind="SSHKey" if kind == "SSHKey" else "Password",
        password=str(values.get(Block.PASSWORD) or "") if kind != "SSHKey" else "",
        private_key=str(values.get(Block.PRIVATE_KEY) or "") if kind == "SSHKey" else "",
        automatic_rotation=bool(values.get(Block.AUTO_ROTATE)),
        rotation_interval=str(values.get(Block.INTERVAL) or "").strip(),
        description=str(values.get(Block.DESCRIPTION) or "").strip(),
        region=str(values.get(Block.REGION) or meta.region),
        request_id=request_id,
        reason=str(values.get(Block.REASON) or "").strip(),
        dry_run=meta.dry_run,
    )


def _create_errors(req: CreateRequest) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not req.name:
        errors[Block.NAME] = "Give the secret a name, such as web-3-root."
    if not req.instance_id:
        errors[Block.INSTANCE] = "Pick the instance whose user this is."
    if req.kind == "Password" and not req.password:
        errors[Block.PASSWORD] = "Give the user's current password (it becomes version 1)."
    if req.kind == "SSHKey" and not req.private_key:
        errors[Block.PRIVATE_KEY] = "Paste the user's current private key (PEM)."
    return errors


def _rotate_request(values: dict[str, Any], meta: ModalMeta, request_id: str) -> RotateRequest:
    custom = "custom" in (values.get(Block.USE_CUSTOM) or [])
    return RotateRequest(
        name=meta.name,
        custom_password=str(values.get(Block.PASSWORD) or "") if custom else "",
        custom_private_key=str(values.get(Block.PRIVATE_KEY) or "") if custom else "",
        custom_public_key=str(values.get(Block.PUBLIC_KEY) or "").strip() if custom else "",
        user_name=str(values.get(Block.USER) or "").strip() if custom else "",
        region=meta.region,
        reason=str(values.get(Block.REASON) or "").strip(),
        request_id=request_id,
    )


def _rotate_errors(values: dict[str, Any], meta: ModalMeta) -> dict[str, str]:
    if not meta.name:
        return {
            Block.REASON: "This modal lost track of its secret: close it and run the command again."
        }
    if "custom" not in (values.get(Block.USE_CUSTOM) or []):
        return {}
    if Block.PASSWORD in values and not values[Block.PASSWORD]:
        return {Block.PASSWORD: "Type the new password, or switch off the custom secret."}
    if Block.PRIVATE_KEY in values and not values[Block.PRIVATE_KEY]:
        return {Block.PRIVATE_KEY: "Paste the new private key, or switch off the custom secret."}
    if Block.PASSWORD not in values and Block.PRIVATE_KEY not in values:
        return {Block.REASON: "Switch the custom secret off and on again to show its fields."}
    return {}


def _delete_errors(values: dict[str, Any], meta: ModalMeta) -> tuple[dict[str, str], ModalMeta]:
    mode = str(values.get(Block.DELETE_MODE) or "schedule")
    reason = str(values.get(Block.REASON) or "").strip()
    if mode == "now":
        typed = str(values.get(Block.CONFIRM_NAME) or "").strip()
        if typed not in (meta.name, short_name(meta.name)) or not meta.name:
            wanted = short_name(meta.name)
            # A field error is plain text: quotes, not backticks.
            return {Block.CONFIRM_NAME: f'Type "{wanted}" exactly to delete it immediately.'}, meta
        return {}, ModalMeta(**{**meta.__dict__, "now": True, "days": None, "reason": reason})
    raw = str(values.get(Block.DAYS) or "30").strip()
    if not (raw.isascii() and raw.isdigit()) or not 7 <= int(raw) <= 30:
        return {Block.DAYS: "A whole number of days from 7 to 30."}, meta
    return {}, ModalMeta(**{**meta.__dict__, "now": False, "days": int(raw), "reason": reason})


def register_submissions(app: AsyncApp, services: BotServices) -> None:
    """Handle the modals' submissions."""

    @app.view(Callback.CREATE)
    async def on_create(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        view = body.get("view") or {}
        meta = ModalMeta.load(view.get("private_metadata"), key=services.metadata_key)
        req = _create_request(state_values(view), meta, _request_id(body))
        errors = _create_errors(req)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await run_in_modal(
            ack,
            body=body,
            services=services,
            asker=context["asker"],
            work=lambda actor: create_secret(req, actor=actor, core=services.core),
            form=CREATE_FORM,
        )

    @app.view(Callback.ROTATE)
    async def on_rotate(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        view = body.get("view") or {}
        meta = ModalMeta.load(view.get("private_metadata"), key=services.metadata_key)
        values = state_values(view)
        errors = _rotate_errors(values, meta)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        req = _rotate_request(values, meta, _request_id(body))
        await run_in_modal(
            ack,
            body=body,
            services=services,
            asker=context["asker"],
            work=lambda actor: rotate_secret(req, actor=actor, core=services.core),
            form=ROTATE_FORM,
        )

    @app.view(Callback.DELETE)
    async def on_delete(ack: AsyncAck, body: dict[str, Any]) -> None:
        view = body.get("view") or {}
        errors, meta = _delete_errors(
            state_values(view),
            ModalMeta.load(view.get("private_metadata"), key=services.metadata_key),
        )
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack(response_action="update", view=delete_confirm_modal(meta))

    @app.view(Callback.RESULT)
    @app.view(Callback.LOADING)
    @app.view(Callback.DELETE_CONFIRM)
    async def on_plain(ack: AsyncAck) -> None:
        await ack()
