"""Leases: one runner at a time for a background duty, across tasks and processes.

Owns the ``leases`` rows. A lease has a name (the duty), an owner (a process-unique id)
and an expiry. Taking, renewing and releasing are each one compare-and-set statement, so
two processes on one database never both hold a lease that has not lapsed. A holder that
stops renewing loses the lease at its expiry; anyone may then take it over. Never runs the
duty itself, and never trusts a clock other than the ``now`` it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ecs_secret_bot.storage._codec import from_text, to_text
from ecs_secret_bot.storage._sql import Row
from ecs_secret_bot.storage.db import Database

__all__ = ["Lease", "acquire_lease", "get_lease", "release_lease", "renew_lease"]


@dataclass(frozen=True)
class Lease:
    """Who holds a duty, since when, and until when."""

    name: str
    owner: str
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime


def _row(row: Row) -> Lease:
    return Lease(
        name=row["name"],
        owner=row["owner"],
        acquired_at=from_text(row["acquired_at"]),
        renewed_at=from_text(row["renewed_at"]),
        expires_at=from_text(row["expires_at"]),
    )


def _ttl(ttl: timedelta) -> timedelta:
    if ttl <= timedelta(0):
        raise ValueError("ttl must be positive")
    return ttl


async def acquire_lease(
    db: Database, name: str, *, owner: str, now: datetime, ttl: timedelta
) -> bool:
    """Take the lease if free or lapsed, or renew it if ours; False if someone else holds it."""
    stamp = to_text(now)
    rows = await db.fetchall(
        """INSERT INTO leases (name, owner, acquired_at, renewed_at, expires_at)
           VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE
               SET acquired_at = CASE WHEN leases.owner = excluded.owner
                                      THEN leases.acquired_at ELSE excluded.acquired_at END,
                   owner = excluded.owner,
                   renewed_at = excluded.renewed_at,
                   expires_at = excluded.expires_at
             WHERE leases.owner = excluded.owner OR leases.expires_at <= excluded.renewed_at
           RETURNING name""",
        (name, owner, stamp, stamp, to_text(now + _ttl(ttl))),
    )
    return bool(rows)


async def renew_lease(
    db: Database, name: str, *, owner: str, now: datetime, ttl: timedelta
) -> bool:
    """Extend our unlapsed lease; False if it lapsed or was taken (stop the duty then)."""
    stamp = to_text(now)
    rows = await db.fetchall(
        """UPDATE leases SET renewed_at = ?, expires_at = ?
            WHERE name = ? AND owner = ? AND expires_at > ?
        RETURNING name""",
        (stamp, to_text(now + _ttl(ttl)), name, owner, stamp),
    )
    return bool(rows)


async def release_lease(db: Database, name: str, *, owner: str) -> bool:
    """Give the lease up if we hold it; False if it was not ours (any more)."""
    rows = await db.fetchall(
        "DELETE FROM leases WHERE name = ? AND owner = ? RETURNING name", (name, owner)
    )
    return bool(rows)


async def get_lease(db: Database, name: str) -> Lease | None:
    """Return the lease row (which may have lapsed), or None if nobody holds it."""
    row = await db.fetchone("SELECT * FROM leases WHERE name = ?", (name,))
    return _row(row) if row else None
