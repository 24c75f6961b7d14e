"""Parameter rules: names, intervals, ExtendedConfig, SecretData, required parameters."""

from __future__ import annotations

import json
from typing import Any

import pytest
from alibabacloud_kms20160120 import models as m
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.exceptions import ClientException

from ecs_secret_bot.sandbox import Sandbox

REGION = "cn-hangzhou"
WEB3 = "i-bp1sbxweb3000000001"
WIN1 = "i-bp1sbxwin1000000003"
PASSWORD = json.dumps({"UserName": "root", "Password": "Initial#Pw1"})
CONFIG = {"SecretSubType": "Password", "RegionId": REGION, "InstanceId": WEB3}


def create(**overrides: Any) -> m.CreateSecretRequest:
    values: dict[str, Any] = {
        "secret_name": "acs/ecs/new-root",
        "secret_type": "ECS",
        "version_id": "v1",
        "secret_data": PASSWORD,
        "extended_config": dict(CONFIG),
    }
    values.update(overrides)
    return m.CreateSecretRequest(**values)


@pytest.mark.parametrize(
    ("overrides", "parameter"),
    [
        ({"secret_name": "web-3-root"}, "SecretName"),
        ({"secret_name": "acs/ecs/"}, "SecretName"),
        ({"secret_name": "acs/ecs/web 3"}, "SecretName"),
        ({"secret_name": "acs/ecs/" + "x" * 185}, "SecretName"),
        (
            {"secret_name": "acs/app/x", "secret_type": "Generic", "extended_config": None},
            "SecretName",
        ),
        ({"secret_type": "Rds"}, "SecretType"),
        ({"secret_type": "Vault"}, "SecretType"),
        ({"version_id": "v" * 65}, "VersionId"),
        ({"enable_automatic_rotation": True}, "RotationInterval"),
        ({"enable_automatic_rotation": True, "rotation_interval": "5h"}, "RotationInterval"),
        ({"enable_automatic_rotation": True, "rotation_interval": "366d"}, "RotationInterval"),
        ({"enable_automatic_rotation": True, "rotation_interval": "1w"}, "RotationInterval"),
        ({"extended_config": None}, "ExtendedConfig"),
        ({"extended_config": {**CONFIG, "SecretSubType": "Token"}}, "SecretSubType"),
        ({"extended_config": {**CONFIG, "RegionId": "cn-shanghai"}}, "RegionId"),
        ({"extended_config": {**CONFIG, "InstanceId": "i-nowhere"}}, "InstanceId"),
        ({"extended_config": {**CONFIG, "Colour": "red"}}, "Colour"),
        ({"extended_config": {**CONFIG, "CustomData": "x"}}, "CustomData"),
        (
            {"extended_config": {**CONFIG, "CustomData": {str(i): i for i in range(11)}}},
            "CustomData",
        ),
        (
            {
                "extended_config": {**CONFIG, "SecretSubType": "SSHKey", "InstanceId": WIN1},
                "secret_data": json.dumps(
                    {"UserName": "a", "PublicKey": "ssh-rsa A", "PrivateKey": "x"}
                ),
            },
            "Windows",
        ),
        ({"secret_data": "not json"}, "SecretData"),
        ({"secret_data": json.dumps({"UserName": "root", "Password": ""})}, "SecretData"),
        ({"secret_data": json.dumps({"User": "root", "Password": "x"})}, "SecretData"),
        (
            {
                "extended_config": {**CONFIG, "SecretSubType": "SSHKey"},
                "secret_data": json.dumps(
                    {
                        "UserName": "root",
                        "PublicKey": "AAAA",
                        "PrivateKey": "-----BEGIN RSA PRIVATE KEY-----",
                    }
                ),
            },
            "PublicKey",
        ),
        ({"secret_data_type": "binary"}, "SecretDataType"),
        ({"tags": "team=sre"}, "Tags"),
        ({"tags": json.dumps([{"TagKey": "acs:x", "TagValue": "v"}])}, "Tags"),
        ({"description": "d" * 1025}, "Description"),
        (
            {"secret_data": "x" * 30721, "secret_type": "Generic", "secret_name": "big"},
            "SecretData",
        ),
    ],
)
async def test_create_secret_validation(
    kms: KmsClient, overrides: dict[str, Any], parameter: str
) -> None:
    with pytest.raises(ClientException) as caught:
        await kms.create_secret_async(create(**overrides))
    assert (caught.value.code, caught.value.status_code) == ("InvalidParameter", 400)
    assert parameter in caught.value.message
    assert "Initial#Pw1" not in caught.value.message


async def test_generic_names_are_free_of_acs(kms: KmsClient) -> None:
    body = (
        await kms.create_secret_async(
            m.CreateSecretRequest(
                secret_name="team/app+db=1@x.y_z-2", version_id="v1", secret_data="s"
            )
        )
    ).body
    assert body.secret_type == "Generic" and body.automatic_rotation is None


async def test_ssh_key_secret_and_custom_data_are_accepted(kms: KmsClient) -> None:
    from ecs_secret_bot.sandbox.credentials import generate_key_pair

    public, private = generate_key_pair()
    body = (
        await kms.create_secret_async(
            create(
                extended_config={
                    **CONFIG,
                    "SecretSubType": "SSHKey",
                    "CustomData": {"owner": "sre"},
                },
                secret_data=json.dumps(
                    {"UserName": "ecs-user", "PublicKey": public, "PrivateKey": private}
                ),
            )
        )
    ).body
    assert json.loads(body.extended_config)["CustomData"] == {"owner": "sre"}
    assert body.automatic_rotation == "Disabled" and body.rotation_interval is None


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (m.CreateSecretRequest(version_id="v1", secret_data="x"), "MissingSecretName"),
        (m.CreateSecretRequest(secret_name="x", secret_data="x"), "MissingVersionId"),
        (m.CreateSecretRequest(secret_name="x", version_id="v1"), "MissingSecretData"),
    ],
)
async def test_required_parameters(
    kms: KmsClient, request_: m.CreateSecretRequest, code: str
) -> None:
    with pytest.raises(ClientException) as caught:
        await kms.create_secret_async(request_)
    assert (caught.value.code, caught.value.status_code) == (code, 400)


async def test_rotate_needs_a_version_id(kms: KmsClient) -> None:
    with pytest.raises(ClientException) as caught:
        await kms.rotate_secret_async(m.RotateSecretRequest(secret_name="acs/ecs/web-3-root"))
    assert caught.value.code == "MissingVersionId"


async def test_existing_name(kms: KmsClient) -> None:
    with pytest.raises(ClientException) as caught:
        await kms.create_secret_async(create(secret_name="acs/ecs/web-3-root"))
    assert (caught.value.code, caught.value.status_code) == ("Rejected.ResourceExist", 409)


async def test_unknown_secret(kms: KmsClient) -> None:
    with pytest.raises(ClientException) as caught:
        await kms.get_secret_value_async(m.GetSecretValueRequest(secret_name="acs/ecs/nope"))
    assert (caught.value.code, caught.value.status_code) == ("Forbidden.ResourceNotFound", 404)
    assert "acs/ecs/nope" in caught.value.message


async def test_booleans_must_be_booleans(kms: KmsClient) -> None:
    with pytest.raises(ClientException) as caught:
        await kms.delete_secret_async(
            m.DeleteSecretRequest(
                secret_name="acs/ecs/web-3-root", force_delete_without_recovery="yes"
            )
        )
    assert "ForceDeleteWithoutRecovery" in caught.value.message


def test_direct_seeding_validates_like_create_secret(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        sandbox.add_ecs_secret(REGION, "x", instance_id="i-nowhere")
    with pytest.raises(ValueError, match="Windows"):
        sandbox.add_ecs_secret(REGION, "y", instance_id=WIN1, sub_type="SSHKey")
    with pytest.raises(ValueError, match="already exists"):
        sandbox.add_ecs_secret(REGION, "web-3-root", instance_id=WEB3)
    with pytest.raises(ValueError, match="RotationInterval"):
        sandbox.add_ecs_secret(REGION, "z", instance_id=WEB3, rotation_interval="1h")
