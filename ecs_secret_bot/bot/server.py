"""Running the app: wiring the services, HTTP or Socket Mode, and a clean shutdown.

``make_services`` wires the Slack client, the directory and the core (the same for the
server, the tests and the benchmark). ``run`` serves until ``stop`` is set, with the
background duties (reminders, reconciliation, approval expiry, rotation follow-ups after a
restart) running beside it under their lease; then it stops accepting (closes the listener
or the socket), lets in-flight work finish (rotation follow-ups, handlers past their ack)
for a grace period, stops the duties (releasing the lease), then closes storage. Never
reads the environment: ``cli.py`` does.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from ecs_secret_bot.bot.app import build_app
from ecs_secret_bot.bot.directory import SlackDirectory, usergroup_ids
from ecs_secret_bot.bot.http import build_web_app
from ecs_secret_bot.bot.notifier import SlackNotifier, SlackRotationNotifier
from ecs_secret_bot.bot.services import BotServices, SlackSettings, make_client
from ecs_secret_bot.cloud.gateway import AlibabaCloudGateway
from ecs_secret_bot.commands.core import build_core, utcnow
from ecs_secret_bot.commands.directory import LocalDirectory
from ecs_secret_bot.commands.duties import DutyRunner
from ecs_secret_bot.commands.gateway import CloudGateway
from ecs_secret_bot.commands.tracker import RotationTracker
from ecs_secret_bot.config import Settings
from ecs_secret_bot.storage import Database, open_database

__all__ = ["ServeOptions", "make_services", "run"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeOptions:
    """How to serve: port, address, the sandbox switch, the data key, the grace period."""

    port: int = 3000
    host: str = "0.0.0.0"
    sandbox: bool = False
    data_key: bytes | None = None
    grace: float = 10.0
    duty_interval: timedelta = timedelta(seconds=30)
    """How often the background duties (reminders, reconciliation, expiry) run."""


def make_services(
    settings: Settings,
    slack: SlackSettings,
    *,
    gateway: CloudGateway,
    db: Database,
    clock: Callable[[], datetime] = utcnow,
) -> BotServices:
    """Wire the Slack client, the directory, the core and its rotation tracker."""
    client = make_client(slack)
    directory = SlackDirectory(client, group_ids=usergroup_ids(settings))
    # Requests made at a terminal have local requesters: the core must know them too.
    core = build_core(
        settings,
        gateway=gateway,
        db=db,
        directory=LocalDirectory(fallback=directory),
        clock=clock,
    )
    tracker = RotationTracker(core, SlackRotationNotifier(client))
    return BotServices(core=core, client=client, directory=directory, tracker=tracker)


async def _drain(services: BotServices, grace: float) -> int:
    """Let work past its ack and rotation follow-ups finish within ``grace``; count the rest."""
    left = await asyncio.gather(services.tasks.drain(grace), services.tracker.drain(grace))
    return sum(left)


async def _other_tasks(grace: float) -> None:
    """Let handlers still running past their ack finish, for up to ``grace`` seconds."""
    current = asyncio.current_task()
    others = {t for t in asyncio.all_tasks() if t is not current and not t.done()}
    if others:
        await asyncio.wait(others, timeout=grace)


async def run(
    settings: Settings,
    slack: SlackSettings,
    options: ServeOptions,
    *,
    stop: asyncio.Event,
    say: Callable[[str], None] = print,
) -> None:
    """Serve the app until ``stop`` is set; then finish in-flight work and close storage."""
    sandbox = None
    credential = None
    if options.sandbox:
        from ecs_secret_bot.bot.sandboxed import start_sandbox

        sandbox, settings, credential = await start_sandbox(settings, say=say)
    db = await open_database(
        settings.storage.path, data_key=options.data_key, key_file=settings.storage.key_file
    )
    services: BotServices | None = None
    duties_task: asyncio.Task[None] | None = None
    try:
        gateway = AlibabaCloudGateway(settings.cloud, credential=credential)
        services = make_services(settings, slack, gateway=gateway, db=db)
        app = build_app(slack, services)
        duties = DutyRunner(
            services.core,
            SlackNotifier(services),
            owner=f"{socket.gethostname()}:{os.getpid()}",
            interval=options.duty_interval,
            tracker=services.tracker,
        )
        duties_task = asyncio.create_task(duties.run(stop), name="duties")
        if slack.socket_mode:
            handler = AsyncSocketModeHandler(app, app_token=slack.app_token)
            await handler.connect_async()  # type: ignore[no-untyped-call]
            say("ecs-secret-bot: connected to Slack in Socket Mode")
            await stop.wait()
            await handler.close_async()  # type: ignore[no-untyped-call]
        else:
            runner = web.AppRunner(
                build_web_app(app, signing_secret=slack.signing_secret), access_log=None
            )
            await runner.setup()
            site = web.TCPSite(runner, options.host, options.port)
            await site.start()
            say(f"ecs-secret-bot: serving /slack/events and /healthz on port {options.port}")
            await stop.wait()
            await site.stop()
            left = await _drain(services, options.grace)
            await _other_tasks(options.grace)
            await runner.cleanup()
            if left:
                logger.warning("%d follow-up(s) were still running at shutdown", left)
        if slack.socket_mode:
            await _drain(services, options.grace)
            await _other_tasks(options.grace)
    finally:
        stop.set()  # on an error too: the duties end with the server
        if duties_task is not None:
            await asyncio.wait([duties_task], timeout=options.grace)
        if services is not None:
            await _drain(services, 0.1)
        await db.close()
        if sandbox is not None:
            await sandbox.stop()
    say("ecs-secret-bot: stopped cleanly")
