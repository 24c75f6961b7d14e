"""Leases: one runner at a time for a background duty, across tasks, processes and replicas.

Owns the ``leases`` rows. A lease has a name (the duty), an owner (a process-unique id,
``replica_id()`` for a whole process), an expiry and a *fencing token*. Taking, renewing and
giving back are each one compare-and-set statement, so two replicas on one database never
both hold a lease that has not lapsed. A holder that stops renewing loses the lease at its
expiry; anyone may then take it over, and every new holder gets a token one higher than any
before it (a row is never deleted, only lapsed, so the count never starts again).

Why a lease row with a fencing token rather than a PostgreSQL advisory lock: an advisory lock
belongs to one database connection, so a pooled connection that is lost or recycled drops the
lock silently while the process goes on acting as the holder, and SQLite has no such lock at
all. A row works the same on both engines, says who holds it and until when (``get_lease``:
the metrics' lease-holder gauge), and its token fences the holder's writes: ``fenced`` opens a
transaction whose first statement re-reads the lease row *by token* (and, on PostgreSQL, locks
it until the commit, so a take-over waits for the write or the write sees the take-over), and
raises ``LeaseLost`` when another holder came since. A holder that paused past its TTL (a long
GC, SIGSTOP, a partition) and then wakes up cannot act on behalf of a lease it no longer
holds. Never runs the duty itself, and never trusts a clock other than the ``now`` it is given.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ecs_secret_bot.storage._codec import from_text, to_text
from ecs_secret_bot.storage._sql import Row
from ecs_secret_bot.storage.db import Database

__all__ = [
    "LAPSED",
    "Fence",
    "Lease",
    "LeaseLost",
    "Statements",
    "acquire_lease",
    "check_fence",
    "fenced",
    "get_lease",
    "guarded",
    "release_lease",
    "renew_lease",
    "replica_id",
    "take_lease",
]

LAPSED = to_text(datetime.min.replace(tzinfo=UTC))
"""The expiry of a lease given back: before any ``now``, whatever a replica's clock says."""

_REPLICA: tuple[int, str] | None = None


def replica_id() -> str:
    """Return this process's id among replicas: ``host:pid:random`` (pid 1 in every container)."""
    global _REPLICA
    if _REPLICA is None or _REPLICA[0] != os.getpid():
        _REPLICA = (os.getpid(), f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}")
    return _REPLICA[1]


@dataclass(frozen=True)
class Lease:
    """Who holds a duty, since when, until when, and under which fencing token."""

    name: str
    owner: str
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime
    token: int = 0


@dataclass(frozen=True)
class Fence:
    """A lease as its holder took it: writes made on its behalf carry it (``fenced``)."""

    name: str
    owner: str
    token: int


class LeaseLost(RuntimeError):
    """The lease was taken over (a newer token) or given back: stop acting on its behalf."""

    def __init__(self, fence: Fence) -> None:
        super().__init__(
            f"lease {fence.name!r} token {fence.token} of {fence.owner} is no longer current"
        )
        self.fence = fence


class Statements(Protocol):
    """What runs a statement: the ``Database`` (its own transaction) or an open ``Transaction``."""

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any: ...


def _row(row: Row) -> Lease:
    return Lease(
        name=row["name"],
        owner=row["owner"],
        acquired_at=from_text(row["acquired_at"]),
        renewed_at=from_text(row["renewed_at"]),
        expires_at=from_text(row["expires_at"]),
        token=int(row["token"]),
    )


def _ttl(ttl: timedelta) -> timedelta:
    if ttl <= timedelta(0):
        raise ValueError("ttl must be positive")
    return ttl


async def take_lease(
    db: Database, name: str, *, owner: str, now: datetime, ttl: timedelta
) -> Fence | None:
    """Take the lease if free or lapsed (a new token), or renew it if ours (the same token)."""
    stamp = to_text(now)
    rows = await db.fetchall(
        """INSERT INTO leases (name, owner, acquired_at, renewed_at, expires_at, token)
           VALUES (?, ?, ?, ?, ?, 1)
           ON CONFLICT (name) DO UPDATE
               SET acquired_at = CASE WHEN leases.owner = excluded.owner
                                      THEN leases.acquired_at ELSE excluded.acquired_at END,
                   token = CASE WHEN leases.owner = excluded.owner
                                THEN leases.token ELSE leases.token + 1 END,
                   owner = excluded.owner,
                   renewed_at = excluded.renewed_at,
                   expires_at = excluded.expires_at
             WHERE leases.owner = excluded.owner OR leases.expires_at <= excluded.renewed_at
           RETURNING token""",
        (name, owner, stamp, stamp, to_text(now + _ttl(ttl))),
    )
    return Fence(name, owner, int(rows[0]["token"])) if rows else None


async def acquire_lease(
    db: Database, name: str, *, owner: str, now: datetime, ttl: timedelta
) -> bool:
    """Take the lease if free or lapsed, or renew it if ours; False if someone else holds it."""
    return await take_lease(db, name, owner=owner, now=now, ttl=ttl) is not None


async def renew_lease(
    db: Database,
    name: str,
    *,
    owner: str,
    now: datetime,
    ttl: timedelta,
    token: int | None = None,
) -> bool:
    """Extend our unlapsed lease (of ``token``, if given); False if it lapsed or was taken."""
    stamp = to_text(now)
    rows = await db.fetchall(
        """UPDATE leases SET renewed_at = ?, expires_at = ?
            WHERE name = ? AND owner = ? AND expires_at > ? AND token = coalesce(?, token)
        RETURNING name""",
        (stamp, to_text(now + _ttl(ttl)), name, owner, stamp, token),
    )
    return bool(rows)


async def release_lease(db: Database, name: str, *, owner: str) -> bool:
    """Give the lease up if we hold it; False if it was not ours (any more).

    The row stays, lapsed and without an owner, so the next holder's token is still higher.
    """
    rows = await db.fetchall(
        """UPDATE leases SET owner = '', expires_at = ?
            WHERE name = ? AND owner = ? AND owner != '' RETURNING name""",
        (LAPSED, name, owner),
    )
    return bool(rows)


async def get_lease(db: Database, name: str) -> Lease | None:
    """Return the lease row (which may have lapsed), or None if nobody holds it."""
    row = await db.fetchone("SELECT * FROM leases WHERE name = ? AND owner != ''", (name,))
    return _row(row) if row else None


async def check_fence(db: Database, fence: Fence) -> None:
    """Raise LeaseLost unless ``fence`` is still the lease's current holder and token."""
    row = await db.fetchone(
        "SELECT 1 FROM leases WHERE name = ? AND owner = ? AND token = ?",
        (fence.name, fence.owner, fence.token),
    )
    if row is None:
        raise LeaseLost(fence)


@asynccontextmanager
async def fenced(db: Database, fence: Fence) -> AsyncIterator[Statements]:
    """Open a transaction that holds ``fence`` current to its commit; raise LeaseLost if not.

    The first statement touches the lease row by owner and token: on SQLite the transaction
    holds the write lock already; on PostgreSQL the row stays locked to the commit, so a
    take-over either waits for this write or is seen by it.
    """
    async with db.transaction() as tx:
        row = await tx.fetchone(
            """UPDATE leases SET token = token WHERE name = ? AND owner = ? AND token = ?
               RETURNING token""",
            (fence.name, fence.owner, fence.token),
        )
        if row is None:
            raise LeaseLost(fence)
        yield tx


@asynccontextmanager
async def guarded(
    db: Database, fence: Fence | None, *, transaction: bool = False
) -> AsyncIterator[Statements]:
    """Run statements under ``fence`` (``fenced``); without one, each on its own, or in one
    transaction if ``transaction``."""
    if fence is not None:
        async with fenced(db, fence) as tx:
            yield tx
    elif transaction:
        async with db.transaction() as plain:
            yield plain
    else:
        yield db
