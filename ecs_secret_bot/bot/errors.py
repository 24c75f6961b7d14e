"""The single ``@app.error``: where a person sees what went wrong, and in which words.

A known error (``BotError``: ``user_message`` and ``next_step``; a cloud error's code and
request id) goes back to the person who asked: in the ack when nothing was acked yet
(ephemeral for a slash command, a notice in the modal for a submission), else
ephemerally. Anything else is logged with ``logger.exception`` under a fresh reference id,
and that id is all the person sees. Slack always gets a 200 from here: never a 5xx, never
a traceback, never a secret value.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Coroutine
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse

from ecs_secret_bot.bot.replies import Where, tell
from ecs_secret_bot.bot.services import BotServices
from ecs_secret_bot.bot.views.blocks import esc
from ecs_secret_bot.bot.views.messages import error_blocks
from ecs_secret_bot.bot.views.modals import notice_modal
from ecs_secret_bot.errors import BotError, CloudError

__all__ = ["describe", "later", "reference_message", "register_error_handler", "where_of"]

logger = logging.getLogger(__name__)


def describe(error: BotError, *, markup: bool = True) -> str:
    """Return what to tell the person about a known error, with the next step.

    With ``markup`` (mrkdwn), ``&``, ``<`` and ``>`` are escaped: messages of the core
    quote what people typed. Plain-text places (a modal field's error) take it raw.
    """
    text = error.user_message
    if isinstance(error, CloudError) and error.code and error.code not in text:
        text += f" (cloud error `{error.code}`"
        text += f", request id `{error.request_id}`)" if error.request_id else ")"
    if error.next_step:
        text += f"\n{error.next_step}"
    return esc(text) if markup else text


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


def _ack_body(body: dict[str, Any], text: str) -> BoltResponse:
    kind = body.get("type")
    if kind == "view_submission":
        payload: dict[str, Any] = {
            "response_action": "update",
            "view": notice_modal("Not done", text),
        }
    elif kind == "block_suggestion":
        payload = {"options": []}
    elif "command" in body:
        payload = {"response_type": "ephemeral", "text": text, "blocks": error_blocks(text)}
    else:
        return BoltResponse(status=200, body="")
    return BoltResponse(
        status=200,
        body=json.dumps(payload),
        headers={"content-type": "application/json;charset=utf-8"},
    )


async def _report(services: BotServices, where: Where, error: Exception) -> None:
    """Tell ``where`` about a failure after the ack (known: its words; else a reference)."""
    if isinstance(error, BotError):
        text = describe(error)
        logger.info("refused or failed: %s", type(error).__name__)
    else:
        reference = uuid.uuid4().hex[:12]
        logger.exception("unexpected error, reference %s", reference, exc_info=error)
        text = reference_message(reference)
    if where.user_id:
        await tell(services.client, where, text, error_blocks(text))


def later(services: BotServices, where: Where, work: Coroutine[Any, Any, Any]) -> None:
    """Run ``work`` after the ack, tracked for shutdown; failures go back to ``where``.

    Work after the ack never raises into bolt: bolt's runner can lose an ack that an
    error follows within its 10 ms polling interval (and answer Slack 404).
    """

    async def guarded() -> None:
        try:
            await work
        except Exception as error:
            await _report(services, where, error)

    services.tasks.spawn(guarded(), name="after-ack", gated=True)


def register_error_handler(app: AsyncApp, services: BotServices) -> None:
    """Install the app's one error handler."""

    async def on_error(
        error: Exception, body: dict[str, Any], response: BoltResponse | None
    ) -> BoltResponse | None:
        if not isinstance(body, dict):
            body = {}
        if response is None:
            await _report(services, where_of(body), error)
            return None
        if isinstance(error, BotError):
            text = describe(error)
            logger.info("refused or failed: %s", type(error).__name__)
        else:
            reference = uuid.uuid4().hex[:12]
            logger.exception("unexpected error, reference %s", reference, exc_info=error)
            text = reference_message(reference)
        return _ack_body(body, text)

    app.error(on_error)
