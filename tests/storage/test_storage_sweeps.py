"""Sweeps in storage, on both engines: one transaction per sweep, one claim per secret."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from storage_testdata import KEY

from ecs_secret_bot.storage import Database, open_pg_database, rotations, sweeps
from ecs_secret_bot.storage.copy import copy_records
from ecs_secret_bot.storage.sweeps import NewSweep, NewSweepItem

ITEMS = [
    NewSweepItem("cn-hangzhou", "acs/ecs/web-3-root", "queued", user_name="root", kind="password"),
    NewSweepItem("cn-hangzhou", "acs/ecs/db-1-root", "skipped", reason="instance Stopped"),
    NewSweepItem("cn-shanghai", "acs/ecs/sh-1-root", "queued"),
]


async def _sweep(db: Database, now: datetime, sweep_id: str = "sweep-1") -> sweeps.SweepRow:
    new = NewSweep(
        sweep_id,
        "slack:user:U1",
        "INC-1",
        "C1",
        {"tags": [["incident", "42"]], "region": None},
        "digest",
        "running",
        actor={"groups": ["slack:usergroup:S1"], "team_id": "T1"},
    )
    return await sweeps.insert_sweep(db, new, ITEMS, now=now)


async def test_a_sweep_and_its_secrets_are_kept_as_written(db: Database, now: datetime) -> None:
    row = await _sweep(db, now)
    assert (row.status, row.selector["tags"], row.actor["team_id"]) == (
        "running",
        [["incident", "42"]],
        "T1",
    )
    items = await sweeps.get_sweep_items(db, "sweep-1")
    assert [(i.position, i.secret_name, i.state) for i in items] == [
        (0, "acs/ecs/web-3-root", "queued"),
        (1, "acs/ecs/db-1-root", "skipped"),
        (2, "acs/ecs/sh-1-root", "queued"),
    ]
    assert items[1].reason == "instance Stopped" and items[0].rotation_id is None
    assert [s.id for s in await sweeps.unfinished_sweeps(db)] == ["sweep-1"]


async def test_each_secret_is_claimed_once_across_processes(
    databases: list[Database], now: datetime
) -> None:
    await _sweep(databases[0], now)
    claims = await asyncio.gather(
        *(
            sweeps.set_item_state(db, "sweep-1", 0, expected=("queued",), new="running", now=now)
            for db in databases
        )
    )
    assert sorted(claims) == [False, False, False, False, True]
    assert await sweeps.set_item_state(
        databases[1],
        "sweep-1",
        0,
        expected=("running",),
        new="running",
        now=now,
        rotation_id=7,
        version_id="bot-1",
    )
    [first, *_] = await sweeps.get_sweep_items(databases[2], "sweep-1")
    assert (first.state, first.rotation_id, first.version_id) == ("running", 7, "bot-1")


async def test_stop_moves_only_the_queued_and_the_status_moves_once(
    db: Database, now: datetime
) -> None:
    await _sweep(db, now)
    assert await sweeps.set_item_state(
        db, "sweep-1", 0, expected=("queued",), new="running", now=now
    )
    stopped = await sweeps.set_items_state(
        db, "sweep-1", expected=("queued",), new="stopped", now=now, reason="stopped by U2"
    )
    assert stopped == 1
    states = [i.state for i in await sweeps.get_sweep_items(db, "sweep-1")]
    assert states == ["running", "skipped", "stopped"]
    won = await sweeps.set_sweep_status(
        db, "sweep-1", expected=("running",), new="stopping", now=now, stopped_by="U2"
    )
    again = await sweeps.set_sweep_status(
        db, "sweep-1", expected=("running",), new="stopping", now=now, stopped_by="U3"
    )
    row = await sweeps.get_sweep(db, "sweep-1")
    assert (won, again, row is not None and row.stopped_by) == (True, False, "U2")
    await sweeps.set_sweep_message(db, "sweep-1", channel_id="C1", ts="1700.1")
    await sweeps.set_sweep_status(db, "sweep-1", expected=("stopping",), new="stopped", now=now)
    assert await sweeps.unfinished_sweeps(db) == []


async def test_rotations_of_the_last_hour_are_counted_per_secret(
    db: Database, now: datetime
) -> None:
    for n, at in enumerate((now - timedelta(hours=2), now - timedelta(minutes=30), now)):
        row = await rotations.start_rotation(
            db,
            region="cn-hangzhou",
            secret_name="acs/ecs/web-3-root",
            version_id=f"v{n}",
            instance_id="i-1",
            custom=False,
            requested_by="U1",
            now=at,
            deadline=at,
        )
        await rotations.set_rotation_status(
            db, row.id, expected=("starting",), new="completed", now=at
        )
    counted = await rotations.rotations_since(db, since=now - timedelta(hours=1))
    assert counted == {("cn-hangzhou", "acs/ecs/web-3-root"): 2}


async def test_migrate_copies_the_sweeps(
    sqlite_db: Database, database_url: str, now: datetime
) -> None:
    await _sweep(sqlite_db, now)
    async with await open_pg_database(database_url, data_key=KEY) as target:
        copied = await copy_records(sqlite_db, target)
        assert (copied.count("sweeps"), copied.count("sweep_items")) == (1, 3)
        assert len(await sweeps.get_sweep_items(target, "sweep-1")) == 3
