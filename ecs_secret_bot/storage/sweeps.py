"""Incident sweeps: one row per sweep, one per secret of it.

Owns the ``sweeps`` and ``sweep_items`` rows. A sweep and its items are written in one
transaction; every later change is a compare-and-set whose precondition is in the WHERE
clause (``state IN (...)``), so of two tasks or processes moving the same secret from
``queued`` to ``running`` exactly one wins, and a restart never runs a secret twice. Never
calls the cloud, never decides what a state means.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ecs_secret_bot.storage._codec import canonical_json, from_text, to_text
from ecs_secret_bot.storage.db import Database

__all__ = [
    "ITEM_STATES",
    "SWEEP_STATUSES",
    "UNFINISHED",
    "NewSweep",
    "NewSweepItem",
    "SweepItemRow",
    "SweepRow",
    "get_sweep",
    "get_sweep_items",
    "insert_sweep",
    "set_item_state",
    "set_items_state",
    "set_sweep_message",
    "set_sweep_status",
    "sweep_of_approval",
    "unfinished_sweeps",
]

SWEEP_STATUSES = (
    "awaiting_approval",
    "running",
    "stopping",
    "finished",
    "stopped",
    "denied",
    "expired",
    "changed",
)
UNFINISHED = ("awaiting_approval", "running", "stopping")
ITEM_STATES = (
    "ready",
    "refused",
    "skipped",
    "queued",
    "running",
    "completed",
    "failed",
    "not_confirmed",
    "stopped",
)


@dataclass(frozen=True)
class NewSweepItem:
    """One secret of a sweep about to be recorded."""

    region: str
    secret_name: str
    state: str
    arn: str = ""
    instance_id: str = ""
    instance_name: str = ""
    user_name: str = ""
    kind: str = ""
    approval_rule: str = ""
    reason: str = ""


@dataclass(frozen=True)
class NewSweep:
    """A sweep about to be recorded."""

    id: str
    requester: str
    reason: str
    channel_id: str
    selector: Mapping[str, Any]
    digest: str
    status: str
    approval_rule: str = ""
    actor: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SweepItemRow:
    """One stored secret of a sweep."""

    sweep_id: str
    position: int
    region: str
    secret_name: str
    arn: str
    instance_id: str
    instance_name: str
    user_name: str
    kind: str
    approval_rule: str
    state: str
    reason: str
    rotation_id: int | None
    version_id: str
    updated_at: datetime


@dataclass(frozen=True)
class SweepRow:
    """One stored sweep."""

    id: str
    requester: str
    reason: str
    channel_id: str
    selector: Mapping[str, Any]
    digest: str
    status: str
    approval_id: str
    approval_rule: str
    stopped_by: str
    note: str
    message_channel: str
    message_ts: str
    actor: Mapping[str, Any]
    created_at: datetime
    updated_at: datetime


def _check(value: str, allowed: Sequence[str], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}")
    return value


def _sweep(row: sqlite3.Row) -> SweepRow:
    return SweepRow(
        id=row["id"],
        requester=row["requester"],
        reason=row["reason"],
        channel_id=row["channel_id"],
        selector=json.loads(row["selector"]),
        digest=row["digest"],
        status=row["status"],
        approval_id=row["approval_id"],
        approval_rule=row["approval_rule"],
        stopped_by=row["stopped_by"],
        note=row["note"],
        message_channel=row["message_channel"],
        message_ts=row["message_ts"],
        actor=json.loads(row["actor"]),
        created_at=from_text(row["created_at"]),
        updated_at=from_text(row["updated_at"]),
    )


def _item(row: sqlite3.Row) -> SweepItemRow:
    return SweepItemRow(
        sweep_id=row["sweep_id"],
        position=row["position"],
        region=row["region"],
        secret_name=row["secret_name"],
        arn=row["arn"],
        instance_id=row["instance_id"],
        instance_name=row["instance_name"],
        user_name=row["user_name"],
        kind=row["kind"],
        approval_rule=row["approval_rule"],
        state=row["state"],
        reason=row["reason"],
        rotation_id=row["rotation_id"],
        version_id=row["version_id"],
        updated_at=from_text(row["updated_at"]),
    )


async def insert_sweep(
    db: Database, sweep: NewSweep, items: Sequence[NewSweepItem], *, now: datetime
) -> SweepRow:
    """Record a sweep and its secrets in one transaction."""
    stamp = to_text(now)
    async with db.transaction() as tx:
        await tx.fetchall(
            """INSERT INTO sweeps (id, requester, reason, channel_id, selector, digest, status,
                   approval_rule, actor, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                sweep.id,
                sweep.requester,
                sweep.reason,
                sweep.channel_id,
                canonical_json(sweep.selector),
                sweep.digest,
                _check(sweep.status, SWEEP_STATUSES, "sweep status"),
                sweep.approval_rule,
                canonical_json(sweep.actor),
                stamp,
                stamp,
            ),
        )
        await tx.executemany(
            """INSERT INTO sweep_items (sweep_id, position, region, secret_name, arn,
                   instance_id, instance_name, user_name, kind, approval_rule, state, reason,
                   updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                (
                    sweep.id,
                    position,
                    i.region,
                    i.secret_name,
                    i.arn,
                    i.instance_id,
                    i.instance_name,
                    i.user_name,
                    i.kind,
                    i.approval_rule,
                    _check(i.state, ITEM_STATES, "item state"),
                    i.reason,
                    stamp,
                )
                for position, i in enumerate(items)
            ],
        )
    found = await get_sweep(db, sweep.id)
    assert found is not None
    return found


async def get_sweep(db: Database, sweep_id: str) -> SweepRow | None:
    """Return the sweep with this id."""
    row = await db.fetchone("SELECT * FROM sweeps WHERE id = ?", (sweep_id,))
    return _sweep(row) if row else None


async def sweep_of_approval(db: Database, approval_id: str) -> SweepRow | None:
    """Return the sweep an approval request holds, if any."""
    row = await db.fetchone("SELECT * FROM sweeps WHERE approval_id = ?", (approval_id,))
    return _sweep(row) if row else None


async def get_sweep_items(db: Database, sweep_id: str) -> list[SweepItemRow]:
    """Return the secrets of a sweep, in the order they were planned."""
    rows = await db.fetchall(
        "SELECT * FROM sweep_items WHERE sweep_id = ? ORDER BY position", (sweep_id,)
    )
    return [_item(r) for r in rows]


async def unfinished_sweeps(db: Database, *, limit: int = 100) -> list[SweepRow]:
    """Return the sweeps not ended yet, the oldest first."""
    rows = await db.fetchall(
        f"""SELECT * FROM sweeps WHERE status IN ({", ".join("?" * len(UNFINISHED))})
             ORDER BY created_at, id LIMIT ?""",
        (*UNFINISHED, limit),
    )
    return [_sweep(r) for r in rows]


async def set_sweep_status(
    db: Database,
    sweep_id: str,
    *,
    expected: tuple[str, ...],
    new: str,
    now: datetime,
    note: str | None = None,
    stopped_by: str | None = None,
    approval_id: str | None = None,
) -> bool:
    """Move the sweep to ``new`` only if its status is one of ``expected``."""
    marks = ", ".join("?" * len(expected))
    rows = await db.fetchall(
        f"""UPDATE sweeps
               SET status = ?, updated_at = ?, note = coalesce(?, note),
                   stopped_by = coalesce(?, stopped_by), approval_id = coalesce(?, approval_id)
             WHERE id = ? AND status IN ({marks}) RETURNING id""",
        (
            _check(new, SWEEP_STATUSES, "sweep status"),
            to_text(now),
            note,
            stopped_by,
            approval_id,
            sweep_id,
            *(_check(s, SWEEP_STATUSES, "sweep status") for s in expected),
        ),
    )
    return bool(rows)


async def set_item_state(
    db: Database,
    sweep_id: str,
    position: int,
    *,
    expected: tuple[str, ...],
    new: str,
    now: datetime,
    reason: str | None = None,
    rotation_id: int | None = None,
    version_id: str | None = None,
) -> bool:
    """Move one secret to ``new`` only if its state is one of ``expected`` (the claim)."""
    marks = ", ".join("?" * len(expected))
    rows = await db.fetchall(
        f"""UPDATE sweep_items
               SET state = ?, updated_at = ?, reason = coalesce(?, reason),
                   rotation_id = coalesce(?, rotation_id), version_id = coalesce(?, version_id)
             WHERE sweep_id = ? AND position = ? AND state IN ({marks}) RETURNING position""",
        (
            _check(new, ITEM_STATES, "item state"),
            to_text(now),
            reason,
            rotation_id,
            version_id,
            sweep_id,
            position,
            *(_check(s, ITEM_STATES, "item state") for s in expected),
        ),
    )
    return bool(rows)


async def set_items_state(
    db: Database,
    sweep_id: str,
    *,
    expected: tuple[str, ...],
    new: str,
    now: datetime,
    reason: str | None = None,
) -> int:
    """Move every secret of the sweep in one of ``expected`` to ``new``; return how many."""
    marks = ", ".join("?" * len(expected))
    rows = await db.fetchall(
        f"""UPDATE sweep_items SET state = ?, updated_at = ?, reason = coalesce(?, reason)
             WHERE sweep_id = ? AND state IN ({marks}) RETURNING position""",
        (
            _check(new, ITEM_STATES, "item state"),
            to_text(now),
            reason,
            sweep_id,
            *(_check(s, ITEM_STATES, "item state") for s in expected),
        ),
    )
    return len(rows)


async def set_sweep_message(db: Database, sweep_id: str, *, channel_id: str, ts: str) -> None:
    """Record the channel message that shows the sweep (updated in place)."""
    await db.fetchall(
        "UPDATE sweeps SET message_channel = ?, message_ts = ? WHERE id = ?",
        (channel_id, ts, sweep_id),
    )
