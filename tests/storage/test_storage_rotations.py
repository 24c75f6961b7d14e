"""Rotations in flight: one per secret, compare-and-set endings, kept across a reopen."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ecs_secret_bot.storage import Database, open_database
from ecs_secret_bot.storage.pending import discard_intent, get_pending, record_pending
from ecs_secret_bot.storage.rotations import (
    RotationActive,
    active_rotations,
    get_active_rotation,
    get_rotation,
    set_rotation_message,
    set_rotation_status,
    start_rotation,
)


async def _start(db: Database, now: datetime, name: str = "acs/ecs/web-3-root", **kw: object):
    values: dict[str, object] = {
        "region": "cn-hangzhou",
        "secret_name": name,
        "version_id": "r1",
        "instance_id": "i-web3",
        "custom": False,
        "requested_by": "slack:user:U1",
        "channel_id": "C1",
        "now": now,
        "deadline": now + timedelta(minutes=10),
    }
    values.update(kw)
    return await start_rotation(db, **values)  # type: ignore[arg-type]


async def test_a_second_rotation_of_the_same_secret_is_refused(db: Database, now: datetime) -> None:
    first = await _start(db, now)
    assert first.status == "starting" and first.active
    with pytest.raises(RotationActive) as caught:
        await _start(db, now, version_id="r2")
    assert caught.value.existing.id == first.id
    assert f"rotation {first.id} of acs/ecs/web-3-root" in str(caught.value)
    # another secret, or the same secret once the first finished, is fine
    await _start(db, now, name="acs/ecs/other")
    assert await set_rotation_status(db, first.id, expected=("starting",), new="completed", now=now)
    again = await _start(db, now, version_id="r3")
    assert again.id != first.id


async def test_endings_are_compare_and_set(db: Database, now: datetime) -> None:
    row = await _start(db, now)
    assert await set_rotation_status(
        db, row.id, expected=("starting",), new="in_progress", now=now, request_id="req-1"
    )
    results = await asyncio.gather(
        *(
            set_rotation_status(
                db, row.id, expected=("in_progress",), new="completed", now=now, reason=str(n)
            )
            for n in range(50)
        )
    )
    assert results.count(True) == 1
    final = await get_rotation(db, row.id)
    assert final is not None
    assert (final.status, final.request_id) == ("completed", "req-1")
    assert await get_active_rotation(db, "cn-hangzhou", "acs/ecs/web-3-root") is None


async def test_rotations_survive_a_reopen(db_path: Path, now: datetime) -> None:
    async with await open_database(db_path) as db:
        row = await _start(db, now, approved_by=("slack:user:U2", "slack:user:U3"), custom=True)
        await set_rotation_message(db, row.id, channel_id="C9", ts="1700.5")
    async with await open_database(db_path) as db:
        [again] = await active_rotations(db)
        assert again.id == row.id
        assert again.approved_by == ("slack:user:U2", "slack:user:U3")
        assert (again.channel_id, again.message_ts, again.custom) == ("C9", "1700.5", True)


async def test_unknown_status_is_a_programming_error(db: Database, now: datetime) -> None:
    row = await _start(db, now)
    with pytest.raises(ValueError, match="unknown rotation status"):
        await set_rotation_status(db, row.id, expected=("starting",), new="done", now=now)


async def test_a_refused_deletion_intent_is_discarded_only_while_unknown(
    db: Database, now: datetime
) -> None:
    intent = await record_pending(
        db,
        region="cn-hangzhou",
        secret_name="acs/ecs/x",
        scheduled_by="slack:user:U1",
        channel_id="C1",
        planned_delete_time=now + timedelta(days=7),
        now=now,
        status="unknown",
    )
    assert await discard_intent(db, intent.id)
    assert await get_pending(db, intent.id) is None
    real = await record_pending(
        db,
        region="cn-hangzhou",
        secret_name="acs/ecs/x",
        scheduled_by="slack:user:U1",
        channel_id="C1",
        planned_delete_time=now + timedelta(days=7),
        now=now,
    )
    assert not await discard_intent(db, real.id)
    assert await get_pending(db, real.id) is not None
