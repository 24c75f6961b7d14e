"""Where a person sees what went wrong in Slack, and in which words: the one reporter.

``report`` is the only place that tells a person about a failure, and the only place that
decides known or unknown. A known error (``BotError``, or a storage fault that
``errors.known_error`` words) goes back in its own words with its next step, its
subcommands spelled as slash commands (``/ecs-secret list``), a cloud error with its code
and request id; anything else is logged with ``logger.exception`` under a fresh reference
id, and that id is all the person sees. ``report`` knows the surfaces:

- ``InAck``: the ack itself: ephemeral for a slash command; for a modal submission the
  field's error next to the field, else a notice pushed on top of the form (closing it
  goes back to what was typed); options for a picker;
- ``InModal``: a modal already open, updated with a notice (``views.update``), or the
  person privately when they closed it;
- ``Where``: one person, ephemerally or by DM (``replies.tell``).

``register_error_handler`` installs it as the app's ``@app.error``, and ``later`` runs work
after the ack and reports its failure. Slack always gets a 200 from here: never a 5xx,
never a traceback, never a secret value.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse

from ecs_secret_bot.bot import observe
from ecs_secret_bot.bot.parse import spell
from ecs_secret_bot.bot.replies import Where, tell
from ecs_secret_bot.bot.services import BotServices
from ecs_secret_bot.bot.views.blocks import esc, plain
from ecs_secret_bot.bot.views.messages import error_blocks
from ecs_secret_bot.bot.views.modals import notice_modal
from ecs_secret_bot.errors import BotError, CloudError, InvalidInput, known_error

__all__ = [
    "InAck",
    "InModal",
    "Surface",
    "describe",
    "later",
    "reference_message",
    "register_error_handler",
    "report",
    "where_of",
]

logger = logging.getLogger(__name__)

OPTION_TEXT_MAX = 75


def describe(error: BotError, *, markup: bool = True) -> str:
    """Return what to tell the person about a known error, with the next step.

    With ``markup`` (mrkdwn), ``&``, ``<`` and ``>`` are escaped: messages of the core
    quote what people typed. Plain-text places (a modal field's error, a picker's option)
    take it raw, with code quoted in quotation marks, since backticks would show as such.
    """
    text = error.user_message
    if isinstance(error, CloudError) and error.code and error.code not in text:
        text += f" (cloud error `{error.code}`"
        text += f", request id `{error.request_id}`)" if error.request_id else ")"
    if error.next_step:
        text += f"\n{error.next_step.worded(spell)}"
    return esc(text) if markup else text.replace("`", '"')


def reference_message(reference: str) -> str:
    """Return what a person sees for an unexpected failure."""
    return (
        f"Something went wrong on my side (reference `{reference}`); nothing was changed "
        "unless a message says so. Try again, and if it happens again give this reference "
        "to the bot's operators."
    )


def where_of(body: dict[str, Any]) -> Where:
    """Return who asked and from where, from the verified payload."""
    user = body.get("user")
    user_id = body.get("user_id") or (user.get("id") if isinstance(user, dict) else user)
    channel = body.get("channel")
    channel_id = body.get("channel_id") or (channel.get("id") if isinstance(channel, dict) else "")
    event = body.get("event")
    if not user_id and isinstance(event, dict):
        user_id = event.get("user")
    return Where(
        user_id=str(user_id or ""),
        channel_id=str(channel_id or ""),
        response_url=str(body.get("response_url") or ""),
    )


def ack_kind(body: dict[str, Any]) -> str:
    """Return what the ack of ``body`` answers: a submission, a picker, a command, or other."""
    kind = body.get("type")
    if kind in ("view_submission", "block_suggestion"):
        return str(kind)
    return "command" if "command" in body else "other"


@dataclass(frozen=True)
class InAck:
    """Answer in the ack of the request, shaped for what ``kind`` (``ack_kind``) it is."""

    ack: Callable[..., Awaitable[Any]]
    kind: str
    title: str = "Not done"
    """The title of the notice modal, for a submission."""
    fields: Mapping[str, str] = field(default_factory=dict)
    """``InvalidInput.field`` -> the modal's block id, for errors next to the field."""


@dataclass(frozen=True)
class InModal:
    """Answer in a modal already open: its content becomes a notice.

    The modal is found by ``view_id``, or by the ``external_id`` of a view pushed in an ack;
    if the person closed it, ``person`` is told instead.
    """

    view_id: str
    title: str
    person: Where | None = None
    external_id: str = ""


Surface = InAck | InModal | Where


@dataclass(frozen=True)
class _Said:
    known: BotError | None
    text: str


def _say(error: BaseException) -> _Said:
    """Decide known or unknown, log it so, and return what the person sees."""
    known = known_error(error)
    observe.settle(observe.outcome_of(known if known is not None else error))
    if known is not None:
        logger.info("refused or failed: %s", type(known).__name__)
        return _Said(known, describe(known))
    reference = uuid.uuid4().hex[:12]
    logger.exception("unexpected error, reference %s", reference, exc_info=error)
    return _Said(None, reference_message(reference))


def _ack_payload(said: _Said, surface: InAck) -> dict[str, Any]:
    known = said.known
    if surface.kind == "view_submission":
        if isinstance(known, InvalidInput) and known.field in surface.fields:
            block = surface.fields[known.field]
            return {
                "response_action": "errors",
                "errors": {block: describe(known, markup=False)[:2000]},
            }
        notice = notice_modal(surface.title, said.text, back=True)
        return {"response_action": "push", "view": notice}
    if surface.kind == "block_suggestion":
        if known is None:
            return {"options": []}
        # An option is plain text: the words raw, not escaped for mrkdwn.
        text = describe(known, markup=False)
        return {"options": [{"text": plain(text, OPTION_TEXT_MAX), "value": "none"}]}
    if surface.kind == "command":
        return {"response_type": "ephemeral", "text": said.text, "blocks": error_blocks(said.text)}
    return {}


async def report(services: BotServices, error: BaseException, surface: Surface) -> None:
    """Tell the person about ``error`` on ``surface``: known in its words, else a reference."""
    said = _say(error)
    if isinstance(surface, InAck):
        await surface.ack(**_ack_payload(said, surface))
    elif isinstance(surface, InModal):
        view = notice_modal(surface.title, said.text, back=bool(surface.external_id))
        shown = await services.modals.update(
            view, view_id=surface.view_id, external_id=surface.external_id
        )
        if not shown and surface.person is not None:
            await tell(services.client, surface.person, said.text, error_blocks(said.text))
    elif surface.user_id:
        await tell(services.client, surface, said.text, error_blocks(said.text))


def later(services: BotServices, where: Where, work: Coroutine[Any, Any, Any]) -> None:
    """Run ``work`` after the ack, tracked for shutdown; failures go back to ``where``.

    Work after the ack never raises into bolt: bolt's runner can lose an ack that an
    error follows within its 10 ms polling interval (and answer Slack 404).
    """

    async def guarded() -> None:
        try:
            await work
        except Exception as error:
            await report(services, error, where)

    record = observe.hold_current()  # the request ends when this work does
    task = services.tasks.spawn(guarded(), name="after-ack", gated=True)
    if record is not None:
        task.add_done_callback(lambda _: record.release())


def register_error_handler(app: AsyncApp, services: BotServices) -> None:
    """Install ``report`` as the app's one error handler."""

    async def on_error(
        error: Exception, body: dict[str, Any], response: BoltResponse | None
    ) -> BoltResponse | None:
        if not isinstance(body, dict):
            body = {}
        if response is None:
            await report(services, error, where_of(body))
            return None
        answer: dict[str, Any] = {}

        async def into_response(**payload: Any) -> None:
            answer.update(payload)

        await report(services, error, InAck(into_response, ack_kind(body)))
        if not answer:
            return BoltResponse(status=200, body="")
        return BoltResponse(
            status=200,
            body=json.dumps(answer),
            headers={"content-type": "application/json;charset=utf-8"},
        )

    app.error(on_error)
