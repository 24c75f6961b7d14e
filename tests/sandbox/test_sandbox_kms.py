"""Each KMS action's happy path, read back through the SDK's own response models."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from alibabacloud_kms20160120 import models as m
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.exceptions import ClientException

from ecs_secret_bot.sandbox import Sandbox

REGION = "cn-hangzhou"
WEB3 = "i-bp1sbxweb3000000001"
RawCall = Callable[..., Awaitable[tuple[int, dict[str, Any]]]]


def ecs_request(name: str, **overrides: Any) -> m.CreateSecretRequest:
    values: dict[str, Any] = {
        "secret_name": name,
        "secret_type": "ECS",
        "version_id": "v1",
        "secret_data": json.dumps({"UserName": "root", "Password": "Initial#Pw1"}),
        "extended_config": {
            "SecretSubType": "Password",
            "RegionId": REGION,
            "InstanceId": WEB3,
        },
        "enable_automatic_rotation": True,
        "rotation_interval": "7d",
        "description": "root of web-3",
        "tags": json.dumps([{"TagKey": "team", "TagValue": "sre"}]),
    }
    values.update(overrides)
    return m.CreateSecretRequest(**values)


async def test_create_ecs_secret(kms: KmsClient) -> None:
    response = await kms.create_secret_async(ecs_request("acs/ecs/app-root"))
    body = response.body
    assert body.arn == "acs:kms:cn-hangzhou:1234567890123456:secret/acs/ecs/app-root"
    assert (body.secret_name, body.secret_type, body.version_id) == (
        "acs/ecs/app-root",
        "ECS",
        "v1",
    )
    assert (body.automatic_rotation, body.rotation_interval) == ("Enabled", "604800s")
    assert body.next_rotation_date.endswith("Z")
    assert json.loads(body.extended_config) == {
        "SecretSubType": "Password",
        "RegionId": REGION,
        "InstanceId": WEB3,
        "CustomData": {},
    }


@pytest.mark.parametrize(
    ("written", "seconds"),
    [("6h", "21600s"), ("360m", "21600s"), ("21600s", "21600s"), ("365d", "31536000s")],
)
async def test_rotation_interval_is_normalised_to_seconds(
    kms: KmsClient, written: str, seconds: str
) -> None:
    await kms.create_secret_async(ecs_request("acs/ecs/x", rotation_interval=written))
    detail = await kms.describe_secret_async(m.DescribeSecretRequest(secret_name="acs/ecs/x"))
    assert detail.body.rotation_interval == seconds


async def test_describe_secret(kms: KmsClient) -> None:
    await kms.create_secret_async(ecs_request("acs/ecs/app-root"))
    request = m.DescribeSecretRequest(secret_name="acs/ecs/app-root", fetch_tags="true")
    body = (await kms.describe_secret_async(request)).body
    assert body.secret_type == "ECS"
    assert body.description == "root of web-3"
    assert body.automatic_rotation == "Enabled"
    assert body.create_time.endswith("Z") and body.update_time.endswith("Z")
    assert body.last_rotation_date is None
    assert body.planned_delete_time is None
    assert [(t.tag_key, t.tag_value) for t in body.tags.tag] == [("team", "sre")]
    bare = (
        await kms.describe_secret_async(m.DescribeSecretRequest(secret_name="acs/ecs/app-root"))
    ).body
    assert bare.tags is None


async def test_secret_name_may_be_the_arn(kms: KmsClient) -> None:
    arn = "acs:kms:cn-hangzhou:1234567890123456:secret/acs/ecs/web-3-root"
    body = (await kms.describe_secret_async(m.DescribeSecretRequest(secret_name=arn))).body
    assert body.secret_name == "acs/ecs/web-3-root"
    elsewhere = arn.replace("cn-hangzhou", "cn-beijing")
    with pytest.raises(ClientException) as caught:
        await kms.describe_secret_async(m.DescribeSecretRequest(secret_name=elsewhere))
    assert caught.value.code == "Forbidden.ResourceNotFound"


async def test_list_secrets_pages(kms: KmsClient, sandbox: Sandbox) -> None:
    for n in range(7):
        sandbox.add_ecs_secret(REGION, f"acs/ecs/batch-{n}", instance_id=WEB3)
    first = (await kms.list_secrets_async(m.ListSecretsRequest(page_size=5))).body
    second = (await kms.list_secrets_async(m.ListSecretsRequest(page_size=5, page_number=3))).body
    assert (first.total_count, first.page_number, first.page_size) == (12, 1, 5)
    assert len(first.secret_list.secret) == 5
    assert [s.secret_name for s in second.secret_list.secret] == [
        "acs/ecs/batch-5",
        "acs/ecs/batch-6",
    ]
    entry = first.secret_list.secret[0]
    assert (entry.secret_type, entry.planned_delete_time) == ("ECS", None)
    assert entry.create_time.endswith("Z")


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (
            [{"Key": "SecretName", "Values": ["web-"]}],
            ["acs/ecs/web-3-root", "acs/ecs/web-4-ecs-user-key"],
        ),
        (
            [{"Key": "SecretName", "Values": ["db-1", "batch"]}],
            ["acs/ecs/db-1-root", "acs/ecs/batch-7-root"],
        ),
        ([{"Key": "SecretType", "Values": ["Generic"]}], ["plain"]),
        (
            [{"Key": "SecretType", "Values": ["ecs"]}, {"Key": "SecretName", "Values": ["win"]}],
            ["acs/ecs/win-app-1-admin"],
        ),
        ([{"Key": "TagKey", "Values": ["team"]}], ["plain"]),
        ([{"Key": "TagValue", "Values": ["nobody"]}], []),
        ([{"Key": "Description", "Values": ["Administrator"]}], ["acs/ecs/win-app-1-admin"]),
        ([{"Key": "Creator", "Values": ["sandbox"]}], ["plain"]),
    ],
)
async def test_list_secrets_filters(
    kms: KmsClient, filters: list[dict[str, Any]], expected: list[str]
) -> None:
    await kms.create_secret_async(
        m.CreateSecretRequest(
            secret_name="plain",
            version_id="v1",
            secret_data="hello",
            tags=json.dumps([{"TagKey": "team", "TagValue": "sre"}]),
        )
    )
    request = m.ListSecretsRequest(filters=json.dumps(filters), page_size=100, fetch_tags="true")
    body = (await kms.list_secrets_async(request)).body
    assert [s.secret_name for s in body.secret_list.secret] == expected
    assert body.total_count == len(expected)


async def test_list_secrets_rejects_bad_filters(kms: KmsClient) -> None:
    request = m.ListSecretsRequest(filters=json.dumps([{"Key": "Colour", "Values": ["red"]}]))
    with pytest.raises(ClientException) as caught:
        await kms.list_secrets_async(request)
    assert (caught.value.code, caught.value.status_code) == ("InvalidParameter", 400)
    assert "Filters" in caught.value.message
    with pytest.raises(ClientException) as caught:
        await kms.list_secrets_async(m.ListSecretsRequest(page_size=101))
    assert "PageSize" in caught.value.message


async def test_generic_secret_versions(kms: KmsClient) -> None:
    await kms.create_secret_async(
        m.CreateSecretRequest(secret_name="app/db", version_id="v1", secret_data="one")
    )
    put = await kms.put_secret_value_async(
        m.PutSecretValueRequest(secret_name="app/db", version_id="v2", secret_data="two")
    )
    assert put.body.version_stages.version_stage == ["ACSCurrent"]
    value = (await kms.get_secret_value_async(m.GetSecretValueRequest(secret_name="app/db"))).body
    assert (value.secret_data, value.version_id, value.secret_type) == ("two", "v2", "Generic")
    previous = (
        await kms.get_secret_value_async(
            m.GetSecretValueRequest(secret_name="app/db", version_stage="ACSPrevious")
        )
    ).body
    assert previous.secret_data == "one"
    by_id = (
        await kms.get_secret_value_async(
            m.GetSecretValueRequest(secret_name="app/db", version_id="v1")
        )
    ).body
    assert by_id.version_stages.version_stage == ["ACSPrevious"]
    again = await kms.put_secret_value_async(
        m.PutSecretValueRequest(secret_name="app/db", version_id="v2", secret_data="two")
    )
    assert again.body.version_id == "v2"  # same id, same data: idempotent
    with pytest.raises(ClientException) as caught:
        await kms.put_secret_value_async(
            m.PutSecretValueRequest(secret_name="app/db", version_id="v2", secret_data="other")
        )
    assert (caught.value.code, caught.value.status_code) == ("Rejected.ResourceExist", 409)


async def test_generic_custom_stage_and_deprecated_versions(kms: KmsClient) -> None:
    await kms.create_secret_async(
        m.CreateSecretRequest(secret_name="app/api", version_id="v1", secret_data="1")
    )
    await kms.put_secret_value_async(
        m.PutSecretValueRequest(secret_name="app/api", version_id="v2", secret_data="2")
    )
    await kms.put_secret_value_async(
        m.PutSecretValueRequest(secret_name="app/api", version_id="v3", secret_data="3")
    )
    await kms.put_secret_value_async(
        m.PutSecretValueRequest(
            secret_name="app/api", version_id="v4", secret_data="4", version_stages='["ACSNext"]'
        )
    )
    listed = (
        await kms.list_secret_version_ids_async(
            m.ListSecretVersionIdsRequest(secret_name="app/api")
        )
    ).body
    stages = {v.version_id: v.version_stages.version_stage for v in listed.version_ids.version_id}
    assert stages == {"v2": ["ACSPrevious"], "v3": ["ACSCurrent"], "v4": ["ACSNext"]}
    everything = (
        await kms.list_secret_version_ids_async(
            m.ListSecretVersionIdsRequest(secret_name="app/api", include_deprecated="true")
        )
    ).body
    assert everything.total_count == 4
    assert everything.version_ids.version_id[0].version_stages.version_stage == []


async def test_get_secret_value_of_an_ecs_secret(kms: KmsClient) -> None:
    request = m.GetSecretValueRequest(secret_name="acs/ecs/web-3-root", fetch_extended_config=True)
    body = (await kms.get_secret_value_async(request)).body
    data = json.loads(body.secret_data)
    assert set(data) == {"UserName", "Password"} and data["UserName"] == "root"
    assert (body.secret_type, body.secret_data_type) == ("ECS", "text")
    assert body.version_stages.version_stage == ["ACSCurrent"]
    assert (body.automatic_rotation, body.rotation_interval) == ("Enabled", "604800s")
    assert json.loads(body.extended_config)["InstanceId"] == WEB3
    by_id = m.GetSecretValueRequest(secret_name="acs/ecs/web-3-root", version_id="whatever")
    assert (await kms.get_secret_value_async(by_id)).body.version_id == "v1"  # ignored for ECS
    with pytest.raises(ClientException) as caught:
        await kms.get_secret_value_async(
            m.GetSecretValueRequest(secret_name="acs/ecs/web-3-root", version_stage="ACSPrevious")
        )
    assert (caught.value.code, caught.value.status_code) == ("Forbidden.ResourceNotFound", 404)
    with pytest.raises(ClientException) as caught:
        await kms.get_secret_value_async(
            m.GetSecretValueRequest(secret_name="acs/ecs/web-3-root", version_stage="ACSPending")
        )
    assert (caught.value.code, caught.value.status_code) == ("InvalidParameter", 400)
    assert "VersionStage" in caught.value.message


async def test_update_rotation_policy(kms: KmsClient) -> None:
    name = "acs/ecs/web-4-ecs-user-key"
    await kms.update_secret_rotation_policy_async(
        m.UpdateSecretRotationPolicyRequest(
            secret_name=name, enable_automatic_rotation=True, rotation_interval="36h"
        )
    )
    body = (await kms.describe_secret_async(m.DescribeSecretRequest(secret_name=name))).body
    assert (body.automatic_rotation, body.rotation_interval) == ("Enabled", "129600s")
    assert body.next_rotation_date is not None
    await kms.update_secret_rotation_policy_async(
        m.UpdateSecretRotationPolicyRequest(secret_name=name, enable_automatic_rotation=False)
    )
    body = (await kms.describe_secret_async(m.DescribeSecretRequest(secret_name=name))).body
    assert (body.automatic_rotation, body.next_rotation_date) == ("Disabled", None)
    assert body.rotation_interval is None  # documented: only while rotation is on
    with pytest.raises(ClientException) as caught:
        await kms.update_secret_rotation_policy_async(
            m.UpdateSecretRotationPolicyRequest(secret_name=name, enable_automatic_rotation=True)
        )
    assert "RotationInterval" in caught.value.message
    with pytest.raises(ClientException) as caught:
        await kms.update_secret_rotation_policy_async(
            m.UpdateSecretRotationPolicyRequest(secret_name=name)
        )
    assert (caught.value.code, caught.value.status_code) == ("MissingEnableAutomaticRotation", 400)


async def test_rotation_apis_are_not_for_generic_secrets(kms: KmsClient) -> None:
    await kms.create_secret_async(
        m.CreateSecretRequest(secret_name="g", version_id="v1", secret_data="x")
    )
    with pytest.raises(ClientException) as caught:
        await kms.rotate_secret_async(m.RotateSecretRequest(secret_name="g", version_id="v2"))
    assert (caught.value.code, caught.value.status_code) == ("InvalidParameter", 400)
    with pytest.raises(ClientException) as caught:
        await kms.update_secret_rotation_policy_async(
            m.UpdateSecretRotationPolicyRequest(
                secret_name="g", enable_automatic_rotation=True, rotation_interval="7d"
            )
        )
    assert caught.value.code == "InvalidParameter"
