"""Background duties: what the bot does when nobody is typing.

One ``tick`` does, in order: reminders before planned deletions; expiry of approval
requests; the card of a request nobody could post (made at a terminal, or refused where it
was asked), each request on its own so one that cannot be posted never holds up the others,
tried again later and later and given up after ``CARD_ATTEMPTS`` failed tries (the requester
told); each card brought up to date once per vote or end (votes may come from a terminal); a
re-announcement of requests waiting too long; reconciliation of pending
deletions with KMS (restored or deleted elsewhere, ``unknown`` rows left by a crash,
deletions scheduled outside the bot); and handing the process's ``RotationTracker`` the
rotations storage records in flight that nobody here follows (after a restart). All state
is in SQLite, every "done" is a compare-and-set, and only the holder of the ``duties``
lease runs a tick, so a restart neither drops nor repeats a duty and two processes on one
database do each once.

What people see goes through a ``Notifier`` (the Slack layer implements it; the end of a
rotation goes through the tracker's own notifier). The clock is injected, so tests move
time instead of sleeping. Never follows a rotation itself; never talks Slack; never
decides policy.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol

from ecs_secret_bot.commands.anchor import AnchorNotifier, anchor_duty
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.durations import format_duration
from ecs_secret_bot.commands.operations.delete import SETTLE_AFTER
from ecs_secret_bot.commands.ticks import DutyObserver, TickReport, TickSchedule
from ecs_secret_bot.commands.tracker import RotationTracker
from ecs_secret_bot.commands.unrecorded import audit_settled_deletion
from ecs_secret_bot.errors import CloudError
from ecs_secret_bot.storage import idempotency, leases, pending
from ecs_secret_bot.storage.approvals import ApprovalRow, count_card_failure, list_approvals
from ecs_secret_bot.storage.pending import PendingDeletion

__all__ = ["CARD_ATTEMPTS", "CARD_RETRIES_FOR", "DutyRunner", "Notifier", "TickReport"]

logger = logging.getLogger(__name__)

LEASE = "duties"
ANNOUNCE_AFTER = timedelta(minutes=1)
"""How long a request may wait for its front end to post its card before a duty does."""
CARD_ATTEMPTS = 5
"""Failed tries to post a card (the front end's included) after which nobody tries again."""
CARD_RETRIES_FOR = ANNOUNCE_AFTER * 2 ** (CARD_ATTEMPTS - 1)
"""How long after the request the last try comes: each waits twice as long as the one before."""
RECONCILE_CONCURRENCY = 8
CARD_MEMORY = timedelta(days=30)
"""How long a card's refresh is remembered (a closed request changes no more)."""


class Notifier(AnchorNotifier, Protocol):
    """How duties reach people (and the audit anchor). The Slack layer implements it.

    Example (a notifier that only logs)::

        class LogNotifier:
            async def remind(self, row: PendingDeletion, *, label: str) -> None:
                logger.info("%s is deleted in %s", row.secret_name, label)
            ...
    """

    async def remind(self, row: PendingDeletion, *, label: str) -> None:
        """Remind the channel and the scheduler that ``row`` is deleted soon."""
        ...

    async def deletion_closed(self, row: PendingDeletion) -> None:
        """Say that a pending deletion ended (restored elsewhere, or deleted)."""
        ...

    async def deletion_discovered(self, row: PendingDeletion) -> None:
        """Say that a deletion scheduled outside the bot is now tracked."""
        ...

    async def approval_unannounced(self, row: ApprovalRow) -> None:
        """Post the card of a request nobody posted (a terminal, a refusing channel); raise
        if it cannot be posted."""
        ...

    async def approval_undeliverable(self, row: ApprovalRow) -> None:
        """Tell the requester that the request's card could not be posted, and why it stops."""
        ...

    async def approval_expired(self, row: ApprovalRow) -> None:
        """Update the card of an expired request and tell its requester."""
        ...

    async def approval_changed(self, row: ApprovalRow) -> None:
        """Bring a request's card up to date (a vote or an end that came from elsewhere)."""
        ...

    async def approval_stale(self, row: ApprovalRow) -> None:
        """Re-announce a request that has waited too long, to its approvers."""
        ...


@dataclass
class DutyRunner:
    """Runs the duties every ``interval`` while it holds the lease."""

    core: Core
    notifier: Notifier
    owner: str
    tracker: RotationTracker = field(kw_only=True)
    """The process's one rotation tracker: the duties hand it what nobody follows."""
    interval: timedelta = timedelta(seconds=30)
    lease_ttl: timedelta = timedelta(seconds=90)
    reconcile_every: timedelta = timedelta(minutes=10)
    reconcile_batch: int = 100
    """Pending rows checked against KMS per tick, so a large backlog spreads over ticks."""
    observer: DutyObserver | None = None
    """Told of every tick: the lease held or not, its lag (the metrics)."""
    _last_reconcile: datetime | None = None
    _cursor: int | None = None

    async def tick(self) -> TickReport:
        """Run every duty once, if this process holds (or takes) the lease."""
        core = self.core
        if not await leases.acquire_lease(
            core.db, LEASE, owner=self.owner, now=core.clock(), ttl=self.lease_ttl
        ):
            return TickReport(ran=False)
        report = TickReport()
        duties = (
            self._reminders,
            self._expiry,
            self._unannounced,
            self._refresh_cards,
            self._stale,
            self._reconcile,
            self._rotations,
            anchor_duty(core, self.notifier),  # the audit log's head, once a UTC day
        )
        for duty in duties:
            try:
                await duty(report)
            except Exception as exc:  # one failing duty must not stop the others
                logger.exception("background duty %s failed", duty.__name__)
                report.errors.append(f"{duty.__name__}: {type(exc).__name__}")
        return report

    async def run(self, stop: asyncio.Event) -> None:
        """Tick until ``stop`` is set; then release the lease."""
        schedule = TickSchedule(self.interval)
        try:
            while not stop.is_set():
                lag = schedule.start()
                report = await self.tick()
                if self.observer is not None:
                    self.observer.duty_tick(owner=self.owner, held=report.ran, lag=lag)
                try:
                    await asyncio.wait_for(stop.wait(), self.interval.total_seconds())
                except TimeoutError:
                    pass
        finally:
            await leases.release_lease(self.core.db, LEASE, owner=self.owner)

    # reminders -------------------------------------------------------------------------

    async def _reminders(self, report: TickReport) -> None:
        core = self.core
        now = core.clock()
        windows = sorted(core.settings.reminders_before)  # the nearest first
        labels = [format_duration(w) for w in windows]
        for index, (window, label) in enumerate(zip(windows, labels, strict=True)):
            due = await pending.due_for_reminder(core.db, now=now, within=window, reminder=label)
            # A nearer reminder makes the farther ones moot: one message, not two.
            won = await pending.claim_reminders(
                core.db, [row.id for row in due], label, also=labels[index + 1 :], now=now
            )
            for row in due:
                if row.id not in won:
                    continue  # another runner took it
                try:
                    await self.notifier.remind(row, label=label)
                except Exception:
                    logger.exception(
                        "reminder %s for %s failed; will retry", label, row.secret_name
                    )
                    await pending.unmark_reminder(core.db, row.id, label)
                    raise
                report.reminders += 1

    # approvals -------------------------------------------------------------------------

    async def _expiry(self, report: TickReport) -> None:
        for row in await self.core.workflow.expire_due():
            report.expired += 1
            await self.notifier.approval_expired(row)

    async def _once(self, key: str, ttl: timedelta, say: Callable[[], Awaitable[None]]) -> bool:
        """Call ``say`` if this runner is the first to claim ``key``; forget it if it fails."""
        core = self.core
        if not await idempotency.claim_key(core.db, key, now=core.clock(), ttl=ttl):
            return False
        try:
            await say()
        except Exception:
            await idempotency.release_key(core.db, key)
            raise
        return True

    @staticmethod
    def _until_expiry(row: ApprovalRow, now: datetime) -> timedelta:
        """Return how long to remember a duty done for a request: its life, an hour at least."""
        left = (row.expires_at - now) if row.expires_at else timedelta(days=30)
        return max(left, timedelta(hours=1))

    async def _unannounced(self, report: TickReport) -> None:
        """Post the cards of requests nobody posted, each on its own, a bounded number of times."""
        core = self.core
        now = core.clock()
        for row in await list_approvals(core.db, statuses=("pending",), limit=1000):
            # A front end posts its own card right after the request; give it that moment,
            # and after each failed try twice as long as before.
            due = row.created_at + ANNOUNCE_AFTER * 2**row.card_attempts
            if row.message_ts or row.card_attempts >= CARD_ATTEMPTS or now < due:
                continue
            key = f"announce|{row.id}|{row.card_attempts}"
            if not await idempotency.claim_key(
                core.db, key, now=now, ttl=self._until_expiry(row, now)
            ):
                continue  # this try is another runner's
            try:
                await self.notifier.approval_unannounced(row)
            except Exception as exc:  # one card that cannot be posted never stops the others
                await self._card_failed(row, exc, report)
                continue
            report.announced += 1

    async def _card_failed(self, row: ApprovalRow, exc: Exception, report: TickReport) -> None:
        """Count a failed try; after the last one, have the requester told."""
        tries = await count_card_failure(self.core.db, row.id)
        report.errors.append(f"card of {row.id}: {type(exc).__name__}")
        logger.warning(
            "card of %s not posted (try %d of %d): %s", row.id, tries, CARD_ATTEMPTS, exc
        )
        if tries < CARD_ATTEMPTS:
            return
        try:
            await self.notifier.approval_undeliverable(row)
        except Exception:
            logger.exception("could not tell the requester of %s that its card failed", row.id)

    async def _refresh_cards(self, report: TickReport) -> None:
        """Edit each card once per state it reached, wherever the vote came from."""
        statuses = ("pending", "approved", "denied", "executed", "failed")
        for row in await list_approvals(self.core.db, statuses=statuses, limit=500):
            if not row.message_ts or (row.status == "pending" and not row.votes):
                continue
            if await self._once(
                f"card|{row.id}|{row.status}|{len(row.votes)}",
                CARD_MEMORY,
                partial(self.notifier.approval_changed, row),
            ):
                report.refreshed += 1

    async def _stale(self, report: TickReport) -> None:
        core = self.core
        if core.rules.stale_after is None:
            return
        now = core.clock()
        for row in await list_approvals(core.db, statuses=("pending",), limit=1000):
            if not core.rules.is_stale(row.created_at, now=now):
                continue
            if await self._once(
                f"reannounce|{row.id}",
                self._until_expiry(row, now),
                partial(self.notifier.approval_stale, row),
            ):
                report.reannounced += 1

    # reconciliation --------------------------------------------------------------------

    async def _reconcile(self, report: TickReport) -> None:
        """Check a batch of pending rows against KMS; after the last batch, discover."""
        core = self.core
        now = core.clock()
        if self._cursor is None:  # between passes
            if self._last_reconcile and now - self._last_reconcile < self.reconcile_every:
                return
            self._last_reconcile = now
            self._cursor = 0
        rows = await pending.active_after(core.db, self._cursor, limit=self.reconcile_batch)
        gate = asyncio.Semaphore(RECONCILE_CONCURRENCY)

        async def one(row: PendingDeletion) -> None:
            async with gate:
                await self._reconcile_row(row, report)

        await asyncio.gather(*(one(row) for row in rows))
        if len(rows) == self.reconcile_batch:
            self._cursor = rows[-1].id  # the next tick goes on from here
            return
        self._cursor = None
        await self._discover(report)

    async def _reconcile_row(self, row: PendingDeletion, report: TickReport) -> None:
        core = self.core
        now = core.clock()
        try:
            detail = await core.gateway.describe_secret(row.region, row.secret_name)
        except CloudError as exc:
            if exc.code != "Forbidden.ResourceNotFound":
                report.errors.append(f"reconcile {row.secret_name}: {exc.code}")
                return
            when = "on its planned date" if now >= row.planned_delete_time else "early"
            note = f"deleted {when} ({now:%Y-%m-%d %H:%M} UTC)"
            if await pending.set_pending_status(
                core.db, row.id, expected=("pending", "unknown"), new="deleted", now=now, note=note
            ):
                report.closed += 1
                if row.status == "unknown":  # its outcome was never audited: now it is
                    await audit_settled_deletion(core, row, "deleted")
                closed = await pending.get_pending(core.db, row.id)
                if closed is not None:
                    await self.notifier.deletion_closed(closed)
            return
        planned = detail.planned_delete_time
        if planned is None:
            if row.status == "unknown":
                # The deletion this row announced never happened (once a call that may still
                # be in flight has had time to land): drop the intent.
                if now - row.updated_at >= SETTLE_AFTER:
                    await pending.discard_intent(core.db, row.id)
                return
            if await pending.set_pending_status(
                core.db,
                row.id,
                expected=("pending",),
                new="restored",
                now=now,
                note="restored outside the bot (console or API)",
            ):
                report.closed += 1
                closed = await pending.get_pending(core.db, row.id)
                if closed is not None:
                    await self.notifier.deletion_closed(closed)
            return
        if row.status == "unknown" or abs(planned - row.planned_delete_time) > timedelta(seconds=1):
            settled = await pending.set_pending_status(
                core.db,
                row.id,
                expected=(row.status,),
                new="pending",
                now=now,
                planned_delete_time=planned,
            )
            if settled and row.status == "unknown":
                await audit_settled_deletion(
                    core, row, f"scheduled to {planned:%Y-%m-%d %H:%M} UTC"
                )

    async def _discover(self, report: TickReport) -> None:
        core = self.core
        now = core.clock()
        for region in core.settings.cloud.regions:
            page_number, seen = 1, 0
            while True:
                page = await core.gateway.list_secrets(region, page=page_number, page_size=100)
                for secret in page.secrets:
                    if secret.planned_delete_time is None:
                        continue
                    if await pending.get_active_pending(core.db, region, secret.name):
                        continue
                    try:
                        row = await pending.record_pending(
                            core.db,
                            region=region,
                            secret_name=secret.name,
                            scheduled_by="",
                            channel_id=core.rules.channel or "",
                            planned_delete_time=secret.planned_delete_time,
                            now=now,
                            note="scheduled outside the bot (console or API)",
                        )
                    except pending.AlreadyPending:
                        continue
                    report.discovered += 1
                    await self.notifier.deletion_discovered(row)
                seen += len(page.secrets)
                if not page.secrets or seen >= page.total_count:
                    break
                page_number += 1

    # rotations -------------------------------------------------------------------------

    async def _rotations(self, report: TickReport) -> None:
        """Have the tracker follow the rotations in flight that nobody here follows."""
        report.followed += await self.tracker.follow_recorded()
