"""The one composition root: validated settings in, a running core out, closed in order.

Owns ``open_core``: the ``--sandbox`` switch, the database opened with its data key, the
cloud gateway, and the ``Core`` built over them with the directory its front end brings; on
the way out it closes the database, then stops the sandbox. The sandbox is a world of its
own: an emulated cloud started in this process, the settings aimed at it with its public
AccessKey and the RAM roles the bindings name, and its records in a database of its own
(``sandbox_settings.sandbox_storage``: its own file and key file, by the configuration), so
nothing reads or writes the configured database, key file or audit log; the deletions that
database tracks are replayed into the fresh cloud, and a banner names the cloud and the
database before anything else. And what each program gets from it:

- ``ecs-secret-bot serve``: ``serve`` settles the deletions a crash left without an outcome,
  then hands ``bot.server.run`` the ``BotServices`` that ``open_bot`` opens (the Web API
  client, the Slack directory, and the core, whose directory knows local principals and
  asks Slack about everyone else; in OAuth install mode also the core's installations, which
  the client takes each workspace's token from; and the metrics, on a registry of their own,
  that requests, cloud calls and duties report to);
- ``ecs-secret``: ``open_terminal`` yields the ``terminal.session.Session`` (the core, whose
  directory also asks Slack when ``SLACK_BOT_TOKEN`` is set, and the person at the terminal);
  ``cli.terminal_main`` hands it to ``terminal.main`` as its session opener;
- ``ecs-secret-bot check``: ``open_storage`` and ``cloud_gateway``, opened one at a time so
  each can fail on its own (with ``--sandbox``, ``start_sandbox`` first).

With ``[storage] key_kms_key_id`` the key file holds the data key wrapped by KMS
(``storage.wrapped_key``), and the database opens with what ``Decrypt`` gives back. With
``[storage] url`` the database is PostgreSQL (``storage.pg``), its key the shared key file.

The only module that imports ``sandbox`` for a product code path (``cli.py`` does for
``ecs-secret-bot sandbox``). Never reads the environment or a configuration file, never
serves a request, and never words anything but the sandbox banners.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, TextIO

from ecs_secret_bot.cloud.gateway import AlibabaCloudGateway, RetryPolicy
from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.approval.requests import ActorDirectory
from ecs_secret_bot.commands.backlog import read_backlog
from ecs_secret_bot.commands.core import Core, build_core, utcnow
from ecs_secret_bot.commands.directory import LocalDirectory, local_actor
from ecs_secret_bot.commands.gateway import CloudGateway
from ecs_secret_bot.commands.settings import CloudSettings, RegionDefaults
from ecs_secret_bot.commands.tracker import RotationTracker
from ecs_secret_bot.config import Settings
from ecs_secret_bot.database import key_wrapper, open_configured, open_storage
from ecs_secret_bot.sandbox_settings import sandbox_storage
from ecs_secret_bot.storage import Database, app_keys, parse_data_key, pending
from ecs_secret_bot.terminal.environment import Environment
from ecs_secret_bot.terminal.session import Session

if TYPE_CHECKING:
    from alibabacloud_credentials.client import Client as CredentialClient

    from ecs_secret_bot.bot.server import ServeOptions
    from ecs_secret_bot.bot.services import BotServices, SlackSettings
    from ecs_secret_bot.sandbox import Sandbox

__all__ = [
    "SANDBOX_ACCESS_KEY",
    "SANDBOX_ROTATION_DELAY",
    "cloud_gateway",
    "key_wrapper",
    "open_bot",
    "open_core",
    "open_storage",
    "open_terminal",
    "serve",
    "start_sandbox",
]

SANDBOX_ROTATION_DELAY = 3.0
"""Seconds a rotation takes in the in-process sandbox (as ``ecs-secret-bot sandbox``)."""

logger = logging.getLogger(__name__)

SANDBOX_ACCESS_KEY = ("sandbox", "sandbox-secret")
"""The public AccessKey pair of the in-process sandbox (a sandbox credential, like LocalStack's)."""

Announce = Callable[[str, Settings], None]
"""Hears where the sandbox serves each region and the settings aimed at it, first of all."""


def cloud_gateway(
    cloud: CloudSettings,
    *,
    credential: CredentialClient | None = None,
    access_key: tuple[str, str] | None = None,
    retry: RetryPolicy | None = None,
) -> CloudGateway:
    """Return the gateway to Alibaba Cloud: the default credential chain unless given one.

    Nothing of the SDK is loaded before the gateway's first call.
    """
    return AlibabaCloudGateway(cloud, credential=credential, access_key=access_key, retry=retry)


async def start_sandbox(stack: AsyncExitStack, settings: Settings) -> tuple[Sandbox, Settings]:
    """Start a seeded sandbox until ``stack`` closes; return it and settings aimed at it.

    The settings returned name the sandbox's endpoint and its own database; the configured
    storage is left behind.
    """
    from ecs_secret_bot.sandbox import Sandbox

    storage = sandbox_storage(settings)  # refused before anything starts
    regions = settings.cloud.regions
    sandbox = await stack.enter_async_context(
        Sandbox(regions=regions, seed=True, rotation_delay=SANDBOX_ROTATION_DELAY)
    )
    # Each region at its own listener, as Alibaba Cloud routes a call by its endpoint.
    own = settings.cloud.region_defaults
    aimed = {
        region: dataclasses.replace(
            own.get(region, RegionDefaults()),
            kms_endpoint=sandbox.url_of(region),
            ecs_endpoint=sandbox.url_of(region),
        )
        for region in regions
    }
    cloud = dataclasses.replace(
        settings.cloud,
        kms_endpoint=None,
        ecs_endpoint=None,
        sts_endpoint=sandbox.url,  # STS is global: any listener answers it
        region_defaults=aimed,
    )
    own_roles = f"acs:ram::{sandbox.account_id}:role/"
    for binding in settings.policies.bindings:  # the roles people act as exist there too
        if binding.role_arn and binding.role_arn.lower().startswith(own_roles):
            sandbox.sts.add_role(binding.role_arn[len(own_roles) :])
    return sandbox, dataclasses.replace(settings, cloud=cloud, storage=storage)


async def _replay_deletions(sandbox: Sandbox, db: Database) -> None:
    """Re-apply the deletions the database tracks, so the fresh sandbox agrees with it."""
    for row in await pending.list_pending(db):
        try:
            sandbox.delete_out_of_band(row.region, row.secret_name, planned=row.planned_delete_time)
        except (LookupError, ValueError):
            continue  # made in an earlier sandbox that no longer exists


@asynccontextmanager
async def open_core(
    settings: Settings,
    *,
    directory: ActorDirectory,
    sandbox: bool = False,
    announce: Announce | None = None,
    data_key: str = "",
    init: bool = False,
    credential: CredentialClient | None = None,
    retry: RetryPolicy | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> AsyncIterator[Core]:
    """Open the database, build the gateway and the core; with ``sandbox``, start one first.

    ``data_key`` is the key as written in the environment (checked before anything starts;
    the sandbox's database has its own key file and ignores it); ``init`` creates a new,
    empty database where its key file shows one existed (the sandbox's always may);
    ``credential`` and ``retry`` replace the default credential chain and backoff (tests).
    """
    key = parse_data_key(data_key) if data_key and not sandbox else None
    access_key: tuple[str, str] | None = None
    async with AsyncExitStack() as stack:
        started: Sandbox | None = None
        if sandbox:
            started, settings = await start_sandbox(stack, settings)
            # The sandbox's public AccessKey; a real cloud is reached through the default chain.
            credential, access_key = None, SANDBOX_ACCESS_KEY
            if announce is not None:
                where = ", ".join(f"{url} ({region})" for region, url in started.endpoints.items())
                announce(where, settings)
        db = await open_configured(
            settings, key, credential=credential, unwrap=not sandbox, init=init or sandbox
        )
        stack.push_async_callback(db.close)  # closed before the sandbox stops
        if started is not None:
            await _replay_deletions(started, db)
        gateway = cloud_gateway(
            settings.cloud, credential=credential, access_key=access_key, retry=retry
        )
        yield build_core(settings, gateway=gateway, db=db, directory=directory, clock=clock)


# --- ecs-secret-bot serve ------------------------------------------------------------------


@asynccontextmanager
async def open_bot(
    settings: Settings,
    slack: SlackSettings,
    *,
    sandbox: bool = False,
    data_key: str = "",
    init: bool = False,
    say: Callable[[str], None] = print,
    credential: CredentialClient | None = None,
    retry: RetryPolicy | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> AsyncIterator[BotServices]:
    """Open what the Slack app runs on: the Web API client, the directory, the core, metrics."""
    # Imported here: the terminal imports this module, and needs Slack only with a token.
    from ecs_secret_bot.bot.directory import SlackDirectory, usergroup_ids
    from ecs_secret_bot.bot.installations import attach_installations
    from ecs_secret_bot.bot.notifier import SlackRotationNotifier
    from ecs_secret_bot.bot.services import BotServices, open_client
    from ecs_secret_bot.telemetry.metrics import Metrics

    metrics = Metrics()

    def announce(url: str, running: Settings) -> None:
        say(
            f"SANDBOX: the cloud is the in-process emulated KMS + ECS at {url}, seeded "
            "with demo instances and secrets in cn-hangzhou, and the records are in "
            f"{running.storage.path}. Nothing reaches Alibaba Cloud or the configured database."
        )

    async with open_client(slack) as client:
        slack_directory = SlackDirectory(client, group_ids=usergroup_ids(settings))
        async with open_core(
            settings,
            # Requests made at a terminal have local requesters: the core must know them too.
            directory=LocalDirectory(fallback=slack_directory),
            sandbox=sandbox,
            announce=announce,
            data_key=data_key,
            init=init,
            credential=credential,
            retry=dataclasses.replace(
                retry or RetryPolicy.for_cloud(settings.cloud), observer=metrics
            ),
            clock=clock,
        ) as core:
            metrics.watch_backlog(partial(read_backlog, core))
            tracker = RotationTracker(core, SlackRotationNotifier(client))
            yield BotServices(
                core=core,
                client=client,
                directory=slack_directory,
                tracker=tracker,
                metadata_key=await app_keys.app_key(core.db, "modal-metadata"),
                installations=attach_installations(
                    client, core=core, client_id=slack.client_id, client_secret=slack.client_secret
                ),
                telemetry=metrics,
            )


async def serve(
    settings: Settings,
    slack: SlackSettings,
    options: ServeOptions,
    *,
    stop: asyncio.Event,
    sandbox: bool = False,
    data_key: str = "",
    init: bool = False,
    say: Callable[[str], None] = print,
) -> None:
    """Settle what a crash left, serve the Slack app until ``stop`` is set; then close the
    core, then say so."""
    from ecs_secret_bot.bot.server import run, settle_at_start

    async with open_bot(
        settings, slack, sandbox=sandbox, data_key=data_key, init=init, say=say
    ) as services:
        await settle_at_start(services.core)
        # What start-up loaded lives as long as the process: kept out of the collector's sight,
        # a full collection scans only what requests leave (a few ms, not 60 ms, mid-burst).
        gc.collect()
        gc.freeze()
        await run(services, slack, options, stop=stop, say=say)
    say("ecs-secret-bot: stopped cleanly")


# --- ecs-secret ----------------------------------------------------------------------------


class _SlackOnFirstLookup:
    """The Slack directory of a terminal run, built when a Slack user is first looked up:
    a command that asks about nobody in Slack never loads slack_sdk (nor aiohttp)."""

    def __init__(self, settings: Settings, env: Environment) -> None:
        self._settings = settings
        self._env = env
        self._directory: ActorDirectory | None = None

    async def lookup(self, principal: str) -> Actor | None:
        """Return the principal's facts from Slack (users.info), or None if unknown."""
        if self._directory is None:
            from ecs_secret_bot.bot.directory import SlackDirectory, usergroup_ids
            from ecs_secret_bot.bot.services import SlackSettings, make_client

            env = self._env
            client = make_client(
                SlackSettings(bot_token=env.slack_bot_token, api_url=env.slack_api_url)
            )
            self._directory = SlackDirectory(client, group_ids=usergroup_ids(self._settings))
        return await self._directory.lookup(principal)


def _terminal_directory(settings: Settings, env: Environment) -> LocalDirectory:
    if not env.slack_bot_token:
        return LocalDirectory()
    # Only with a token: approvals involving Slack users are then checked with users.info.
    return LocalDirectory(fallback=_SlackOnFirstLookup(settings, env))


@asynccontextmanager
async def open_terminal(
    settings: Settings,
    env: Environment,
    *,
    sandbox: bool,
    banner: TextIO | None = None,
    init: bool = False,
    credential: CredentialClient | None = None,
) -> AsyncIterator[Session]:
    """Open one ``ecs-secret`` run: the core over ``settings``, and the person at the terminal.

    ``credential`` replaces the default credential chain (tests aim it at a sandbox).
    """

    def announce(url: str, running: Settings) -> None:
        if banner is not None:
            print(
                f"SANDBOX: an emulated KMS + ECS cloud at {url}, seeded with demo instances "
                f"and secrets in cn-hangzhou, for this command only; database "
                f"{running.storage.path}",
                file=banner,
            )

    async with open_core(
        settings,
        directory=_terminal_directory(settings, env),
        sandbox=sandbox,
        announce=announce,
        data_key=env.data_key,
        init=init,
        credential=credential,
    ) as core:
        # One person is watching: look sooner than the Slack app's background follow-up does.
        watching = dataclasses.replace(core, follow_up_first_delay=1.0, follow_up_max_delay=5.0)
        yield Session(core=watching, actor=local_actor(env.login))
