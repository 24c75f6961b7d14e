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
from ecs_secret_bot.commands.pipeline import Execution
from ecs_secret_bot.commands.sweeps.model import ItemState, SweepItem
from ecs_secret_bot.commands.sweeps.plan import ROTATE, SUB_TYPE, route_member
from ecs_secret_bot.commands.sweeps.records import audit_item, item_of
from ecs_secret_bot.commands.tracker import RotationTracker
from ecs_secret_bot.errors import BotError, CloudError, PreflightFailed, RotationInProgress
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

Changed = Callable[[], Awaitable[None]]
"""Called after each change of an item, so the sweep's front ends hear of it."""


async def _get(core: Core, sweep_id: str, position: int) -> SweepItem:
    rows = await store.get_sweep_items(core.db, sweep_id)
    return item_of(next(r for r in rows if r.position == position))


async def finish_item(
    core: Core,
    row: SweepRow,
    position: int,
    state: ItemState,
    reason: str,
    *,
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
) -> None:
    """Claim a queued item, rotate it and follow it to its end (nothing if another claimed it)."""
    won = await store.set_item_state(
        core.db, row.id, position, expected=("queued",), new="running", now=core.clock()
    )
    if not won:
        return  # stopped, or claimed by another task or process
    await changed()
    item = await _get(core, row.id, position)
    route = route_member(core, actor, item.region, item.name, item.arn, SUB_TYPE.get(item.kind, ""))
    if route.kind is RouteKind.REFUSE:
        reason = f"not allowed any more: {route.decision.reason}"
        await finish_item(core, row, position, ItemState.REFUSED, reason)
        return await changed()
    if route.kind is RouteKind.HOLD and not row.approval_id:
        assert route.rule is not None
        reason = f"approval rule {route.rule.name} holds it now; sweep again to ask for it"
        await finish_item(core, row, position, ItemState.REFUSED, reason)
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
    )
    try:
        result = await execute_rotation.run(core, execution)
    except (PreflightFailed, RotationInProgress, ChangeInProgress) as exc:
        # Nothing reached KMS: the secret is as it was.
        await finish_item(core, row, position, ItemState.SKIPPED, exc.user_message)
        return await changed()
    except BotError as exc:
        code = f"{exc.code}: " if isinstance(exc, CloudError) and exc.code else ""
        await finish_item(core, row, position, ItemState.FAILED, code + exc.user_message)
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


async def follow_item(
    core: Core,
    tracker: RotationTracker,
    row: SweepRow,
    position: int,
    rotation_id: int,
    *,
    changed: Changed,
) -> None:
    """Wait for the tracker's honest end of the item's rotation and record it."""
    outcome = await tracker.outcome(rotation_id)
    state = _ENDS.get(outcome.state, ItemState.FAILED)
    if await finish_item(core, row, position, state, outcome.reason):
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
