"""Who a Slack user is, from Slack itself: ``users.info`` and ``usergroups.users.list``.

Owns ``SlackDirectory``: short-lived caches (one request in flight per key, so fifty
commands arriving together make one call) of user records, user-group members and
channel names, and the ``Actor`` built from them: ``cached_actor`` from the caches alone
(no call, for the time before an ack), ``actor`` asking Slack for what is missing. It
implements the core's ``ActorDirectory``. Never decides what a group may do; it only
says who is in it.

An ``Actor`` is built only from complete group data: a group whose members cannot be read
(rate limit, Slack down) is a known error, never an empty group, since a group may be bound
to a Deny as well as to an Allow. A group Slack says does not exist (``no_such_subteam``)
has no members. Likewise a channel whose name Slack will not give (a private channel the
bot is not in) is a known error, never a nameless channel, since a Deny may test
``slack:ChannelName``. A failure is not cached, so the next request tries again. Everything
is asked, and cached, per workspace (``workspaces.current_team``: the request's): user groups
belong to one workspace, and a group named with its team (``slack:usergroup:T0A/S1``) is
asked about in that workspace only. Fanning out
DMs to a group's members (``users_of``) is not authorization: there an unreadable group
counts as empty.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from ecs_secret_bot.bot.workspaces import current_team
from ecs_secret_bot.commands.actor import Actor, split_team
from ecs_secret_bot.config import Settings
from ecs_secret_bot.errors import BotError

__all__ = ["TTLCache", "SlackDirectory", "UserFacts", "usergroup_ids"]

logger = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")

USER_PREFIX = "slack:user:"
GROUP_PREFIX = "slack:usergroup:"


class TTLCache(Generic[K, V]):
    """A dict whose entries expire; concurrent misses of one key share one load.

    It holds at most ``limit`` entries: past that, the oldest stored go first.
    """

    def __init__(
        self, ttl: float, *, clock: Callable[[], float] = time.monotonic, limit: int = 10_000
    ) -> None:
        self.ttl = ttl
        self.limit = limit
        self._clock = clock
        self._values: dict[K, tuple[float, V]] = {}
        self._loading: dict[K, asyncio.Future[V]] = {}

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """Return the cached value of ``key``, loading it (once) when missing or stale."""
        hit = self._values.get(key)
        if hit is not None and hit[0] > self._clock():
            return hit[1]
        running = self._loading.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            value = await load()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        else:
            self._values.pop(key, None)  # stored again: the newest, last to go
            self._values[key] = (self._clock() + self.ttl, value)
            while len(self._values) > self.limit:
                del self._values[next(iter(self._values))]
            future.set_result(value)
            return value
        finally:
            self._loading.pop(key, None)

    def peek(self, key: K) -> tuple[bool, V | None]:
        """Return ``(True, value)`` for a value that has not expired, else ``(False, None)``."""
        hit = self._values.get(key)
        if hit is not None and hit[0] > self._clock():
            return True, hit[1]
        return False, None

    def fresh(self, key: K) -> bool:
        """Say whether ``key`` has a value that has not expired."""
        hit = self._values.get(key)
        return hit is not None and hit[0] > self._clock()

    def clear(self) -> None:
        """Forget every entry."""
        self._values.clear()


@dataclass(frozen=True)
class UserFacts:
    """What ``users.info`` says about a person."""

    user_id: str
    name: str
    timezone: str
    is_guest: bool
    is_bot: bool
    is_deleted: bool
    team_id: str = ""


def usergroup_ids(settings: Settings) -> tuple[str, ...]:
    """Return the user-group ids the configuration names (bindings, approvers, requesters)."""
    principals: list[str] = []
    for binding in settings.policies.bindings:
        principals.extend(binding.principals)
    for rule in settings.approval_rules.rules:
        principals.extend(rule.requesters or ())
        for approver_set in rule.approver_sets:
            principals.extend(approver_set.approvers)
    ids = {
        p.removeprefix(GROUP_PREFIX)
        for p in principals
        if p.startswith(GROUP_PREFIX) and not any(c in p for c in "*?")
    }
    return tuple(sorted(ids))


class SlackDirectory:
    """Users, user groups and channel names from the Web API, cached briefly."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        group_ids: Iterable[str] = (),
        ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.group_ids = tuple(group_ids)
        """Group ids, each maybe with its team (``T0A/S1``): asked about in that team only."""
        self._users: TTLCache[tuple[str, str], UserFacts | None] = TTLCache(ttl, clock=clock)
        self._groups: TTLCache[tuple[str, str], frozenset[str]] = TTLCache(ttl, clock=clock)
        self._channels: TTLCache[tuple[str, str], str] = TTLCache(ttl * 10, clock=clock)

    def _group_ids_here(self) -> tuple[str, ...]:
        """Return the ids of the configured groups of the current workspace."""
        here = current_team()
        pairs = (split_team(ident) for ident in self.group_ids)
        return tuple(dict.fromkeys(g for team, g in pairs if not team or team == here))

    async def user(self, user_id: str) -> UserFacts | None:
        """Return what Slack says about ``user_id``, or None if Slack does not know it."""
        return await self._users.get((current_team(), user_id), lambda: self._load_user(user_id))

    async def _load_user(self, user_id: str) -> UserFacts | None:
        try:
            reply = await self.client.users_info(user=user_id)
        except SlackApiError as exc:
            if exc.response.get("error") in ("user_not_found", "account_inactive"):
                return None
            raise BotError(
                f"Slack did not tell me who you are ({exc.response.get('error')}).",
                next_step="Try again in a minute.",
            ) from None
        user: dict[str, Any] = reply.get("user") or {}
        return UserFacts(
            user_id=user_id,
            name=str(user.get("name") or user_id),
            timezone=str(user.get("tz") or "UTC"),
            is_guest=bool(user.get("is_restricted") or user.get("is_ultra_restricted")),
            is_bot=bool(user.get("is_bot") or user.get("is_app_user")),
            is_deleted=bool(user.get("deleted")),
            team_id=str(user.get("team_id") or ""),
        )

    async def members(self, group_id: str) -> frozenset[str]:
        """Return the user ids in user group ``group_id`` (empty if unreadable: not for access)."""
        try:
            return await self._members(group_id)
        except BotError:
            return frozenset()

    async def _members(self, group_id: str) -> frozenset[str]:
        key = (current_team(), group_id)
        return await self._groups.get(key, lambda: self._load_group(group_id))

    async def _load_group(self, group_id: str) -> frozenset[str]:
        try:
            reply = await self.client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "unknown_error")
            if error == "no_such_subteam":
                return frozenset()
            logger.warning("usergroups.users.list %s failed: %s", group_id, error)
            raise BotError(
                f"Slack did not say who is in user group {group_id} ({error}), so I cannot "
                "tell what you may do.",
                next_step="Try again in a minute.",
            ) from None
        return frozenset(str(u) for u in reply.get("users") or ())

    async def groups_of(self, user_id: str) -> frozenset[str]:
        """Return the group principals ``user_id`` belongs to, among the configured groups.

        Raise ``BotError`` when a group cannot be read: partial groups could miss a Deny.
        """
        groups = self._group_ids_here()
        memberships = await asyncio.gather(*(self._members(g) for g in groups))
        return self._groups_among(user_id, groups, memberships)

    @staticmethod
    def _groups_among(
        user_id: str, groups: Iterable[str], memberships: Iterable[frozenset[str]]
    ) -> frozenset[str]:
        return frozenset(
            GROUP_PREFIX + group
            for group, members in zip(groups, memberships, strict=True)
            if user_id in members
        )

    async def channel_name(self, channel_id: str, hint: str = "") -> str:
        """Return a channel's name without ``#``; empty for a DM or where there is none.

        Raise ``BotError`` when Slack will not say: a policy may depend on the name.
        """
        known = self._known_channel_name(channel_id, hint)
        if known is not None:
            return known
        key = (current_team(), channel_id)
        return await self._channels.get(key, lambda: self._load_channel(channel_id))

    @staticmethod
    def _known_channel_name(channel_id: str, hint: str) -> str | None:
        """Return the name the request itself gives (``hint``), or None if Slack must say."""
        if not channel_id or channel_id.startswith("D"):
            return ""
        if hint and hint not in ("privategroup", "directmessage", "mpdm"):
            return hint
        return None

    async def _load_channel(self, channel_id: str) -> str:
        try:
            reply = await self.client.conversations_info(channel=channel_id)
        except SlackApiError as exc:
            # Fail closed, uncached: a nameless channel could slip past a Deny on its name.
            error = str(exc.response.get("error") or "unknown_error")
            logger.warning("conversations.info %s failed: %s", channel_id, error)
            raise BotError(
                f"Slack did not tell me the name of this channel ({error}), so I cannot tell "
                "what you may do here.",
                next_step="Invite me to this channel, or ask from a channel I am in or a "
                "direct message.",
            ) from None
        channel: dict[str, Any] = reply.get("channel") or {}
        return "" if channel.get("is_im") else str(channel.get("name") or "")

    def cached_actor(
        self, *, user_id: str, team_id: str, channel_id: str = "", channel_name: str = ""
    ) -> Actor | None:
        """Return the actor of a verified request from the caches alone, or None if one is cold."""
        here = current_team()
        known, facts = self._users.peek((here, user_id))
        if not known:
            return None
        memberships: list[frozenset[str]] = []
        group_ids = self._group_ids_here()
        for group in group_ids:
            fresh, members = self._groups.peek((here, group))
            if not fresh or members is None:
                return None
            memberships.append(members)
        name = self._known_channel_name(channel_id, channel_name)
        if name is None:
            fresh, cached = self._channels.peek((here, channel_id))
            if not fresh or cached is None:
                return None
            name = cached
        groups = self._groups_among(user_id, group_ids, memberships)
        return _actor(user_id, team_id, facts, groups, channel_id=channel_id, channel_name=name)

    async def actor(
        self, *, user_id: str, team_id: str, channel_id: str = "", channel_name: str = ""
    ) -> Actor:
        """Return the actor of a verified request: user, team and channel from the payload."""
        facts, groups, name = await asyncio.gather(
            self.user(user_id),
            self.groups_of(user_id),
            self.channel_name(channel_id, channel_name),
        )
        return _actor(user_id, team_id, facts, groups, channel_id=channel_id, channel_name=name)

    async def lookup(self, principal: str) -> Actor | None:
        """Return fresh facts about a ``slack:user:`` principal (the core's directory)."""
        if not principal.startswith(USER_PREFIX):
            return None
        user_id = principal.removeprefix(USER_PREFIX)
        facts = await self.user(user_id)
        if facts is None:
            return None
        return Actor(
            principal=principal,
            groups=await self.groups_of(user_id),
            team_id=facts.team_id,
            display_name=facts.name,
            is_guest=facts.is_guest,
            is_bot=facts.is_bot,
            is_deleted=facts.is_deleted,
            timezone=facts.timezone,
        )

    async def users_of(self, principals: Iterable[str]) -> tuple[str, ...]:
        """Expand user and group principals into user ids (for DMs to approvers)."""
        ids: list[str] = []
        here = current_team()
        for principal in principals:
            kind, _, ident = principal.rpartition(":")
            team, own = split_team(ident)
            if "*" in principal or (team and team != here):
                continue  # a pattern, or someone of another workspace
            if f"{kind}:" == USER_PREFIX:
                ids.append(own)
            elif f"{kind}:" == GROUP_PREFIX:
                ids.extend(sorted(await self.members(own)))
        return tuple(dict.fromkeys(ids))


def _actor(
    user_id: str,
    team_id: str,
    facts: UserFacts | None,
    groups: frozenset[str],
    *,
    channel_id: str,
    channel_name: str,
) -> Actor:
    """Return the ``Actor`` of a request from what Slack said (None: Slack does not know them)."""
    return Actor(
        principal=USER_PREFIX + user_id,
        groups=groups,
        channel_id=channel_id,
        channel_name=channel_name,
        team_id=team_id,
        display_name=facts.name if facts else user_id,
        is_guest=facts.is_guest if facts else False,
        is_bot=facts.is_bot if facts else False,
        is_deleted=facts is None or facts.is_deleted,
        timezone=facts.timezone if facts else "UTC",
    )
