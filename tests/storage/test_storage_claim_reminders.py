"""Claiming reminders in bulk: each row's reminder is won by exactly one caller."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from ecs_secret_bot.storage import Database, pending
from ecs_secret_bot.storage.pending import NewPending


async def _fill(db: Database, now: datetime, count: int) -> list[int]:
    await pending.record_pending_batch(
        db,
        [
            NewPending(
                region="cn-hangzhou",
                secret_name=f"acs/ecs/s{i}",
                scheduled_by="U1",
                channel_id="C1",
                planned_delete_time=now + timedelta(hours=5 + i),
            )
            for i in range(count)
        ],
        now=now,
    )
    return [row.id for row in await pending.list_pending(db)]


async def test_concurrent_claims_split_the_rows_without_overlap(
    db: Database, now: datetime
) -> None:
    ids = await _fill(db, now, 30)
    results = await asyncio.gather(
        *(pending.claim_reminders(db, ids, "1d", also=("3d",), now=now) for _ in range(20))
    )
    won = [pid for result in results for pid in result]
    assert sorted(won) == sorted(ids)  # every row once, by one caller
    due_3d = await pending.due_for_reminder(db, now=now, within=timedelta(days=3), reminder="3d")
    assert due_3d == []  # the farther reminder was marked moot


async def test_an_unmarked_reminder_can_be_claimed_again(db: Database, now: datetime) -> None:
    [one] = await _fill(db, now, 1)
    assert await pending.claim_reminders(db, [one], "1d", now=now) == {one}
    assert await pending.claim_reminders(db, [one], "1d", now=now) == set()
    await pending.unmark_reminder(db, one, "1d")
    assert await pending.claim_reminders(db, [one], "1d", now=now) == {one}
    assert await pending.claim_reminders(db, [], "1d", now=now) == set()
