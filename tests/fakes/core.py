"""A real core for tests: settings from TOML, the sandbox cloud, SQLite under tmp_path (or
PostgreSQL, with ``database_url``).

``CoreHarness`` opens the same ``Core`` ``runtime`` opens for a front end, from a TOML text
(with the sandbox's endpoints filled in), a real database file and a directory of actors.
Nothing is mocked: the gateway speaks HTTP to the sandbox, storage writes a real file.
"""

from __future__ import annotations

import tomllib
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.config import parse_settings
from ecs_secret_bot.runtime import open_core
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.storage import generate_data_key
from fakes.cloud import REGIONS, endpoints_toml, fast_retry, sandbox_credential
from fakes.policies import access_toml

__all__ = ["ADMIN_POLICIES", "Clock", "CoreHarness", "Directory", "actor", "admin_policies"]


def admin_policies(*, stale_after: str = "") -> str:
    """Return the policies core tests run under: admins, a reader, the design's two rules."""
    return access_toml(
        admins=["slack:user:UADMIN", "slack:usergroup:SSRE"],
        readers=["slack:user:UREADER"],
        channel="CSECOPS",
        stale_after=stale_after,
        delete_approvers=["slack:usergroup:SSEC"],
        restore_approvers=["slack:usergroup:SSRE"],
    )


ADMIN_POLICIES = admin_policies()


def actor(
    user: str, *groups: str, channel_id: str = "CINC", channel_name: str = "inc-1234"
) -> Actor:
    """Return a Slack actor in a channel."""
    return Actor(
        principal=f"slack:user:{user}",
        groups=frozenset(f"slack:usergroup:{g}" for g in groups),
        channel_id=channel_id,
        channel_name=channel_name,
        team_id="T1",
    )


@dataclass
class Directory:
    """An ``ActorDirectory`` over a dict, filled by the test."""

    actors: dict[str, Actor] = field(default_factory=dict)

    def add(self, *actors: Actor) -> None:
        for one in actors:
            self.actors[one.principal] = one

    async def lookup(self, principal: str) -> Actor | None:
        return self.actors.get(principal)


class Clock:
    """A clock the test moves; starts at the real now so the sandbox agrees."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


@dataclass
class CoreHarness:
    """Everything a core test needs; ``close()`` it."""

    core: Core
    sandbox: Sandbox
    directory: Directory
    clock: Clock
    db_path: Path
    opened: AsyncExitStack = field(default_factory=AsyncExitStack)

    @classmethod
    async def start(
        cls,
        tmp_path: Path,
        sandbox: Sandbox,
        *,
        access_toml: str = ADMIN_POLICIES,
        extra: str = "",
        clock: Clock | None = None,
        database_url: str = "",
    ) -> CoreHarness:
        """Open the core; on PostgreSQL with ``database_url`` (the ``database_url`` fixture),
        under a data key file ``bot.key`` made at the first start in ``tmp_path`` (a restart
        reuses it, as a replica would)."""
        storage = 'path = "bot.db"'
        if database_url:
            key_file = tmp_path / "bot.key"
            if not key_file.exists():  # a second core in the same folder: a restart, same key
                key_file.write_text(generate_data_key() + "\n", encoding="ascii")
                key_file.chmod(0o600)
            storage = f'url = "{database_url}"\nkey_file = "bot.key"'
        text = f"""
[cloud]
default_region = "cn-hangzhou"
regions = {list(REGIONS)!r}
{endpoints_toml(sandbox)}

[storage]
{storage}

[rotation]
follow_up_timeout = "1m"
{extra}
{access_toml}
"""
        config = tmp_path / "bot.toml"
        config.write_text(text, encoding="utf-8")
        settings = parse_settings(tomllib.loads(text), source=config)
        directory = Directory()
        clock = clock or Clock()
        opened = AsyncExitStack()
        core = await opened.enter_async_context(
            open_core(
                settings,
                directory=directory,
                credential=sandbox_credential(),
                retry=fast_retry(),
                clock=clock,
            )
        )
        core.follow_up_first_delay = 0.02
        core.follow_up_max_delay = 0.1
        return cls(core, sandbox, directory, clock, settings.storage.path, opened)

    async def close(self) -> None:
        # A test may have reopened the database (to read the file between): close that too.
        await self.core.db.close()
        await self.opened.aclose()
