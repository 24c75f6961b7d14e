"""The shared connection stays usable: failed and cancelled transactions roll back cleanly."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from ecs_secret_bot.storage import Database
from ecs_secret_bot.storage._codec import from_text, to_text


async def count(db: Database) -> int:
    row = await db.fetchone("SELECT count(*) FROM idempotency_keys")
    assert row is not None
    return int(row[0])


async def test_an_error_rolls_the_transaction_back(db: Database) -> None:
    class Boom(Exception):
        pass

    try:
        async with db.transaction() as tx:
            await tx.fetchall("INSERT INTO idempotency_keys VALUES ('k', 'a', 'b', NULL)")
            raise Boom
    except Boom:
        pass
    assert await count(db) == 0
    async with db.transaction() as tx:
        await tx.fetchall("INSERT INTO idempotency_keys VALUES ('k', 'a', 'b', NULL)")
    assert await count(db) == 1


async def test_a_cancelled_transaction_rolls_back_and_frees_the_connection(db: Database) -> None:
    inside = asyncio.Event()

    async def stuck() -> None:
        async with db.transaction() as tx:
            await tx.fetchall("INSERT INTO idempotency_keys VALUES ('k', 'a', 'b', NULL)")
            inside.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(stuck())
    await inside.wait()
    reader = asyncio.create_task(count(db))  # waits for the lock, never sees the insert
    task.cancel()
    assert await reader == 0
    assert task.cancelled()
    async with db.transaction() as tx:
        await tx.fetchall("INSERT INTO idempotency_keys VALUES ('k2', 'a', 'b', NULL)")
    assert await count(db) == 1


async def test_a_task_cancelled_while_waiting_leaves_no_open_transaction(db: Database) -> None:
    for _ in range(20):
        task = asyncio.create_task(_one_insert(db))
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    row = await db.fetchone("SELECT 1")
    assert row is not None
    async with db.transaction() as tx:  # "cannot start a transaction within a transaction"?
        await tx.fetchall("SELECT 1")


async def _one_insert(db: Database) -> None:
    async with db.transaction() as tx:
        await tx.fetchall("INSERT OR IGNORE INTO idempotency_keys VALUES ('x', 'a', 'b', NULL)")


@given(st.datetimes(timezones=st.just(UTC)), st.datetimes(timezones=st.just(UTC)))
def test_timestamp_text_sorts_like_time(a: datetime, b: datetime) -> None:
    assert (to_text(a) < to_text(b)) == (a < b)
    assert len(to_text(a)) == 27
    assert from_text(to_text(a)) == a


@given(
    st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 1, 1)), st.integers(-14, 14)
)
def test_any_offset_is_stored_as_utc(moment: datetime, hours: int) -> None:
    aware = moment.replace(tzinfo=timezone(timedelta(hours=hours)))
    assert from_text(to_text(aware)) == aware
    assert to_text(aware).endswith("Z")
