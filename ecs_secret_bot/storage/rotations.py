"""Rotations in flight: triggered by the bot, followed until KMS says they finished.

Owns the ``rotations`` rows. A row is *active* while ``starting`` (written before the cloud
call: a crash leaves it for the next start to settle) or ``in_progress`` (KMS accepted
the call); at most one active row per (region, secret), so a second rotation is refused
with ``RotationActive``. Every status change is a compare-and-set, so two processes
following the same rotation report it once. Never calls the cloud or decides what a state
means.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from ecs_secret_bot.errors import AlreadyRecorded
from ecs_secret_bot.storage._codec import from_text, to_text
from ecs_secret_bot.storage.db import Database

__all__ = [
    "ACTIVE_ROTATION_STATUSES",
    "ROTATION_STATUSES",
    "RotationActive",
    "RotationRow",
    "active_rotations",
    "get_active_rotation",
    "get_rotation",
    "latest_rotations",
    "rotations_since",
    "set_rotation_message",
    "set_rotation_status",
    "start_rotation",
]

ROTATION_STATUSES = ("starting", "in_progress", "completed", "failed", "timed_out")
ACTIVE_ROTATION_STATUSES = ("starting", "in_progress")


@dataclass(frozen=True)
class RotationRow:
    """One rotation the bot triggered."""

    id: int
    region: str
    secret_name: str
    version_id: str
    instance_id: str
    custom: bool
    requested_by: str
    approved_by: tuple[str, ...]
    channel_id: str
    message_ts: str | None
    status: str
    was_invalid: bool
    reason: str
    request_id: str
    started_at: datetime
    deadline: datetime
    updated_at: datetime

    @property
    def active(self) -> bool:
        """Say whether the rotation has not finished yet."""
        return self.status in ACTIVE_ROTATION_STATUSES


class RotationActive(AlreadyRecorded):
    """The secret already has a rotation in flight; ``existing`` is that row."""

    def __init__(self, existing: RotationRow) -> None:
        super().__init__(
            f"rotation {existing.id} of {existing.secret_name} in {existing.region} is "
            f"still {existing.status}"
        )
        self.existing = existing


def _row(row: sqlite3.Row) -> RotationRow:
    return RotationRow(
        id=row["id"],
        region=row["region"],
        secret_name=row["secret_name"],
        version_id=row["version_id"],
        instance_id=row["instance_id"],
        custom=bool(row["custom"]),
        requested_by=row["requested_by"],
        approved_by=tuple(p for p in row["approved_by"].split(",") if p),
        channel_id=row["channel_id"],
        message_ts=row["message_ts"],
        status=row["status"],
        was_invalid=bool(row["was_invalid"]),
        reason=row["reason"],
        request_id=row["request_id"],
        started_at=from_text(row["started_at"]),
        deadline=from_text(row["deadline"]),
        updated_at=from_text(row["updated_at"]),
    )


def _status(status: str) -> str:
    if status not in ROTATION_STATUSES:
        raise ValueError(f"unknown rotation status {status!r}")
    return status


async def start_rotation(
    db: Database,
    *,
    region: str,
    secret_name: str,
    version_id: str,
    instance_id: str,
    custom: bool,
    requested_by: str,
    approved_by: tuple[str, ...] = (),
    channel_id: str = "",
    was_invalid: bool = False,
    now: datetime,
    deadline: datetime,
) -> RotationRow:
    """Record a rotation about to be triggered; raise RotationActive if one is in flight."""
    stamp = to_text(now)
    try:
        rows = await db.fetchall(
            """INSERT INTO rotations (region, secret_name, version_id, instance_id, custom,
                   requested_by, approved_by, channel_id, status, was_invalid, started_at,
                   deadline, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'starting', ?, ?, ?, ?) RETURNING *""",
            (
                region,
                secret_name,
                version_id,
                instance_id,
                int(custom),
                requested_by,
                ",".join(approved_by),
                channel_id,
                int(was_invalid),
                stamp,
                to_text(deadline),
                stamp,
            ),
        )
    except sqlite3.IntegrityError as exc:
        if "UNIQUE" not in str(exc):
            raise
        existing = await get_active_rotation(db, region, secret_name)
        if existing is None:  # finished in between: the caller may simply try again
            raise
        raise RotationActive(existing) from None
    return _row(rows[0])


async def get_rotation(db: Database, rotation_id: int) -> RotationRow | None:
    """Return the rotation with this id."""
    row = await db.fetchone("SELECT * FROM rotations WHERE id = ?", (rotation_id,))
    return _row(row) if row else None


async def get_active_rotation(db: Database, region: str, secret_name: str) -> RotationRow | None:
    """Return the rotation of this secret that has not finished, if any."""
    row = await db.fetchone(
        """SELECT * FROM rotations WHERE region = ? AND secret_name = ?
             AND status IN ('starting', 'in_progress')""",
        (region, secret_name),
    )
    return _row(row) if row else None


async def active_rotations(db: Database, *, limit: int = 500) -> list[RotationRow]:
    """Return the rotations not finished yet, the earliest deadline first."""
    rows = await db.fetchall(
        """SELECT * FROM rotations WHERE status IN ('starting', 'in_progress')
           ORDER BY deadline, id LIMIT ?""",
        (limit,),
    )
    return [_row(r) for r in rows]


async def latest_rotations(db: Database) -> list[RotationRow]:
    """Return the latest rotation of each secret the bot ever rotated."""
    rows = await db.fetchall(
        """SELECT * FROM rotations WHERE id IN
             (SELECT max(id) FROM rotations GROUP BY region, secret_name)"""
    )
    return [_row(r) for r in rows]


async def set_rotation_status(
    db: Database,
    rotation_id: int,
    *,
    expected: tuple[str, ...],
    new: str,
    now: datetime,
    reason: str | None = None,
    request_id: str | None = None,
) -> bool:
    """Move the rotation to ``new`` only if its status is one of ``expected``."""
    marks = ", ".join("?" * len(expected))
    rows = await db.fetchall(
        f"""UPDATE rotations
               SET status = ?, updated_at = ?, reason = coalesce(?, reason),
                   request_id = coalesce(?, request_id)
             WHERE id = ? AND status IN ({marks}) RETURNING id""",
        (
            _status(new),
            to_text(now),
            reason,
            request_id,
            rotation_id,
            *(_status(s) for s in expected),
        ),
    )
    return bool(rows)


async def set_rotation_message(db: Database, rotation_id: int, *, channel_id: str, ts: str) -> None:
    """Record the Slack message that announced the rotation (it is edited at the end)."""
    await db.fetchall(
        "UPDATE rotations SET channel_id = ?, message_ts = ? WHERE id = ?",
        (channel_id, ts, rotation_id),
    )


async def rotations_since(db: Database, *, since: datetime) -> dict[tuple[str, str], int]:
    """Count the rotations started at or after ``since``, per (region, secret name)."""
    rows = await db.fetchall(
        """SELECT region, secret_name, count(*) AS n FROM rotations
            WHERE started_at >= ? GROUP BY region, secret_name""",
        (to_text(since),),
    )
    return {(r["region"], r["secret_name"]): r["n"] for r in rows}
