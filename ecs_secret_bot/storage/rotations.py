"""Rotations in flight: triggered by the bot, followed until KMS says they finished.

Owns the ``rotations`` rows. A row is *active* while ``starting`` (written before the cloud
call: a crash leaves it for the next start to settle) or ``in_progress`` (KMS accepted
the call); at most one active row per (region, secret), so a second rotation is refused
with ``RotationActive``. Every status change is a compare-and-set, so two processes
following the same rotation report it once.

Several replicas: a row names its ``follower`` (a replica id) and ``follow_until``, a
heartbeat the follower keeps renewing (``renew_follow_ups``). ``claim_follow_up`` and
``claim_follow_ups`` take a row whose follower is this replica or whose heartbeat lapsed (the
follower died), one compare-and-set each; the end is recorded under the follower's name
(``set_rotation_status(..., follower=)``), so a follower that paused past its heartbeat and
was replaced records nothing; ``mark_reported`` closes the row once its end was said, and an
end recorded but never said (the follower died in between) is claimable like a follow-up.
Never calls the cloud or decides what a state means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ecs_secret_bot.errors import AlreadyRecorded
from ecs_secret_bot.storage._codec import from_text, to_text
from ecs_secret_bot.storage._sql import Row, UniqueViolation
from ecs_secret_bot.storage.db import Database
from ecs_secret_bot.storage.leases import LAPSED

__all__ = [
    "ACTIVE_ROTATION_STATUSES",
    "ROTATION_STATUSES",
    "RotationActive",
    "RotationRow",
    "active_rotations",
    "claim_follow_up",
    "claim_follow_ups",
    "get_active_rotation",
    "get_rotation",
    "latest_rotations",
    "rotations_since",
    "mark_reported",
    "release_follow_ups",
    "renew_follow_ups",
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
    team_id: str = ""
    """The Slack workspace it was asked in ('': the single token's)."""
    follower: str = ""
    """The replica following it ("" for nobody)."""
    follow_until: datetime | None = None
    """Until when its follower's heartbeat holds it (None: never held)."""
    reported_at: datetime | None = None
    """When its end was said (None: still in flight, or its end not said yet)."""

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


def _row(row: Row) -> RotationRow:
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
        team_id=row["team_id"],
        follower=row["follower"],
        follow_until=from_text(row["follow_until"]) if row["follow_until"] else None,
        reported_at=from_text(row["reported_at"]) if row["reported_at"] else None,
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
    team_id: str = "",
    was_invalid: bool = False,
    now: datetime,
    deadline: datetime,
    follower: str = "",
    follow_until: datetime | None = None,
) -> RotationRow:
    """Record a rotation about to be triggered (followed by ``follower`` until
    ``follow_until``); raise RotationActive if one is in flight."""
    stamp = to_text(now)
    try:
        rows = await db.fetchall(
            """INSERT INTO rotations (region, secret_name, version_id, instance_id, custom,
                   requested_by, approved_by, channel_id, status, was_invalid, started_at,
                   deadline, updated_at, team_id, follower, follow_until)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'starting', ?, ?, ?, ?, ?, ?, ?) RETURNING *""",
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
                team_id,
                follower,
                to_text(follow_until) if follow_until else "",
            ),
        )
    except UniqueViolation:
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
    follower: str | None = None,
) -> bool:
    """Move the rotation to ``new`` only if its status is one of ``expected`` (and, given
    ``follower``, only if that replica still follows it)."""
    marks = ", ".join("?" * len(expected))
    rows = await db.fetchall(
        f"""UPDATE rotations
               SET status = ?, updated_at = ?, reason = coalesce(?, reason),
                   request_id = coalesce(?, request_id)
             WHERE id = ? AND status IN ({marks}) AND follower = coalesce(?, follower)
         RETURNING id""",
        (
            _status(new),
            to_text(now),
            reason,
            request_id,
            rotation_id,
            *(_status(s) for s in expected),
            follower,
        ),
    )
    return bool(rows)


# Who may follow a row: its follower, or anyone once the follower's heartbeat lapsed ('' and
# LAPSED sort before any timestamp: a row nobody held, or one given back, is free at once).
_FREE = "reported_at IS NULL AND (follower = ? OR follow_until <= ?)"


async def claim_follow_up(
    db: Database, rotation_id: int, *, follower: str, now: datetime, ttl: timedelta
) -> bool:
    """Take (or keep) the follow-up of one rotation for ``ttl``; False if another replica
    follows it, or its end was said already."""
    rows = await db.fetchall(
        f"""UPDATE rotations SET follower = ?, follow_until = ?
             WHERE id = ? AND {_FREE} RETURNING id""",
        (follower, to_text(now + ttl), rotation_id, follower, to_text(now)),
    )
    return bool(rows)


async def claim_follow_ups(
    db: Database, *, follower: str, now: datetime, ttl: timedelta, limit: int = 500
) -> list[RotationRow]:
    """Take every follow-up that is ours or whose follower's heartbeat lapsed (the earliest
    deadline first); return the rows taken."""
    stamp = to_text(now)
    rows = await db.fetchall(
        f"""UPDATE rotations SET follower = ?, follow_until = ?
             WHERE id IN (SELECT id FROM rotations WHERE {_FREE}
                           ORDER BY deadline, id LIMIT ?)
               AND {_FREE}
         RETURNING *""",
        (follower, to_text(now + ttl), follower, stamp, limit, follower, stamp),
    )
    return sorted((_row(r) for r in rows), key=lambda row: (row.deadline, row.id))


async def renew_follow_ups(
    db: Database, ids: Sequence[int], *, follower: str, now: datetime, ttl: timedelta
) -> set[int]:
    """Beat the heartbeat of the follow-ups ``follower`` holds; return the ids still held."""
    if not ids:
        return set()
    rows = await db.fetchall(
        f"""UPDATE rotations SET follow_until = ?
             WHERE follower = ? AND reported_at IS NULL AND id IN ({", ".join("?" * len(ids))})
         RETURNING id""",
        (to_text(now + ttl), follower, *ids),
    )
    return {int(row["id"]) for row in rows}


async def release_follow_ups(db: Database, *, follower: str) -> int:
    """Give back every follow-up ``follower`` holds (a stop), so another may take it at once."""
    rows = await db.fetchall(
        """UPDATE rotations SET follow_until = ?
            WHERE follower = ? AND reported_at IS NULL RETURNING id""",
        (LAPSED, follower),
    )
    return len(rows)


async def mark_reported(db: Database, rotation_id: int, *, now: datetime) -> bool:
    """Record that the rotation's end was said; False if it was already."""
    rows = await db.fetchall(
        """UPDATE rotations SET reported_at = ?
            WHERE id = ? AND reported_at IS NULL
              AND status NOT IN ('starting', 'in_progress') RETURNING id""",
        (to_text(now), rotation_id),
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
