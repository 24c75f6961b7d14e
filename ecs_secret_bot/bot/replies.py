"""Saying things in Slack: to one person (ephemeral), to a channel, or editing a message.

Owns where an answer goes and what happens when Slack refuses it. An answer to one
person uses the request's ``response_url`` when there is one (it works in any channel),
else ``chat.postEphemeral``, else a DM. A channel post that Slack refuses
(``channel_not_found``, ``not_in_channel``, ``is_archived``) is explained to the person
who caused it, with what to do, and the content goes to them instead (``post``), or its
error code goes back to the caller, which decides (``try_post``). Rate limits are
retried by the client (``Retry-After``). Never builds content; never sees a secret value.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

__all__ = ["Posted", "Where", "post", "slack_problem", "tell", "try_post", "update"]

logger = logging.getLogger(__name__)

_CHANNEL_PROBLEMS = {
    "channel_not_found": "I cannot see that channel (it is private and I am not in it, or it "
    "was deleted). Invite me with `/invite @ecs-secret-bot`, or use a channel I am in.",
    "not_in_channel": "I am not a member of that channel. Invite me with "
    "`/invite @ecs-secret-bot` and try again.",
    "is_archived": "That channel is archived. Use another channel.",
    "ratelimited": "Slack is rate-limiting me right now. Wait a minute and try again.",
    "msg_too_long": "The message was too long for Slack.",
}


def slack_problem(error: str) -> str:
    """Return a sentence that explains a Slack API error code to a person."""
    return _CHANNEL_PROBLEMS.get(error, f"Slack refused the message ({error}).")


@dataclass(frozen=True)
class Where:
    """One person, and where they asked from."""

    user_id: str
    channel_id: str = ""
    response_url: str = ""


@dataclass(frozen=True)
class Posted:
    """A message in a channel."""

    channel: str
    ts: str


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error") or "unknown_error")


async def tell(
    client: AsyncWebClient, where: Where, text: str, blocks: list[dict[str, Any]] | None = None
) -> None:
    """Say ``text`` (and ``blocks``) to ``where.user_id`` only."""
    if where.response_url:
        try:
            webhook = AsyncWebhookClient(where.response_url, timeout=10, session=client.session)
            response = await webhook.send(
                text=text,
                blocks=blocks,
                response_type="ephemeral",
                replace_original=False,
            )
            if response.status_code == 200:
                return
            logger.warning("response_url answered %s", response.status_code)
        except Exception as exc:  # an expired or unreachable response_url: try another way
            logger.warning("response_url failed: %s", type(exc).__name__)
    if where.channel_id and not where.channel_id.startswith("D"):
        try:
            await client.chat_postEphemeral(
                channel=where.channel_id, user=where.user_id, text=text, blocks=blocks
            )
            return
        except SlackApiError as exc:
            logger.info("chat.postEphemeral failed (%s); sending a DM instead", _error(exc))
    try:
        await client.chat_postMessage(channel=where.user_id, text=text, blocks=blocks)
    except SlackApiError as exc:
        logger.warning("could not tell %s anything: %s", where.user_id, _error(exc))


async def try_post(
    client: AsyncWebClient,
    channel: str,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
) -> Posted | str:
    """Post a channel message; return it, or Slack's error code if Slack refuses it."""
    try:
        reply = await client.chat_postMessage(channel=channel, text=text, blocks=blocks)
        return Posted(str(reply.get("channel") or channel), str(reply.get("ts")))
    except SlackApiError as exc:
        error = _error(exc)
        logger.warning("chat.postMessage to %s failed: %s", channel, error)
        return error


async def post(
    client: AsyncWebClient,
    channel: str,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    *,
    on_behalf_of: Where | None = None,
) -> Posted | None:
    """Post a channel message; if Slack refuses, explain it to ``on_behalf_of`` instead."""
    posted = await try_post(client, channel, text, blocks)
    if isinstance(posted, str):
        error = posted
        if on_behalf_of is not None:
            note = f"I could not post in <#{channel}>: {slack_problem(error)} Here it is:"
            await tell(
                client,
                Where(on_behalf_of.user_id, response_url=on_behalf_of.response_url),
                f"{note}\n{text}",
                [{"type": "section", "text": {"type": "mrkdwn", "text": note}}, *(blocks or [])][
                    :50
                ],
            )
        return None
    return posted


async def update(
    client: AsyncWebClient,
    posted: Posted,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
) -> bool:
    """Edit a message the bot posted; return whether Slack took it."""
    try:
        await client.chat_update(channel=posted.channel, ts=posted.ts, text=text, blocks=blocks)
        return True
    except SlackApiError as exc:
        logger.warning("chat.update %s/%s failed: %s", posted.channel, posted.ts, _error(exc))
        return False
