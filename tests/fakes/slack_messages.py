"""Messages of fake Slack: what the app posted, where, and how it edited it since.

Owns `Message` and `MessageBoard`, which answer `chat.postMessage` (a `ts` that only
grows), `chat.postEphemeral`, `chat.update` (only of a message that really was
posted, keeping the earlier versions in `Message.edits`), `chat.delete` and
`chat.getPermalink`, with Slack's errors (`channel_not_found`, `not_in_channel`,
`is_archived`, `no_text`, `message_not_found`, `invalid_blocks`: over 50 blocks, or a
text over its limit, `view_rules.block_problems`). Posting goes
where `FakeWorkspace.resolve_channel` allows; editing, deleting and linking a message
in a channel the bot cannot see (private, bot removed) is `channel_not_found`.
https://docs.slack.dev/reference/methods/chat.update,
https://docs.slack.dev/reference/methods/chat.delete

Never resolves who is in which channel beyond what `FakeWorkspace` tells it.
"""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .recording import RecordedCall
from .replies import Reply, error, problem, text_of
from .view_rules import block_problems

__all__ = ["MAX_MESSAGE_BLOCKS", "Message", "MessageBoard"]

MAX_MESSAGE_BLOCKS = 50  # Slack's limit on blocks in one message

#: Given a `channel` argument, return (channel id, None) or (None, Slack error code).
ChannelResolver = Callable[[str], tuple[str | None, str | None]]


@dataclass
class Message:
    """A message the app posted, with the versions it had before each `chat.update`."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    user: str
    thread_ts: str | None = None
    ephemeral_to: str | None = None
    deleted: bool = False
    edits: list[dict[str, Any]] = field(default_factory=list)

    def as_slack(self) -> dict[str, Any]:
        """Return the message as Slack shows it in API replies and interaction payloads."""
        message: dict[str, Any] = {
            "type": "message",
            "user": self.user,
            "text": self.text,
            "blocks": self.blocks,
            "ts": self.ts,
        }
        if self.thread_ts:
            message["thread_ts"] = self.thread_ts
        if self.edits:
            message["edited"] = {"user": self.user, "ts": self.ts}
        return message


class MessageBoard:
    """Every message the app posted, in order, as last edited."""

    def __init__(
        self,
        *,
        bot_user_id: str,
        team_domain: str,
        resolve_channel: ChannelResolver,
        can_see_channel: Callable[[str], bool],
        knows_user: Callable[[str], bool],
    ) -> None:
        self.bot_user_id = bot_user_id
        self.team_domain = team_domain
        self.messages: list[Message] = []
        self._resolve_channel = resolve_channel
        self._can_see_channel = can_see_channel
        self._knows_user = knows_user
        # ts values grow by one microsecond per message, from the time the fake started.
        self._ts = itertools.count(int(time.time()) * 1_000_000 + 1)

    def handlers(self) -> dict[str, Callable[[RecordedCall], Reply]]:
        """Return the Web API methods this board answers."""
        return {
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.update": self._update,
            "chat.delete": self._delete,
            "chat.getPermalink": self._get_permalink,
        }

    def next_ts(self) -> str:
        """Return a fresh message timestamp, greater than every one before it."""
        micros = next(self._ts)
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def post(
        self,
        channel: str,
        *,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
        ephemeral_to: str | None = None,
    ) -> Message:
        """Add a message from the bot, as if it had been posted."""
        message = Message(
            channel=channel,
            ts=self.next_ts(),
            text=text,
            blocks=list(blocks or []),
            user=self.bot_user_id,
            thread_ts=thread_ts,
            ephemeral_to=ephemeral_to,
        )
        self.messages.append(message)
        return message

    def find(self, channel: str, ts: str) -> Message | None:
        """Return the live (not deleted, not ephemeral) message at `channel`/`ts`."""
        for message in self.messages:
            if (
                message.channel == channel
                and message.ts == ts
                and not message.deleted
                and message.ephemeral_to is None
            ):
                return message
        return None

    def _post_message(self, call: RecordedCall) -> Reply:
        payload = call.payload
        channel, failure = self._resolve_channel(text_of(payload.get("channel")))
        if channel is None:
            return error(failure or "channel_not_found")
        blocks = payload.get("blocks") or []
        if not (payload.get("text") or blocks or payload.get("attachments")):
            return error("no_text")
        if len(blocks) > MAX_MESSAGE_BLOCKS:
            limit = f"no more than {MAX_MESSAGE_BLOCKS} items allowed"
            return error("invalid_blocks", problem(limit, "/blocks"))
        if block_problems(blocks, "/blocks"):
            return error("invalid_blocks", *block_problems(blocks, "/blocks"))
        message = self.post(
            channel,
            text=text_of(payload.get("text")),
            blocks=blocks,
            thread_ts=text_of(payload.get("thread_ts")) or None,
        )
        return {"ok": True, "channel": channel, "ts": message.ts, "message": message.as_slack()}

    def _post_ephemeral(self, call: RecordedCall) -> Reply:
        payload = call.payload
        channel, failure = self._resolve_channel(text_of(payload.get("channel")))
        if channel is None:
            return error(failure or "channel_not_found")
        user = text_of(payload.get("user"))
        if not self._knows_user(user):
            return error("user_not_found")
        if not (payload.get("text") or payload.get("blocks") or payload.get("attachments")):
            return error("no_text")
        message = self.post(
            channel,
            text=text_of(payload.get("text")),
            blocks=payload.get("blocks"),
            ephemeral_to=user,
        )
        return {"ok": True, "message_ts": message.ts}

    def _update(self, call: RecordedCall) -> Reply:
        payload = call.payload
        channel = text_of(payload.get("channel"))
        if not self._can_see_channel(channel):
            return error("channel_not_found")
        message = self.find(channel, text_of(payload.get("ts")))
        if message is None:
            return error("message_not_found")
        blocks = payload.get("blocks")
        if blocks is not None and len(blocks) > MAX_MESSAGE_BLOCKS:
            limit = f"no more than {MAX_MESSAGE_BLOCKS} items allowed"
            return error("invalid_blocks", problem(limit, "/blocks"))
        if blocks is not None and block_problems(blocks, "/blocks"):
            return error("invalid_blocks", *block_problems(blocks, "/blocks"))
        message.edits.append({"text": message.text, "blocks": copy.deepcopy(message.blocks)})
        if "text" in payload:
            message.text = text_of(payload["text"])
        if blocks is not None:
            message.blocks = list(blocks)
        return {
            "ok": True,
            "channel": channel,
            "ts": message.ts,
            "text": message.text,
            "message": message.as_slack(),
        }

    def _delete(self, call: RecordedCall) -> Reply:
        channel = text_of(call.payload.get("channel"))
        if not self._can_see_channel(channel):
            return error("channel_not_found")
        message = self.find(channel, text_of(call.payload.get("ts")))
        if message is None:
            return error("message_not_found")
        message.deleted = True
        return {"ok": True, "channel": channel, "ts": message.ts}

    def _get_permalink(self, call: RecordedCall) -> Reply:
        channel = text_of(call.payload.get("channel"))
        ts = text_of(call.payload.get("message_ts"))
        if not self._can_see_channel(channel):
            return error("channel_not_found")
        if self.find(channel, ts) is None:
            return error("message_not_found")
        link = f"https://{self.team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}
