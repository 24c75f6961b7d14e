"""How a rotation ends, read from every signal KMS gives: completed, failed, not confirmed.

Over the sandbox, which can fail a rotation on a healthy instance, leave it ACSPending for
good, or finish it late, and which can take a custom value as current without pushing it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from fakes.core import CoreHarness, actor

from ecs_secret_bot.commands.operations.rotate import rotate_secret
from ecs_secret_bot.commands.outcomes import RotateResult
from ecs_secret_bot.commands.requests import RotateRequest
from ecs_secret_bot.commands.rotation_watch import CHECK_AGENT, CHECK_EVENT, CHECK_HISTORY
from ecs_secret_bot.commands.tracker import CUSTOM_VALUE_CURRENT, RotationOutcome, follow_rotation
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.storage.audit import list_audit

ADMIN = actor("UADMIN")
REGION, NAME = "cn-hangzhou", "acs/ecs/web-3-root"


@pytest.fixture
async def h(tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[CoreHarness]:
    sandbox.add_ecs_secret(REGION, "web-3-root", instance_id="i-web3")
    harness = await CoreHarness.start(tmp_path, sandbox)
    try:
        yield harness
    finally:
        await harness.close()


async def rotate(h: CoreHarness, **custom: str) -> RotateResult:
    result = await rotate_secret(RotateRequest("web-3-root", **custom), actor=ADMIN, core=h.core)
    assert isinstance(result, RotateResult)
    return result


async def settled(sandbox: Sandbox) -> None:
    """Wait until the sandbox has finished (or given up on) the change in flight."""
    for _ in range(200):
        if not sandbox.rotation_in_progress(REGION, NAME):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the sandbox did not finish the change")


async def follow_past_the_deadline(h: CoreHarness, result: RotateResult) -> RotationOutcome:
    """Follow a rotation whose deadline (one minute) has passed before the first look."""
    h.clock.advance(timedelta(minutes=2))
    return await follow_rotation(result.rotation_id, core=h.core)


async def last_audit(h: CoreHarness) -> str:
    return (await list_audit(h.core.db))[0].outcome


async def test_a_failure_on_a_healthy_instance_says_only_kms_knows_why(h: CoreHarness) -> None:
    h.sandbox.faults.add(action="RotateSecret", kind="rotation_failure", times=1)
    outcome = await follow_rotation((await rotate(h)).rotation_id, core=h.core)
    assert outcome.state == "failed"
    assert "KMS marked the secret's rotation Invalid" in outcome.reason
    assert "only KMS knows why" in outcome.reason
    assert outcome.checks[0] == CHECK_EVENT  # CloudMonitor's event carries KMS's reason
    assert (await last_audit(h)).startswith("rotation failed: KMS marked")


async def test_a_secret_already_invalid_can_still_show_a_failure(h: CoreHarness) -> None:
    h.sandbox.faults.add(action="RotateSecret", kind="rotation_failure", times=2)
    first = await follow_rotation((await rotate(h)).rotation_id, core=h.core)
    assert first.state == "failed"
    assert (await h.core.gateway.describe_secret(REGION, NAME)).automatic_rotation == "Invalid"

    # Invalid cannot turn Invalid again: the new version KMS gave up on shows the failure.
    second = await rotate(h)
    await settled(h.sandbox)
    outcome = await follow_past_the_deadline(h, second)
    assert outcome.state == "failed"
    assert "neither ACSPending nor ACSCurrent" in outcome.reason
    assert "AutomaticRotation stayed Invalid, as it was before the rotation" in outcome.seen


async def test_a_rotation_stuck_in_pending_is_not_confirmed_with_what_was_seen(
    h: CoreHarness,
) -> None:
    done = await follow_rotation((await rotate(h)).rotation_id, core=h.core)
    assert done.state == "completed"  # LastRotationDate is set now
    h.clock.advance(timedelta(seconds=30))
    h.sandbox.faults.add(action="RotateSecret", kind="rotation_stuck", times=1)
    outcome = await follow_past_the_deadline(h, await rotate(h))
    assert outcome.state == "timed_out"
    assert outcome.reason.startswith(
        "KMS did not show the new version as ACSCurrent by the deadline: "
    )
    assert outcome.reason.endswith("The rotation may still finish.")
    [version, last_rotation, automatic] = outcome.seen
    assert version == "the new version stayed ACSPending"
    assert last_rotation.startswith("LastRotationDate did not change (still 20")
    assert automatic == "AutomaticRotation reads Disabled"
    assert outcome.checks == (CHECK_AGENT, CHECK_HISTORY, CHECK_EVENT)
    assert "Cloud Assistant" in CHECK_AGENT and "Secret:RotateSecret:Failure" in CHECK_EVENT
    assert (await last_audit(h)).startswith("rotation not confirmed: KMS did not show")


async def test_a_slow_success_is_waited_for(h: CoreHarness) -> None:
    h.sandbox.faults.add(action="RotateSecret", kind="rotation_slow", latency=0.4, times=1)
    outcome = await follow_rotation((await rotate(h)).rotation_id, core=h.core)
    assert (outcome.state, outcome.instance_confirmed) == ("completed", True)


async def test_a_slow_success_past_the_deadline_is_not_confirmed_not_failed(
    h: CoreHarness,
) -> None:
    h.sandbox.faults.add(action="RotateSecret", kind="rotation_slow", latency=5, times=1)
    outcome = await follow_past_the_deadline(h, await rotate(h))
    assert outcome.state == "timed_out"
    assert outcome.seen[0] == "the new version stayed ACSPending"
    assert outcome.seen[1] == "LastRotationDate is not set"


@pytest.mark.parametrize("mode", ["accept", "push"])
async def test_a_custom_value_kms_takes_is_never_said_to_be_on_the_instance(
    h: CoreHarness, mode: str
) -> None:
    h.sandbox.custom_values = mode  # type: ignore[assignment]
    outcome = await follow_rotation(
        (await rotate(h, custom_password="Custom#Pw-0123456789-abcdefghij")).rotation_id,
        core=h.core,
    )
    assert outcome.state == "completed" and outcome.custom
    assert not outcome.instance_confirmed
    assert outcome.reason == CUSTOM_VALUE_CURRENT
    assert "does not confirm that the instance's credential changed" in outcome.reason
    assert any("logs in" in check for check in outcome.checks)
    assert await last_audit(h) == f"rotation completed: {CUSTOM_VALUE_CURRENT}"
    pushed = h.sandbox.ecs.require(REGION, "i-web3").invocation_count
    assert pushed == (1 if mode == "push" else 0)  # the bot cannot tell the two apart


async def test_a_custom_password_as_long_as_kms_generates_is_accepted(h: CoreHarness) -> None:
    password = "Custom#Pw-0123456789-abcdefghijk"
    assert len(password) == 32
    result = await rotate(h, custom_password=password)
    assert result.custom and h.sandbox.calls.total("PutSecretValue") == 1
