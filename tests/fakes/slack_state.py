"""The state behind fake Slack: people, channels, user groups, messages and views.

Owns `FakeWorkspace`, which answers the Web API methods the bot and bolt use with
replies shaped like Slack's: `auth.test`, `apps.connections.open`, `users.info`
(members, guests, single-channel guests, bots, deactivated accounts, with time zones),
`conversations.info`/`open`, `usergroups.list` and `usergroups.users.list` here;
messages in `slack_messages.MessageBoard`, views in `slack_views.ViewRegistry`.
Methods it does not know get `{"ok": true}`.

It knows which channels exist, which are private and where the bot is a member, and
refuses as Slack does: a post where the bot is not a member is `not_in_channel` in a
public channel (unless the token has `chat:write.public`) and `channel_not_found` in
a private one, which the bot cannot even see (`conversations.info` says
`channel_not_found` too); an unknown channel is `channel_not_found`; an archived one
`is_archived`. https://docs.slack.dev/reference/methods/chat.postMessage,
https://docs.slack.dev/reference/methods/chat.postEphemeral,
https://docs.slack.dev/reference/methods/conversations.info,
https://docs.slack.dev/reference/scopes/chat.write.public

Never speaks HTTP and never knows about canned replies: `slack_api.FakeSlackAPI` owns
the server and consults this model only when a test did not script the reply.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from . import workspace as ws
from .recording import RecordedCall
from .replies import Reply, error, problem, text_of
from .slack_messages import Message, MessageBoard
from .slack_views import ViewRegistry
from .workspace import UserKind

__all__ = ["FakeWorkspace"]


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
        self.scopes: set[str] = set(ws.BOT_SCOPES)
        self.socket_mode_url: Callable[[], str] | None = None
        self.board = MessageBoard(
            bot_user_id=bot_user_id,
            team_domain=team_domain,
            resolve_channel=self.resolve_channel,
            can_see_channel=self.can_see_channel,
            knows_user=self.users.__contains__,
        )
        self.view_registry = ViewRegistry(
            team_id=team_id, app_id=app_id, bot_id=bot_id, knows_user=self.users.__contains__
        )
        self._handlers: dict[str, Callable[[RecordedCall], Reply]] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "conversations.info": self._conversations_info,
            "conversations.open": self._conversations_open,
            "users.info": self._users_info,
            "usergroups.list": self._usergroups_list,
            "usergroups.users.list": self._usergroups_users_list,
            **self.board.handlers(),
            **self.view_registry.handlers(),
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

    def set_bot_membership(self, channel_id: str, is_member: bool) -> None:
        """Invite the bot to `channel_id`, or remove it from there."""
        self.channels[channel_id]["is_member"] = is_member

    def dm_channel_id(self, user_id: str) -> str:
        """Return the id of the bot's direct-message channel with `user_id`."""
        return "D" + user_id[1:]

    def _seed(self) -> None:
        for user in ws.USERS:
            bot_id = self.bot_id if user.user_id == self.bot_user_id else None
            self.add_user(user.user_id, name=user.name, kind=user.kind, tz=user.tz, bot_id=bot_id)
        for channel in ws.CHANNELS:
            self.add_channel(
                channel.channel_id,
                name=channel.name,
                is_private=channel.is_private,
                is_member=channel.bot_is_member,
            )

    # ------------------------------------------------------------------ dispatch

    def reply(self, call: RecordedCall) -> Reply:
        """Return Slack's default answer to `call`: `{"ok": true}` for unknown methods."""
        handler = self._handlers.get(call.method)
        return handler(call) if handler is not None else {"ok": True}

    @property
    def messages(self) -> list[Message]:
        """Return every message posted so far (see `MessageBoard`)."""
        return self.board.messages

    @property
    def views(self) -> dict[str, dict[str, Any]]:
        """Return every view shown so far, by id (see `ViewRegistry`)."""
        return self.view_registry.views

    @property
    def home_view_ids(self) -> dict[str, str]:
        """Return the id of each user's App Home view."""
        return self.view_registry.home_view_ids

    def resolve_channel(self, channel: str) -> tuple[str | None, str | None]:
        """Return (channel id, None) or (None, Slack error) for posting to `channel`."""
        if not channel:
            return None, "channel_not_found"
        if channel[0] in "UW":  # posting to a user id goes to the DM with them
            if channel not in self.users:
                return None, "channel_not_found"
            return self.dm_channel_id(channel), None
        if channel[0] == "D":
            if self._dm_user(channel) is None:
                return None, "channel_not_found"
            return channel, None
        if channel.startswith("#"):
            named = [c["id"] for c in self.channels.values() if c["name"] == channel[1:]]
            if not named:
                return None, "channel_not_found"
            channel = named[0]
        known = self.channels.get(channel)
        if known is None or (known["is_private"] and not known["is_member"]):
            return None, "channel_not_found"
        if known["is_archived"]:
            return None, "is_archived"
        if not known["is_member"] and "chat:write.public" not in self.scopes:
            return None, "not_in_channel"
        return channel, None

    def can_see_channel(self, channel_id: str) -> bool:
        """Return whether the bot may read `channel_id`: public, or private and a member."""
        if channel_id.startswith("D"):
            return self._dm_user(channel_id) is not None
        known = self.channels.get(channel_id)
        return known is not None and (known["is_member"] or not known["is_private"])

    def _dm_user(self, channel_id: str) -> str | None:
        for user_id in self.users:
            if self.dm_channel_id(user_id) == channel_id:
                return user_id
        return None

    # ------------------------------------------------------------------ auth and sockets

    def _api_test(self, call: RecordedCall) -> Reply:
        return {"ok": True, "args": call.payload}

    def _auth_test(self, call: RecordedCall) -> Reply:
        if (call.token or "").startswith("xapp-"):
            return error("not_allowed_token_type")
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
            return error("not_allowed_token_type")
        if self.socket_mode_url is None:
            return error(
                "fake_socket_mode_server_not_attached",
                problem("use the socket_mode_server fixture or attach_socket_mode()", "/"),
            )
        return {"ok": True, "url": self.socket_mode_url()}

    # ------------------------------------------------------------------ conversations, users

    def _conversations_info(self, call: RecordedCall) -> Reply:
        channel_id = text_of(call.payload.get("channel"))
        if not self.can_see_channel(channel_id):
            return error("channel_not_found")
        user_id = self._dm_user(channel_id) if channel_id.startswith("D") else None
        if user_id is not None:
            return {"ok": True, "channel": self._dm_record(user_id)}
        return {"ok": True, "channel": self.channels[channel_id]}

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
            return error("users_list_not_supplied")
        unknown = [user_id for user_id in user_ids if user_id not in self.users]
        if unknown:
            return error("user_not_found")
        if len(user_ids) == 1:
            return {"ok": True, "channel": self._dm_record(user_ids[0])}
        return {"ok": True, "channel": {"id": "G" + "".join(sorted(u[1:4] for u in user_ids))}}

    def _users_info(self, call: RecordedCall) -> Reply:
        user = self.users.get(text_of(call.payload.get("user")))
        if user is None:
            return error("user_not_found")
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
        group = self.usergroups.get(text_of(call.payload.get("usergroup")))
        if group is None:
            return error("no_such_subteam")
        return {"ok": True, "users": list(group["users"])}
