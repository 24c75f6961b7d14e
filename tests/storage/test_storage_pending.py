"""Pending deletions: one active row per secret, CAS status changes, reminders sent once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from storage_testdata import NOW

from ecs_secret_bot.errors import AlreadyRecorded, BotError
from ecs_secret_bot.storage import Database, pending
from ecs_secret_bot.storage._sql import UniqueViolation
from ecs_secret_bot.storage.pending import AlreadyPending, NewPending


async def schedule(
    db: Database, name: str = "acs/ecs/web-3-root", *, at: timedelta = timedelta(days=7)
) -> pending.PendingDeletion:
    return await pending.record_pending(
        db,
        region="cn-hangzhou",
        secret_name=name,
        scheduled_by="U1",
        channel_id="C1",
        planned_delete_time=NOW + at,
        now=NOW,
    )


async def test_record_and_read_back(db: Database, now: datetime) -> None:
    row = await schedule(db)
    assert row.status == "pending"
    assert row.planned_delete_time == now + timedelta(days=7)
    assert row.reminders_sent == frozenset()
    assert row.message_ts is None
    assert await pending.get_active_pending(db, "cn-hangzhou", "acs/ecs/web-3-root") == row
    assert await pending.get_active_pending(db, "cn-shanghai", "acs/ecs/web-3-root") is None
    assert await pending.list_pending(db) == [row]


async def test_a_second_active_row_is_refused_carrying_the_first(db: Database) -> None:
    first = await schedule(db)
    with pytest.raises(AlreadyPending) as caught:
        await schedule(db, at=timedelta(days=30))
    assert caught.value.existing == first
    assert isinstance(caught.value, AlreadyRecorded) and not isinstance(caught.value, BotError)
    assert f"pending deletion {first.id} of acs/ecs/web-3-root" in str(caught.value)
    assert len(await pending.list_pending(db)) == 1


async def test_an_unknown_row_is_active_too(db: Database, now: datetime) -> None:
    first = await schedule(db)
    assert await pending.set_pending_status(
        db, first.id, expected=("pending",), new="unknown", now=now
    )
    with pytest.raises(AlreadyPending):
        await schedule(db)


async def test_after_a_restore_the_secret_can_be_scheduled_again(
    db: Database, now: datetime
) -> None:
    first = await schedule(db)
    assert await pending.set_pending_status(
        db, first.id, expected=("pending", "unknown"), new="restored", now=now, note="by U2"
    )
    second = await schedule(db)
    assert second.id != first.id
    restored = await pending.get_pending(db, first.id)
    assert restored is not None and (restored.status, restored.note) == ("restored", "by U2")
    assert await pending.list_pending(db, statuses=("restored",)) == [restored]


async def test_status_change_is_compare_and_set(db: Database, now: datetime) -> None:
    row = await schedule(db)
    later = now + timedelta(hours=1)
    assert await pending.set_pending_status(
        db,
        row.id,
        expected=("pending",),
        new="pending",
        now=later,
        planned_delete_time=now + timedelta(days=8),
    )
    assert await pending.set_pending_status(
        db, row.id, expected=("pending",), new="deleted", now=later
    )
    assert not await pending.set_pending_status(
        db, row.id, expected=("pending",), new="restored", now=later
    )
    final = await pending.get_pending(db, row.id)
    assert final is not None
    assert (final.status, final.planned_delete_time, final.updated_at) == (
        "deleted",
        now + timedelta(days=8),
        later,
    )


async def test_concurrent_restores_have_one_winner(databases: list[Database]) -> None:
    row = await schedule(databases[0])
    results = await asyncio.gather(
        *(
            pending.set_pending_status(
                databases[n % 5], row.id, expected=("pending",), new="restored", now=NOW
            )
            for n in range(50)
        )
    )
    assert results.count(True) == 1


async def test_unknown_statuses_are_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="status"):
        await pending.record_pending(
            db,
            region="r",
            secret_name="s",
            scheduled_by="U1",
            channel_id="C1",
            planned_delete_time=NOW,
            now=NOW,
            status="gone",
        )
    with pytest.raises(ValueError):
        await pending.list_pending(db, statuses=())


async def test_message_is_recorded(db: Database) -> None:
    row = await schedule(db)
    await pending.set_pending_message(db, row.id, channel_id="C9", ts="1700000000.000100")
    again = await pending.get_pending(db, row.id)
    assert again is not None and (again.channel_id, again.message_ts) == (
        "C9",
        "1700000000.000100",
    )


async def test_due_for_reminder_takes_the_window_and_skips_those_reminded(
    db: Database, now: datetime
) -> None:
    past = await schedule(db, "acs/ecs/past", at=-timedelta(minutes=1))
    soon = await schedule(db, "acs/ecs/soon", at=timedelta(minutes=30))
    edge = await schedule(db, "acs/ecs/edge", at=timedelta(hours=1))
    later = await schedule(db, "acs/ecs/later", at=timedelta(hours=1, seconds=1))
    restored = await schedule(db, "acs/ecs/restored", at=timedelta(minutes=10))
    await pending.set_pending_status(
        db, restored.id, expected=("pending",), new="restored", now=now
    )
    del past, later

    due = await pending.due_for_reminder(db, now=now, within=timedelta(hours=1), reminder="1h")
    assert [r.secret_name for r in due] == ["acs/ecs/soon", "acs/ecs/edge"]

    assert await pending.mark_reminder_sent(db, soon.id, "1h", now=now)
    due = await pending.due_for_reminder(db, now=now, within=timedelta(hours=1), reminder="1h")
    assert [r.id for r in due] == [edge.id]
    other = await pending.due_for_reminder(db, now=now, within=timedelta(hours=1), reminder="3d")
    assert [r.id for r in other] == [soon.id, edge.id]
    assert other[0].reminders_sent == frozenset({"1h"})
    limited = await pending.due_for_reminder(
        db, now=now, within=timedelta(days=30), reminder="x", limit=1
    )
    assert [r.id for r in limited] == [soon.id]


async def test_a_reminder_is_marked_sent_once_across_connections(
    databases: list[Database],
) -> None:
    row = await schedule(databases[0], at=timedelta(minutes=30))
    results = await asyncio.gather(
        *(pending.mark_reminder_sent(databases[n % 5], row.id, "1d", now=NOW) for n in range(50))
    )
    assert results.count(True) == 1
    assert await pending.mark_reminder_sent(databases[0], row.id, "3d", now=NOW)


async def test_due_query_is_an_index_range_scan(sqlite_db: Database) -> None:
    db = sqlite_db  # SQLite's plan; PostgreSQL chooses by its statistics
    plan = await db.fetchall(f"EXPLAIN QUERY PLAN {pending._DUE}", ("a", "b", "1h", 10))
    details = [row["detail"] for row in plan]
    assert any(
        "USING INDEX pending_by_status_time (status=? AND planned_delete_time>?" in d
        for d in details
    ), details
    assert not any("SCAN p" in d or "TEMP B-TREE" in d for d in details), details


async def test_batch_records_all_or_nothing(db: Database, now: datetime) -> None:
    items = [
        NewPending("cn-hangzhou", f"acs/ecs/s{n}", "U1", "C1", now + timedelta(days=n + 1))
        for n in range(3)
    ]
    assert await pending.record_pending_batch(db, items, now=now) == 3
    with pytest.raises(UniqueViolation):
        await pending.record_pending_batch(
            db, [NewPending("cn-hangzhou", "acs/ecs/new", "U1", "C1", now), items[0]], now=now
        )
    assert len(await pending.list_pending(db)) == 3
