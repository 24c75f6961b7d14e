"""Serving the app: HTTP or Socket Mode beside the background duties, and a clean shutdown.

``run`` serves the app built over ``services`` (which ``runtime`` composed: the core, the
Web API client, the directory) until ``stop`` is set, with the background duties
(reminders, reconciliation, approval expiry, rotation follow-ups after a restart) running
beside it under their lease; then it stops accepting (closes the listener or the socket),
lets in-flight work finish (rotation follow-ups, handlers past their ack) for a grace
period and stops the duties (releasing the lease). ``runtime`` then closes storage and
the sandbox. Never reads the environment (``cli.py`` does) and never opens what it serves
on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from ecs_secret_bot.bot.app import build_app
from ecs_secret_bot.bot.http import build_web_app
from ecs_secret_bot.bot.notifier import SlackNotifier
from ecs_secret_bot.bot.services import BotServices, SlackSettings
from ecs_secret_bot.commands.duties import DutyRunner

__all__ = ["ServeOptions", "run"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeOptions:
    """How to serve: port, address, the grace period, how often the duties run."""

    port: int = 3000
    host: str = "0.0.0.0"
    grace: float = 10.0
    duty_interval: timedelta = timedelta(seconds=30)
    """How often the background duties (reminders, reconciliation, expiry) run."""


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
    services: BotServices,
    slack: SlackSettings,
    options: ServeOptions,
    *,
    stop: asyncio.Event,
    say: Callable[[str], None] = print,
) -> None:
    """Serve the app until ``stop`` is set; then finish in-flight work and stop the duties."""
    duties_task: asyncio.Task[None] | None = None
    try:
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
        await _drain(services, 0.1)
