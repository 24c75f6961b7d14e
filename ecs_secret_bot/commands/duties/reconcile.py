"""Reconciliation of pending deletions with KMS, and discovery of deletions made elsewhere.

Owns ``Reconciler``: a pass over the active pending rows, a batch per tick (a large backlog
spreads over ticks), closing what KMS says was restored or deleted elsewhere, settling
``unknown`` rows a crash left, following a planned time KMS moved; after the last batch,
discovering deletions scheduled outside the bot. Its writes carry the lease's fence. Keeps
its place between ticks in memory only: a replica that takes the lease over starts a pass
of its own. Never talks Slack.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from ecs_secret_bot.commands.duties.tick import Tick
from ecs_secret_bot.commands.operations.delete import SETTLE_AFTER
from ecs_secret_bot.commands.unrecorded import audit_settled_deletion
from ecs_secret_bot.errors import CloudError
from ecs_secret_bot.storage import pending
from ecs_secret_bot.storage.pending import PendingDeletion

__all__ = ["RECONCILE_CONCURRENCY", "Reconciler"]

RECONCILE_CONCURRENCY = 8


@dataclass
class Reconciler:
    """Checks pending rows against KMS every ``every``, ``batch`` rows per tick."""

    every: timedelta = timedelta(minutes=10)
    batch: int = 100
    last_pass: datetime | None = None
    """When the current (or last) pass began."""
    _cursor: int | None = None

    async def __call__(self, tick: Tick) -> None:
        """Check a batch of pending rows against KMS; after the last batch, discover."""
        core = tick.core
        now = core.clock()
        if self._cursor is None:  # between passes
            if self.last_pass and now - self.last_pass < self.every:
                return
            self.last_pass = now
            self._cursor = 0
        rows = await pending.active_after(core.db, self._cursor, limit=self.batch)
        gate = asyncio.Semaphore(RECONCILE_CONCURRENCY)

        async def one(row: PendingDeletion) -> None:
            async with gate:
                await _reconcile_row(tick, row)

        await asyncio.gather(*(one(row) for row in rows))
        if len(rows) == self.batch:
            self._cursor = rows[-1].id  # the next tick goes on from here
            return
        self._cursor = None
        await _discover(tick)


async def _closed(tick: Tick, pending_id: int) -> None:
    tick.report.closed += 1
    closed = await pending.get_pending(tick.core.db, pending_id)
    if closed is not None:
        await tick.notifier.deletion_closed(closed)


async def _reconcile_row(tick: Tick, row: PendingDeletion) -> None:
    core, fence = tick.core, tick.fence
    now = core.clock()
    try:
        detail = await core.gateway.describe_secret(row.region, row.secret_name)
    except CloudError as exc:
        if exc.code != "Forbidden.ResourceNotFound":
            tick.report.errors.append(f"reconcile {row.secret_name}: {exc.code}")
            return
        when = "on its planned date" if now >= row.planned_delete_time else "early"
        note = f"deleted {when} ({now:%Y-%m-%d %H:%M} UTC)"
        if await pending.set_pending_status(
            core.db,
            row.id,
            expected=("pending", "unknown"),
            new="deleted",
            now=now,
            note=note,
            fence=fence,
        ):
            if row.status == "unknown":  # its outcome was never audited: now it is
                await audit_settled_deletion(core, row, "deleted")
            await _closed(tick, row.id)
        return
    planned = detail.planned_delete_time
    if planned is None:
        if row.status == "unknown":
            # The deletion this row announced never happened (once a call that may still
            # be in flight has had time to land): drop the intent.
            if now - row.updated_at >= SETTLE_AFTER:
                await pending.discard_intent(core.db, row.id, fence=fence)
            return
        if await pending.set_pending_status(
            core.db,
            row.id,
            expected=("pending",),
            new="restored",
            now=now,
            note="restored outside the bot (console or API)",
            fence=fence,
        ):
            await _closed(tick, row.id)
        return
    if row.status == "unknown" or abs(planned - row.planned_delete_time) > timedelta(seconds=1):
        settled = await pending.set_pending_status(
            core.db,
            row.id,
            expected=(row.status,),
            new="pending",
            now=now,
            planned_delete_time=planned,
            fence=fence,
        )
        if settled and row.status == "unknown":
            await audit_settled_deletion(core, row, f"scheduled to {planned:%Y-%m-%d %H:%M} UTC")


async def _discover(tick: Tick) -> None:
    core = tick.core
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
                        fence=tick.fence,
                    )
                except pending.AlreadyPending:
                    continue
                tick.report.discovered += 1
                await tick.notifier.deletion_discovered(row)
            seen += len(page.secrets)
            if not page.secrets or seen >= page.total_count:
                break
            page_number += 1
