"""Deletion: the recovery window, what is refused inside it, restore, time passing, force."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from alibabacloud_kms20160120 import models as m
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.exceptions import ClientException

from ecs_secret_bot.sandbox import Sandbox

REGION = "cn-hangzhou"
NAME = "acs/ecs/web-3-root"
BEIJING = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}\+08:00$")


def parse_beijing(text: str) -> datetime:
    return datetime.strptime(text[:26] + text[29:], "%Y-%m-%dT%H:%M:%S.%f%z")


async def delete(kms: KmsClient, name: str = NAME, **options: str) -> m.DeleteSecretResponseBody:
    request = m.DeleteSecretRequest(secret_name=name, **options)
    return (await kms.delete_secret_async(request)).body


async def test_scheduled_deletion_defaults_to_thirty_days(kms: KmsClient, sandbox: Sandbox) -> None:
    body = await delete(kms)
    assert body.secret_name == NAME
    assert BEIJING.match(body.planned_delete_time), body.planned_delete_time
    planned = parse_beijing(body.planned_delete_time)
    assert abs(planned - (sandbox.now() + timedelta(days=30))) < timedelta(seconds=5)
    detail = (await kms.describe_secret_async(m.DescribeSecretRequest(secret_name=NAME))).body
    assert detail.planned_delete_time.endswith("Z")
    described = datetime.strptime(detail.planned_delete_time, "%Y-%m-%dT%H:%M:%SZ")
    assert described.replace(tzinfo=UTC) == planned.replace(microsecond=0)
    listed = (
        await kms.list_secrets_async(
            m.ListSecretsRequest(filters=json.dumps([{"Key": "SecretName", "Values": [NAME]}]))
        )
    ).body
    assert listed.secret_list.secret[0].planned_delete_time == detail.planned_delete_time


@pytest.mark.parametrize("days", ["7", "30"])
async def test_recovery_window_bounds_are_accepted(
    kms: KmsClient, sandbox: Sandbox, days: str
) -> None:
    body = await delete(kms, recovery_window_in_days=days)
    planned = parse_beijing(body.planned_delete_time)
    assert abs(planned - (sandbox.now() + timedelta(days=int(days)))) < timedelta(seconds=5)


@pytest.mark.parametrize("days", ["6", "31", "seven"])
async def test_recovery_window_out_of_range(kms: KmsClient, days: str) -> None:
    with pytest.raises(ClientException) as caught:
        await delete(kms, recovery_window_in_days=days)
    assert (caught.value.code, caught.value.status_code) == ("InvalidParameter", 400)
    assert "RecoveryWindowInDays" in caught.value.message


async def test_force_and_window_do_not_combine(kms: KmsClient) -> None:
    with pytest.raises(ClientException) as caught:
        await delete(kms, force_delete_without_recovery="true", recovery_window_in_days="7")
    assert "RecoveryWindowInDays" in caught.value.message


async def test_inside_the_window_changes_are_refused(kms: KmsClient) -> None:
    await delete(kms, recovery_window_in_days="7")
    refused = [
        kms.get_secret_value_async(m.GetSecretValueRequest(secret_name=NAME)),
        kms.rotate_secret_async(m.RotateSecretRequest(secret_name=NAME, version_id="r1")),
        kms.put_secret_value_async(
            m.PutSecretValueRequest(
                secret_name=NAME,
                version_id="c1",
                secret_data=json.dumps({"UserName": "root", "Password": "Custom#Pw-1234"}),
            )
        ),
        kms.update_secret_rotation_policy_async(
            m.UpdateSecretRotationPolicyRequest(secret_name=NAME, enable_automatic_rotation=False)
        ),
        kms.delete_secret_async(m.DeleteSecretRequest(secret_name=NAME)),
        kms.create_secret_async(
            m.CreateSecretRequest(
                secret_name=NAME,
                secret_type="ECS",
                version_id="v1",
                secret_data=json.dumps({"UserName": "root", "Password": "Pw#123456"}),
                extended_config={
                    "SecretSubType": "Password",
                    "RegionId": REGION,
                    "InstanceId": "i-bp1sbxweb3000000001",
                },
            )
        ),
    ]
    for call in refused:
        with pytest.raises(ClientException) as caught:
            await call
        assert (caught.value.code, caught.value.status_code) == (
            "Rejected.ResourceInDeleteWindow",
            409,
        )
    versions = await kms.list_secret_version_ids_async(
        m.ListSecretVersionIdsRequest(secret_name=NAME)
    )
    assert versions.body.total_count == 1  # reading metadata still works


async def test_restore_cancels_the_deletion(kms: KmsClient) -> None:
    await delete(kms)
    restored = await kms.restore_secret_async(m.RestoreSecretRequest(secret_name=NAME))
    assert restored.body.secret_name == NAME and restored.body.request_id
    detail = (await kms.describe_secret_async(m.DescribeSecretRequest(secret_name=NAME))).body
    assert detail.planned_delete_time is None
    assert (await kms.get_secret_value_async(m.GetSecretValueRequest(secret_name=NAME))).body


async def test_restore_of_a_normal_secret_is_refused(kms: KmsClient) -> None:
    with pytest.raises(ClientException) as caught:
        await kms.restore_secret_async(m.RestoreSecretRequest(secret_name=NAME))
    assert (caught.value.code, caught.value.status_code) == ("Rejected.ResourceInUse", 409)
    with pytest.raises(ClientException) as caught:
        await kms.restore_secret_async(m.RestoreSecretRequest(secret_name="acs/ecs/nothing"))
    assert (caught.value.code, caught.value.status_code) == ("Forbidden.ResourceNotFound", 404)


async def test_past_the_planned_time_the_secret_is_gone(kms: KmsClient, sandbox: Sandbox) -> None:
    await delete(kms, recovery_window_in_days="7")
    sandbox.advance(timedelta(days=6, hours=23))
    assert (await kms.describe_secret_async(m.DescribeSecretRequest(secret_name=NAME))).body
    sandbox.advance(timedelta(hours=2))
    for call in (
        kms.describe_secret_async(m.DescribeSecretRequest(secret_name=NAME)),
        kms.restore_secret_async(m.RestoreSecretRequest(secret_name=NAME)),
    ):
        with pytest.raises(ClientException) as caught:
            await call
        assert (caught.value.code, caught.value.status_code) == ("Forbidden.ResourceNotFound", 404)
    listed = (await kms.list_secrets_async(m.ListSecretsRequest(page_size=100))).body
    assert NAME not in [s.secret_name for s in listed.secret_list.secret]


async def test_the_name_is_free_again_after_deletion(kms: KmsClient, sandbox: Sandbox) -> None:
    await delete(kms, recovery_window_in_days="7")
    sandbox.advance(timedelta(days=8))
    sandbox.add_ecs_secret(REGION, NAME, instance_id="i-bp1sbxweb3000000001")


async def test_force_delete_is_immediate(kms: KmsClient, sandbox: Sandbox) -> None:
    body = await delete(kms, force_delete_without_recovery="true")
    assert BEIJING.match(body.planned_delete_time)
    with pytest.raises(ClientException) as caught:
        await kms.describe_secret_async(m.DescribeSecretRequest(secret_name=NAME))
    assert caught.value.code == "Forbidden.ResourceNotFound"
    with pytest.raises(ClientException) as caught:
        await kms.restore_secret_async(m.RestoreSecretRequest(secret_name=NAME))
    assert caught.value.code == "Forbidden.ResourceNotFound"


async def test_force_delete_inside_the_window(kms: KmsClient) -> None:
    await delete(kms)
    await delete(kms, force_delete_without_recovery="true")
    with pytest.raises(ClientException) as caught:
        await kms.describe_secret_async(m.DescribeSecretRequest(secret_name=NAME))
    assert caught.value.code == "Forbidden.ResourceNotFound"


async def test_force_delete_stops_a_rotation_in_flight(kms: KmsClient, sandbox: Sandbox) -> None:
    sandbox.rotation_delay = 0.05
    await kms.rotate_secret_async(m.RotateSecretRequest(secret_name=NAME, version_id="r1"))
    await delete(kms, force_delete_without_recovery="True")
    await asyncio.sleep(0.1)
    assert sandbox.events == []


async def test_console_deletion_and_restore(kms: KmsClient, sandbox: Sandbox) -> None:
    sandbox.delete_out_of_band(REGION, NAME, planned=timedelta(days=10))
    detail = (await kms.describe_secret_async(m.DescribeSecretRequest(secret_name=NAME))).body
    assert detail.planned_delete_time is not None
    sandbox.restore_out_of_band(REGION, "web-3-root")  # short names work in the Python API
    detail = (await kms.describe_secret_async(m.DescribeSecretRequest(secret_name=NAME))).body
    assert detail.planned_delete_time is None
    with pytest.raises(ValueError, match="not scheduled"):
        sandbox.restore_out_of_band(REGION, NAME)
    when = sandbox.now() + timedelta(days=2)
    sandbox.delete_out_of_band(REGION, NAME, planned=when)
    sandbox.advance(timedelta(days=3))
    with pytest.raises(LookupError):
        sandbox.rotation_failure(REGION, NAME)
    sandbox.delete_out_of_band(REGION, "acs/ecs/db-1-root", force=True)
    with pytest.raises(ClientException):
        await kms.describe_secret_async(m.DescribeSecretRequest(secret_name="acs/ecs/db-1-root"))
