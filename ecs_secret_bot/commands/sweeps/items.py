"""One secret of a running sweep: claim it, rotate it as a single rotation, follow it.

Owns the life of one item after its sweep started: the compare-and-set from ``queued`` to
``running`` that claims it (of two tasks, processes or restarts, one wins, so nothing runs
twice), the re-check of the requester's permission for that secret, the rotation itself
through the one pipeline (``operations.rotate.execute_rotation``: the secret's in-flight
claim, pre-flight, audit fail-closed, retries on throttling), the one ``RotationTracker``
following it to its honest end, and the recovery of an item found ``running`` after a
restart. Never decides the sweep's own status; never talks to people.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.approval.requests import ActionRequest
from ecs_secret_bot.commands.approval.rules import RouteKind
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.inflight import ChangeInProgress, holder
from ecs_secret_bot.commands.operations.rotate import execute_rotation
from ecs_secret_bot.commands.outcomes import RotateResult
from ecs_secret_bot.commands.pipeline import Execution
from ecs_secret_bot.commands.sweeps.model import ItemState, SweepItem
from ecs_secret_bot.commands.sweeps.plan import ROTATE, SUB_TYPE, route_member
from ecs_secret_bot.commands.sweeps.records import audit_item, item_of
from ecs_secret_bot.commands.tracker import RotationTracker
from ecs_secret_bot.commands.unrecorded import ChangeNotRecorded
from ecs_secret_bot.errors import (
    BotError,
    CloudError,
    CloudThrottled,
    CloudUnavailable,
    PreflightFailed,
    RotationInProgress,
)
from ecs_secret_bot.storage import rotations
from ecs_secret_bot.storage import sweeps as store
from ecs_secret_bot.storage.sweeps import SweepRow

__all__ = ["SUB_TYPE", "Changed", "finish_item", "follow_item", "recover_item", "run_item"]

_ENDS = {
    "completed": ItemState.COMPLETED,
    "failed": ItemState.FAILED,
    "timed_out": ItemState.NOT_CONFIRMED,
}
_DECISION = {
    ItemState.COMPLETED: "allow",
    ItemState.FAILED: "allow",
    ItemState.NOT_CONFIRMED: "allow",
    ItemState.REFUSED: "deny",
    ItemState.SKIPPED: "skip",
    ItemState.STOPPED: "skip",
}
_OUTCOME = {
    ItemState.COMPLETED: "rotation completed",
    ItemState.FAILED: "rotation failed",
    ItemState.NOT_CONFIRMED: "rotation not confirmed",
    ItemState.REFUSED: "refused",
    ItemState.SKIPPED: "skipped",
    ItemState.STOPPED: "stopped",
}

THROTTLED_TRIES = 5
"""Tries of a secret whose calls stayed throttled past the gateway's own retries."""
THROTTLED_PAUSE = 2.0
"""Seconds before the second try (doubling after each)."""

Changed = Callable[[], Awaitable[None]]
"""Called after each change of an item, so the sweep's front ends hear of it."""


async def _get(core: Core, sweep_id: str, position: int) -> SweepItem:
    rows = await store.get_sweep_items(core.db, sweep_id)
    return item_of(next(r for r in rows if r.position == position))


async def finish_item(
    core: Core,
    row: SweepRow,
    position: int,
    *,
    state: ItemState,
    reason: str,
    expected: tuple[str, ...] = ("running",),
) -> bool:
    """Record an item's end once (compare-and-set) and audit it; False if it had ended."""
    won = await store.set_item_state(
        core.db,
        row.id,
        position,
        expected=expected,
        new=str(state),
        now=core.clock(),
        reason=reason,
    )
    if won:
        item = await _get(core, row.id, position)
        outcome = _OUTCOME[state] + (f": {reason}" if reason else "")
        await audit_item(core, row, item, decision=_DECISION[state], outcome=outcome)
    return won


def _request(row: SweepRow, item: SweepItem) -> ActionRequest:
    """Return the single generated rotation the item is, exactly as ``rotate`` builds it."""
    return ActionRequest(
        action=ROTATE,
        resource=item.arn,
        region=item.region,
        secret_name=item.name,
        params={
            "instance_id": item.instance_id,
            "custom": False,
            "reason": row.reason,
            "sweep_id": row.id,
        },
        request_keys={
            "kms:CustomSecretValue": False,
            "kms:SecretSubType": SUB_TYPE.get(item.kind, ""),
        },
    )


async def run_item(
    core: Core,
    tracker: RotationTracker,
    row: SweepRow,
    position: int,
    *,
    actor: Actor,
    approved_by: tuple[str, ...],
    changed: Changed,
    pause: float = THROTTLED_PAUSE,
) -> None:
    """Claim a queued item, rotate it and follow it to its end (nothing if another claimed it).

    ``pause``: seconds before a throttled try is tried again (doubling each time).
    """
    won = await store.set_item_state(
        core.db, row.id, position, expected=("queued",), new="running", now=core.clock()
    )
    if not won:
        return  # stopped, or claimed by another task or process
    await changed()
    item = await _get(core, row.id, position)
    route = route_member(core, actor, item=item, sub=SUB_TYPE.get(item.kind, ""))
    if route.kind is RouteKind.REFUSE:
        reason = f"not allowed any more: {route.decision.reason}"
        await finish_item(core, row, position, state=ItemState.REFUSED, reason=reason)
        return await changed()
    if route.kind is RouteKind.HOLD and not row.approval_id:
        assert route.rule is not None
        reason = f"approval rule {route.rule.name} holds it now; sweep again to ask for it"
        await finish_item(core, row, position, state=ItemState.REFUSED, reason=reason)
        return await changed()
    approvers = ", ".join(approved_by)
    execution = Execution(
        request=_request(row, item),
        requested_by=row.requester,
        channel_id=row.channel_id,
        approved_by=approved_by,
        approval_id=row.approval_id,
        reason=(
            f"sweep {row.id}, approved under rule {row.approval_rule} by {approvers}"
            if approved_by
            else f"sweep {row.id}: {route.decision.reason}"
        ),
        identity=core.identity_of(actor),
        correlation_id=row.id,
        team_id=actor.team_id,
    )
    try:
        result = await _rotate(core, execution, item, pause=pause)
    except (PreflightFailed, RotationInProgress, ChangeInProgress) as exc:
        # Nothing reached KMS: the secret is as it was.
        await finish_item(core, row, position, state=ItemState.SKIPPED, reason=exc.user_message)
        return await changed()
    except ChangeNotRecorded as exc:  # KMS took it: its rotation row (starting) is followed
        assert exc.did.record_id is not None
        return await follow_item(core, tracker, row, position, exc.did.record_id, changed=changed)
    except BotError as exc:
        code = f"{exc.code}: " if isinstance(exc, CloudError) and exc.code else ""
        await finish_item(
            core, row, position, state=ItemState.FAILED, reason=code + exc.user_message
        )
        return await changed()
    await store.set_item_state(
        core.db,
        row.id,
        position,
        expected=("running",),
        new="running",
        now=core.clock(),
        rotation_id=result.rotation_id,
        version_id=result.version_id,
    )
    await changed()
    await follow_item(core, tracker, row, position, result.rotation_id, changed=changed)


async def _untouched(core: Core, item: SweepItem, *, since: datetime) -> bool:
    """Say whether a throttled try left the secret untouched: KMS never took a rotation."""
    tried = [
        r
        for r in await rotations.latest_rotations(core.db)
        if (r.region, r.secret_name) == (item.region, item.name) and r.started_at >= since
    ]
    if not tried:
        return True  # throttled before its rotation was recorded: a read, before RotateSecret
    if tried[0].active:
        return False
    try:  # RotateSecret itself was throttled: KMS holds no version of that try, or it took it
        versions = await core.gateway.list_secret_versions(
            item.region, item.name, include_deprecated=True
        )
    except CloudError:
        return False
    return all(v.version_id != tried[0].version_id for v in versions)


async def _rotate(
    core: Core, execution: Execution, item: SweepItem, *, pause: float
) -> RotateResult:
    """Rotate as a single rotation does; try again, later, a try KMS or ECS throttled.

    The gateway already retried each throttled call a few times; under a quota shared by
    the whole sweep that may not be enough, and giving up would fail a secret that was never
    touched. So a try that was throttled, and left the secret untouched, is tried again
    after a pause (doubling), up to ``THROTTLED_TRIES`` times.
    """
    for attempt in range(1, THROTTLED_TRIES + 1):
        started = core.clock()
        try:
            return await execute_rotation.run(core, execution)
        except CloudThrottled:
            if attempt == THROTTLED_TRIES or not await _untouched(core, item, since=started):
                raise
        await core.sleep(pause)
        pause *= 2
    raise AssertionError("unreachable")  # pragma: no cover


async def follow_item(
    core: Core,
    tracker: RotationTracker,
    row: SweepRow,
    position: int,
    rotation_id: int,
    *,
    changed: Changed,
) -> None:
    """Wait for the tracker's honest end of the item's rotation and record it.

    A look KMS throttled or could not answer is no news: the rotation is still recorded in
    flight, so it is followed again, until its follow-up deadline has passed.
    """
    while True:
        try:
            outcome = await tracker.outcome(rotation_id)
            break
        except (CloudThrottled, CloudUnavailable) as exc:
            rotation = await rotations.get_rotation(core.db, rotation_id)
            if rotation is not None and rotation.active and core.clock() >= rotation.deadline:
                reason = f"KMS could not be asked how it ended ({exc.code or exc.user_message})"
                state = ItemState.NOT_CONFIRMED
                if await finish_item(core, row, position, state=state, reason=reason):
                    await changed()
                return
            await core.sleep(core.follow_up_max_delay)
    state = _ENDS.get(outcome.state, ItemState.FAILED)
    if await finish_item(core, row, position, state=state, reason=outcome.reason):
        await changed()


async def _rotation_since(
    core: Core, row: SweepRow, item: SweepItem, since: datetime
) -> int | None:
    """Return the rotation of the item's secret the sweep started at or after ``since``."""
    for rotation in await rotations.latest_rotations(core.db):
        if (
            (rotation.region, rotation.secret_name) == (item.region, item.name)
            and rotation.requested_by == row.requester
            and rotation.started_at >= since
        ):
            return rotation.id
    return None


async def recover_item(
    core: Core,
    tracker: RotationTracker,
    row: SweepRow,
    position: int,
    *,
    claimed_at: datetime,
    changed: Changed,
) -> str:
    """Carry on an item found running after a restart: ``followed``, ``queued`` or ``wait``.

    Its rotation is recorded before the cloud call, so: a rotation row since its claim is
    followed; no row and nobody holding the secret means the call never happened, and the
    item is queued again (to run once); a holder means it is still starting elsewhere.
    """
    item = await _get(core, row.id, position)
    rotation_id = item.rotation_id or await _rotation_since(core, row, item, claimed_at)
    if rotation_id is not None:
        await follow_item(core, tracker, row, position, rotation_id, changed=changed)
        return "followed"
    if await holder(core, item.region, item.name) is not None:
        return "wait"  # still starting elsewhere: its claim lapses if that process died
    requeued = await store.set_item_state(
        core.db, row.id, position, expected=("running",), new="queued", now=core.clock()
    )
    return "queued" if requeued else "followed"
