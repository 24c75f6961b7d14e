"""Idempotency keys and leases: claims that succeed once, expire, and can be taken over."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from storage_testdata import NOW

from ecs_secret_bot.storage import Database, idempotency, leases

MINUTE = timedelta(minutes=1)


async def test_a_key_is_claimed_once_until_it_expires(db: Database, now: datetime) -> None:
    assert await idempotency.claim_key(db, "ev-1", now=now, ttl=MINUTE)
    assert not await idempotency.claim_key(db, "ev-1", now=now + MINUTE / 2, ttl=MINUTE)
    assert await idempotency.get_result(db, "ev-1") is None
    await idempotency.store_result(db, "ev-1", {"message": "rotation triggered", "n": 1})
    assert await idempotency.get_result(db, "ev-1") == {"message": "rotation triggered", "n": 1}
    # Once expired, a new claim starts afresh, without the old result.
    assert await idempotency.claim_key(db, "ev-1", now=now + MINUTE, ttl=MINUTE)
    assert await idempotency.get_result(db, "ev-1") is None


async def test_fifty_double_submissions_run_once(databases: list[Database]) -> None:
    results = await asyncio.gather(
        *(
            idempotency.claim_key(databases[n % 5], "view-abc", now=NOW, ttl=MINUTE)
            for n in range(50)
        )
    )
    assert results.count(True) == 1


async def test_release_purge_and_unclaimed_results(db: Database, now: datetime) -> None:
    await idempotency.claim_key(db, "a", now=now, ttl=MINUTE)
    await idempotency.claim_key(db, "b", now=now, ttl=2 * MINUTE)
    await idempotency.release_key(db, "a")
    assert await idempotency.claim_key(db, "a", now=now, ttl=MINUTE)
    assert await idempotency.purge_expired(db, now=now + MINUTE) == 1
    assert await idempotency.purge_expired(db, now=now + MINUTE) == 0
    with pytest.raises(KeyError):
        await idempotency.store_result(db, "never-claimed", {})
    with pytest.raises(ValueError, match="ttl"):
        await idempotency.claim_key(db, "c", now=now, ttl=timedelta(0))


async def test_a_lease_has_one_holder_until_it_lapses(db: Database, now: datetime) -> None:
    assert await leases.acquire_lease(db, "reminders", owner="p1", now=now, ttl=MINUTE)
    assert not await leases.acquire_lease(db, "reminders", owner="p2", now=now, ttl=MINUTE)
    # The holder renews (acquire again, or renew); the acquisition time stays.
    assert await leases.acquire_lease(db, "reminders", owner="p1", now=now + MINUTE / 2, ttl=MINUTE)
    assert await leases.renew_lease(db, "reminders", owner="p1", now=now + MINUTE, ttl=MINUTE)
    lease = await leases.get_lease(db, "reminders")
    assert lease is not None
    assert (lease.owner, lease.acquired_at, lease.expires_at) == ("p1", now, now + 2 * MINUTE)
    assert not await leases.renew_lease(db, "reminders", owner="p2", now=now, ttl=MINUTE)

    # p1 stops renewing: at expiry p2 takes over, and p1 can neither renew nor release.
    lapse = now + 2 * MINUTE
    assert not await leases.acquire_lease(
        db, "reminders", owner="p2", now=lapse - timedelta(microseconds=1), ttl=MINUTE
    )
    assert await leases.acquire_lease(db, "reminders", owner="p2", now=lapse, ttl=MINUTE)
    assert not await leases.renew_lease(db, "reminders", owner="p1", now=lapse, ttl=MINUTE)
    assert not await leases.release_lease(db, "reminders", owner="p1")
    taken = await leases.get_lease(db, "reminders")
    assert taken is not None and (taken.owner, taken.acquired_at) == ("p2", lapse)

    assert await leases.release_lease(db, "reminders", owner="p2")
    assert await leases.get_lease(db, "reminders") is None
    assert await leases.acquire_lease(db, "reminders", owner="p1", now=lapse, ttl=MINUTE)


async def test_a_lapsed_lease_cannot_be_renewed(db: Database, now: datetime) -> None:
    assert await leases.acquire_lease(db, "sweep", owner="p1", now=now, ttl=MINUTE)
    assert not await leases.renew_lease(db, "sweep", owner="p1", now=now + MINUTE, ttl=MINUTE)
    assert await leases.acquire_lease(db, "sweep", owner="p1", now=now + MINUTE, ttl=MINUTE)


async def test_fifty_runners_one_lease(databases: list[Database]) -> None:
    results = await asyncio.gather(
        *(
            leases.acquire_lease(databases[n % 5], "reconcile", owner=f"p{n}", now=NOW, ttl=MINUTE)
            for n in range(50)
        )
    )
    assert results.count(True) == 1
    lease = await leases.get_lease(databases[0], "reconcile")
    assert lease is not None and lease.owner == f"p{results.index(True)}"


async def test_an_expired_result_is_not_given_again(db: Database, now: datetime) -> None:
    from datetime import timedelta

    from ecs_secret_bot.storage import idempotency

    assert await idempotency.claim_key(db, "req-9", now=now, ttl=timedelta(minutes=5))
    await idempotency.store_result(db, "req-9", {"ok": True})
    assert await idempotency.get_result(db, "req-9", now=now) == {"ok": True}
    assert await idempotency.get_result(db, "req-9", now=now + timedelta(minutes=6)) is None
