"""Fencing tokens and held follow-ups: what several replicas on one database rely on.

A lease's token grows at each new holder (never at a renewal, never back after a give-back);
a write made under a token that is no longer current is refused whole. A rotation's
follow-up is held by one replica while its heartbeat beats, and free once it lapses.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from storage_testdata import NOW

from ecs_secret_bot.storage import Database, idempotency, leases, pending, rotations
from ecs_secret_bot.storage.leases import LeaseLost

MINUTE = timedelta(minutes=1)


async def test_each_new_holder_gets_a_higher_token(db: Database, now: datetime) -> None:
    first = await leases.take_lease(db, "duties", owner="a", now=now, ttl=MINUTE)
    assert first is not None and first.token == 1
    renewed = await leases.take_lease(db, "duties", owner="a", now=now + MINUTE / 2, ttl=MINUTE)
    assert renewed == first  # a renewal keeps the token
    assert await leases.take_lease(db, "duties", owner="b", now=now, ttl=MINUTE) is None
    taken = await leases.take_lease(db, "duties", owner="b", now=now + 2 * MINUTE, ttl=MINUTE)
    assert taken is not None and taken.token == 2
    # Given back, the row stays: the next holder's token is higher still, whoever it is.
    assert await leases.release_lease(db, "duties", owner="b")
    assert await leases.get_lease(db, "duties") is None
    again = await leases.take_lease(db, "duties", owner="a", now=now, ttl=MINUTE)
    assert again is not None and again.token == 3
    held = await leases.get_lease(db, "duties")
    assert held is not None and (held.owner, held.token) == ("a", 3)


async def test_a_write_under_a_replaced_token_is_refused_whole(db: Database, now: datetime) -> None:
    old = await leases.take_lease(db, "duties", owner="a", now=now, ttl=MINUTE)
    assert old is not None
    assert await idempotency.claim_key(db, "card|1", now=now, ttl=MINUTE, fence=old)
    # "a" pauses past its TTL; "b" takes over; "a" wakes up and writes on.
    new = await leases.take_lease(db, "duties", owner="b", now=now + 2 * MINUTE, ttl=MINUTE)
    assert new is not None and new.token == old.token + 1
    row = await pending.record_pending(
        db,
        region="cn-hangzhou",
        secret_name="acs/ecs/web-3-root",
        scheduled_by="U1",
        channel_id="C1",
        planned_delete_time=now + timedelta(days=2),
        now=now,
    )
    with pytest.raises(LeaseLost):
        await pending.claim_reminders(db, [row.id], "3d", now=now, fence=old)
    with pytest.raises(LeaseLost):
        await idempotency.claim_key(db, "card|2", now=now, ttl=MINUTE, fence=old)
    with pytest.raises(LeaseLost):
        await pending.set_pending_status(
            db, row.id, expected=("pending",), new="deleted", now=now, fence=old
        )
    untouched = await pending.get_pending(db, row.id)
    assert untouched is not None and untouched.reminders_sent == frozenset()
    # The current holder's writes go through.
    assert await pending.claim_reminders(db, [row.id], "3d", now=now, fence=new) == {row.id}
    assert await idempotency.claim_key(db, "card|2", now=now, ttl=MINUTE, fence=new)
    # A renewal by the replaced holder fails too.
    assert not await leases.renew_lease(
        db, "duties", owner="a", now=now + 2 * MINUTE, ttl=MINUTE, token=old.token
    )


async def test_fifty_replicas_racing_for_a_lapsed_lease_make_one_holder(
    databases: list[Database],
) -> None:
    fences = await asyncio.gather(
        *(
            leases.take_lease(databases[n % 5], "duties", owner=f"r{n}", now=NOW, ttl=MINUTE)
            for n in range(50)
        )
    )
    held = [fence for fence in fences if fence is not None]
    assert len(held) == 1 and held[0].token == 1


async def start(db: Database, now: datetime, **kw: object) -> rotations.RotationRow:
    values: dict[str, object] = dict(
        region="cn-hangzhou",
        secret_name="acs/ecs/web-3-root",
        version_id="v1",
        instance_id="i-1",
        custom=False,
        requested_by="U1",
        now=now,
        deadline=now + 10 * MINUTE,
    )
    values.update(kw)
    return await rotations.start_rotation(db, **values)  # type: ignore[arg-type]


async def test_a_follow_up_is_held_while_its_heartbeat_beats(db: Database, now: datetime) -> None:
    row = await start(db, now, follower="a", follow_until=now + MINUTE)
    assert not await rotations.claim_follow_up(db, row.id, follower="b", now=now, ttl=MINUTE)
    assert await rotations.claim_follow_ups(db, follower="b", now=now, ttl=MINUTE) == []
    # "a" beats: still held a minute later.
    later = now + MINUTE
    assert await rotations.renew_follow_ups(db, [row.id], follower="a", now=now, ttl=MINUTE) == {
        row.id
    }
    assert (
        await rotations.claim_follow_ups(db, follower="b", now=later - MINUTE / 2, ttl=MINUTE) == []
    )
    # "a" dies: once its heartbeat lapses, "b" takes the follow-up over, once.
    [taken] = await rotations.claim_follow_ups(db, follower="b", now=later, ttl=MINUTE)
    assert (taken.id, taken.follower) == (row.id, "b")
    assert await rotations.claim_follow_ups(db, follower="c", now=later, ttl=MINUTE) == []
    # "a" wakes up: its record of the end is refused, "b"'s goes through.
    assert not await rotations.set_rotation_status(
        db, row.id, expected=("starting",), new="completed", now=later, follower="a"
    )
    assert await rotations.set_rotation_status(
        db, row.id, expected=("starting",), new="completed", now=later, follower="b"
    )
    assert (
        await rotations.renew_follow_ups(db, [row.id], follower="a", now=later, ttl=MINUTE) == set()
    )
    # Recorded, not said yet: still "b"'s; once said, nobody's.
    assert not await rotations.claim_follow_up(db, row.id, follower="c", now=later, ttl=MINUTE)
    assert await rotations.mark_reported(db, row.id, now=later)
    assert not await rotations.mark_reported(db, row.id, now=later)
    assert (
        await rotations.claim_follow_ups(db, follower="c", now=later + 9 * MINUTE, ttl=MINUTE) == []
    )


async def test_a_follow_up_given_back_is_free_at_once(db: Database, now: datetime) -> None:
    row = await start(db, now, follower="a", follow_until=now + MINUTE)
    assert await rotations.release_follow_ups(db, follower="a") == 1
    [taken] = await rotations.claim_follow_ups(db, follower="b", now=now, ttl=MINUTE)
    assert taken.id == row.id
