"""The duties of approval requests: expiry, cards nobody posted, cards brought up to date,
and re-announcements of requests that waited too long.

Owns those four duties and how often a card is tried (``CARD_ATTEMPTS``, twice as long
between tries each time). Each "done" is a claim under the lease's fence (an idempotency
key, a status compare-and-set), forgotten when the notifier fails so a later tick retries.
Never talks Slack and never decides a vote.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial

from ecs_secret_bot.commands.duties.tick import Tick
from ecs_secret_bot.storage import idempotency
from ecs_secret_bot.storage.approvals import ApprovalRow, count_card_failure, list_approvals

__all__ = [
    "ANNOUNCE_AFTER",
    "CARD_ATTEMPTS",
    "CARD_MEMORY",
    "CARD_RETRIES_FOR",
    "expiry",
    "refresh_cards",
    "stale",
    "unannounced",
]

logger = logging.getLogger(__name__)

ANNOUNCE_AFTER = timedelta(minutes=1)
"""How long a request may wait for its front end to post its card before a duty does."""
CARD_ATTEMPTS = 5
"""Failed tries to post a card (the front end's included) after which nobody tries again."""
CARD_RETRIES_FOR = ANNOUNCE_AFTER * 2 ** (CARD_ATTEMPTS - 1)
"""How long after the request the last try comes: each waits twice as long as the one before."""
CARD_MEMORY = timedelta(days=30)
"""How long a card's refresh is remembered (a closed request changes no more)."""


async def expiry(tick: Tick) -> None:
    """Close the requests past their expiry, and say so once each."""
    for row in await tick.core.workflow.expire_due(fence=tick.fence):
        tick.report.expired += 1
        await tick.notifier.approval_expired(row)


async def _once(tick: Tick, key: str, ttl: timedelta, say: Callable[[], Awaitable[None]]) -> bool:
    """Call ``say`` if this runner is the first to claim ``key``; forget it if it fails."""
    core = tick.core
    if not await idempotency.claim_key(core.db, key, now=core.clock(), ttl=ttl, fence=tick.fence):
        return False
    try:
        await say()
    except Exception:
        await idempotency.release_key(core.db, key, fence=tick.fence)
        raise
    return True


def _until_expiry(row: ApprovalRow, now: datetime) -> timedelta:
    """Return how long to remember a duty done for a request: its life, an hour at least."""
    left = (row.expires_at - now) if row.expires_at else timedelta(days=30)
    return max(left, timedelta(hours=1))


async def unannounced(tick: Tick) -> None:
    """Post the cards of requests nobody posted, each on its own, a bounded number of times."""
    core = tick.core
    now = core.clock()
    for row in await list_approvals(core.db, statuses=("pending",), limit=1000):
        # A front end posts its own card right after the request; give it that moment,
        # and after each failed try twice as long as before.
        due = row.created_at + ANNOUNCE_AFTER * 2**row.card_attempts
        if row.message_ts or row.card_attempts >= CARD_ATTEMPTS or now < due:
            continue
        key = f"announce|{row.id}|{row.card_attempts}"
        if not await idempotency.claim_key(
            core.db, key, now=now, ttl=_until_expiry(row, now), fence=tick.fence
        ):
            continue  # this try is another runner's
        try:
            await tick.notifier.approval_unannounced(row)
        except Exception as exc:  # one card that cannot be posted never stops the others
            await _card_failed(tick, row, exc)
            continue
        tick.report.announced += 1


async def _card_failed(tick: Tick, row: ApprovalRow, exc: Exception) -> None:
    """Count a failed try; after the last one, have the requester told."""
    tries = await count_card_failure(tick.core.db, row.id, fence=tick.fence)
    tick.report.errors.append(f"card of {row.id}: {type(exc).__name__}")
    logger.warning("card of %s not posted (try %d of %d): %s", row.id, tries, CARD_ATTEMPTS, exc)
    if tries < CARD_ATTEMPTS:
        return
    try:
        await tick.notifier.approval_undeliverable(row)
    except Exception:
        logger.exception("could not tell the requester of %s that its card failed", row.id)


async def refresh_cards(tick: Tick) -> None:
    """Edit each card once per state it reached, wherever the vote came from."""
    statuses = ("pending", "approved", "denied", "executed", "failed")
    for row in await list_approvals(tick.core.db, statuses=statuses, limit=500):
        if not row.message_ts or (row.status == "pending" and not row.votes):
            continue
        if await _once(
            tick,
            f"card|{row.id}|{row.status}|{len(row.votes)}",
            CARD_MEMORY,
            partial(tick.notifier.approval_changed, row),
        ):
            tick.report.refreshed += 1


async def stale(tick: Tick) -> None:
    """Re-announce, once, each request that has waited longer than ``stale_after``."""
    core = tick.core
    if core.rules.stale_after is None:
        return
    now = core.clock()
    for row in await list_approvals(core.db, statuses=("pending",), limit=1000):
        if not core.rules.is_stale(row.created_at, now=now):
            continue
        if await _once(
            tick,
            f"reannounce|{row.id}",
            _until_expiry(row, now),
            partial(tick.notifier.approval_stale, row),
        ):
            tick.report.reannounced += 1
