"""What the Slack app is given at start-up: Slack settings, the core, a Web API client.

Owns ``SlackSettings`` (tokens, or the app's OAuth credentials for installs in several
workspaces, and the Web API URL, read by the entry point only),
``BotServices`` (the injected dependencies of every handler, the process's rotation
tracker and open modals among them), ``BackgroundTasks`` (work that runs after the ack and
that a shutdown waits for) and ``make_client`` / ``open_client`` (an ``AsyncWebClient``
aimed at ``SLACK_API_URL`` that honours ``Retry-After``, the latter over one pool of
kept-alive connections). Never reads the environment and never decides anything.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from ecs_secret_bot.bot.directory import SlackDirectory, TTLCache
from ecs_secret_bot.bot.installations import InstallationStore
from ecs_secret_bot.bot.observe import Telemetry
from ecs_secret_bot.bot.open_modals import OpenModals
from ecs_secret_bot.bot.sweep_notifier import slack_sweep_runner
from ecs_secret_bot.bot.workspaces import WorkspaceClient
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.sweeps import SweepRunner
from ecs_secret_bot.commands.tracker import RotationTracker

__all__ = [
    "DEFAULT_SLACK_API_URL",
    "BackgroundTasks",
    "BotServices",
    "SlackSettings",
    "make_client",
    "open_client",
]

logger = logging.getLogger(__name__)

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


@dataclass(frozen=True)
class SlackSettings:
    """How the app talks to Slack; secrets are kept out of ``repr``."""

    bot_token: str = field(repr=False)
    signing_secret: str = field(default="", repr=False)
    app_token: str = field(default="", repr=False)
    api_url: str = DEFAULT_SLACK_API_URL
    client_id: str = ""
    """With ``client_secret``: OAuth install mode, one installation per workspace."""
    client_secret: str = field(default="", repr=False)
    redirect_uri: str = ""
    """The install's Redirect URL as registered with Slack ('': Slack's registered one)."""

    @property
    def socket_mode(self) -> bool:
        """Say whether to connect over Socket Mode (an app-level token is set)."""
        return bool(self.app_token)

    @property
    def oauth(self) -> bool:
        """Say whether the app is installed per workspace through OAuth (no single token)."""
        return bool(self.client_id and self.client_secret)


def make_client(
    settings: SlackSettings, *, max_retries: int = 2, session: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    """Return a Web API client for ``settings.api_url`` that retries where Slack says so.

    Without ``session`` each call opens (and closes) a connection of its own. In OAuth
    install mode it is a ``WorkspaceClient``: each call carries the token of its workspace's
    installation, once ``attach``ed.
    """
    base_url = settings.api_url if settings.api_url.endswith("/") else settings.api_url + "/"
    retry_handlers = [
        AsyncRateLimitErrorRetryHandler(max_retry_count=max_retries),
        AsyncServerErrorRetryHandler(max_retry_count=max_retries),
        AsyncConnectionErrorRetryHandler(max_retry_count=max_retries),
    ]
    if settings.oauth:
        return WorkspaceClient(
            base_url=base_url, timeout=10, session=session, retry_handlers=retry_handlers
        )
    return AsyncWebClient(
        token=settings.bot_token,
        base_url=base_url,
        timeout=10,
        session=session,
        retry_handlers=retry_handlers,
    )


@asynccontextmanager
async def open_client(settings: SlackSettings) -> AsyncIterator[AsyncWebClient]:
    """Yield a Web API client whose calls share one pool of kept-alive connections.

    A client without a session of its own opens a connection (a TLS handshake, with Slack)
    for every call; the app makes a few after every ack, and a handshake's CPU is taken from
    the acks of the requests behind it.
    """
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
    try:
        yield make_client(settings, session=session)
    finally:
        await session.close()


class BackgroundTasks:
    """Tasks started after an ack; ``drain`` waits for them at shutdown.

    Acks come first. The event loop serves ready callbacks first come, first served, so
    work after an ack (policy, storage, building SDK requests, calling Slack) would delay
    the acks of the requests arriving behind it. So every request is counted until its ack
    (``acking``), and work after an ack starts once no request waits for its ack
    (``after_acks``), or after a bounded wait under a steady stream. Cloud work then starts
    at most ``limit`` at a time (``spawn(..., gated=True)``); a piece of it gives its place
    to the next after ``hold`` seconds even if it has not ended: by then it is waiting for
    the cloud, which costs the loop nothing, and a slow cloud must not hold everything else
    back. Opening a modal is never gated behind cloud work: its ``trigger_id`` lives 3 s.
    """

    def __init__(self, limit: int = 4, *, hold: float = 0.5, ack_wait: float = 0.5) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._limit = limit
        self._hold = hold
        self._ack_wait = ack_wait
        self._gate: asyncio.Semaphore | None = None
        self._acking = 0
        self._acked = asyncio.Event()
        self._acked.set()

    def acking(self) -> Callable[[], None]:
        """Count one request until its ack; return what ends the count (once, idempotent)."""
        self._acking += 1
        self._acked.clear()
        counted = True

        def acked() -> None:
            nonlocal counted
            if counted:
                counted = False
                self._acking -= 1
                if not self._acking:
                    self._acked.set()

        return acked

    async def after_acks(self, at_most: float | None = None) -> None:
        """Wait until no request waits for its ack, or ``at_most`` seconds (``ack_wait``)."""
        if self._acking:
            wait = self._ack_wait if at_most is None else at_most
            try:
                await asyncio.wait_for(self._acked.wait(), wait)
            except TimeoutError:
                pass

    async def _gated(self, coro: Coroutine[Any, Any, Any]) -> Any:
        await self.after_acks()
        if self._gate is None:
            self._gate = asyncio.Semaphore(self._limit)
        gate = self._gate
        await gate.acquire()
        held = True

        def give_place() -> None:
            nonlocal held
            if held:
                held = False
                gate.release()

        timer = asyncio.get_running_loop().call_later(self._hold, give_place)
        try:
            return await coro
        finally:
            timer.cancel()
            give_place()

    def spawn(
        self, coro: Coroutine[Any, Any, Any], *, name: str = "", gated: bool = False
    ) -> asyncio.Task[Any]:
        """Run ``coro`` in the background and keep a reference until it ends."""
        task = asyncio.create_task(self._gated(coro) if gated else coro, name=name or None)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The task's own handler reports to the user; this is for the operator.
            logger.error("background task %s failed", task.get_name(), exc_info=task.exception())

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for running tasks, cancel the rest; return how many."""
        if self._gate is not None:
            # Nothing waits for an ack any more: let the queued work start at once.
            for _ in range(len(self._tasks)):
                self._gate.release()
        pending = set(self._tasks)
        if not pending:
            return 0
        _, still = await asyncio.wait(pending, timeout=timeout)
        for task in still:
            task.cancel()
        if still:
            await asyncio.gather(*still, return_exceptions=True)
        return len(still)


@dataclass
class BotServices:
    """The dependencies every handler receives: built once, injected into ``build_app``."""

    core: Core
    client: AsyncWebClient
    directory: SlackDirectory
    tracker: RotationTracker
    """Follows every rotation of this process once (the duties hand it the others)."""
    tasks: BackgroundTasks = field(default_factory=BackgroundTasks)
    modal_budget: float = 2.0
    """Seconds a modal submission may wait for the core before the modal says "working"."""
    metadata_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    """Seals what modals carry (``metadata``); ``runtime`` gives the database's, which every
    replica and restart shares. The default, a key of this process, suits tests."""
    directory_budget: float = 0.75
    """Seconds a request may wait for Slack to say who asked before it is acked anyway."""
    answers: TTLCache[tuple[Any, ...], Any] = field(default_factory=lambda: TTLCache(30.0))
    """Answers worked out from the policies alone (help, whoami), per actor, for 30 s."""
    installations: InstallationStore | None = None
    """OAuth install mode: the workspaces the app is installed in (None: one bot token)."""
    telemetry: Telemetry | None = None
    """What requests, duties and ``GET /metrics`` report to (``runtime`` gives the metrics)."""
    sweeps: SweepRunner | None = None
    """Runs this process's sweeps; by default one whose notifier edits their messages in
    Slack (``sweep_notifier.slack_sweep_runner``)."""
    modals: OpenModals = field(init=False)
    """The modals this process updates, with the newest hash it knows of each."""

    def __post_init__(self) -> None:
        self.modals = OpenModals(self.client)
        if self.sweeps is None:
            self.sweeps = slack_sweep_runner(self.core, tracker=self.tracker, client=self.client)
