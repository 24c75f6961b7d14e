"""Run sweeps: start (or hold for one approval), execute with bounded concurrency, stop.

Owns a sweep's execution in one process: each queued secret is claimed in storage with a
compare-and-set (queued -> running) before its cloud call, rotated through the one rotation
pipeline (``operations.rotate.execute_rotation``: the secret's in-flight claim, pre-flight,
audit, throttling retries), and followed by the one ``RotationTracker`` to its honest end.
At most ``concurrency`` secrets run at once. Storage holds every state, so after a restart
``resume`` runs what is still queued and follows what was running; nothing runs twice.
Never talks Slack or prints: progress goes through a ``SweepNotifier``.
"""

from __future__ import annotations

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.sweeps.model import SweepNotifier, SweepPlan, SweepSnapshot
from ecs_secret_bot.commands.tracker import RotationTracker

__all__ = ["DEFAULT_CONCURRENCY", "MAX_CONCURRENCY", "SweepRunner", "check_concurrency"]

DEFAULT_CONCURRENCY = 5
MAX_CONCURRENCY = 20


def check_concurrency(value: int) -> int:
    """Return ``value`` if it is a valid concurrency (1..20); raise ValueError saying why."""
    raise NotImplementedError


class SweepRunner:
    """Starts, runs, stops and resumes sweeps over one core, tracker and notifier."""

    def __init__(
        self,
        core: Core,
        *,
        tracker: RotationTracker,
        notifier: SweepNotifier,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self.core = core
        self.tracker = tracker
        self.notifier = notifier
        self.concurrency = check_concurrency(concurrency)

    async def start(self, plan: SweepPlan, *, actor: Actor, reason: str) -> SweepSnapshot:
        """Record the sweep; run it now, or hold it for ONE approval bound to its digest."""
        raise NotImplementedError

    async def approved(self, sweep_id: str) -> SweepSnapshot:
        """Run a sweep whose approval completed, if its runnable set is still the approved one."""
        raise NotImplementedError

    async def stop(self, sweep_id: str, *, actor: Actor) -> SweepSnapshot:
        """Stop the secrets not yet started; the running ones finish."""
        raise NotImplementedError

    async def snapshot(self, sweep_id: str) -> SweepSnapshot:
        """Return the sweep as storage holds it now."""
        raise NotImplementedError

    async def wait(self, sweep_id: str) -> SweepSnapshot:
        """Wait until the sweep ends (run here) and return its last snapshot."""
        raise NotImplementedError

    async def attach_message(self, sweep_id: str, *, channel_id: str, ts: str) -> None:
        """Remember the channel message that shows the sweep, to update it in place."""
        raise NotImplementedError

    async def resume(self) -> int:
        """Carry on the unfinished sweeps storage holds (after a restart); return how many."""
        raise NotImplementedError

    async def drain(self, timeout: float) -> int:
        """Wait up to ``timeout`` s for the sweeps running here; cancel the rest (storage keeps)."""
        raise NotImplementedError
