"""Pending deletions: secrets scheduled for deletion, until they are restored or gone.

Owns the ``pending_deletions`` rows and the reminders sent for them. A row is *active*
while its status is ``pending`` or ``unknown`` (a crash left the outcome open); at most
one active row exists per (region, secret): ``record_pending`` raises ``AlreadyPending``,
carrying the existing row, rather than keep two. Every status change and every
"reminder sent" is a compare-and-set, safe across tasks and processes; the writes the duties
make take their lease's ``fence`` (``leases.fenced``), refused once another replica took the
lease over. Never decides
when to remind or whether KMS agrees: that is the caller's business.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ecs_secret_bot.errors import AlreadyRecorded
from ecs_secret_bot.storage._codec import from_text, to_text
from ecs_secret_bot.storage._sql import Row, UniqueViolation
from ecs_secret_bot.storage.db import Database
from ecs_secret_bot.storage.leases import Fence, guarded

__all__ = [
    "ACTIVE_STATUSES",
    "PENDING_STATUSES",
    "AlreadyPending",
    "NewPending",
    "PendingDeletion",
    "active_after",
    "claim_reminders",
    "discard_intent",
    "due_for_reminder",
    "get_active_pending",
    "get_pending",
    "list_pending",
    "mark_reminder_sent",
    "record_pending",
    "record_pending_batch",
    "set_pending_message",
    "set_pending_status",
    "unmark_reminder",
]

PENDING_STATUSES = ("pending", "restored", "deleted", "unknown")
ACTIVE_STATUSES = ("pending", "unknown")

# The reminders already sent ride along as a JSON array, so one statement reads a row whole.
_SELECT = """
SELECT p.*,
       (SELECT json_group_array(r.label) FROM pending_reminders AS r
         WHERE r.pending_id = p.id) AS reminders
FROM pending_deletions AS p
"""

# A range scan on pending_by_status_time, in index order: the cost follows the rows due,
# not the size of the table (tests check the plan; bench/storage.py checks the time).
_DUE = f"""{_SELECT}
WHERE p.status = 'pending'
  AND p.planned_delete_time > ? AND p.planned_delete_time <= ?
  AND NOT EXISTS (SELECT 1 FROM pending_reminders AS s WHERE s.pending_id = p.id AND s.label = ?)
ORDER BY p.planned_delete_time, p.id
LIMIT ?"""


@dataclass(frozen=True)
class PendingDeletion:
    """One scheduled deletion as the bot recorded it."""

    id: int
    region: str
    secret_name: str
    scheduled_by: str
    channel_id: str
    message_ts: str | None
    planned_delete_time: datetime
    status: str
    reminders_sent: frozenset[str]
    created_at: datetime
    updated_at: datetime
    note: str
    team_id: str = ""
    """The Slack workspace it was scheduled from ('': the single token's)."""


@dataclass(frozen=True)
class NewPending:
    """A deletion to record with ``record_pending_batch``."""

    region: str
    secret_name: str
    scheduled_by: str
    channel_id: str
    planned_delete_time: datetime
    status: str = "pending"
    note: str = ""
    team_id: str = ""


class AlreadyPending(AlreadyRecorded):
    """The secret already has an active pending deletion; ``existing`` is that row."""

    def __init__(self, existing: PendingDeletion) -> None:
        super().__init__(
            f"pending deletion {existing.id} of {existing.secret_name} in {existing.region} "
            f"is still {existing.status}"
        )
        self.existing = existing


def _row(row: Row) -> PendingDeletion:
    return PendingDeletion(
        id=row["id"],
        region=row["region"],
        secret_name=row["secret_name"],
        scheduled_by=row["scheduled_by"],
        channel_id=row["channel_id"],
        message_ts=row["message_ts"],
        planned_delete_time=from_text(row["planned_delete_time"]),
        status=row["status"],
        reminders_sent=frozenset(json.loads(row["reminders"])),
        created_at=from_text(row["created_at"]),
        updated_at=from_text(row["updated_at"]),
        note=row["note"],
        team_id=row["team_id"],
    )


def _status(status: str) -> str:
    if status not in PENDING_STATUSES:
        raise ValueError(f"pending deletion status must be one of {PENDING_STATUSES}: {status!r}")
    return status


def _placeholders(values: tuple[Any, ...]) -> str:
    if not values:
        raise ValueError("give at least one status")
    return ", ".join("?" * len(values))


async def get_pending(db: Database, pending_id: int) -> PendingDeletion | None:
    """Return the row with this id, whatever its status."""
    row = await db.fetchone(f"{_SELECT} WHERE p.id = ?", (pending_id,))
    return _row(row) if row else None


async def record_pending(
    db: Database,
    *,
    region: str,
    secret_name: str,
    scheduled_by: str,
    channel_id: str,
    planned_delete_time: datetime,
    now: datetime,
    status: str = "pending",
    note: str = "",
    team_id: str = "",
    fence: Fence | None = None,
) -> PendingDeletion:
    """Record a scheduled deletion; raise AlreadyPending if the secret has an active one."""
    stamp = to_text(now)
    try:
        async with guarded(db, fence) as run:
            rows = await run.fetchall(
                """INSERT INTO pending_deletions (region, secret_name, scheduled_by, channel_id,
                       planned_delete_time, status, created_at, updated_at, note, team_id)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *, '[]' AS reminders""",
                (
                    region,
                    secret_name,
                    scheduled_by,
                    channel_id,
                    to_text(planned_delete_time),
                    _status(status),
                    stamp,
                    stamp,
                    note,
                    team_id,
                ),
            )
    except UniqueViolation:
        if status not in ACTIVE_STATUSES:
            raise
        existing = await get_active_pending(db, region, secret_name)
        if existing is None:  # restored in between: the caller may simply try again
            raise
        raise AlreadyPending(existing) from None
    return _row(rows[0])


async def record_pending_batch(db: Database, items: Sequence[NewPending], *, now: datetime) -> int:
    """Record many deletions in one transaction (imports); any conflict rolls back them all."""
    stamp = to_text(now)
    values = [
        (
            item.region,
            item.secret_name,
            item.scheduled_by,
            item.channel_id,
            to_text(item.planned_delete_time),
            _status(item.status),
            stamp,
            stamp,
            item.note,
            item.team_id,
        )
        for item in items
    ]
    async with db.transaction() as tx:
        await tx.executemany(
            """INSERT INTO pending_deletions (region, secret_name, scheduled_by, channel_id,
                   planned_delete_time, status, created_at, updated_at, note, team_id)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            values,
        )
    return len(values)


async def get_active_pending(db: Database, region: str, secret_name: str) -> PendingDeletion | None:
    """Return the active (pending or unknown) row for this secret, if any."""
    row = await db.fetchone(
        f"{_SELECT} WHERE p.region = ? AND p.secret_name = ?"
        " AND p.status IN ('pending', 'unknown')",
        (region, secret_name),
    )
    return _row(row) if row else None


async def list_pending(
    db: Database, *, statuses: tuple[str, ...] = ACTIVE_STATUSES, limit: int = 200
) -> list[PendingDeletion]:
    """Return rows in these statuses, soonest planned deletion first."""
    for status in statuses:
        _status(status)
    rows = await db.fetchall(
        f"{_SELECT} WHERE p.status IN ({_placeholders(statuses)})"
        " ORDER BY p.planned_delete_time, p.id LIMIT ?",
        (*statuses, limit),
    )
    return [_row(r) for r in rows]


async def set_pending_status(
    db: Database,
    pending_id: int,
    *,
    expected: tuple[str, ...],
    new: str,
    now: datetime,
    planned_delete_time: datetime | None = None,
    note: str | None = None,
    fence: Fence | None = None,
) -> bool:
    """Move the row to ``new`` only if its status is one of ``expected``; False otherwise."""
    for status in expected:
        _status(status)
    async with guarded(db, fence) as run:
        rows = await run.fetchall(
            f"""UPDATE pending_deletions
                   SET status = ?, updated_at = ?,
                       planned_delete_time = coalesce(?, planned_delete_time),
                       note = coalesce(?, note)
                 WHERE id = ? AND status IN ({_placeholders(expected)})
             RETURNING id""",
            (
                _status(new),
                to_text(now),
                to_text(planned_delete_time) if planned_delete_time else None,
                note,
                pending_id,
                *expected,
            ),
        )
    return bool(rows)


async def set_pending_message(db: Database, pending_id: int, *, channel_id: str, ts: str) -> None:
    """Record the Slack message that announced the deletion."""
    await db.fetchall(
        "UPDATE pending_deletions SET channel_id = ?, message_ts = ? WHERE id = ?",
        (channel_id, ts, pending_id),
    )


async def due_for_reminder(
    db: Database, *, now: datetime, within: timedelta, reminder: str, limit: int = 500
) -> list[PendingDeletion]:
    """Return pending rows planned in (now, now + within] that have not had ``reminder``."""
    rows = await db.fetchall(_DUE, (to_text(now), to_text(now + within), reminder, limit))
    return [_row(r) for r in rows]


async def mark_reminder_sent(
    db: Database, pending_id: int, reminder: str, *, now: datetime
) -> bool:
    """Mark ``reminder`` sent for the row; True only for the first caller, who sends it."""
    rows = await db.fetchall(
        """INSERT INTO pending_reminders (pending_id, label, sent_at) VALUES (?, ?, ?)
           ON CONFLICT (pending_id, label) DO NOTHING RETURNING pending_id""",
        (pending_id, reminder, to_text(now)),
    )
    return bool(rows)


async def discard_intent(db: Database, pending_id: int, *, fence: Fence | None = None) -> bool:
    """Delete an ``unknown`` row written before a cloud call that was then refused."""
    async with guarded(db, fence) as run:
        rows = await run.fetchall(
            "DELETE FROM pending_deletions WHERE id = ? AND status = 'unknown' RETURNING id",
            (pending_id,),
        )
    return bool(rows)


async def unmark_reminder(
    db: Database, pending_id: int, reminder: str, *, fence: Fence | None = None
) -> None:
    """Forget that ``reminder`` was sent (its sending failed), so a later tick sends it."""
    async with guarded(db, fence) as run:
        await run.fetchall(
            "DELETE FROM pending_reminders WHERE pending_id = ? AND label = ?",
            (pending_id, reminder),
        )


async def claim_reminders(
    db: Database,
    pending_ids: Sequence[int],
    reminder: str,
    *,
    also: Sequence[str] = (),
    now: datetime,
    fence: Fence | None = None,
) -> set[int]:
    """Mark ``reminder`` sent for many rows at once; return the ids this call won.

    ``also`` marks further labels on the rows won (reminders made moot by this one). One
    transaction, two statements, whatever the number of rows: the duty tick stays cheap.
    """
    if not pending_ids:
        return set()
    stamp = to_text(now)
    async with guarded(db, fence, transaction=True) as tx:
        rows = await tx.fetchall(
            f"""INSERT INTO pending_reminders (pending_id, label, sent_at)
                VALUES {", ".join("(?, ?, ?)" for _ in pending_ids)}
                ON CONFLICT (pending_id, label) DO NOTHING RETURNING pending_id""",
            [value for pid in pending_ids for value in (pid, reminder, stamp)],
        )
        won = {row[0] for row in rows}
        pairs = [(pid, label) for pid in sorted(won) for label in also]
        if pairs:
            await tx.fetchall(
                f"""INSERT INTO pending_reminders (pending_id, label, sent_at)
                    VALUES {", ".join("(?, ?, ?)" for _ in pairs)}
                    ON CONFLICT (pending_id, label) DO NOTHING""",
                [value for pid, label in pairs for value in (pid, label, stamp)],
            )
    return won


async def active_after(db: Database, after_id: int, *, limit: int) -> list[PendingDeletion]:
    """Return active rows with an id above ``after_id``, in id order (a resumable scan)."""
    rows = await db.fetchall(
        f"{_SELECT} WHERE p.status IN ('pending', 'unknown') AND p.id > ? ORDER BY p.id LIMIT ?",
        (after_id, limit),
    )
    return [_row(r) for r in rows]
