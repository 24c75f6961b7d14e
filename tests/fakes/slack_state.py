"""The state behind fake Slack: people, channels, user groups, messages and views.

Owns `FakeWorkspace`, which answers the Web API methods the bot and bolt use with
replies shaped like Slack's (`users.info`, `conversations.info`,
`usergroups.users.list`, `chat.postMessage` and its `ts`, `chat.update` of a message
that really was posted, `views.open` returning a view with an id and a hash...), and
which checks a few of Slack's real limits (modal title length, block counts,
`private_metadata` size) so that a bot that would be refused by Slack is refused here.

Never speaks HTTP and never knows about canned replies: `slack_api.FakeSlackAPI` owns
the server and consults this model only when a test did not script the reply.
"""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from . import workspace as ws
from .recording import RecordedCall
from .workspace import UserKind

__all__ = ["FakeWorkspace", "Message"]

Reply = dict[str, Any]

# Limits Slack enforces on views and messages (Block Kit reference).
MAX_MODAL_BLOCKS = 100
MAX_MESSAGE_BLOCKS = 50
MAX_MODAL_TITLE = 24
MAX_PRIVATE_METADATA = 3000
MAX_CALLBACK_ID = 255


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
        """Return the message as Slack shows it in API replies."""
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


def _error(error: str, *messages: str) -> Reply:
    reply: Reply = {"ok": False, "error": error}
    if messages:
        reply["response_metadata"] = {"messages": list(messages)}
    return reply


def _text_of(value: object) -> str:
    return value if isinstance(value, str) else ""


class FakeWorkspace:
    """People, channels, user groups, messages and views of one fake Slack team."""

    def __init__(
        self,
        *,
        team_id: str = ws.TEAM_ID,
        team_domain: str = ws.TEAM_DOMAIN,
        team_name: str = ws.TEAM_NAME,
        app_id: str = ws.API_APP_ID,
        bot_id: str = ws.BOT_ID,
        bot_user_id: str = ws.BOT_USER_ID,
    ) -> None:
        self.team_id = team_id
        self.team_domain = team_domain
        self.team_name = team_name
        self.app_id = app_id
        self.bot_id = bot_id
        self.bot_user_id = bot_user_id
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.usergroups: dict[str, dict[str, Any]] = {}
        self.messages: list[Message] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.home_view_ids: dict[str, str] = {}
        self.socket_mode_url: Callable[[], str] | None = None
        # ts values grow by one microsecond per message, from the time the fake started.
        self._ts = itertools.count(int(time.time()) * 1_000_000 + 1)
        self._view_ids = itertools.count(1)
        self._view_hashes = itertools.count(1)
        self._handlers: dict[str, Callable[[RecordedCall], Reply]] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.info": self._conversations_info,
            "conversations.open": self._conversations_open,
            "users.info": self._users_info,
            "usergroups.list": self._usergroups_list,
            "usergroups.users.list": self._usergroups_users_list,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
        }
        self._seed()

    # ------------------------------------------------------------------ directory

    def add_user(
        self,
        user_id: str,
        *,
        name: str,
        kind: UserKind = UserKind.MEMBER,
        tz: str = ws.DEFAULT_TZ,
        real_name: str | None = None,
        email: str | None = None,
        bot_id: str | None = None,
    ) -> dict[str, Any]:
        """Add (or replace) a user that `users.info` knows; return its Slack record."""
        real = real_name or name.replace(".", " ").title()
        zone = ZoneInfo(tz)
        now = datetime.now(UTC).astimezone(zone)
        offset = now.utcoffset()
        profile: dict[str, Any] = {
            "real_name": real,
            "real_name_normalized": real,
            "display_name": name,
            "display_name_normalized": name,
            "team": self.team_id,
        }
        if kind is UserKind.BOT:
            profile["bot_id"] = bot_id or f"B{user_id[1:]}"
        else:
            profile["email"] = email or f"{name}@example.com"
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": kind is UserKind.DELETED,
            "real_name": real,
            "tz": tz,
            "tz_label": now.tzname() or tz,
            "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
            "profile": profile,
            "is_admin": kind in (UserKind.ADMIN, UserKind.OWNER),
            "is_owner": kind is UserKind.OWNER,
            "is_primary_owner": False,
            "is_restricted": kind in (UserKind.GUEST, UserKind.SINGLE_CHANNEL_GUEST),
            "is_ultra_restricted": kind is UserKind.SINGLE_CHANNEL_GUEST,
            "is_bot": kind is UserKind.BOT,
            "is_app_user": False,
            "updated": int(time.time()),
        }
        self.users[user_id] = user
        return user

    def add_channel(
        self,
        channel_id: str,
        *,
        name: str,
        is_private: bool = False,
        is_member: bool = True,
        is_archived: bool = False,
    ) -> dict[str, Any]:
        """Add (or replace) a channel that `conversations.info` knows; return its record."""
        channel: dict[str, Any] = {
            "id": channel_id,
            "name": name,
            "name_normalized": name,
            "is_channel": not is_private,
            "is_group": False,
            "is_im": False,
            "is_mpim": False,
            "is_private": is_private,
            "is_archived": is_archived,
            "is_general": name == "general",
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_member": is_member,
            "context_team_id": self.team_id,
            "created": int(time.time()) - 86_400,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }
        self.channels[channel_id] = channel
        return channel

    def set_usergroup(
        self,
        usergroup_id: str,
        user_ids: Iterable[str],
        *,
        handle: str | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        """Define (or redefine) a user group and its members."""
        handle = handle or usergroup_id.lower()
        group: dict[str, Any] = {
            "id": usergroup_id,
            "team_id": self.team_id,
            "is_usergroup": True,
            "name": name or handle,
            "handle": handle,
            "users": list(user_ids),
        }
        self.usergroups[usergroup_id] = group
        return group

    def dm_channel_id(self, user_id: str) -> str:
        """Return the id of the bot's direct-message channel with `user_id`."""
        return "D" + user_id[1:]

    def _seed(self) -> None:
        for user in ws.USERS:
            bot_id = self.bot_id if user.user_id == self.bot_user_id else None
            self.add_user(user.user_id, name=user.name, kind=user.kind, tz=user.tz, bot_id=bot_id)
        for channel in ws.CHANNELS:
            self.add_channel(channel.channel_id, name=channel.name, is_private=channel.is_private)

    # ------------------------------------------------------------------ dispatch

    def reply(self, call: RecordedCall) -> Reply:
        """Return Slack's default answer to `call`: `{"ok": true}` for unknown methods."""
        handler = self._handlers.get(call.method)
        return handler(call) if handler is not None else {"ok": True}

    def next_ts(self) -> str:
        """Return a fresh message timestamp, greater than all before it."""
        micros = next(self._ts)
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def find_message(self, channel: str, ts: str) -> Message | None:
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

    def _resolve_channel(self, channel: str) -> tuple[str | None, str | None]:
        """Return (channel id, error) for a `channel` argument as Slack resolves it."""
        if not channel:
            return None, "channel_not_found"
        if channel[0] in "UW":  # posting to a user id goes to the DM with them
            return self.dm_channel_id(channel), None
        if channel.startswith("#"):
            for known in self.channels.values():
                if known["name"] == channel[1:]:
                    return known["id"], None
            return None, "channel_not_found"
        known_channel = self.channels.get(channel)
        if known_channel is not None:
            if known_channel["is_archived"]:
                return None, "is_archived"
            if not known_channel["is_member"]:
                return None, "not_in_channel"
        return channel, None

    # ------------------------------------------------------------------ auth and sockets

    def _api_test(self, call: RecordedCall) -> Reply:
        return {"ok": True, "args": call.payload}

    def _auth_test(self, call: RecordedCall) -> Reply:
        if (call.token or "").startswith("xapp-"):
            return _error("not_allowed_token_type")
        return {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": self.users[self.bot_user_id]["name"],
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, call: RecordedCall) -> Reply:
        if not (call.token or "").startswith("xapp-"):
            return _error("not_allowed_token_type")
        if self.socket_mode_url is None:
            return _error(
                "fake_socket_mode_server_not_attached",
                "[ERROR] use the socket_mode_server fixture or FakeSlackAPI.attach_socket_mode()",
            )
        return {"ok": True, "url": self.socket_mode_url()}

    # ------------------------------------------------------------------ chat

    def _chat_post_message(self, call: RecordedCall) -> Reply:
        payload = call.payload
        channel, error = self._resolve_channel(_text_of(payload.get("channel")))
        if error is not None or channel is None:
            return _error(error or "channel_not_found")
        blocks = payload.get("blocks") or []
        if not (payload.get("text") or blocks or payload.get("attachments")):
            return _error("no_text")
        if len(blocks) > MAX_MESSAGE_BLOCKS:
            limit = f"no more than {MAX_MESSAGE_BLOCKS} items allowed"
            return _error("invalid_blocks", _problem(limit, "/blocks"))
        message = Message(
            channel=channel,
            ts=self.next_ts(),
            text=_text_of(payload.get("text")),
            blocks=list(blocks),
            user=self.bot_user_id,
            thread_ts=_text_of(payload.get("thread_ts")) or None,
        )
        self.messages.append(message)
        return {"ok": True, "channel": channel, "ts": message.ts, "message": message.as_slack()}

    def _chat_post_ephemeral(self, call: RecordedCall) -> Reply:
        payload = call.payload
        channel, error = self._resolve_channel(_text_of(payload.get("channel")))
        if error is not None or channel is None:
            return _error(error or "channel_not_found")
        user = _text_of(payload.get("user"))
        if user not in self.users:
            return _error("user_not_found")
        if not (payload.get("text") or payload.get("blocks") or payload.get("attachments")):
            return _error("no_text")
        message = Message(
            channel=channel,
            ts=self.next_ts(),
            text=_text_of(payload.get("text")),
            blocks=list(payload.get("blocks") or []),
            user=self.bot_user_id,
            ephemeral_to=user,
        )
        self.messages.append(message)
        return {"ok": True, "message_ts": message.ts}

    def _chat_update(self, call: RecordedCall) -> Reply:
        payload = call.payload
        channel = _text_of(payload.get("channel"))
        message = self.find_message(channel, _text_of(payload.get("ts")))
        if message is None:
            return _error("message_not_found")
        blocks = payload.get("blocks")
        if blocks is not None and len(blocks) > MAX_MESSAGE_BLOCKS:
            return _error("invalid_blocks")
        message.edits.append({"text": message.text, "blocks": copy.deepcopy(message.blocks)})
        if "text" in payload:
            message.text = _text_of(payload["text"])
        if blocks is not None:
            message.blocks = list(blocks)
        return {
            "ok": True,
            "channel": channel,
            "ts": message.ts,
            "text": message.text,
            "message": message.as_slack(),
        }

    def _chat_delete(self, call: RecordedCall) -> Reply:
        channel = _text_of(call.payload.get("channel"))
        message = self.find_message(channel, _text_of(call.payload.get("ts")))
        if message is None:
            return _error("message_not_found")
        message.deleted = True
        return {"ok": True, "channel": channel, "ts": message.ts}

    def _chat_get_permalink(self, call: RecordedCall) -> Reply:
        channel = _text_of(call.payload.get("channel"))
        ts = _text_of(call.payload.get("message_ts"))
        if self.find_message(channel, ts) is None:
            return _error("message_not_found")
        link = f"https://{self.team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    # ------------------------------------------------------------------ conversations, users

    def _conversations_info(self, call: RecordedCall) -> Reply:
        channel_id = _text_of(call.payload.get("channel"))
        channel = self.channels.get(channel_id)
        if channel is not None:
            return {"ok": True, "channel": channel}
        for user_id in self.users:
            if self.dm_channel_id(user_id) == channel_id:
                return {"ok": True, "channel": self._dm_record(user_id)}
        return _error("channel_not_found")

    def _dm_record(self, user_id: str) -> dict[str, Any]:
        return {
            "id": self.dm_channel_id(user_id),
            "created": int(time.time()) - 86_400,
            "is_im": True,
            "is_org_shared": False,
            "context_team_id": self.team_id,
            "user": user_id,
            "is_user_deleted": bool(self.users.get(user_id, {}).get("deleted")),
            "priority": 0,
        }

    def _conversations_open(self, call: RecordedCall) -> Reply:
        users = call.payload.get("users")
        user_ids = users.split(",") if isinstance(users, str) else list(users or [])
        user_ids = [user_id.strip() for user_id in user_ids if user_id.strip()]
        if not user_ids:
            return _error("users_list_not_supplied")
        unknown = [user_id for user_id in user_ids if user_id not in self.users]
        if unknown:
            return _error("user_not_found")
        if len(user_ids) == 1:
            return {"ok": True, "channel": self._dm_record(user_ids[0])}
        return {"ok": True, "channel": {"id": "G" + "".join(sorted(u[1:4] for u in user_ids))}}

    def _users_info(self, call: RecordedCall) -> Reply:
        user = self.users.get(_text_of(call.payload.get("user")))
        if user is None:
            return _error("user_not_found")
        return {"ok": True, "user": user}

    def _usergroups_list(self, call: RecordedCall) -> Reply:
        include_users = str(call.payload.get("include_users", "")).lower() in ("1", "true")
        groups = []
        for group in self.usergroups.values():
            listed = {key: value for key, value in group.items() if key != "users"}
            listed["user_count"] = len(group["users"])
            if include_users:
                listed["users"] = list(group["users"])
            groups.append(listed)
        return {"ok": True, "usergroups": groups}

    def _usergroups_users_list(self, call: RecordedCall) -> Reply:
        group = self.usergroups.get(_text_of(call.payload.get("usergroup")))
        if group is None:
            return _error("no_such_subteam")
        return {"ok": True, "users": list(group["users"])}

    # ------------------------------------------------------------------ views

    def _views_open(self, call: RecordedCall) -> Reply:
        return self._open_view(call, pushed=False)

    def _views_push(self, call: RecordedCall) -> Reply:
        return self._open_view(call, pushed=True)

    def _open_view(self, call: RecordedCall, *, pushed: bool) -> Reply:
        if not call.payload.get("trigger_id"):
            return _error("invalid_arguments", _problem("missing required field: trigger_id", "/"))
        view = call.payload.get("view")
        if not isinstance(view, Mapping):
            return _error("invalid_arguments", _problem("missing required field: view", "/"))
        problems = _view_problems(view, expected_type="modal")
        if problems:
            return _error("invalid_arguments", *problems)
        stored = self._store_view(view, view_id=self._new_view_id())
        return {"ok": True, "view": stored}

    def _views_update(self, call: RecordedCall) -> Reply:
        payload = call.payload
        view_id = _text_of(payload.get("view_id"))
        external_id = _text_of(payload.get("external_id"))
        current = self.views.get(view_id) if view_id else None
        if current is None and external_id:
            matches = [v for v in self.views.values() if v["external_id"] == external_id]
            current = matches[-1] if matches else None
        if current is None:
            return _error("not_found")
        if payload.get("hash") and payload["hash"] != current["hash"]:
            return _error("hash_conflict")
        view = payload.get("view")
        if not isinstance(view, Mapping):
            return _error("invalid_arguments", _problem("missing required field: view", "/"))
        problems = _view_problems(view, expected_type=current["type"])
        if problems:
            return _error("invalid_arguments", *problems)
        stored = self._store_view(view, view_id=current["id"])
        return {"ok": True, "view": stored}

    def _views_publish(self, call: RecordedCall) -> Reply:
        payload = call.payload
        user_id = _text_of(payload.get("user_id"))
        if user_id not in self.users:
            return _error("user_not_found")
        view = payload.get("view")
        if not isinstance(view, Mapping):
            return _error("invalid_arguments", _problem("missing required field: view", "/"))
        problems = _view_problems(view, expected_type="home")
        if problems:
            return _error("invalid_arguments", *problems)
        view_id = self.home_view_ids.get(user_id)
        if view_id and payload.get("hash") and payload["hash"] != self.views[view_id]["hash"]:
            return _error("hash_conflict")
        view_id = view_id or self._new_view_id()
        self.home_view_ids[user_id] = view_id
        return {"ok": True, "view": self._store_view(view, view_id=view_id)}

    def _new_view_id(self) -> str:
        return f"V{next(self._view_ids):010d}"

    def _store_view(self, view: Mapping[str, Any], *, view_id: str) -> dict[str, Any]:
        stored: dict[str, Any] = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view.get("type"),
            "blocks": copy.deepcopy(list(view.get("blocks") or [])),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{next(self._view_hashes):08x}",
            "title": copy.deepcopy(view.get("title")),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": copy.deepcopy(view.get("close")),
            "submit": copy.deepcopy(view.get("submit")),
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.app_id,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        self.views[view_id] = stored
        return copy.deepcopy(stored)


def _problem(message: str, pointer: str) -> str:
    """Return one problem worded as Slack words them in `response_metadata.messages`."""
    return f"[ERROR] {message} [json-pointer:{pointer}]"


def _view_problems(view: Mapping[str, Any], *, expected_type: str) -> list[str]:
    """Return Slack-style `[ERROR]` messages for what Slack would refuse in `view`."""
    problems: list[str] = []
    view_type = view.get("type")
    if view_type != expected_type:
        problems.append(f"[ERROR] must be '{expected_type}' [json-pointer:/view/type]")
    blocks = view.get("blocks") or []
    if len(blocks) > MAX_MODAL_BLOCKS:
        problems.append(_problem(f"no more than {MAX_MODAL_BLOCKS} items allowed", "/view/blocks"))
    if len(_text_of(view.get("private_metadata"))) > MAX_PRIVATE_METADATA:
        limit = f"must be no more than {MAX_PRIVATE_METADATA} characters"
        problems.append(_problem(limit, "/view/private_metadata"))
    if len(_text_of(view.get("callback_id"))) > MAX_CALLBACK_ID:
        limit = f"must be no more than {MAX_CALLBACK_ID} characters"
        problems.append(_problem(limit, "/view/callback_id"))
    if view_type == "modal":
        for key in ("title", "submit", "close"):
            element = view.get(key)
            if element is None:
                if key == "title":
                    problems.append(_problem("missing required field: title", "/view"))
                continue
            text = _text_of(element.get("text")) if isinstance(element, Mapping) else ""
            if len(text) > MAX_MODAL_TITLE:
                limit = f"must be less than {MAX_MODAL_TITLE + 1} characters"
                problems.append(_problem(limit, f"/view/{key}/text"))
        has_input = any(isinstance(b, Mapping) and b.get("type") == "input" for b in blocks)
        if has_input and view.get("submit") is None:
            problems.append(_problem("submit is required with input blocks", "/view"))
    return problems
