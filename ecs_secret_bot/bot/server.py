"""Serving the app: HTTP or Socket Mode beside the background duties, and a stop within a
grace period.

``run`` serves the app built over ``services`` (which ``runtime`` composed: the core, the
Web API client, the directory, the metrics) until ``stop`` is set, with the background
duties (reminders, reconciliation, approval expiry, rotation follow-ups after a restart)
running beside it under their lease, reporting their ticks to the metrics. In Socket Mode
``/healthz`` and ``/metrics`` are served on the port all the same. Then, within
``ServeOptions.grace`` seconds whatever clients do: it stops taking requests (closes the
listener, idle keep-alive connections and half-sent requests, or the socket and the
listener of ``/healthz`` and ``/metrics`` that Socket Mode keeps on the same port); stops
following rotations (storage keeps them in
flight, and the next start follows them); lets the requests in progress and the work they
started finish (queued work starts at once: nothing waits for an ack any more); cancels
what is left; and stops the duties (releasing the lease). ``runtime`` then closes storage
and the sandbox. Never reads the environment (``cli.py`` does) and never opens what it
serves on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from ecs_secret_bot.bot.app import build_app
from ecs_secret_bot.bot.http import build_health_app, build_web_app
from ecs_secret_bot.bot.listener import Limits, Listener, RequestWork
from ecs_secret_bot.bot.notifier import SlackNotifier
from ecs_secret_bot.bot.observe import NO_OBSERVER, RequestObserver, observed
from ecs_secret_bot.bot.services import BotServices, SlackSettings
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.duties import DutyRunner
from ecs_secret_bot.commands.operations.delete import Settled, settle_unknown_deletions

__all__ = [
    "DEFAULT_GRACE",
    "DEFAULT_HOST",
    "SETTLE_AT_START",
    "Limits",
    "ServeOptions",
    "run",
    "settle_at_start",
]

logger = logging.getLogger(__name__)

DEFAULT_HOST = "0.0.0.0"
DEFAULT_GRACE = 10.0
SETTLE_AT_START = 15.0
"""Seconds ``serve`` gives KMS, at start, to say what became of deletions a crash left."""


@dataclass(frozen=True)
class ServeOptions:
    """How to serve: address, the grace period of a stop, limits (how often the duties run is
    ``[duties]`` in the configuration)."""

    port: int = 3000
    host: str = DEFAULT_HOST
    grace: float = DEFAULT_GRACE
    """Seconds a stop gives the requests in progress before it cancels them."""
    limits: Limits = field(default_factory=Limits)


class _SocketModeHandler(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler, counting each request it handles as request work, and
    dispatching it inside its ``observed`` scope."""

    def __init__(
        self, app: Any, *, app_token: str, work: RequestWork, observer: RequestObserver
    ) -> None:
        super().__init__(app, app_token=app_token)
        self.work = work
        self.observer = observer

    async def handle(self, client: Any, req: Any) -> None:
        self.work.enter()
        slack_id = str(getattr(req, "envelope_id", "") or "")
        with observed(self.observer, getattr(req, "payload", None), slack_id=slack_id):
            await super().handle(client, req)


def _listener(web_app: web.Application, options: ServeOptions) -> Listener:
    return Listener(
        web_app, host=options.host, port=options.port, limits=options.limits, grace=options.grace
    )


async def _finish(
    services: BotServices, work: RequestWork, *, deadline: float, also: asyncio.Future[Any]
) -> None:
    """Let request work (and ``also``) run until ``deadline``; cancel the rest."""
    loop = asyncio.get_running_loop()
    grace = max(deadline - loop.time(), 0)
    left = await asyncio.gather(services.tasks.drain(grace), work.finish(grace))
    await asyncio.wait([also], timeout=max(deadline - loop.time(), 0) + 1.0)
    if any(left):
        logger.warning("%d request(s) were cut short at the end of the grace period", max(left))


async def run(
    services: BotServices,
    slack: SlackSettings,
    options: ServeOptions,
    *,
    stop: asyncio.Event,
    say: Callable[[str], None] = print,
) -> None:
    """Serve the app until ``stop`` is set; then stop within the grace period."""
    duties_task: asyncio.Task[None] | None = None
    telemetry = services.telemetry
    observer = telemetry or NO_OBSERVER
    work = RequestWork()
    work.install()
    loop = asyncio.get_running_loop()
    deadline: float | None = None
    try:
        app = build_app(slack, services)
        every = services.core.settings.duties
        duties = DutyRunner(
            services.core,
            SlackNotifier(services),
            owner=services.tracker.owner,  # this replica's id, on its follow-ups too
            interval=every.interval,
            lease_ttl=every.lease_ttl,
            tracker=services.tracker,
            observer=telemetry,
        )
        duties_task = asyncio.create_task(duties.run(stop), name="duties")
        if services.sweeps is not None:  # what a stop or a crash left: queued still run
            await services.sweeps.resume()
        if slack.socket_mode:
            # No Slack endpoint here; health and metrics on --port all the same.
            listener = _listener(build_health_app(telemetry), options)
            await listener.start()
            handler = _SocketModeHandler(
                app, app_token=slack.app_token, work=work, observer=observer
            )
            await handler.connect_async()  # type: ignore[no-untyped-call]
            say(
                "ecs-secret-bot: connected to Slack in Socket Mode; serving /healthz and "
                f"/metrics on {options.host}:{listener.port}"
            )
            await stop.wait()
            deadline = loop.time() + options.grace
            closing: asyncio.Future[Any] = asyncio.gather(
                handler.close_async(),  # type: ignore[no-untyped-call]
                listener.close(),
            )
        else:
            web_app = build_web_app(
                app,
                signing_secret=slack.signing_secret,
                body_timeout=options.limits.body_timeout,
                work=work,
                observer=observer,
                metrics=telemetry,
            )
            listener = _listener(web_app, options)
            await listener.start()
            say(
                "ecs-secret-bot: serving /slack/events, /healthz and /metrics on "
                f"{options.host}:{listener.port}"
            )
            await stop.wait()
            deadline = loop.time() + options.grace
            work.stop_reading()
            closing = asyncio.ensure_future(listener.close())
        if services.sweeps is not None:  # the rest is queued in storage for the next start
            await services.sweeps.drain(max(deadline - loop.time(), 0.0))
        followed = await services.tracker.stop()
        if followed:
            logger.info("%d rotation follow-up(s) left for the next start", followed)
        await _finish(services, work, deadline=deadline, also=closing)
    finally:
        stop.set()  # on an error too: the duties end with the server
        if duties_task is not None:
            # A tick waiting for the cloud past the deadline is cut short: its duties are
            # compare-and-set, so the next tick (here or after a restart) does them.
            left = options.grace if deadline is None else max(deadline - loop.time(), 0)
            await asyncio.wait([duties_task], timeout=left)
            if not duties_task.done():
                duties_task.cancel()
                await asyncio.wait([duties_task], timeout=1.0)
        await services.tracker.stop()
        await services.tasks.drain(0)
        work.uninstall()


async def settle_at_start(core: Core) -> None:
    """Settle the deletions a crash left without an outcome, before the duties' lease is free.

    Bounded: what KMS does not answer in time is left to the duties' reconciliation.
    """
    try:
        settled = await asyncio.wait_for(settle_unknown_deletions(core), SETTLE_AT_START)
    except TimeoutError:
        logger.warning(
            "settling unknown deletions took over %ss; reconciliation goes on", SETTLE_AT_START
        )
        return
    if settled != Settled():
        logger.info("deletions left without an outcome, settled at start: %s", settled)
