"""At start, the deletions a crash left without an outcome are settled by what KMS says.

A crash between the intent and KMS's answer leaves a pending-deletion row ``unknown``. The
next start asks KMS about each, at once (no two-minute wait: the process that sent the
call is gone) and without the duties' lease.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from fakes.core import CoreHarness

from ecs_secret_bot.commands.operations.delete import Settled, settle_unknown_deletions
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.storage import pending

NAMES = ("asked-in-vain", "never-sent", "carried-out", "deleted-at-once")


@pytest.fixture
async def h(tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[CoreHarness]:
    for name in NAMES:
        sandbox.add_ecs_secret("cn-hangzhou", name, instance_id="i-web3")
    harness = await CoreHarness.start(tmp_path, sandbox)
    try:
        yield harness
    finally:
        await harness.close()


async def intent(h: CoreHarness, name: str) -> int:
    """Record what a crash right after the intent leaves: an ``unknown`` row."""
    now = h.clock()
    row = await pending.record_pending(
        h.core.db,
        region="cn-hangzhou",
        secret_name=f"acs/ecs/{name}",
        scheduled_by="slack:user:UADMIN",
        channel_id="CINC",
        planned_delete_time=now + timedelta(days=7),
        now=now,
        status="unknown",
    )
    return row.id


async def test_each_unknown_deletion_is_settled_by_kms(h: CoreHarness) -> None:
    ids = {name: await intent(h, name) for name in NAMES}  # visited in this order
    planned = h.clock() + timedelta(days=9)
    h.sandbox.delete_out_of_band("cn-hangzhou", "acs/ecs/carried-out", planned=planned)
    h.sandbox.delete_out_of_band("cn-hangzhou", "acs/ecs/deleted-at-once", force=True)
    h.sandbox.faults.add(action="DescribeSecret", kind="drop", times=3)  # the first row's tries

    settled = await settle_unknown_deletions(h.core)

    assert settled == Settled(scheduled=1, deleted=1, dropped=1, unanswered=1)
    rows = {name: await pending.get_pending(h.core.db, ids[name]) for name in NAMES}
    assert rows["never-sent"] is None  # KMS shows it not scheduled: it never happened
    carried = rows["carried-out"]
    assert carried is not None and carried.status == "pending"
    assert abs(carried.planned_delete_time - planned) < timedelta(seconds=1)
    gone = rows["deleted-at-once"]
    assert gone is not None and gone.status == "deleted"
    vain = rows["asked-in-vain"]  # KMS did not answer: left for reconciliation
    assert vain is not None and vain.status == "unknown"

    assert await settle_unknown_deletions(h.core) == Settled(dropped=1)
    assert await pending.get_pending(h.core.db, ids["asked-in-vain"]) is None
