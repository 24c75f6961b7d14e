"""The rotation state machine: pending, completed, failed, refused, idempotent, automatic."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alibabacloud_kms20160120 import models as m
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.exceptions import ClientException
from cryptography.hazmat.primitives import serialization

from ecs_secret_bot.sandbox import Sandbox

REGION = "cn-hangzhou"
WEB3_ROOT = "acs/ecs/web-3-root"
WEB4_KEY = "acs/ecs/web-4-ecs-user-key"
Eventually = Callable[..., Awaitable[None]]


async def stages(kms: KmsClient, name: str) -> dict[str, list[str]]:
    request = m.ListSecretVersionIdsRequest(secret_name=name, include_deprecated="true")
    body = (await kms.list_secret_version_ids_async(request)).body
    return {v.version_id: v.version_stages.version_stage for v in body.version_ids.version_id}


async def describe(kms: KmsClient, name: str) -> m.DescribeSecretResponseBody:
    return (await kms.describe_secret_async(m.DescribeSecretRequest(secret_name=name))).body


async def value(kms: KmsClient, name: str, stage: str = "ACSCurrent") -> dict[str, Any]:
    request = m.GetSecretValueRequest(secret_name=name, version_stage=stage)
    body = (await kms.get_secret_value_async(request)).body
    return {"version": body.version_id, **json.loads(body.secret_data)}


async def test_rotation_completes_asynchronously(
    kms: KmsClient, sandbox: Sandbox, eventually: Eventually
) -> None:
    sandbox.rotation_delay = 0.2
    before = await value(kms, WEB3_ROOT)
    response = await kms.rotate_secret_async(
        m.RotateSecretRequest(secret_name=WEB3_ROOT, version_id="r1")
    )
    assert (response.body.secret_name, response.body.version_id) == (WEB3_ROOT, "r1")
    assert response.body.arn.endswith(":secret/" + WEB3_ROOT)
    assert await stages(kms, WEB3_ROOT) == {"v1": ["ACSCurrent"], "r1": ["ACSPending"]}
    assert sandbox.rotation_in_progress(REGION, WEB3_ROOT)

    async def done() -> bool:
        return (await stages(kms, WEB3_ROOT)).get("r1") == ["ACSCurrent"]

    await eventually(done)
    assert await stages(kms, WEB3_ROOT) == {"v1": ["ACSPrevious"], "r1": ["ACSCurrent"]}
    after = await value(kms, WEB3_ROOT)
    assert after["version"] == "r1" and after["UserName"] == "root"
    assert len(after["Password"]) == 32 and after["Password"] != before["Password"]
    assert (await value(kms, WEB3_ROOT, "ACSPrevious"))["Password"] == before["Password"]
    detail = await describe(kms, WEB3_ROOT)
    assert detail.automatic_rotation == "Enabled"
    assert detail.last_rotation_date is not None
    assert sandbox.rotation_failure(REGION, WEB3_ROOT) is None
    assert [e.name for e in sandbox.events] == ["Secret:RotateSecret:Success"]


async def test_a_third_rotation_deprecates_the_oldest(
    kms: KmsClient, sandbox: Sandbox, eventually: Eventually
) -> None:
    for version in ("r1", "r2"):
        await kms.rotate_secret_async(
            m.RotateSecretRequest(secret_name=WEB3_ROOT, version_id=version)
        )
        await eventually(lambda: not sandbox.rotation_in_progress(REGION, WEB3_ROOT))
    assert await stages(kms, WEB3_ROOT) == {"v1": [], "r1": ["ACSPrevious"], "r2": ["ACSCurrent"]}


async def test_ssh_key_rotation_generates_an_rsa_2048_pair(
    kms: KmsClient, sandbox: Sandbox, eventually: Eventually
) -> None:
    await kms.rotate_secret_async(m.RotateSecretRequest(secret_name=WEB4_KEY, version_id="k2"))
    await eventually(lambda: not sandbox.rotation_in_progress(REGION, WEB4_KEY))
    data = await value(kms, WEB4_KEY)
    assert (data["version"], data["UserName"]) == ("k2", "ecs-user")
    key = serialization.load_pem_private_key(data["PrivateKey"].encode(), password=None)
    assert key.key_size == 2048
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert data["PublicKey"] == public.decode() and data["PublicKey"].startswith("ssh-rsa ")


@pytest.mark.parametrize(
    ("secret", "code", "fragment"),
    [
        ("acs/ecs/db-1-root", "InstanceNotRunning", "not running"),
        ("acs/ecs/batch-7-root", "ClientNotRunning", "aliyun service is not running"),
    ],
)
async def test_rotation_fails_on_an_instance_that_cannot_take_it(
    kms: KmsClient, sandbox: Sandbox, eventually: Eventually, secret: str, code: str, fragment: str
) -> None:
    before = await value(kms, secret)
    await kms.rotate_secret_async(m.RotateSecretRequest(secret_name=secret, version_id="r1"))
    await eventually(lambda: not sandbox.rotation_in_progress(REGION, secret))
    failure = sandbox.rotation_failure(REGION, secret)
    assert failure is not None and failure[0] == code and fragment in failure[1]
    assert (await describe(kms, secret)).automatic_rotation == "Invalid"
    assert await value(kms, secret) == before
    assert await stages(kms, secret) == {"v1": ["ACSCurrent"], "r1": []}
    event = sandbox.events[-1]
    assert (event.name, event.secret_name, event.failure and event.failure.code) == (
        "Secret:RotateSecret:Failure",
        secret,
        code,
    )


async def test_the_instance_is_judged_when_the_rotation_completes(
    kms: KmsClient, sandbox: Sandbox, eventually: Eventually
) -> None:
    sandbox.rotation_delay = 0.3
    await kms.rotate_secret_async(
        m.RotateSecretRequest(secret_name="acs/ecs/db-1-root", version_id="r1")
    )
    sandbox.set_instance_status(REGION, "i-bp1sbxdb10000000004", "Running")  # started in time
    await kms.rotate_secret_async(m.RotateSecretRequest(secret_name=WEB3_ROOT, version_id="r1"))
    sandbox.set_cloud_assistant(REGION, "i-bp1sbxweb3000000001", False)  # agent died meanwhile
    await eventually(lambda: not sandbox.rotation_in_progress(REGION, WEB3_ROOT))
    await eventually(lambda: not sandbox.rotation_in_progress(REGION, "acs/ecs/db-1-root"))
    assert sandbox.rotation_failure(REGION, "acs/ecs/db-1-root") is None
    assert sandbox.rotation_failure(REGION, WEB3_ROOT) is not None


async def test_a_later_success_clears_invalid(
    kms: KmsClient, sandbox: Sandbox, eventually: Eventually
) -> None:
    name = "acs/ecs/batch-7-root"
    await kms.rotate_secret_async(m.RotateSecretRequest(secret_name=name, version_id="r1"))
    await eventually(lambda: not sandbox.rotation_in_progress(REGION, name))
    assert (await describe(kms, name)).automatic_rotation == "Invalid"
    sandbox.set_cloud_assistant(REGION, "i-bp1sbxbat7000000005", True)
    await kms.rotate_secret_async(m.RotateSecretRequest(secret_name=name, version_id="r2"))
    await eventually(lambda: not sandbox.rotation_in_progress(REGION, name))
    assert (await describe(kms, name)).automatic_rotation == "Disabled"
    assert sandbox.rotation_failure(REGION, name) is None


async def test_a_deleted_instance_fails_the_rotation(
    kms: KmsClient, sandbox: Sandbox, eventually: Eventually
) -> None:
    sandbox.add_instance(REGION, "i-gone", name="gone")
    sandbox.add_ecs_secret(REGION, "gone-root", instance_id="i-gone")
    sandbox.remove_instance(REGION, "i-gone")  # released in the console
    await kms.rotate_secret_async(
        m.RotateSecretRequest(secret_name="acs/ecs/gone-root", version_id="r1")
    )
    await eventually(lambda: not sandbox.rotation_in_progress(REGION, "gone-root"))
    assert sandbox.rotation_failure(REGION, "gone-root") == (
        "InstanceNotExists",
        "the specified instance does not exists",
    )


async def test_a_second_rotation_is_refused_while_one_runs(
    kms: KmsClient, sandbox: Sandbox
) -> None:
    sandbox.rotation_delay = 5
    await kms.rotate_secret_async(m.RotateSecretRequest(secret_name=WEB3_ROOT, version_id="r1"))
    with pytest.raises(ClientException) as caught:
        await kms.rotate_secret_async(m.RotateSecretRequest(secret_name=WEB3_ROOT, version_id="r2"))
    assert (caught.value.code, caught.value.status_code) == ("Rejected.ResourceInUse", 409)
    assert caught.value.request_id
    with pytest.raises(ClientException) as caught:
        await kms.put_secret_value_async(
            m.PutSecretValueRequest(
                secret_name=WEB3_ROOT,
                version_id="c1",
                secret_data=json.dumps({"UserName": "root", "Password": "Custom#Pw-1"}),
            )
        )
    assert caught.value.code == "Rejected.ResourceInUse"


async def test_the_version_id_makes_rotation_idempotent(
    kms: KmsClient, sandbox: Sandbox, eventually: Eventually
) -> None:
    sandbox.rotation_delay = 0.2
    request = m.RotateSecretRequest(secret_name=WEB3_ROOT, version_id="r1")
    await kms.rotate_secret_async(request)
    again = await kms.rotate_secret_async(request)  # while in progress: not refused
    assert again.body.version_id == "r1"
    await eventually(lambda: not sandbox.rotation_in_progress(REGION, WEB3_ROOT))
    current = await value(kms, WEB3_ROOT)
    await kms.rotate_secret_async(request)  # after completion: nothing happens
    assert not sandbox.rotation_in_progress(REGION, WEB3_ROOT)
    assert await value(kms, WEB3_ROOT) == current
    assert sandbox.calls.total("RotateSecret") == 3
    assert len(sandbox.events) == 1


async def test_custom_value_is_pushed_like_a_rotation(
    kms: KmsClient, sandbox: Sandbox, eventually: Eventually
) -> None:
    custom = {"UserName": "root", "Password": "Custom#Pw-1234"}
    response = await kms.put_secret_value_async(
        m.PutSecretValueRequest(
            secret_name=WEB3_ROOT, version_id="c1", secret_data=json.dumps(custom)
        )
    )
    assert response.body.version_stages.version_stage == ["ACSPending"]
    await eventually(lambda: not sandbox.rotation_in_progress(REGION, WEB3_ROOT))
    assert await value(kms, WEB3_ROOT) == {"version": "c1", **custom}
    assert (await describe(kms, WEB3_ROOT)).last_rotation_date is not None


async def test_custom_value_fails_like_a_rotation(
    kms: KmsClient, sandbox: Sandbox, eventually: Eventually
) -> None:
    name = "acs/ecs/db-1-root"
    custom = {"UserName": "root", "Password": "Custom#Pw-1234"}
    await kms.put_secret_value_async(
        m.PutSecretValueRequest(secret_name=name, version_id="c1", secret_data=json.dumps(custom))
    )
    await eventually(lambda: not sandbox.rotation_in_progress(REGION, name))
    assert sandbox.rotation_failure(REGION, name) is not None
    assert (await value(kms, name))["version"] == "v1"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"UserName": "admin", "Password": "Custom#Pw-1234"}, "UserName"),
        ({"UserName": "root"}, "SecretData"),
        ({"UserName": "root", "PublicKey": "ssh-rsa AAAA", "PrivateKey": "x"}, "SecretData"),
    ],
)
async def test_custom_value_must_fit_the_secret(
    kms: KmsClient, data: dict[str, str], fragment: str
) -> None:
    with pytest.raises(ClientException) as caught:
        await kms.put_secret_value_async(
            m.PutSecretValueRequest(
                secret_name=WEB3_ROOT, version_id="c1", secret_data=json.dumps(data)
            )
        )
    assert (caught.value.code, caught.value.status_code) == ("InvalidParameter", 400)
    assert fragment in caught.value.message
    assert "Custom#Pw-1234" not in caught.value.message


async def test_custom_values_can_be_refused(kms: KmsClient, sandbox: Sandbox) -> None:
    sandbox.refuse_custom_values = True
    with pytest.raises(ClientException) as caught:
        await kms.put_secret_value_async(
            m.PutSecretValueRequest(
                secret_name=WEB3_ROOT,
                version_id="c1",
                secret_data=json.dumps({"UserName": "root", "Password": "Custom#Pw-1234"}),
            )
        )
    assert (caught.value.code, caught.value.status_code) == ("InvalidParameter", 400)
    assert "Generic secrets only" in caught.value.message
    assert "Custom#Pw-1234" not in caught.value.message
    assert await stages(kms, WEB3_ROOT) == {"v1": ["ACSCurrent"]}


async def test_windows_rotation_yields_a_password(
    kms: KmsClient, sandbox: Sandbox, eventually: Eventually
) -> None:
    name = "acs/ecs/win-app-1-admin"
    await kms.rotate_secret_async(m.RotateSecretRequest(secret_name=name, version_id="r1"))
    await eventually(lambda: not sandbox.rotation_in_progress(REGION, name))
    data = await value(kms, name)
    assert data["UserName"] == "Administrator"
    assert len(data["Password"]) == 32 and not data["Password"].startswith("/")


async def test_fifty_rotations_an_hour_at_most(kms: KmsClient, sandbox: Sandbox) -> None:
    sandbox.rotation_delay = 0
    for n in range(50):  # each completes before the next call (delay 0)
        await kms.rotate_secret_async(
            m.RotateSecretRequest(secret_name=WEB3_ROOT, version_id=f"r{n}")
        )
    with pytest.raises(ClientException) as caught:
        await kms.rotate_secret_async(
            m.RotateSecretRequest(secret_name=WEB3_ROOT, version_id="r50")
        )
    assert (caught.value.code, caught.value.status_code) == ("Rejected.LimitExceeded", 400)
    sandbox.advance(timedelta(hours=1, seconds=1))
    await kms.rotate_secret_async(m.RotateSecretRequest(secret_name=WEB3_ROOT, version_id="r50"))


async def test_automatic_rotation_follows_the_clock(
    kms: KmsClient, sandbox: Sandbox, eventually: Eventually
) -> None:
    sandbox.advance(timedelta(days=7, minutes=1))
    await eventually(lambda: not sandbox.rotation_in_progress(REGION, WEB3_ROOT))
    versions = await stages(kms, WEB3_ROOT)
    assert versions["v1"] == ["ACSPrevious"]
    (automatic,) = [v for v, s in versions.items() if s == ["ACSCurrent"]]
    assert automatic.startswith("auto-")
    detail = await describe(kms, WEB3_ROOT)
    last = datetime.strptime(detail.last_rotation_date, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    following = datetime.strptime(detail.next_rotation_date, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=UTC
    )
    assert following - last == timedelta(days=7)


async def test_invalid_secrets_are_not_rotated_automatically(
    kms: KmsClient, sandbox: Sandbox, eventually: Eventually
) -> None:
    sandbox.set_cloud_assistant(REGION, "i-bp1sbxweb3000000001", False)
    await kms.rotate_secret_async(m.RotateSecretRequest(secret_name=WEB3_ROOT, version_id="r1"))
    await eventually(lambda: not sandbox.rotation_in_progress(REGION, WEB3_ROOT))
    sandbox.advance(timedelta(days=8))
    assert not sandbox.rotation_in_progress(REGION, WEB3_ROOT)
    assert len(sandbox.events) == 1
