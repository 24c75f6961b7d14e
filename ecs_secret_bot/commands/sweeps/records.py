"""A sweep as storage keeps it, and as front ends see it; its audit entries.

Owns the translation between ``storage.sweeps`` rows and the sweep's model (``SweepItem``,
``SweepSnapshot``), the requester as recorded with the sweep (principal, groups and where
it was asked, so a restart acts for the same person in the same place), and the sweep's
audit entries: one request whose correlation id is the sweep id, with one entry per
secret's outcome. Never calls the cloud and never decides.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.approval.requests import ActionRequest
from ecs_secret_bot.commands.auditing import audit
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.sweeps.model import (
    ItemState,
    SweepCounts,
    SweepItem,
    SweepPlan,
    SweepSelector,
    SweepSnapshot,
    SweepStatus,
)
from ecs_secret_bot.errors import NotFound
from ecs_secret_bot.storage import sweeps as store
from ecs_secret_bot.storage.sweeps import NewSweep, NewSweepItem, SweepItemRow, SweepRow

__all__ = [
    "ROTATE",
    "actor_of",
    "audit_item",
    "audit_sweep",
    "close_unrun",
    "get_row",
    "item_of",
    "load_snapshot",
    "new_sweep_id",
    "record_sweep",
    "selector_of",
]

ROTATE = "kms:RotateSecret"


def new_sweep_id() -> str:
    """Return a fresh sweep id (also the correlation id of its audit entries)."""
    return f"sweep-{secrets.token_hex(6)}"


def _selector_data(selector: SweepSelector) -> dict[str, Any]:
    return {
        "instances": list(selector.instances),
        "tags": [list(t) for t in selector.tags],
        "match": selector.match,
        "region": selector.region,
    }


def selector_of(data: Mapping[str, Any]) -> SweepSelector:
    """Return the selector a sweep row recorded."""
    return SweepSelector(
        instances=tuple(data.get("instances", ())),
        tags=tuple((str(k), str(v)) for k, v in data.get("tags", ())),
        match=str(data.get("match", "")),
        region=data.get("region"),
    )


def _actor_data(actor: Actor) -> dict[str, Any]:
    return {
        "groups": sorted(actor.groups),
        "channel_name": actor.channel_name,
        "team_id": actor.team_id,
        "display_name": actor.display_name,
    }


def actor_of(row: SweepRow) -> Actor:
    """Return the requester as the sweep recorded them, in the place they asked from."""
    data = row.actor
    return Actor(
        principal=row.requester,
        groups=frozenset(data.get("groups", ())),
        channel_id=row.channel_id,
        channel_name=str(data.get("channel_name", "")),
        team_id=str(data.get("team_id", "")),
        display_name=str(data.get("display_name", "")),
    )


def item_of(row: SweepItemRow) -> SweepItem:
    """Return one stored secret of a sweep as the model has it."""
    return SweepItem(
        name=row.secret_name,
        region=row.region,
        instance_id=row.instance_id,
        user=row.user_name,
        kind=row.kind,
        state=ItemState(row.state),
        reason=row.reason,
        instance_name=row.instance_name,
        arn=row.arn,
        approval_rule=row.approval_rule,
        rotation_id=row.rotation_id,
        version_id=row.version_id,
    )


async def record_sweep(
    core: Core,
    plan: SweepPlan,
    *,
    actor: Actor,
    reason: str,
    status: SweepStatus,
    sweep_id: str = "",
) -> SweepRow:
    """Store a new sweep with its planned secrets (ready ones queued unless it waits)."""
    queued = status is SweepStatus.RUNNING
    return await store.insert_sweep(
        core.db,
        NewSweep(
            id=sweep_id or new_sweep_id(),
            requester=actor.principal,
            reason=reason,
            channel_id=actor.channel_id,
            selector=_selector_data(plan.selector),
            digest=plan.digest,
            status=str(status),
            approval_rule=plan.approval_rule or "",
            actor=_actor_data(actor),
        ),
        [
            NewSweepItem(
                region=i.region,
                secret_name=i.name,
                state=str(ItemState.QUEUED if queued and i.state is ItemState.READY else i.state),
                arn=i.arn,
                instance_id=i.instance_id,
                instance_name=i.instance_name,
                user_name=i.user,
                kind=i.kind,
                approval_rule=i.approval_rule,
                reason=i.reason,
            )
            for i in plan.items
        ],
        now=core.clock(),
    )


async def get_row(core: Core, sweep_id: str) -> SweepRow:
    """Return the stored sweep, or raise NotFound."""
    row = await store.get_sweep(core.db, sweep_id)
    if row is None:
        raise NotFound(f"There is no sweep {sweep_id}.")
    return row


async def load_snapshot(core: Core, sweep_id: str) -> SweepSnapshot:
    """Return the sweep as storage holds it now."""
    row = await get_row(core, sweep_id)
    items = tuple(item_of(r) for r in await store.get_sweep_items(core.db, sweep_id))
    return SweepSnapshot(
        sweep_id=row.id,
        requester=row.requester,
        reason=row.reason,
        channel_id=row.channel_id,
        status=SweepStatus(row.status),
        items=items,
        selector=selector_of(row.selector),
        digest=row.digest,
        created_at=row.created_at,
        updated_at=row.updated_at,
        approval_id=row.approval_id,
        approval_rule=row.approval_rule,
        stopped_by=row.stopped_by,
        note=row.note,
        message_channel=row.message_channel,
        message_ts=row.message_ts,
        counts=SweepCounts.of(items),
    )


def _collection(core: Core, region: str | None) -> str:
    return f"acs:kms:{region or '*'}:{core.settings.cloud.account_id}:secret"


async def audit_sweep(
    core: Core,
    row: SweepRow,
    *,
    decision: str,
    outcome: str,
    reason: str = "",
    approval_id: str = "",
    actor: str = "",
    required: bool = False,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Append an entry about the sweep as a whole (requested, held, finished, stopped)."""
    await audit(
        core,
        actor=actor or row.requester,
        request=ActionRequest(
            action=ROTATE, resource=_collection(core, row.selector.get("region"))
        ),
        channel_id=row.channel_id,
        decision=decision,
        reason=reason or row.reason,
        outcome=outcome,
        approval_id=approval_id or row.approval_id,
        detail={"sweep_id": row.id, "selector": dict(row.selector), **(detail or {})},
        required=required,
        correlation_id=row.id,
    )


async def audit_item(
    core: Core, row: SweepRow, item: SweepItem, *, decision: str, outcome: str
) -> None:
    """Append the entry of one secret's outcome in the sweep."""
    await audit(
        core,
        actor=row.requester,
        request=ActionRequest(
            action=ROTATE, resource=item.arn, region=item.region, secret_name=item.name
        ),
        channel_id=row.channel_id,
        decision=decision,
        reason=f"sweep {row.id}: {row.reason}",
        outcome=outcome,
        approval_id=row.approval_id,
        detail={"sweep_id": row.id, "instance_id": item.instance_id, "user": item.user},
        required=False,
        correlation_id=row.id,
    )


async def close_unrun(core: Core, row: SweepRow, *, status: SweepStatus, note: str) -> bool:
    """End a sweep that never ran (denied, expired, changed, stopped); its ready secrets
    are skipped (stopped, for Stop) with why. False if it was no longer awaiting approval."""
    won = await store.set_sweep_status(
        core.db,
        row.id,
        expected=(str(SweepStatus.AWAITING_APPROVAL),),
        new=str(status),
        now=core.clock(),
        note=note,
    )
    if won:
        await store.set_items_state(
            core.db,
            row.id,
            expected=("ready",),
            new="stopped" if status is SweepStatus.STOPPED else "skipped",
            now=core.clock(),
            reason=f"the sweep was {status}: {note}" if note else f"the sweep was {status}",
        )
    return won
