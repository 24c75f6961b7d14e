"""What the sandbox can make of a change: rotation faults, and the three fates of a custom value.

A rotation can fail on a healthy instance (Invalid), stick in ACSPending (no Invalid, no
event) or succeed late; a custom value (PutSecretValue on an ECS secret) can be refused,
pushed to the instance like a rotation, or accepted as current without reaching it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from alibabacloud_kms20160120 import models as m
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.exceptions import ClientException
from conftest import REGION, WEB3
from test_sandbox_rotation import WEB3_ROOT, describe, stages

from ecs_secret_bot.sandbox import Sandbox

Eventually = Callable[..., Awaitable[None]]
VALUE = json.dumps({"UserName": "root", "Password": "Custom#Pw-1234-abcd"})


async def rotate(kms: KmsClient, version_id: str = "r1") -> None:
    await kms.rotate_secret_async(
        m.RotateSecretRequest(secret_name=WEB3_ROOT, version_id=version_id)
    )


async def put(kms: KmsClient, version_id: str = "c1") -> None:
    request = m.PutSecretValueRequest(
        secret_name=WEB3_ROOT, version_id=version_id, secret_data=VALUE
    )
    await kms.put_secret_value_async(request)


def invocations(sandbox: Sandbox) -> int:
    return sandbox.ecs.require(REGION, WEB3).invocation_count


async def test_a_rotation_failure_on_a_healthy_instance_sets_invalid(
    kms: KmsClient, sandbox: Sandbox, eventually: Eventually
) -> None:
    sandbox.faults.add(action="RotateSecret", kind="rotation_failure", times=1)
    await rotate(kms)
    await eventually(lambda: not sandbox.rotation_in_progress(REGION, WEB3_ROOT))
    assert await stages(kms, WEB3_ROOT) == {"v1": ["ACSCurrent"], "r1": []}
    assert (await describe(kms, WEB3_ROOT)).automatic_rotation == "Invalid"
    assert sandbox.rotation_failure(REGION, WEB3_ROOT) == (
        "ExitCodeNonzero",
        "the rotation command exited with a non-zero code (a sandbox rotation fault)",
    )
    assert [e.name for e in sandbox.events] == ["Secret:RotateSecret:Failure"]
    assert sandbox.faults.active == []  # used up: the next rotation succeeds
    await rotate(kms, "r2")
    await eventually(lambda: not sandbox.rotation_in_progress(REGION, WEB3_ROOT))
    assert (await stages(kms, WEB3_ROOT))["r2"] == ["ACSCurrent"]


async def test_a_stuck_rotation_stays_pending_without_invalid(
    kms: KmsClient, sandbox: Sandbox
) -> None:
    sandbox.faults.add(action="RotateSecret", kind="rotation_stuck")
    await rotate(kms)
    await asyncio.sleep(0.2)  # four times the sandbox's rotation delay
    assert await stages(kms, WEB3_ROOT) == {"v1": ["ACSCurrent"], "r1": ["ACSPending"]}
    detail = await describe(kms, WEB3_ROOT)
    assert detail.automatic_rotation == "Enabled"
    assert detail.last_rotation_date is None
    assert sandbox.events == [] and invocations(sandbox) == 0


async def test_a_slow_rotation_succeeds_late(
    kms: KmsClient, sandbox: Sandbox, eventually: Eventually
) -> None:
    sandbox.faults.add(action="*", kind="rotation_slow", latency=0.4, times=1)
    await rotate(kms)
    await asyncio.sleep(0.15)
    assert (await stages(kms, WEB3_ROOT))["r1"] == ["ACSPending"]
    await eventually(lambda: not sandbox.rotation_in_progress(REGION, WEB3_ROOT))
    assert (await stages(kms, WEB3_ROOT))["r1"] == ["ACSCurrent"]


async def test_rotation_faults_do_not_touch_the_call_itself(sandbox: Sandbox) -> None:
    sandbox.faults.add(action="RotateSecret", kind="rotation_failure")
    assert sandbox.faults.take("RotateSecret").error is None  # the call answers normally
    with pytest.raises(ValueError, match="unknown fault kind"):
        sandbox.faults.add(kind="rotation_gone")


async def test_custom_values_pushed_to_the_instance_by_default(
    kms: KmsClient, sandbox: Sandbox, eventually: Eventually
) -> None:
    assert sandbox.custom_values == "push"
    await put(kms)
    assert (await stages(kms, WEB3_ROOT))["c1"] == ["ACSPending"]
    await eventually(lambda: not sandbox.rotation_in_progress(REGION, WEB3_ROOT))
    assert (await stages(kms, WEB3_ROOT))["c1"] == ["ACSCurrent"]
    assert invocations(sandbox) == 1


async def test_custom_values_accepted_as_current_without_a_push(
    kms: KmsClient, sandbox: Sandbox
) -> None:
    sandbox.custom_values = "accept"
    await put(kms)
    assert await stages(kms, WEB3_ROOT) == {"v1": ["ACSPrevious"], "c1": ["ACSCurrent"]}
    assert not sandbox.rotation_in_progress(REGION, WEB3_ROOT)
    assert invocations(sandbox) == 0  # the instance was never told
    assert (await describe(kms, WEB3_ROOT)).last_rotation_date is None
    assert sandbox.events == []


async def test_custom_values_refused(kms: KmsClient, sandbox: Sandbox) -> None:
    sandbox.custom_values = "refuse"
    assert sandbox.refuse_custom_values
    with pytest.raises(ClientException) as caught:
        await put(kms)
    assert (caught.value.code, caught.value.status_code) == ("InvalidParameter", 400)
    with pytest.raises(ValueError, match="push, accept, refuse"):
        sandbox.custom_values = "maybe"  # type: ignore[assignment]


async def test_the_control_api_switches_custom_values_and_injects_rotation_faults(
    sandbox: Sandbox,
) -> None:
    async with aiohttp.ClientSession(sandbox.url) as http:
        async with http.post("/_sandbox/settings", json={"custom_values": "accept"}) as reply:
            assert (await reply.json())["custom_values"] == "accept"
        async with http.post(
            "/_sandbox/faults", json={"action": "RotateSecret", "kind": "rotation_stuck"}
        ) as reply:
            assert reply.status == 201
            assert (await reply.json())["kind"] == "rotation_stuck"
        async with http.post("/_sandbox/settings", json={"custom_values": "never"}) as reply:
            assert reply.status == 400
        async with http.get("/_sandbox") as reply:
            assert (await reply.json())["custom_values"] == "accept"
    assert sandbox.custom_values == "accept"
