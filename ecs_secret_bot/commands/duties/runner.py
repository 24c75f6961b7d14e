"""The duty runner: one replica at a time runs the duties, under a fenced lease.

Owns ``DutyRunner``: every ``interval`` it takes (or renews) the ``duties`` lease and, if it
holds it, runs one tick of every duty; while the tick runs, the lease is renewed every third
of its TTL. The fencing token it got travels with every write the duties make
(``Tick.fence``), and is checked again before each duty, so a holder that paused past its
TTL and was replaced stops at its next write or duty (``LeaseLost``) instead of racing the
new holder. A tick that fails (the database
away) is logged and the next one tries again: the duties recover without a restart. At the
end of ``run`` the lease is given back, so another replica takes over at its next tick
rather than one TTL later. Never talks Slack; never follows a rotation itself (the tracker
does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ecs_secret_bot.commands.anchor import anchor_duty
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.duties.cards import expiry, refresh_cards, stale, unannounced
from ecs_secret_bot.commands.duties.lease import LEASE
from ecs_secret_bot.commands.duties.notifier import Notifier
from ecs_secret_bot.commands.duties.reconcile import Reconciler
from ecs_secret_bot.commands.duties.reminders import reminders
from ecs_secret_bot.commands.duties.tick import Tick
from ecs_secret_bot.commands.ticks import DutyObserver, TickReport, TickSchedule
from ecs_secret_bot.commands.tracker import RotationTracker
from ecs_secret_bot.storage import leases
from ecs_secret_bot.storage.leases import Fence, LeaseLost

__all__ = ["DutyRunner"]

logger = logging.getLogger(__name__)

Duty = Callable[[Tick], Awaitable[None]]


@dataclass
class DutyRunner:
    """Runs the duties every ``interval`` while it holds the lease."""

    core: Core
    notifier: Notifier
    owner: str
    tracker: RotationTracker = field(kw_only=True)
    """The process's one rotation tracker: the duties hand it the follow-ups nobody holds."""
    interval: timedelta = timedelta(seconds=30)
    lease_ttl: timedelta = timedelta(seconds=90)
    reconcile_every: timedelta = timedelta(minutes=10)
    reconcile_batch: int = 100
    """Pending rows checked against KMS per tick, so a large backlog spreads over ticks."""
    observer: DutyObserver | None = None
    """Told of every tick: the lease held or not, its lag (the metrics)."""
    fence: Fence | None = field(default=None, init=False)
    """The lease as this runner last held it (None: another replica holds it, or nobody)."""
    last_ran: datetime | None = field(default=None, init=False)
    """When this runner's last tick ran (the duty lag is the time since)."""
    reconciler: Reconciler = field(init=False)

    def __post_init__(self) -> None:
        self.reconciler = Reconciler(every=self.reconcile_every, batch=self.reconcile_batch)

    @property
    def holds_lease(self) -> bool:
        """Say whether this runner held the lease at its last tick or renewal."""
        return self.fence is not None

    async def tick(self) -> TickReport:
        """Run every duty once, if this process holds (or takes) the lease."""
        core = self.core
        fence = await leases.take_lease(
            core.db, LEASE, owner=self.owner, now=core.clock(), ttl=self.lease_ttl
        )
        if fence is None:
            self.fence = None
            return TickReport(ran=False)
        if self.fence is None or self.fence.token != fence.token:
            logger.info("%s holds the duties' lease (token %d)", self.owner, fence.token)
        self.fence = fence
        report = TickReport(token=fence.token)
        tick = Tick(core, self.notifier, fence, report)
        duties: tuple[Duty, ...] = (
            reminders,
            expiry,
            unannounced,
            refresh_cards,
            stale,
            self.reconciler,
            self._rotations,
            anchor_duty(core, self.notifier, fence=fence),  # the audit log's head, daily
        )
        keeper = asyncio.create_task(self._keep(fence), name="duties-lease")
        try:
            for duty in duties:
                try:
                    # Between duties too: a holder that paused stops here at the latest.
                    await leases.check_fence(core.db, fence)
                    await duty(tick)
                except LeaseLost:
                    logger.warning("the duties' lease (token %d) was taken over", fence.token)
                    report.lease_lost, self.fence = True, None
                    break
                except Exception as exc:  # one failing duty must not stop the others
                    name = getattr(duty, "__name__", type(duty).__name__)
                    logger.exception("background duty %s failed", name)
                    report.errors.append(f"{name}: {type(exc).__name__}")
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
        self.last_ran = core.clock()
        return report

    async def _keep(self, fence: Fence) -> None:
        """Renew the lease every third of its TTL while a tick runs; note it when lost."""
        while True:
            await asyncio.sleep(self.lease_ttl.total_seconds() / 3)
            try:
                kept = await leases.renew_lease(
                    self.core.db,
                    LEASE,
                    owner=self.owner,
                    now=self.core.clock(),
                    ttl=self.lease_ttl,
                    token=fence.token,
                )
            except Exception:
                logger.warning("could not renew the duties' lease", exc_info=True)
                continue
            if not kept:
                self.fence = None  # the tick's next write raises LeaseLost
                return

    async def run(self, stop: asyncio.Event) -> None:
        """Tick until ``stop`` is set; then give the lease back."""
        schedule = TickSchedule(self.interval)
        try:
            while not stop.is_set():
                lag = schedule.start()
                try:
                    held = (await self.tick()).ran
                except Exception:  # the database away: the next tick tries again
                    self.fence, held = None, False
                    logger.warning("the duties could not run; trying again", exc_info=True)
                if self.observer is not None:
                    self.observer.duty_tick(owner=self.owner, held=held, lag=lag)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.interval.total_seconds())
        finally:
            self.fence = None
            try:
                await leases.release_lease(self.core.db, LEASE, owner=self.owner)
            except Exception:
                logger.warning("could not give the duties' lease back", exc_info=True)

    async def _rotations(self, tick: Tick) -> None:
        """Have the tracker take over the follow-ups whose replica stopped beating."""
        tick.report.followed += await self.tracker.follow_recorded()
