"""The pretend Slack workspace the fakes share: ids of the team, the app, people and channels.

Owns the default identities that the payload builders put into requests and that
`FakeSlackAPI` knows out of the box, so a test can send `/ecs-secret rotate web-3-root`
as Alice in #inc-1234 with no set-up and get answers to `users.info` and
`conversations.info` for her and the channel. The bot is a member of #inc-1234,
#secops (private) and #general, and of neither #random (public) nor #hr (private),
where Slack refuses its posts (`not_in_channel`, `channel_not_found`).

Never holds behaviour: it is data only. Ids echo the examples in
`shared/docs/design.md` (`C0INCIDENTS`, `C0SECOPS`, `U01ADMIN`) so that scenario
tests read like the design.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "ADMIN_ID",
    "ALICE_ID",
    "API_APP_ID",
    "APP_TOKEN",
    "BOB_ID",
    "BOT_ID",
    "BOT_SCOPES",
    "BOT_TOKEN",
    "BOT_USER_ID",
    "CHANNELS",
    "DEFAULT_TZ",
    "DELETED_USER_ID",
    "GENERAL_CHANNEL_ID",
    "GUEST_ID",
    "INCIDENT_CHANNEL_ID",
    "OTHER_BOT_USER_ID",
    "OUTSIDE_CHANNEL_ID",
    "OUTSIDE_PRIVATE_CHANNEL_ID",
    "SECOPS_CHANNEL_ID",
    "SINGLE_CHANNEL_GUEST_ID",
    "SeedChannel",
    "SeedUser",
    "TEAM_DOMAIN",
    "TEAM_ID",
    "TEAM_NAME",
    "USERS",
    "UserKind",
    "channel_name",
    "user_name",
]

TEAM_ID = "T0ECSTEAM"
TEAM_DOMAIN = "ecs-secret-test"
TEAM_NAME = "ECS Secret Test"

API_APP_ID = "A0ECSBOT"
BOT_ID = "B0ECSBOT"
BOT_USER_ID = "U0ECSBOT"
BOT_TOKEN = "xoxb-0000-ecs-secret-bot-test"
APP_TOKEN = "xapp-1-A0ECSBOT-0000-ecs-secret-bot-test"
#: The bot token's scopes, as manifest.yml asks for them (no `chat:write.public`).
BOT_SCOPES = (
    "commands",
    "chat:write",
    "users:read",
    "usergroups:read",
    "channels:read",
    "groups:read",
)

DEFAULT_TZ = "Asia/Shanghai"

ALICE_ID = "U0ALICE"
BOB_ID = "U0BOB"
ADMIN_ID = "U01ADMIN"
GUEST_ID = "U0GUEST"
SINGLE_CHANNEL_GUEST_ID = "U0SCGUEST"
OTHER_BOT_USER_ID = "U0OTHERBOT"
DELETED_USER_ID = "U0GONE"

INCIDENT_CHANNEL_ID = "C0INCIDENTS"
SECOPS_CHANNEL_ID = "C0SECOPS"
GENERAL_CHANNEL_ID = "C0GENERAL"
OUTSIDE_CHANNEL_ID = "C0RANDOM"  # public; the bot was never invited
OUTSIDE_PRIVATE_CHANNEL_ID = "C0HR"  # private; the bot was never invited


class UserKind(enum.StrEnum):
    """What sort of account a user is, as `users.info` reports it."""

    MEMBER = "member"
    ADMIN = "admin"
    OWNER = "owner"
    GUEST = "guest"  # multi-channel guest: is_restricted
    SINGLE_CHANNEL_GUEST = "single_channel_guest"  # is_ultra_restricted as well
    BOT = "bot"
    DELETED = "deleted"  # deactivated account: deleted


@dataclass(frozen=True)
class SeedUser:
    """A person the fake workspace starts with."""

    user_id: str
    name: str
    kind: UserKind = UserKind.MEMBER
    tz: str = DEFAULT_TZ


@dataclass(frozen=True)
class SeedChannel:
    """A channel the fake workspace starts with."""

    channel_id: str
    name: str
    is_private: bool = False
    bot_is_member: bool = True


USERS: tuple[SeedUser, ...] = (
    SeedUser(BOT_USER_ID, "ecs-secret-bot", UserKind.BOT),
    SeedUser(ALICE_ID, "alice"),
    SeedUser(BOB_ID, "bob", tz="Europe/Berlin"),
    SeedUser(ADMIN_ID, "admin", UserKind.ADMIN),
    SeedUser(GUEST_ID, "guest", UserKind.GUEST, tz="America/New_York"),
    SeedUser(SINGLE_CHANNEL_GUEST_ID, "scg", UserKind.SINGLE_CHANNEL_GUEST),
    SeedUser(OTHER_BOT_USER_ID, "other-bot", UserKind.BOT),
    SeedUser(DELETED_USER_ID, "former", UserKind.DELETED),
)

CHANNELS: tuple[SeedChannel, ...] = (
    SeedChannel(INCIDENT_CHANNEL_ID, "inc-1234"),
    SeedChannel(SECOPS_CHANNEL_ID, "secops", is_private=True),
    SeedChannel(GENERAL_CHANNEL_ID, "general"),
    SeedChannel(OUTSIDE_CHANNEL_ID, "random", bot_is_member=False),
    SeedChannel(OUTSIDE_PRIVATE_CHANNEL_ID, "hr", is_private=True, bot_is_member=False),
)


def user_name(user_id: str) -> str:
    """Return the seeded user name of `user_id`, or a name made from the id."""
    for user in USERS:
        if user.user_id == user_id:
            return user.name
    return user_id.lower()


def channel_name(channel_id: str) -> str:
    """Return the seeded name of `channel_id` as slash commands carry it."""
    for channel in CHANNELS:
        if channel.channel_id == channel_id:
            return channel.name
    # What Slack puts in `channel_name` for conversations it has no name for.
    return "directmessage" if channel_id.startswith("D") else "privategroup"
