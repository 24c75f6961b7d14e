"""The gateway checks: who signs, with what, when, and whether the request is intact."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alibabacloud_kms20160120 import models as kms_models
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.models import Config

from ecs_secret_bot.sandbox import Sandbox

RawCall = Callable[..., Awaitable[tuple[int, dict[str, Any]]]]


async def test_the_sdk_signs_and_the_sandbox_agrees(kms: KmsClient) -> None:
    response = await kms.list_secrets_async(kms_models.ListSecretsRequest())
    assert response.status_code == 200
    assert response.body.request_id
    assert response.headers["x-acs-request-id"] == response.body.request_id


async def test_sm3_signatures_are_checked_too(kms_client: Callable[..., KmsClient]) -> None:
    client = kms_client(signature_algorithm="ACS3-HMAC-SM3")
    response = await client.list_secrets_async(kms_models.ListSecretsRequest())
    assert response.body.total_count == 5


async def test_wrong_secret_is_signature_does_not_match(
    kms_client: Callable[..., KmsClient],
) -> None:
    client = kms_client(access_key_secret="not-the-secret")
    with pytest.raises(ClientException) as caught:
        await client.list_secrets_async(kms_models.ListSecretsRequest())
    assert (caught.value.code, caught.value.status_code) == ("SignatureDoesNotMatch", 400)
    assert caught.value.request_id
    assert caught.value.data["HostId"] == "kms.cn-hangzhou.aliyuncs.com"
    assert "q=SignatureDoesNotMatch&product=Kms" in caught.value.data["Recommend"]


async def test_unknown_access_key_is_not_found(kms_client: Callable[..., KmsClient]) -> None:
    client = kms_client(access_key_id="LTAI-unknown")
    with pytest.raises(ClientException) as caught:
        await client.list_secrets_async(kms_models.ListSecretsRequest())
    assert (caught.value.code, caught.value.status_code) == ("InvalidAccessKeyId.NotFound", 404)


async def test_only_the_configured_access_keys_are_accepted() -> None:
    async with Sandbox(access_keys={"ops": "ops-secret"}, seed=False) as other:

        def client(key_id: str, secret: str) -> KmsClient:
            return KmsClient(
                Config(
                    access_key_id=key_id,
                    access_key_secret=secret,
                    endpoint=other.endpoint,
                    protocol="http",
                )
            )

        request = kms_models.ListSecretsRequest()
        assert (await client("ops", "ops-secret").list_secrets_async(request)).body.total_count == 0
        with pytest.raises(ClientException) as caught:
            await client("sandbox", "sandbox-secret").list_secrets_async(request)
        assert caught.value.code == "InvalidAccessKeyId.NotFound"
        other.access_keys["late"] = "late-secret"
        assert (await client("late", "late-secret").list_secrets_async(request)).status_code == 200


async def test_a_hand_signed_request_passes(raw_call: RawCall) -> None:
    status, body = await raw_call("GetSecretValue", query={"SecretName": "acs/ecs/web-3-root"})
    assert status == 200
    assert body["SecretType"] == "ECS"


async def test_stale_timestamp_is_expired(raw_call: RawCall) -> None:
    stale = (datetime.now(UTC) - timedelta(minutes=16)).strftime("%Y-%m-%dT%H:%M:%SZ")
    status, body = await raw_call(date=stale)
    assert (status, body["Code"]) == (400, "InvalidTimeStamp.Expired")
    assert body["RequestId"] and body["HostId"] and body["Message"] and body["Recommend"]


async def test_timestamp_in_the_future_is_expired_too(raw_call: RawCall) -> None:
    ahead = (datetime.now(UTC) + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    status, body = await raw_call(date=ahead)
    assert (status, body["Code"]) == (400, "InvalidTimeStamp.Expired")


async def test_small_clock_skew_is_fine(raw_call: RawCall) -> None:
    behind = (datetime.now(UTC) - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    status, _ = await raw_call(date=behind)
    assert status == 200


async def test_malformed_timestamp(raw_call: RawCall) -> None:
    status, body = await raw_call(date="Tue, 01 Oct 2024 10:00:00 GMT")
    assert (status, body["Code"]) == (400, "InvalidTimeStamp.Format")


async def test_reused_nonce_is_refused(raw_call: RawCall) -> None:
    status, _ = await raw_call(nonce="0123456789abcdef0123456789abcdef")
    assert status == 200
    status, body = await raw_call(nonce="0123456789abcdef0123456789abcdef")
    assert (status, body["Code"]) == (400, "SignatureNonceUsed")


async def test_tampered_body_does_not_match(raw_call: RawCall) -> None:
    status, body = await raw_call(
        "PutSecretValue",
        query={"SecretName": "acs/ecs/web-3-root", "VersionId": "evil"},
        body={"SecretData": '{"UserName":"root","Password":"Original#1"}'},
        send_body=b"SecretData=%7B%22UserName%22%3A%22root%22%2C%22Password%22%3A%22Evil%231%22%7D",
    )
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")
    assert "x-acs-content-sha256" in body["Message"]


async def test_forged_signature_does_not_match(raw_call: RawCall) -> None:
    signed = await raw_call("DescribeSecret", query={"SecretName": "acs/ecs/web-3-root"})
    assert signed[0] == 200
    status, body = await raw_call(
        "DescribeSecret",
        query={"SecretName": "acs/ecs/web-4-ecs-user-key"},
        authorization=(
            "ACS3-HMAC-SHA256 Credential=sandbox,SignedHeaders=accept;host;x-acs-action;"
            "x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,"
            "Signature=" + "0" * 64
        ),
    )
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")


async def test_missing_authorization(raw_call: RawCall) -> None:
    status, body = await raw_call(sign=False)
    assert (status, body["Code"]) == (400, "MissingAuthorization")


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer abc",
        "ACS3-HMAC-SHA256 Credential=sandbox,Signature=abc",
        "ACS3-HMAC-SHA256 Credential=sandbox,SignedHeaders=host,Signature=" + "0" * 64,
    ],
)
async def test_incomplete_signature(raw_call: RawCall, authorization: str) -> None:
    status, body = await raw_call(authorization=authorization)
    assert (status, body["Code"]) == (400, "IncompleteSignature")


async def test_unsigned_x_acs_header_is_incomplete(raw_call: RawCall) -> None:
    status, _ = await raw_call(extra_headers={"x-acs-region-id": "cn-shanghai"})
    assert status == 200  # signed along with the rest
    status, body = await raw_call(
        authorization=(
            "ACS3-HMAC-SHA256 Credential=sandbox,SignedHeaders=accept;host;x-acs-action;"
            "x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,"
            "Signature=" + "0" * 64
        ),
        extra_headers={"x-acs-region-id": "cn-shanghai"},
    )
    assert (status, body["Code"]) == (400, "IncompleteSignature")
    assert "x-acs-region-id" in body["Message"]


async def test_unsupported_algorithm(raw_call: RawCall) -> None:
    status, body = await raw_call(
        authorization="ACS3-RSA-SHA256 Credential=sandbox,SignedHeaders=host,Signature=00"
    )
    assert (status, body["Code"]) == (400, "InvalidSignatureMethod")


async def test_unknown_action_and_version(raw_call: RawCall) -> None:
    status, body = await raw_call("ScheduleKeyDeletion")
    assert (status, body["Code"]) == (404, "InvalidApi.NotFound")
    status, body = await raw_call("ListSecrets", version="2099-01-01")
    assert (status, body["Code"]) == (400, "InvalidVersion")
    status, body = await raw_call("")
    assert (status, body["Code"]) == (400, "MissingAction")


async def test_ecs_errors_name_the_ecs_host(raw_call: RawCall) -> None:
    status, body = await raw_call(
        "DescribeInstances",
        version="2014-05-26",
        query={"RegionId": "cn-beijing"},
        access_key=("sandbox", "wrong"),
    )
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")
    assert body["HostId"] == "ecs.cn-hangzhou.aliyuncs.com"  # the endpoint's, not RegionId's
    assert "product=Ecs" in body["Recommend"]
