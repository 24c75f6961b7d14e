"""The rotation tracker: one follow-up per rotation, each end reported once, across restarts.

Over the sandbox cloud and real SQLite; the duties and the front end are played by the
calls they make (``DutyRunner.tick``, ``RotationTracker.follow`` right after the rotate
operation, as a front end does once it has announced the rotation).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from fakes.cloud import REGIONS, populate
from fakes.core import Clock, CoreHarness
from test_duties import ADMIN, RecordingNotifier, start

from ecs_secret_bot.commands.duties import DutyRunner
from ecs_secret_bot.commands.operations.rotate import rotate_secret
from ecs_secret_bot.commands.outcomes import RotateResult
from ecs_secret_bot.commands.requests import RotateRequest
from ecs_secret_bot.commands.tracker import RotationOutcome, RotationTracker
from ecs_secret_bot.errors import NotFound
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.storage.audit import list_audit


class Outcomes(RecordingNotifier):
    """Records what was said, and each rotation's outcome as the tracker reported it."""

    def __init__(self) -> None:
        super().__init__()
        self.outcomes: list[RotationOutcome] = []

    async def rotation_finished(self, outcome: RotationOutcome) -> None:
        self.outcomes.append(outcome)
        await super().rotation_finished(outcome)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def sb(clock: Clock) -> AsyncIterator[Sandbox]:
    sandbox = Sandbox(regions=REGIONS, seed=False, rotation_delay=0.3, clock=clock)
    await sandbox.start(port=0)
    populate(sandbox)
    sandbox.add_ecs_secret("cn-hangzhou", "web-3-root", instance_id="i-web3")
    try:
        yield sandbox
    finally:
        await sandbox.stop()


@pytest.fixture
async def h(tmp_path: Path, sb: Sandbox, clock: Clock) -> AsyncIterator[CoreHarness]:
    harness = await start(tmp_path, sb, clock)
    try:
        yield harness
    finally:
        await harness.close()


def duties(h: CoreHarness, notes: RecordingNotifier, tracker: RotationTracker) -> DutyRunner:
    return DutyRunner(h.core, notes, owner="p1", reconcile_every=timedelta(0), tracker=tracker)


async def rotate(h: CoreHarness) -> RotateResult:
    result = await rotate_secret(RotateRequest("web-3-root"), actor=ADMIN, core=h.core)
    assert isinstance(result, RotateResult)
    return result


def follow_up_tasks(rotation_id: int) -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == f"follow-rotation-{rotation_id}"]


async def rotation_audits(h: CoreHarness) -> list[str]:
    return [r.outcome for r in await list_audit(h.core.db) if r.outcome.startswith("rotation")]


@pytest.mark.parametrize("first", ["operation", "duty"])
async def test_the_operation_and_the_duty_start_one_follow_up(h: CoreHarness, first: str) -> None:
    notes = Outcomes()
    tracker = RotationTracker(h.core, notes)
    duty = duties(h, notes, tracker)
    result = await rotate(h)
    if first == "operation":
        tracker.follow(result.rotation_id, instance_name=result.instance_name)
        assert (await duty.tick()).followed == 0  # followed already: the duty leaves it
    else:
        assert (await duty.tick()).followed == 1  # nobody followed it yet
        tracker.follow(result.rotation_id, instance_name=result.instance_name)  # joins
    assert result.rotation_id in tracker and len(tracker) == 1
    assert len(follow_up_tasks(result.rotation_id)) == 1
    outcome = await tracker.outcome(result.rotation_id)  # a waiter joins the same follow-up
    await tracker.settle()
    assert (outcome.state, outcome.reported_here) == ("completed", True)
    assert notes.kinds("rotation") == ["acs/ecs/web-3-root completed"]
    [reported] = notes.outcomes
    assert (reported.instance_id, reported.instance_name) == ("i-web3", "web-3")
    assert await rotation_audits(h) == ["rotation completed"]
    assert len(tracker) == 0
    assert (await duty.tick()).followed == 0  # finished: nothing left to follow


async def test_a_rotation_left_by_a_previous_process_is_reported_once(
    tmp_path: Path, sb: Sandbox, clock: Clock
) -> None:
    before = await start(tmp_path, sb, clock)
    result = await rotate(before)
    await before.close()  # the process stops before anyone follows the rotation
    h = await start(tmp_path, sb, clock)  # the next process, on the same database
    try:
        notes = Outcomes()
        tracker = RotationTracker(h.core, notes)
        duty = duties(h, notes, tracker)
        assert (await duty.tick()).followed == 1
        assert (await duty.tick()).followed == 0  # followed already
        await tracker.settle()
        assert notes.kinds("rotation") == ["acs/ecs/web-3-root completed"]
        [reported] = notes.outcomes
        assert reported.rotation_id == result.rotation_id and reported.instance_id == "i-web3"
        # a late second follower (another process) learns the end and reports nothing
        late = await RotationTracker(h.core, notes).outcome(result.rotation_id)
        assert (late.state, late.reported_here) == ("completed", False)
        assert (await duties(h, notes, RotationTracker(h.core, notes)).tick()).followed == 0
        assert notes.kinds("rotation") == ["acs/ecs/web-3-root completed"]
        assert await rotation_audits(h) == ["rotation completed"]
    finally:
        await h.close()


async def test_a_failed_follow_up_goes_to_its_waiter_or_else_to_the_log(
    h: CoreHarness, caplog: pytest.LogCaptureFixture
) -> None:
    tracker = RotationTracker(h.core, Outcomes())
    with pytest.raises(NotFound):
        await tracker.outcome(404)
    tracker.follow(405)
    await tracker.settle()
    await asyncio.sleep(0)  # the follow-up's end is handled on the next turn of the loop
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures == ["following rotation 405 failed"]
    assert len(tracker) == 0
