"""The /_sandbox control routes, used by tests and tools running in another process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from alibabacloud_kms20160120 import models as m
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.exceptions import ClientException

from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.sandbox.control import add_control_routes

REGION = "cn-hangzhou"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def send(
    http: aiohttp.ClientSession, sb: Sandbox, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    async with http.request(method, sb.url + "/_sandbox" + path, json=body) as response:
        return response.status, await response.json()


async def test_info(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    status, info = await send(http, sandbox, "GET", "")
    assert status == 200
    assert info["endpoint"] == sandbox.endpoint
    assert (info["regions"], info["endpoints"]) == (
        ["cn-hangzhou"],
        {"cn-hangzhou": sandbox.endpoint},
    )
    assert info["access_key_ids"] == ["sandbox"]
    assert "sandbox-secret" not in str(info)


async def test_calls(http: aiohttp.ClientSession, sandbox: Sandbox, kms: KmsClient) -> None:
    await kms.list_secrets_async(m.ListSecretsRequest())
    status, body = await send(http, sandbox, "GET", "/calls")
    assert (status, body) == (
        200,
        {"calls": [{"action": "ListSecrets", "region": REGION, "count": 1}], "total": 1},
    )
    await send(http, sandbox, "DELETE", "/calls")
    assert (await send(http, sandbox, "GET", "/calls"))[1]["total"] == 0


async def test_faults(http: aiohttp.ClientSession, sandbox: Sandbox, kms: KmsClient) -> None:
    status, fault = await send(
        http,
        sandbox,
        "POST",
        "/faults",
        {"action": "ListSecrets", "kind": "throttling", "times": 1},
    )
    assert status == 201 and fault["kind"] == "throttling" and fault["times"] == 1
    with pytest.raises(ClientException) as caught:
        await kms.list_secrets_async(m.ListSecretsRequest())
    assert caught.value.code == "Rejected.Throttling"
    await kms.list_secrets_async(m.ListSecretsRequest())
    status, one = await send(http, sandbox, "POST", "/faults", {"kind": "latency", "latency": 0.01})
    assert (await send(http, sandbox, "GET", "/faults"))[1]["faults"][0]["id"] == one["id"]
    assert (await send(http, sandbox, "DELETE", f"/faults/{one['id']}"))[0] == 200
    assert (await send(http, sandbox, "DELETE", f"/faults/{one['id']}"))[0] == 404
    await send(http, sandbox, "POST", "/faults", {"kind": "drop"})
    await send(http, sandbox, "DELETE", "/faults")
    assert (await send(http, sandbox, "GET", "/faults"))[1] == {"faults": []}


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "nonsense"},
        {"action": "ListSecrets"},
        {"kind": "throttling", "colour": "red"},
        {"kind": "throttling", "times": "two"},
        ["not", "an", "object"],
    ],
)
async def test_bad_fault_requests(http: aiohttp.ClientSession, sandbox: Sandbox, body: Any) -> None:
    status, reply = await send(http, sandbox, "POST", "/faults", body)
    assert status == 400 and reply["error"]


async def test_clock(http: aiohttp.ClientSession, sandbox: Sandbox, kms: KmsClient) -> None:
    await kms.delete_secret_async(
        m.DeleteSecretRequest(secret_name="acs/ecs/web-3-root", recovery_window_in_days="7")
    )
    _, before = await send(http, sandbox, "GET", "/clock")
    status, after = await send(http, sandbox, "POST", "/clock", {"advance_seconds": 8 * 86400})
    assert status == 200 and after["now"] > before["now"]
    with pytest.raises(ClientException) as caught:
        await kms.describe_secret_async(m.DescribeSecretRequest(secret_name="acs/ecs/web-3-root"))
    assert caught.value.code == "Forbidden.ResourceNotFound"
    status, reply = await send(http, sandbox, "POST", "/clock", {"advance_seconds": "soon"})
    assert status == 400 and "advance_seconds" in reply["error"]


async def test_instances_rotations_events_and_settings(
    http: aiohttp.ClientSession, sandbox: Sandbox, kms: KmsClient
) -> None:
    status, instance = await send(
        http,
        sandbox,
        "POST",
        "/instances",
        {"region": REGION, "instance_id": "i-bp1sbxweb3000000001", "status": "Stopped"},
    )
    assert (status, instance["Status"]) == (200, "Stopped")
    status, added = await send(
        http,
        sandbox,
        "POST",
        "/instances",
        {
            "region": "cn-shanghai",
            "instance_id": "i-new",
            "name": "new",
            "cloud_assistant_online": False,
        },
    )
    assert (status, added["InstanceName"]) == (200, "new")
    assert not sandbox.ecs.require("cn-shanghai", "i-new").cloud_assistant_online
    status, _ = await send(
        http, sandbox, "POST", "/instances", {"region": REGION, "instance_id": "i-x"}
    )
    assert status == 400
    status, settings = await send(
        http, sandbox, "POST", "/settings", {"rotation_delay": 0, "refuse_custom_values": True}
    )
    assert settings == {
        "custom_values": "refuse",
        "refuse_custom_values": True,
        "rotation_delay": 0.0,
        "kms_qps": None,
    }
    assert sandbox.refuse_custom_values
    await kms.rotate_secret_async(
        m.RotateSecretRequest(secret_name="acs/ecs/web-3-root", version_id="r1")
    )
    _, rotation = await send(http, sandbox, "GET", "/rotations?region=cn-hangzhou&name=web-3-root")
    assert rotation == {
        "secretName": "acs/ecs/web-3-root",
        "inProgress": False,
        "rotationStatus": "Invalid",
        "failureInfo": {
            "errorCode": "InstanceNotRunning",
            "errorMessage": "the instance is not running when create task (status Stopped)",
        },
    }
    _, events = await send(http, sandbox, "GET", "/events")
    assert [e["name"] for e in events["events"]] == ["Secret:RotateSecret:Failure"]
    status, _ = await send(http, sandbox, "GET", "/rotations?name=acs/ecs/none")
    assert status == 400


async def test_console_actions(
    http: aiohttp.ClientSession, sandbox: Sandbox, kms: KmsClient
) -> None:
    name = "acs/ecs/web-3-root"
    await send(
        http,
        sandbox,
        "POST",
        "/secrets/delete",
        {"region": REGION, "name": name, "planned_in_seconds": 3600},
    )
    detail = (await kms.describe_secret_async(m.DescribeSecretRequest(secret_name=name))).body
    assert detail.planned_delete_time is not None
    status, _ = await send(
        http, sandbox, "POST", "/secrets/restore", {"region": REGION, "name": name}
    )
    assert status == 200
    status, _ = await send(
        http, sandbox, "POST", "/secrets/restore", {"region": REGION, "name": name}
    )
    assert status == 400
    await send(
        http, sandbox, "POST", "/secrets/delete", {"region": REGION, "name": name, "force": True}
    )
    with pytest.raises(ClientException):
        await kms.describe_secret_async(m.DescribeSecretRequest(secret_name=name))


class _Transport:
    """Just enough of a transport for aiohttp to read the peer address from."""

    def __init__(self, peer: str) -> None:
        self.peer = peer

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return (self.peer, 40000) if name == "peername" else default

    def is_closing(self) -> bool:
        return False


@pytest.mark.parametrize(("peer", "status"), [("10.1.2.3", 403), ("127.0.0.1", 200), ("::1", 200)])
async def test_control_routes_answer_loopback_only(peer: str, status: int) -> None:
    sandbox = Sandbox(seed=False)
    app = web.Application()
    add_control_routes(app, sandbox, endpoints=lambda: {"cn-hangzhou": sandbox.endpoint})
    request = make_mocked_request("GET", "/_sandbox/calls", app=app, transport=_Transport(peer))
    match = await app.router.resolve(request)
    response = await match.handler(request)
    assert response.status == status
