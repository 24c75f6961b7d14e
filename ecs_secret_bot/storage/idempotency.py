"""Idempotency keys: a retried or double-submitted request runs once.

Owns the ``idempotency_keys`` rows. ``claim_key`` is one compare-and-set statement: the
first claimant (or the first after the claim expired) gets True and does the work, then
``store_result``; everyone else gets False and reads ``get_result``. Never decides what
makes a good key (a Slack ``event_id``, a view submission's hash: the caller's choice).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from ecs_secret_bot.storage._codec import canonical_json, from_text, frozen_mapping, to_text
from ecs_secret_bot.storage.db import Database
from ecs_secret_bot.storage.leases import Fence, guarded

__all__ = ["claim_key", "get_result", "purge_expired", "release_key", "store_result"]


async def claim_key(
    db: Database, key: str, *, now: datetime, ttl: timedelta, fence: Fence | None = None
) -> bool:
    """Claim ``key`` for ``ttl``; True = first claim (go ahead), False = already claimed.

    With ``fence`` (a duty's lease), the claim is refused with ``LeaseLost`` once another
    replica holds the lease."""
    if ttl <= timedelta(0):
        raise ValueError("ttl must be positive")
    stamp = to_text(now)
    async with guarded(db, fence) as run:
        rows = await run.fetchall(
            """INSERT INTO idempotency_keys (key, claimed_at, expires_at) VALUES (?, ?, ?)
               ON CONFLICT (key) DO UPDATE
                   SET claimed_at = excluded.claimed_at, expires_at = excluded.expires_at,
                       result = NULL
                 WHERE idempotency_keys.expires_at <= excluded.claimed_at
               RETURNING key""",
            (key, stamp, to_text(now + ttl)),
        )
    return bool(rows)


async def store_result(db: Database, key: str, result: Mapping[str, Any]) -> None:
    """Keep the result of the claimed request for those who retry it; KeyError if unclaimed."""
    rows = await db.fetchall(
        "UPDATE idempotency_keys SET result = ? WHERE key = ? RETURNING key",
        (canonical_json(dict(result)), key),
    )
    if not rows:
        raise KeyError(key)


async def get_result(
    db: Database, key: str, *, now: datetime | None = None
) -> Mapping[str, Any] | None:
    """Return the stored result for ``key``, or None while it runs, if never claimed, or
    (given ``now``) once it has expired."""
    row = await db.fetchone("SELECT result, expires_at FROM idempotency_keys WHERE key = ?", (key,))
    if row is None or row["result"] is None:
        return None
    if now is not None and from_text(row["expires_at"]) <= now:
        return None
    return frozen_mapping(row["result"])


async def release_key(db: Database, key: str, *, fence: Fence | None = None) -> None:
    """Drop a claim whose request failed before doing anything, so a retry may run."""
    async with guarded(db, fence) as run:
        await run.fetchall("DELETE FROM idempotency_keys WHERE key = ?", (key,))


async def purge_expired(db: Database, *, now: datetime) -> int:
    """Delete keys whose claim has expired; return how many."""
    rows = await db.fetchall(
        "DELETE FROM idempotency_keys WHERE expires_at <= ? RETURNING key", (to_text(now),)
    )
    return len(rows)
