"""One ``ecs-secret`` run's dependencies: settings, the core, the actor, maybe a sandbox.

Owns ``open_session`` (configuration, database, cloud gateway and directory wired into
the same ``Core`` the Slack app builds) and the ``--sandbox`` switch: an emulated cloud
started in this process for the length of one command, with a configuration of its own
when there is no configuration file. Never reads the environment itself.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ecs_secret_bot.cloud.gateway import AlibabaCloudGateway
from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.approval.requests import ActorDirectory
from ecs_secret_bot.commands.core import Core, build_core
from ecs_secret_bot.commands.directory import LocalDirectory, local_actor
from ecs_secret_bot.config import Settings, load_settings, parse_settings
from ecs_secret_bot.storage import Database, open_database, parse_data_key
from ecs_secret_bot.terminal.environment import Environment

if TYPE_CHECKING:
    from alibabacloud_credentials.client import Client as CredentialClient

    from ecs_secret_bot.sandbox import Sandbox

__all__ = [
    "DEFAULT_CONFIG",
    "SANDBOX_DATABASE",
    "Session",
    "open_session",
    "print_sandbox_banner",
    "sandbox_config_text",
]

DEFAULT_CONFIG = "ecs-secret-bot.toml"
SANDBOX_DATABASE = "ecs-secret-bot-sandbox.db"
SANDBOX_ROTATION_DELAY = 3.0
"""Seconds a rotation takes in the in-process sandbox (as ``ecs-secret-bot sandbox``)."""


@dataclass
class Session:
    """The core, the person at the terminal, and the sandbox if one was started."""

    core: Core
    actor: Actor
    sandbox: Sandbox | None = None

    async def close(self) -> None:
        """Close the database and stop the sandbox."""
        try:
            await self.core.db.close()
        finally:
            if self.sandbox is not None:
                await self.sandbox.stop()


def sandbox_config_text(login: str) -> str:
    """Return the configuration ``--sandbox`` uses when there is no configuration file."""
    return f"""\
[cloud]
default_region = "cn-hangzhou"
regions = ["cn-hangzhou"]
account_id = "1234567890123456"

[storage]
path = "{SANDBOX_DATABASE}"

[[access.bindings]]
principals = ["local:user:{login}"]
policies = ["AliyunKMSSecretAdminAccess"]
"""


def _config_path(explicit: Path | None, env: Environment) -> tuple[Path, bool]:
    """Return the configuration path and whether someone named it (flag or environment)."""
    if explicit is not None:
        return explicit, True
    if env.config_path is not None:
        return env.config_path, True
    return env.cwd / DEFAULT_CONFIG, False


def _settings(explicit: Path | None, env: Environment, *, sandbox: bool) -> Settings:
    path, named = _config_path(explicit, env)
    if sandbox and not named and not path.exists():
        text = sandbox_config_text(env.login)
        return parse_settings(tomllib.loads(text), source=env.cwd / "(built-in sandbox)")
    return load_settings(path)


async def _open_database(settings: Settings, env: Environment) -> Database:
    key = parse_data_key(env.data_key) if env.data_key else None
    return await open_database(
        settings.storage.path, data_key=key, key_file=settings.storage.key_file
    )


def _directory(settings: Settings, env: Environment) -> LocalDirectory:
    if not env.slack_bot_token:
        return LocalDirectory()
    # Only with a token: approvals involving Slack users are then checked with users.info.
    from ecs_secret_bot.bot.directory import SlackDirectory, usergroup_ids
    from ecs_secret_bot.bot.services import SlackSettings, make_client

    client = make_client(SlackSettings(bot_token=env.slack_bot_token, api_url=env.slack_api_url))
    slack: ActorDirectory = SlackDirectory(client, group_ids=usergroup_ids(settings))
    return LocalDirectory(fallback=slack)


async def _start_sandbox(settings: Settings) -> tuple[Sandbox, Settings]:
    from ecs_secret_bot.sandbox import Sandbox

    sandbox = Sandbox(seed=True, rotation_delay=SANDBOX_ROTATION_DELAY)
    await sandbox.start(port=0)
    cloud = replace(settings.cloud, kms_endpoint=sandbox.url, ecs_endpoint=sandbox.url)
    return sandbox, replace(settings, cloud=cloud)


async def _replay_deletions(sandbox: Sandbox, db: Database) -> None:
    """Re-apply the deletions the database tracks, so the fresh sandbox agrees with it."""
    from ecs_secret_bot.storage import pending

    for row in await pending.list_pending(db):
        try:
            sandbox.delete_out_of_band(row.region, row.secret_name, planned=row.planned_delete_time)
        except (LookupError, ValueError):
            continue  # made in an earlier sandbox that no longer exists


def print_sandbox_banner(sandbox: Sandbox, settings: Settings, out: TextIO) -> None:
    """Say, before anything else, that this command runs against the sandbox."""
    print(
        f"SANDBOX: an emulated KMS + ECS cloud at {sandbox.url}, seeded with demo instances "
        f"and secrets in cn-hangzhou, for this command only; database {settings.storage.path}",
        file=out,
    )


async def open_session(
    env: Environment,
    *,
    config: Path | None,
    sandbox: bool,
    banner: TextIO | None = None,
    credential: CredentialClient | None = None,
) -> Session:
    """Load the configuration and wire the core; with ``sandbox``, start one first.

    ``credential`` replaces the default credential chain (tests aim it at a sandbox).
    """
    settings = _settings(config, env, sandbox=sandbox)
    started: Sandbox | None = None
    if sandbox:
        started, settings = await _start_sandbox(settings)
        from alibabacloud_credentials.client import Client as CredentialClient
        from alibabacloud_credentials.models import Config as CredentialConfig

        # The sandbox's public AccessKey; a real cloud is reached through the default chain.
        credential = CredentialClient(
            CredentialConfig(
                type="access_key", access_key_id="sandbox", access_key_secret="sandbox-secret"
            )
        )
        if banner is not None:
            print_sandbox_banner(started, settings, banner)
    try:
        db = await _open_database(settings, env)
    except BaseException:
        if started is not None:
            await started.stop()
        raise
    if started is not None:
        await _replay_deletions(started, db)
    gateway = AlibabaCloudGateway(settings.cloud, credential=credential)
    core = build_core(settings, gateway=gateway, db=db, directory=_directory(settings, env))
    # One person is watching: look sooner than the Slack app's background follow-up does.
    core = replace(core, follow_up_first_delay=1.0, follow_up_max_delay=5.0)
    return Session(core=core, actor=local_actor(env.login), sandbox=started)
