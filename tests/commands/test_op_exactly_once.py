"""Many people click at once on one secret: KMS hears of it once.

Each click is its own request (its own request id, as two people's clicks are); the
idempotency key does not join them. What does is the secret's in-flight claim: the first
request holds it from its re-check to its record, the others are told who is at it, and
one arriving after the first finished re-checks and finds nothing left to do.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from fakes.core import CoreHarness, actor

from ecs_secret_bot.commands import inflight
from ecs_secret_bot.commands.operations.delete import delete_secret
from ecs_secret_bot.commands.operations.restore import restore_secret
from ecs_secret_bot.commands.operations.rotate import rotate_secret
from ecs_secret_bot.commands.outcomes import DeleteResult, RestoreResult, RotateResult
from ecs_secret_bot.commands.requests import DeleteRequest, RestoreRequest, RotateRequest
from ecs_secret_bot.errors import Conflict
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.storage import leases, pending

ADMIN = actor("UADMIN")
NAME = "acs/ecs/web-3-root"
CLICKS = 100


@pytest.fixture
async def h(tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[CoreHarness]:
    sandbox.add_ecs_secret("cn-hangzhou", "web-3-root", instance_id="i-web3")
    harness = await CoreHarness.start(tmp_path, sandbox)
    try:
        yield harness
    finally:
        await harness.close()


def clickers(count: int) -> list[str]:
    return [f"U{index:03d}" for index in range(count)]


async def test_a_hundred_restore_clicks_send_one_restore(h: CoreHarness) -> None:
    first = await delete_secret(DeleteRequest("web-3-root", days=7), actor=ADMIN, core=h.core)
    assert isinstance(first, DeleteResult)
    h.sandbox.calls.clear()
    h.sandbox.faults.add(action="RestoreSecret", kind="latency", latency=0.2)

    answers = await asyncio.gather(
        *(
            restore_secret(
                RestoreRequest("web-3-root", request_id=f"click-{i}"),
                actor=actor("UADMIN", channel_id=f"C{i}"),
                core=h.core,
            )
            for i in range(CLICKS)
        ),
        return_exceptions=True,
    )

    assert h.sandbox.calls.total("RestoreSecret") == 1
    restored = [a for a in answers if isinstance(a, RestoreResult)]
    refused = [a for a in answers if isinstance(a, Conflict)]
    assert len(restored) == 1 and len(refused) == CLICKS - 1, answers
    # Those who came while it ran are told who is at it; the latecomers, that it is done.
    assert any("being changed right now" in r.user_message for r in refused)
    assert all(
        "being changed right now" in r.user_message or "not scheduled" in r.user_message
        for r in refused
    )
    row = await pending.get_pending(h.core.db, first.pending_id or 0)
    assert row is not None and row.status == "restored"
    assert await inflight.holder(h.core, "cn-hangzhou", NAME) is None


async def test_concurrent_deletes_of_one_secret_send_one_delete(h: CoreHarness) -> None:
    h.sandbox.faults.add(action="DeleteSecret", kind="latency", latency=0.2)
    answers = await asyncio.gather(
        *(
            delete_secret(
                DeleteRequest("web-3-root", days=7, request_id=f"submit-{i}"),
                actor=ADMIN,
                core=h.core,
            )
            for i in range(20)
        ),
        return_exceptions=True,
    )
    assert h.sandbox.calls.total("DeleteSecret") == 1
    assert sum(isinstance(a, DeleteResult) for a in answers) == 1
    assert all(isinstance(a, DeleteResult | Conflict) for a in answers), answers
    assert len(await pending.list_pending(h.core.db)) == 1


async def test_concurrent_rotations_of_one_secret_trigger_one(h: CoreHarness) -> None:
    h.sandbox.faults.add(action="RotateSecret", kind="latency", latency=0.2)
    answers = await asyncio.gather(
        *(
            rotate_secret(
                RotateRequest("web-3-root", request_id=f"submit-{i}"), actor=ADMIN, core=h.core
            )
            for i in range(20)
        ),
        return_exceptions=True,
    )
    assert h.sandbox.calls.total("RotateSecret") == 1
    assert sum(isinstance(a, RotateResult) for a in answers) == 1
    assert all(isinstance(a, RotateResult | Conflict) for a in answers), answers


async def test_a_claim_left_by_a_crash_lapses(h: CoreHarness) -> None:
    # A process died holding the claim (its owner names the request it ran).
    assert await leases.acquire_lease(
        h.core.db,
        inflight.claim_name("cn-hangzhou", NAME),
        owner="0123abcd kms:RotateSecret slack:user:UGONE",
        now=h.clock(),
        ttl=inflight.CLAIM_TTL,
    )
    with pytest.raises(inflight.ChangeInProgress) as refused:
        await rotate_secret(RotateRequest("web-3-root"), actor=ADMIN, core=h.core)
    assert "a rotation by slack:user:UGONE" in refused.value.user_message
    assert h.sandbox.calls.total("RotateSecret") == 0

    h.clock.advance(inflight.CLAIM_TTL + timedelta(seconds=1))
    result = await rotate_secret(RotateRequest("web-3-root"), actor=ADMIN, core=h.core)
    assert isinstance(result, RotateResult)
    assert h.sandbox.calls.total("RotateSecret") == 1
