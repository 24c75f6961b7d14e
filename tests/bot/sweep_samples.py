"""Sweep plans and snapshots for the builder and notifier tests: built by hand, as the
core would give them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ecs_secret_bot.commands.sweeps import (
    ItemState,
    SweepCounts,
    SweepItem,
    SweepPlan,
    SweepSelector,
    SweepSnapshot,
    SweepStatus,
    set_digest,
)

T0 = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
SELECTOR = SweepSelector(instances=("i-bp1web3",), tags=(("env", "prod"),))


def item(n: int, state: ItemState = ItemState.READY, *, reason: str = "") -> SweepItem:
    """Return the ``n``-th secret of a fleet, in ``state``."""
    return SweepItem(
        name=f"acs/ecs/fleet-{n:03d}-root",
        region="cn-hangzhou" if n % 2 == 0 else "cn-shanghai",
        instance_id=f"i-bp1fleet{n:05d}",
        user="root",
        kind="password" if n % 3 else "ssh_key",
        state=state,
        reason=reason,
        instance_name=f"fleet-{n:03d}",
    )


def plan(items: list[SweepItem], *, rule: str | None = None) -> SweepPlan:
    """Return a plan of ``items``."""
    return SweepPlan(
        selector=SELECTOR,
        items=tuple(items),
        digest=set_digest(items),
        approval_rule=rule,
        approval_needs="1 approval from slack:usergroup:S01SEC" if rule else "",
        regions=("cn-hangzhou", "cn-shanghai"),
    )


def snapshot(
    items: list[SweepItem],
    *,
    status: SweepStatus = SweepStatus.RUNNING,
    seconds: int = 0,
    sweep_id: str = "sw-1",
    **changes: object,
) -> SweepSnapshot:
    """Return a sweep at ``seconds`` after T0."""
    shot = SweepSnapshot(
        sweep_id=sweep_id,
        requester="slack:user:U0ALICE",
        reason="INC-1234: web hosts compromised",
        channel_id="C0INCIDENT",
        status=status,
        items=tuple(items),
        selector=SELECTOR,
        digest=set_digest(items),
        created_at=T0,
        updated_at=T0 + timedelta(seconds=seconds),
        counts=SweepCounts.of(items),
    )
    return replace(shot, **changes)  # type: ignore[arg-type]
