"""Run sweeps: start (or hold for one approval), execute with bounded concurrency, stop.

Owns a sweep's execution in one process. ``start`` records the sweep and either runs it or
opens ONE approval request (``commands.approval``, not a fork of it) whose frozen request
lists every runnable secret and carries the sweep id and the digest of the set; the
approval is held by the strictest rule among the members and an approver must be allowed
to rotate every one of them. ``approved`` claims the approved execution once, re-planning
first: if the runnable set's digest changed, nothing runs and the sweep is ``changed``.

Each queued secret is claimed in storage with a compare-and-set (queued -> running) before
its cloud call and rotated as a single rotation is (``items``); at most ``concurrency``
secrets are in flight at once, across the sweeps of this runner. Storage holds every
state, so ``resume`` (at start-up, and safe on every duty tick) runs what is still queued,
follows what was running, and settles sweeps whose approval was decided; nothing runs
twice. ``stop`` stops the secrets not yet started; the running ones finish. Never talks
Slack or prints: progress goes through a ``SweepNotifier``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.approval.rules import RouteKind
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.inflight import CLAIM_TTL
from ecs_secret_bot.commands.settings import (
    MAX_SWEEP_CONCURRENCY,
    SweepSettings,
    check_sweep_concurrency,
)
from ecs_secret_bot.commands.sweeps.approval import (
    CLOSED_BY_APPROVAL,
    claim_approved,
    sweep_request,
    withdraw,
)
from ecs_secret_bot.commands.sweeps.items import (
    THROTTLED_PAUSE,
    finish_item,
    recover_item,
    run_item,
)
from ecs_secret_bot.commands.sweeps.model import (
    ItemState,
    SweepCounts,
    SweepNotifier,
    SweepPlan,
    SweepSnapshot,
    SweepStatus,
)
from ecs_secret_bot.commands.sweeps.plan import check_may_stop
from ecs_secret_bot.commands.sweeps.records import (
    actor_of,
    audit_item,
    audit_sweep,
    close_unrun,
    get_row,
    item_of,
    load_snapshot,
    new_sweep_id,
    record_sweep,
)
from ecs_secret_bot.commands.tracker import RotationTracker
from ecs_secret_bot.errors import BotError, Conflict, InvalidInput
from ecs_secret_bot.storage import sweeps as store
from ecs_secret_bot.storage.sweeps import SweepItemRow

__all__ = ["DEFAULT_CONCURRENCY", "MAX_CONCURRENCY", "SweepRunner", "check_concurrency"]

logger = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = SweepSettings().concurrency
MAX_CONCURRENCY = MAX_SWEEP_CONCURRENCY


def check_concurrency(value: int) -> int:
    """Return ``value`` if it is a valid concurrency (1..20); raise ValueError saying why."""
    return check_sweep_concurrency(value)


class SweepRunner:
    """Starts, runs, stops and resumes sweeps over one core, tracker and notifier."""

    def __init__(
        self,
        core: Core,
        *,
        tracker: RotationTracker,
        notifier: SweepNotifier,
        concurrency: int | None = None,
    ) -> None:
        self.core = core
        self.tracker = tracker
        self.notifier = notifier
        self.concurrency = check_concurrency(
            core.settings.sweep.concurrency if concurrency is None else concurrency
        )
        """Secrets in flight at once: ``concurrency``, else ``[sweep] concurrency``."""
        self._slots = asyncio.Semaphore(self.concurrency)
        self._driving: dict[str, asyncio.Task[None]] = {}
        self.throttled_pause = THROTTLED_PAUSE
        """Seconds before a secret whose calls stayed throttled is tried again (doubling)."""
        self.in_flight = 0
        self.max_in_flight = 0
        """The most secrets this runner had in flight at once (a measure for benches)."""

    # --- the front ends' calls ---------------------------------------------------------------

    async def start(self, plan: SweepPlan, *, actor: Actor, reason: str) -> SweepSnapshot:
        """Record the sweep; run it now, or hold it for ONE approval bound to its digest."""
        reason = reason.strip()
        if not reason:
            raise InvalidInput("A sweep needs a reason (the incident, the ticket).", field="reason")
        if not plan.runnable:
            raise Conflict(
                "Nothing to rotate: the selectors match no secret, or each one they match is "
                "refused or skipped.",
                next_step="Look at why each one is, or change the selectors.",
            )
        held = plan.approval_rule is not None
        status = SweepStatus.AWAITING_APPROVAL if held else SweepStatus.RUNNING
        sweep_id = new_sweep_id()
        request = sweep_request(sweep_id, plan, reason, self.core)
        route = self.core.workflow.route(actor, request)
        if route.kind is RouteKind.REFUSE:  # a member refused now but not in the plan
            route.decision.raise_if_denied()
        row = await record_sweep(
            self.core, plan, actor=actor, reason=reason, status=status, sweep_id=sweep_id
        )
        await audit_sweep(
            self.core,
            row,
            decision="held" if held else "allow",
            outcome=f"sweep requested: {len(plan.runnable)} of {len(plan.items)} secrets to rotate",
            reason=route.reason,
            required=True,
            detail={"digest": plan.digest, "reason": reason},
        )
        for item in plan.items:
            if item.state in (ItemState.REFUSED, ItemState.SKIPPED):
                outcome = f"{item.state}: {item.reason}"
                decision = "deny" if item.state is ItemState.REFUSED else "skip"
                await audit_item(self.core, row, item, decision=decision, outcome=outcome)
        if held:
            try:
                approval = await self.core.workflow.open_request(actor, request)
            except BotError as exc:
                note = f"it could not be held for approval: {exc.user_message}"
                await close_unrun(self.core, row, status=SweepStatus.DENIED, note=note)
                raise
            await store.set_sweep_status(
                self.core.db,
                row.id,
                expected=(str(status),),
                new=str(status),
                now=self.core.clock(),
                approval_id=approval.id,
            )
            await audit_sweep(
                self.core,
                row,
                decision="held",
                outcome="pending approval",
                reason=route.reason,
                approval_id=approval.id,
            )
        else:
            self._drive(row.id)
        return await self._notify(row.id)

    async def approved(self, sweep_id: str) -> SweepSnapshot:
        """Run a sweep whose approval completed, if its runnable set is still the approved one."""
        row = await get_row(self.core, sweep_id)
        if row.status != SweepStatus.AWAITING_APPROVAL or not row.approval_id:
            return await load_snapshot(self.core, sweep_id)
        approval = await self.core.workflow.get(row.approval_id)
        if approval.status in CLOSED_BY_APPROVAL:
            await close_unrun(
                self.core, row, status=CLOSED_BY_APPROVAL[approval.status], note=approval.outcome
            )
            return await self._notify(sweep_id)
        if approval.status == "pending":
            return await load_snapshot(self.core, sweep_id)
        if approval.status == "approved":
            problem = await claim_approved(self.core, row)
            if problem is not None:
                status, note = problem
                await close_unrun(self.core, row, status=status, note=note)
                await audit_sweep(self.core, row, decision="deny", outcome=f"not run: {note}")
                return await self._notify(sweep_id)
            if (await self.core.workflow.get(row.approval_id)).status != "executed":
                return await load_snapshot(self.core, sweep_id)
        # executed: claimed here just now, or claimed before a restart left it awaiting
        await store.set_items_state(
            self.core.db, sweep_id, expected=("ready",), new="queued", now=self.core.clock()
        )
        if await store.set_sweep_status(
            self.core.db,
            sweep_id,
            expected=(str(SweepStatus.AWAITING_APPROVAL),),
            new=str(SweepStatus.RUNNING),
            now=self.core.clock(),
        ):
            await audit_sweep(self.core, row, decision="allow", outcome="approved: started")
        self._drive(sweep_id)
        return await self._notify(sweep_id)

    async def stop(self, sweep_id: str, *, actor: Actor) -> SweepSnapshot:
        """Stop the secrets not yet started; the running ones finish."""
        row = await get_row(self.core, sweep_id)
        if row.status == SweepStatus.AWAITING_APPROVAL:
            await withdraw(self.core, row, actor)
        elif row.status == SweepStatus.RUNNING:
            items = await store.get_sweep_items(self.core.db, sweep_id)
            check_may_stop(
                self.core, requester=row.requester, items=[item_of(i) for i in items], actor=actor
            )
            await store.set_sweep_status(
                self.core.db,
                sweep_id,
                expected=(str(SweepStatus.RUNNING),),
                new=str(SweepStatus.STOPPING),
                now=self.core.clock(),
                stopped_by=actor.principal,
            )
            stopped = await store.set_items_state(
                self.core.db,
                sweep_id,
                expected=("queued",),
                new="stopped",
                now=self.core.clock(),
                reason=f"stopped by {actor.principal} before it started",
            )
            await audit_sweep(
                self.core,
                row,
                decision="stop",
                outcome=f"stopped: {stopped} secrets not started",
                actor=actor.principal,
            )
            await self._finalize(sweep_id)
        return await self._notify(sweep_id)

    async def snapshot(self, sweep_id: str) -> SweepSnapshot:
        """Return the sweep as storage holds it now (settling a decided approval first)."""
        row = await get_row(self.core, sweep_id)
        if row.status == SweepStatus.AWAITING_APPROVAL and row.approval_id:
            approval = await self.core.workflow.get(row.approval_id)
            if approval.status in CLOSED_BY_APPROVAL:
                return await self.approved(sweep_id)
        return await load_snapshot(self.core, sweep_id)

    async def wait(self, sweep_id: str) -> SweepSnapshot:
        """Wait until the sweep's run in this process ends and return its last snapshot."""
        task = self._driving.get(sweep_id)
        if task is not None:
            await asyncio.shield(task)
        return await load_snapshot(self.core, sweep_id)

    async def attach_message(self, sweep_id: str, *, channel_id: str, ts: str) -> None:
        """Remember the channel message that shows the sweep, to update it in place."""
        await store.set_sweep_message(self.core.db, sweep_id, channel_id=channel_id, ts=ts)

    async def resume(self) -> int:
        """Carry on the unfinished sweeps storage holds (after a restart); return how many."""
        carried = 0
        for row in await store.unfinished_sweeps(self.core.db):
            if row.status == SweepStatus.AWAITING_APPROVAL:
                approval = await self.core.workflow.get(row.approval_id)
                if approval.status != "pending":
                    await self.approved(row.id)
                    carried += 1
            elif row.id not in self._driving:
                self._drive(row.id)
                carried += 1
        return carried

    async def drain(self, timeout: float) -> int:
        """Wait up to ``timeout`` s for the sweeps running here; cancel the rest (storage keeps)."""
        tasks = list(self._driving.values())
        if not tasks:
            return 0
        _, still = await asyncio.wait(tasks, timeout=timeout)
        for task in still:
            task.cancel()
        if still:
            await asyncio.gather(*still, return_exceptions=True)
        return len(still)

    # --- inside ------------------------------------------------------------------------------

    def _drive(self, sweep_id: str) -> None:
        if sweep_id not in self._driving:
            task = asyncio.create_task(self._run(sweep_id), name=f"sweep-{sweep_id}")
            self._driving[sweep_id] = task
            task.add_done_callback(lambda _: self._driving.pop(sweep_id, None))

    async def _run(self, sweep_id: str) -> None:
        row = await get_row(self.core, sweep_id)
        approved_by: tuple[str, ...] = ()
        if row.approval_id:
            approved_by = (await self.core.workflow.get(row.approval_id)).approved_by
        actor = actor_of(row)

        async def changed() -> None:
            await self._notify(sweep_id)

        async def one(item: SweepItemRow) -> None:
            async with self._slot():
                try:
                    if item.state == "running":
                        while True:
                            found = await recover_item(
                                self.core,
                                self.tracker,
                                row,
                                item.position,
                                claimed_at=item.updated_at,
                                changed=changed,
                            )
                            if found != "wait":
                                break
                            await self.core.sleep(CLAIM_TTL.total_seconds() / 4)
                        if found != "queued":
                            return
                    await run_item(
                        self.core,
                        self.tracker,
                        row,
                        item.position,
                        actor=actor,
                        approved_by=approved_by,
                        changed=changed,
                        pause=self.throttled_pause,
                    )
                except Exception:
                    logger.exception("sweep %s: secret %s failed", sweep_id, item.secret_name)
                    reason = "an internal error stopped it; look at the secret before retrying"
                    await finish_item(
                        self.core, row, item.position, state=ItemState.FAILED, reason=reason
                    )

        items = await store.get_sweep_items(self.core.db, sweep_id)
        work: list[Coroutine[Any, Any, None]] = [
            one(i) for i in items if i.state in ("queued", "running")
        ]
        await asyncio.gather(*work)
        await self._finalize(sweep_id)

    @asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        """Hold one of the ``concurrency`` places for a secret in flight."""
        async with self._slots:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                yield
            finally:
                self.in_flight -= 1

    async def _finalize(self, sweep_id: str) -> None:
        """End the sweep once no secret of it is queued or running."""
        items = await store.get_sweep_items(self.core.db, sweep_id)
        if any(i.state in ("queued", "running") for i in items):
            return
        row = await get_row(self.core, sweep_id)
        final = SweepStatus.STOPPED if row.status == SweepStatus.STOPPING else SweepStatus.FINISHED
        counts = SweepCounts.of(item_of(i) for i in items)
        summary = f"{counts.done} completed, {counts.failed} failed, {counts.skipped} skipped"
        won = await store.set_sweep_status(
            self.core.db,
            sweep_id,
            expected=(str(SweepStatus.RUNNING), str(SweepStatus.STOPPING)),
            new=str(final),
            now=self.core.clock(),
            note=summary,
        )
        if won:
            await audit_sweep(self.core, row, decision="allow", outcome=f"sweep {final}: {summary}")
            if row.approval_id:
                await self.core.workflow.finish(row.approval_id, ok=True, outcome=summary)
            await self._notify(sweep_id)

    async def _notify(self, sweep_id: str) -> SweepSnapshot:
        snapshot = await load_snapshot(self.core, sweep_id)
        try:
            await self.notifier.sweep_changed(snapshot)
        except Exception:
            logger.exception("reporting sweep %s failed", sweep_id)
        return snapshot
