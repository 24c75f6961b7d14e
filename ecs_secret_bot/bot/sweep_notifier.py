"""The Slack side of a sweep's progress: one channel message per sweep, edited in place.

``SlackSweepNotifier`` implements the core's ``SweepNotifier``. The first time it hears of
a sweep that runs (or that ended without running because its set changed) it posts the
sweep's message: in the channel the sweep was asked in, else ``[approval] channel`` (a DM,
App Home, the terminal), else the requester's DM; and it hands the message to the runner
(``attach``), which stores it with the sweep, so a restart keeps editing the same message.
A sweep still waiting for its approval has its card, not a message yet.

Every later change edits that message with ``chat.update`` (Tier 3: about 50 a minute),
coalesced: at most one edit per ``min_interval`` seconds per sweep, always of the newest
state, and always the final one. Changes arriving meanwhile only replace the state to
show. So 200 secrets changing state three times each cost a handful of edits, not 600.
Never decides anything and never reads storage.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from ecs_secret_bot.bot.replies import Posted, try_post, update
from ecs_secret_bot.bot.views.sweep import sweep_message
from ecs_secret_bot.bot.workspaces import for_workspace
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.sweeps import SweepRunner, SweepSnapshot, SweepStatus
from ecs_secret_bot.commands.tracker import RotationTracker

__all__ = ["MIN_INTERVAL", "Attach", "SlackSweepNotifier", "slack_sweep_runner"]

logger = logging.getLogger(__name__)

MIN_INTERVAL = 1.5
"""Seconds between two edits of one sweep's message."""
USER = "slack:user:"
_QUIET = (SweepStatus.AWAITING_APPROVAL, SweepStatus.DENIED, SweepStatus.EXPIRED)
"""Statuses of a sweep that never ran: its approval card speaks for it (nothing posted)."""

Attach = Callable[..., Awaitable[None]]
"""``SweepRunner.attach_message``: ``(sweep_id, *, channel_id, ts)``."""


@dataclass
class _Sweep:
    latest: SweepSnapshot
    message: Posted | None = None
    sent_at: float = float("-inf")
    shown: SweepSnapshot | None = None
    task: asyncio.Task[None] | None = None


class SlackSweepNotifier:
    """Shows each sweep in one channel message, edited at most every ``min_interval`` s."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        fallback_channel: str = "",
        min_interval: float = MIN_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.fallback_channel = fallback_channel
        self.min_interval = min_interval
        self._clock = clock
        self._attach: Attach | None = None
        self._sweeps: dict[str, _Sweep] = {}
        self.posts = 0
        """Messages posted (one per sweep), for benchmarks."""
        self.updates = 0
        """``chat.update`` calls made, for benchmarks."""

    def bind(self, attach: Attach) -> None:
        """Give the runner's ``attach_message``, which stores a sweep's message with it."""
        self._attach = attach

    async def sweep_changed(self, snapshot: SweepSnapshot) -> None:
        """Show ``snapshot`` soon: now if the last edit is old enough, else coalesced."""
        sweep = self._sweeps.get(snapshot.sweep_id)
        if sweep is None:
            sweep = self._sweeps[snapshot.sweep_id] = _Sweep(snapshot)
        elif snapshot.updated_at < sweep.latest.updated_at:
            return  # an older state overtaken on its way here
        sweep.latest = snapshot
        if sweep.message is None and snapshot.message_channel and snapshot.message_ts:
            sweep.message = Posted(snapshot.message_channel, snapshot.message_ts)
        if sweep.task is None or sweep.task.done():
            sweep.task = asyncio.create_task(
                self._show(snapshot.sweep_id), name=f"sweep-message-{snapshot.sweep_id}"
            )

    async def flush(self) -> None:
        """Wait until every sweep's newest state is shown (tests, benchmarks, shutdown)."""
        while True:
            tasks = [s.task for s in self._sweeps.values() if s.task and not s.task.done()]
            if not tasks:
                return
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _show(self, sweep_id: str) -> None:
        sweep = self._sweeps[sweep_id]
        while sweep.shown is not sweep.latest:
            wait = sweep.sent_at + self.min_interval - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
            snapshot = sweep.latest
            sent = False
            try:
                with for_workspace(snapshot.team_id):  # a resumed sweep has no request's
                    sent = await self._send(sweep, snapshot)
            except Exception:  # Slack down: the next change tries again
                logger.exception("could not show sweep %s in Slack", sweep_id)
                return
            sweep.shown = snapshot
            if sent:
                sweep.sent_at = self._clock()
        if sweep.latest.finished:
            self._sweeps.pop(sweep_id, None)

    async def _send(self, sweep: _Sweep, snapshot: SweepSnapshot) -> bool:
        """Edit the sweep's message, or post it; return whether Slack was called."""
        text, blocks = sweep_message(snapshot)
        if sweep.message is not None:
            self.updates += 1
            await update(self.client, sweep.message, text, blocks)
            return True
        if snapshot.status in _QUIET:
            return False
        sweep.message = await self._post(snapshot, text, blocks)
        if sweep.message is not None and self._attach is not None:
            await self._attach(
                snapshot.sweep_id, channel_id=sweep.message.channel, ts=sweep.message.ts
            )
        return True

    async def _post(
        self, snapshot: SweepSnapshot, text: str, blocks: list[dict[str, Any]]
    ) -> Posted | None:
        """Post in the sweep's channel, else the approval channel, else the requester's DM."""
        requester = snapshot.requester.removeprefix(USER)
        candidates = (
            snapshot.channel_id if snapshot.channel_id[:1] in ("C", "G") else "",
            self.fallback_channel,
            requester if snapshot.requester.startswith(USER) else "",
        )
        for channel in dict.fromkeys(c for c in candidates if c):
            posted = await try_post(self.client, channel, text, blocks)
            if isinstance(posted, Posted):
                self.posts += 1
                return posted
        logger.warning("sweep %s: no channel took its message", snapshot.sweep_id)
        return None


def slack_sweep_runner(
    core: Core, *, tracker: RotationTracker, client: AsyncWebClient
) -> SweepRunner:
    """Return a sweep runner whose progress edits each sweep's message in Slack."""
    notifier = SlackSweepNotifier(client, fallback_channel=core.rules.channel or "")
    runner = SweepRunner(core, tracker=tracker, notifier=notifier)
    notifier.bind(runner.attach_message)
    return runner
