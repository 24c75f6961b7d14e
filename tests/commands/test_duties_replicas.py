"""Several replicas on one database: a paused lease holder is fenced off, and the follow-ups
of a replica that died are taken over and reported once by a survivor.

The replicas are played in one process by runners and trackers with owners of their own,
over the sandbox cloud and each engine (SQLite, a throwaway PostgreSQL), with a controlled
clock (a "pause" is the clock moving past a TTL while one replica waits).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from fakes.cloud import REGIONS, populate
from fakes.core import Clock, CoreHarness
from test_duties import ADMIN, RecordingNotifier, schedule
from test_tracker import Outcomes

from ecs_secret_bot.commands.duties import DutyRunner, duty_lease
from ecs_secret_bot.commands.operations.rotate import rotate_secret
from ecs_secret_bot.commands.outcomes import RotateResult
from ecs_secret_bot.commands.requests import RotateRequest
from ecs_secret_bot.commands.tracker import RotationTracker
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.storage import rotations

TTL = timedelta(seconds=30)
SETTINGS = '[reminders]\nbefore = ["8d", "3d"]\n[duties]\ninterval = "10s"\nlease_ttl = "30s"\n'


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def sb(clock: Clock) -> AsyncIterator[Sandbox]:
    sandbox = Sandbox(regions=REGIONS, seed=False, rotation_delay=0.05, clock=clock)
    await sandbox.start(port=0)
    populate(sandbox)
    for name in ("web-3-root", "db-1-root"):
        sandbox.add_ecs_secret("cn-hangzhou", name, instance_id="i-web3")
    try:
        yield sandbox
    finally:
        await sandbox.stop()


@pytest.fixture(params=["sqlite", "postgres"])
async def h(
    tmp_path: Path, sb: Sandbox, clock: Clock, request: pytest.FixtureRequest
) -> AsyncIterator[CoreHarness]:
    url = request.getfixturevalue("database_url") if request.param == "postgres" else ""
    harness = await CoreHarness.start(tmp_path, sb, clock=clock, extra=SETTINGS, database_url=url)
    try:
        yield harness
    finally:
        await harness.close()


class PausingNotifier(RecordingNotifier):
    """Blocks in its first reminder until ``resume`` is set (a holder frozen mid-tick)."""

    def __init__(self) -> None:
        super().__init__()
        self.paused = asyncio.Event()
        self.resume = asyncio.Event()

    async def remind(self, row: object, *, label: str) -> None:
        if not self.paused.is_set():
            self.paused.set()
            await self.resume.wait()
        await super().remind(row, label=label)  # type: ignore[arg-type]


def replica(h: CoreHarness, notes: RecordingNotifier, owner: str) -> DutyRunner:
    tracker = RotationTracker(h.core, notes, owner=owner, ttl=TTL)
    return DutyRunner(
        h.core, notes, owner=owner, lease_ttl=TTL, reconcile_every=timedelta(0), tracker=tracker
    )


async def test_a_holder_that_paused_past_its_ttl_is_fenced_off(
    h: CoreHarness, clock: Clock
) -> None:
    await schedule(h, "web-3-root", 7)
    await schedule(h, "db-1-root", 9)
    clock.advance(timedelta(days=5))  # web-3: 2 days left (3d due); db-1: 4 days (8d due)
    a_notes, b_notes = PausingNotifier(), RecordingNotifier()
    a, b = replica(h, a_notes, "a"), replica(h, b_notes, "b")
    a_notes.said.clear()
    ticking = asyncio.create_task(a.tick())
    await a_notes.paused.wait()  # "a" claimed the 3-day reminder and froze sending it
    clock.advance(2 * TTL)  # ... past its TTL: "b" takes over and does the rest
    b_report = await b.tick()
    assert b_report.ran and b_report.token == 2
    lease = await duty_lease(h.core)
    assert lease is not None and (lease.owner, lease.token, lease.held) == ("b", 2, True)
    a_notes.resume.set()  # "a" wakes up: it finishes the post it had claimed, then stops
    a_report = await ticking
    assert a_report.lease_lost and a_report.token == 1
    assert a_notes.kinds("remind") == ["acs/ecs/web-3-root 3d"]
    assert b_notes.kinds("remind") == ["acs/ecs/db-1-root 8d"]
    assert not a.holds_lease and b.holds_lease
    assert not (await a.tick()).ran


async def test_the_follow_up_of_a_replica_that_died_is_reported_once_by_a_survivor(
    h: CoreHarness, clock: Clock
) -> None:
    result = await rotate_secret(RotateRequest("web-3-root"), actor=ADMIN, core=h.core)
    assert isinstance(result, RotateResult)
    row = await rotations.get_rotation(h.core.db, result.rotation_id)
    assert row is not None and row.follower  # held by the replica that triggered it
    # That replica dies before following it: nobody beats its heartbeat.
    survivors = [replica(h, Outcomes(), owner) for owner in ("b", "c")]
    assert [(await s.tick()).followed for s in survivors] == [0, 0]  # still held
    clock.advance(timedelta(seconds=45))  # its heartbeat (30 s) lapsed
    followed = [(await s.tick()).followed for s in survivors]
    assert sorted(followed) == [0, 1]  # one survivor took it over
    for survivor in survivors:
        await survivor.tracker.settle()
    said = [n for s in survivors for n in s.notifier.kinds("rotation")]  # type: ignore[attr-defined]
    assert said == ["acs/ecs/web-3-root completed"]
    done = await rotations.get_rotation(h.core.db, result.rotation_id)
    assert done is not None and done.reported_at is not None and done.follower in ("b", "c")


async def test_an_end_recorded_by_a_replica_that_died_before_saying_it_is_said_by_another(
    h: CoreHarness, clock: Clock
) -> None:
    result = await rotate_secret(RotateRequest("web-3-root"), actor=ADMIN, core=h.core)
    assert isinstance(result, RotateResult)
    now = clock()
    assert (
        await rotations.claim_follow_up(
            h.core.db, result.rotation_id, follower="dead", now=now, ttl=TTL
        )
        is False
    )  # held by the replica that triggered it...
    clock.advance(timedelta(seconds=45))
    now = clock()
    assert await rotations.claim_follow_up(
        h.core.db, result.rotation_id, follower="dead", now=now, ttl=TTL
    )  # ... which died; "dead" took it, recorded its end, and died before saying it
    assert await rotations.set_rotation_status(
        h.core.db,
        result.rotation_id,
        expected=("starting", "in_progress"),
        new="completed",
        now=now,
        follower="dead",
    )
    survivor = replica(h, Outcomes(), "b")
    assert (await survivor.tick()).followed == 0  # "dead"'s heartbeat still holds
    clock.advance(2 * TTL)
    assert (await survivor.tick()).followed == 1
    await survivor.tracker.settle()
    assert survivor.notifier.kinds("rotation") == ["acs/ecs/web-3-root completed"]  # type: ignore[attr-defined]
    assert (await survivor.tick()).followed == 0  # said: nobody's any more
