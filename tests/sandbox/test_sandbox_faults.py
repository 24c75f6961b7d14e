"""Fault injection (latency, throttling, 5xx, dropped connections) and the call log."""

from __future__ import annotations

import time

import pytest
from alibabacloud_ecs20140526 import models as e
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_kms20160120 import models as m
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException
from darabonba.exceptions import UnretryableException

from ecs_secret_bot.sandbox import Sandbox

LIST = m.ListSecretsRequest()
DESCRIBE = m.DescribeSecretRequest(secret_name="acs/ecs/web-3-root")


async def test_latency(kms: KmsClient, sandbox: Sandbox) -> None:
    sandbox.faults.add(action="ListSecrets", kind="latency", latency=0.3, times=1)
    started = time.monotonic()
    await kms.list_secrets_async(LIST)
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    await kms.list_secrets_async(LIST)
    assert time.monotonic() - started < 0.3


async def test_throttling_for_n_calls(kms: KmsClient, sandbox: Sandbox) -> None:
    sandbox.faults.add(action="DescribeSecret", kind="throttling", times=2)
    for _ in range(2):
        with pytest.raises(ClientException) as caught:
            await kms.describe_secret_async(DESCRIBE)
        assert (caught.value.code, caught.value.status_code) == ("Rejected.Throttling", 429)
        assert caught.value.request_id
        assert "QPS Limit Exceeded" in caught.value.message
    assert (await kms.describe_secret_async(DESCRIBE)).status_code == 200
    assert (await kms.list_secrets_async(LIST)).status_code == 200  # other actions untouched
    assert sandbox.calls.total("DescribeSecret") == 3


@pytest.mark.parametrize(
    ("status", "code"), [(500, "InternalFailure"), (503, "ServiceUnavailable")]
)
async def test_server_errors(kms: KmsClient, sandbox: Sandbox, status: int, code: str) -> None:
    sandbox.faults.add(kind="server_error", status=status, times=1)
    with pytest.raises(ServerException) as caught:
        await kms.list_secrets_async(LIST)
    assert (caught.value.code, caught.value.status_code) == (code, status)
    assert (await kms.list_secrets_async(LIST)).status_code == 200


async def test_faulted_calls_change_nothing(kms: KmsClient, sandbox: Sandbox) -> None:
    sandbox.faults.add(action="RotateSecret", kind="server_error", times=1)
    with pytest.raises(ServerException):
        await kms.rotate_secret_async(
            m.RotateSecretRequest(secret_name="acs/ecs/web-3-root", version_id="r1")
        )
    assert not sandbox.rotation_in_progress("cn-hangzhou", "acs/ecs/web-3-root")


async def test_dropped_connection(kms: KmsClient, sandbox: Sandbox) -> None:
    sandbox.faults.add(action="*", kind="drop", times=1)
    with pytest.raises(UnretryableException):
        await kms.list_secrets_async(LIST)
    assert (await kms.list_secrets_async(LIST)).status_code == 200


async def test_latency_combines_with_an_error(kms: KmsClient, sandbox: Sandbox) -> None:
    sandbox.faults.add(kind="latency", latency=0.2)
    sandbox.faults.add(kind="throttling")
    started = time.monotonic()
    with pytest.raises(ClientException):
        await kms.list_secrets_async(LIST)
    assert time.monotonic() - started >= 0.2
    assert [f.kind for f in sandbox.faults.active] == ["latency", "throttling"]
    sandbox.faults.clear()
    assert sandbox.faults.active == []
    assert (await kms.list_secrets_async(LIST)).status_code == 200


async def test_clear_one_action_and_remove_one_fault(sandbox: Sandbox) -> None:
    kept = sandbox.faults.add(action="ListSecrets", kind="throttling")
    sandbox.faults.add(action="RotateSecret", kind="throttling")
    sandbox.faults.clear("RotateSecret")
    assert [f.action for f in sandbox.faults.active] == ["ListSecrets"]
    assert sandbox.faults.remove(kept.id) and not sandbox.faults.remove(kept.id)


@pytest.mark.parametrize(
    "arguments",
    [
        {"kind": "explode"},
        {"kind": "throttling", "times": 0},
        {"kind": "latency", "latency": -1},
        {"kind": "server_error", "status": 418},
        {"kind": "drop", "action": ""},
    ],
)
def test_fault_arguments_are_checked(sandbox: Sandbox, arguments: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        sandbox.faults.add(**arguments)  # type: ignore[arg-type]


async def test_call_log(kms: KmsClient, sandbox: Sandbox) -> None:
    await kms.list_secrets_async(LIST)
    await kms.list_secrets_async(LIST)
    await kms.describe_secret_async(DESCRIBE)
    assert dict(sandbox.calls) == {
        ("ListSecrets", "cn-hangzhou"): 2,
        ("DescribeSecret", "cn-hangzhou"): 1,
    }
    assert sandbox.calls.total() == 3 and len(sandbox.calls) == 2
    assert sandbox.calls[("RotateSecret", "cn-hangzhou")] == 0
    assert sandbox.calls.as_list()[0] == {
        "action": "DescribeSecret",
        "region": "cn-hangzhou",
        "count": 1,
    }
    sandbox.calls.clear()
    assert sandbox.calls.total() == 0


async def test_ecs_faults_answer_in_ecs_codes(ecs: EcsClient, sandbox: Sandbox) -> None:
    describe = e.DescribeInstancesRequest(region_id="cn-hangzhou")
    sandbox.faults.add(action="DescribeInstances", kind="throttling", times=1)
    with pytest.raises(ClientException) as caught:
        await ecs.describe_instances_async(describe)
    assert (caught.value.code, caught.value.status_code) == ("Throttling", 400)
    sandbox.faults.add(action="DescribeInstances", kind="server_error", times=1)
    with pytest.raises(ServerException) as server:
        await ecs.describe_instances_async(describe)
    assert (server.value.code, server.value.status_code) == ("InternalError", 500)
