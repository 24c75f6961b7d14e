"""RAM and STS in the sandbox: the AccessKey's policy enforced on every call, each service
refusing as it does, and role sessions assumed through STS with their own credentials."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_kms20160120 import models as m
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_sts20150401 import models as sts_models
from alibabacloud_sts20150401.client import Client as StsClient
from alibabacloud_tea_openapi.exceptions import ClientException
from conftest import REGION, WEB3, sdk_config

from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.sandbox.ram import DEFAULT_POLICY_FILE, RamDecision, RamPolicy

ROLE = "acs:ram::1234567890123456:role/secret-operators"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "1", "Statement": list(statements)}


def allow(action: str | list[str], resource: str = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


@pytest.fixture
async def bot_sandbox() -> AsyncIterator[Sandbox]:
    """A seeded sandbox enforcing the bot's shipped policy, with one role."""
    async with Sandbox(rotation_delay=0.05) as sb:
        sb.sts.add_role("secret-operators")
        yield sb


def refusal(exc: pytest.ExceptionInfo[ClientException]) -> tuple[int, str, dict[str, Any]]:
    data = exc.value.data or {}
    return int(exc.value.status_code or 0), str(exc.value.code), data.get("AccessDeniedDetail", {})


# --- the evaluator ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "action", "resource", "expected"),
    [
        (policy(allow("kms:*Secret*", "acs:kms:*:*:secret/acs/ecs/*")), "KMS:rotatesecret",
         "acs:kms:cn-hangzhou:1:secret/acs/ecs/web", RamDecision.ALLOW),
        (policy(allow("kms:Describe?ecret", "acs:kms:*:*:secret/*")), "kms:DescribeSecret",
         "acs:kms:cn-hangzhou:1:secret/x", RamDecision.ALLOW),
        (policy(allow("kms:*", "acs:kms:*:*:secret/acs/ecs/*")), "kms:DescribeSecret",
         "acs:kms:cn-hangzhou:1:secret/ACS/ECS/web", RamDecision.IMPLICIT_DENY),
        (policy(allow("*"), {"Effect": "Deny", "Action": "kms:DeleteSecret", "Resource": "*"}),
         "kms:DeleteSecret", "acs:kms:cn-hangzhou:1:secret/x", RamDecision.EXPLICIT_DENY),
        (policy({"Effect": "Allow", "NotAction": "kms:DeleteSecret", "Resource": "*"}),
         "kms:DeleteSecret", "acs:kms:cn-hangzhou:1:secret/x", RamDecision.IMPLICIT_DENY),
        (policy({"Effect": "Allow", "Action": "kms:*", "NotResource": "acs:kms:*:*:key/*"}),
         "kms:GenerateDataKey", "acs:kms:cn-hangzhou:1:key/k", RamDecision.IMPLICIT_DENY),
    ],
)  # fmt: skip
def test_ram_evaluation(
    document: dict[str, Any], action: str, resource: str, expected: RamDecision
) -> None:
    assert RamPolicy.parse(document).decide(action, resource) is expected


def test_a_condition_is_refused_rather_than_ignored() -> None:
    with pytest.raises(ValueError, match="Condition"):
        RamPolicy.parse(policy({**allow("*"), "Condition": {"Bool": {"acs:MFAPresent": "true"}}}))


def test_the_default_is_the_shipped_policy() -> None:
    assert Sandbox(seed=False).access.policy.document == json.loads(
        DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    )


# --- refusals, service by service ---------------------------------------------------------


async def test_kms_refuses_outside_the_policy_with_no_permission(bot_sandbox: Sandbox) -> None:
    kms = KmsClient(sdk_config(bot_sandbox))
    await kms.describe_secret_async(m.DescribeSecretRequest(secret_name="acs/ecs/web-3-root"))
    with pytest.raises(ClientException) as refused:
        await kms.describe_secret_async(m.DescribeSecretRequest(secret_name="app/db"))
    status, code, detail = refusal(refused)
    assert (status, code) == (403, "Forbidden.NoPermission")
    assert detail["AuthAction"] == "kms:DescribeSecret"
    assert detail["NoPermissionType"] == "ImplicitDeny"
    assert detail["AuthPrincipalType"] == "SubUser"
    assert [c.allowed for c in bot_sandbox.access.calls] == [True, False]


async def test_ecs_refuses_with_forbidden_ram_and_the_explicit_deny_wins() -> None:
    denied = policy(allow("*"), {"Effect": "Deny", "Action": "ecs:Describe*", "Resource": "*"})
    async with Sandbox(ram_policy=denied) as sb:
        ecs = EcsClient(sdk_config(sb))
        with pytest.raises(ClientException) as refused:
            await ecs.describe_instances_async(
                ecs_models.DescribeInstancesRequest(region_id=REGION)
            )
        status, code, detail = refusal(refused)
        assert (status, code) == (403, "Forbidden.RAM")
        assert detail["AuthAction"] == "ecs:DescribeInstances"
        assert detail["NoPermissionType"] == "ExplicitDeny"
        with pytest.raises(ClientException) as refused:
            await ecs.describe_cloud_assistant_status_async(
                ecs_models.DescribeCloudAssistantStatusRequest(region_id=REGION, instance_id=[WEB3])
            )
        assert refusal(refused)[2]["AuthAction"] == "ecs:DescribeCloudAssistantStatus"


async def test_cloud_assistant_status_is_authorized_per_instance() -> None:
    only_web3 = policy(allow("ecs:DescribeCloudAssistantStatus", f"acs:ecs:*:*:instance/{WEB3}"))
    async with Sandbox(ram_policy=only_web3) as sb:
        ecs = EcsClient(sdk_config(sb))
        request = ecs_models.DescribeCloudAssistantStatusRequest
        await ecs.describe_cloud_assistant_status_async(
            request(region_id=REGION, instance_id=[WEB3])
        )
        with pytest.raises(ClientException, match="Forbidden.RAM"):
            await ecs.describe_cloud_assistant_status_async(
                request(region_id=REGION, instance_id=[WEB3, "i-bp1sbxweb4000000002"])
            )


async def test_writing_a_secret_under_a_key_needs_generate_data_key() -> None:
    shipped = json.loads(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))
    shipped["Statement"] = [s for s in shipped["Statement"] if s["Action"] != "kms:GenerateDataKey"]
    async with Sandbox(ram_policy=shipped) as sb:
        kms = KmsClient(sdk_config(sb))
        request = m.CreateSecretRequest(
            secret_name="acs/ecs/keyed",
            secret_type="ECS",
            version_id="v1",
            secret_data=json.dumps({"UserName": "root", "Password": "Curr3nt-Passw0rd!"}),
            extended_config={"SecretSubType": "Password", "RegionId": REGION, "InstanceId": WEB3},
            encryption_key_id="key-hzz123",
        )
        with pytest.raises(ClientException) as refused:
            await kms.create_secret_async(request)
        status, code, detail = refusal(refused)
        assert (status, code, detail["AuthAction"]) == (
            403,
            "Forbidden.NoPermission",
            "kms:GenerateDataKey",
        )
        request.encryption_key_id = None
        await kms.create_secret_async(request)


# --- STS ------------------------------------------------------------------------------------


def sts_client(sb: Sandbox, **overrides: Any) -> StsClient:
    return StsClient(sdk_config(sb, **overrides))


async def assume(sb: Sandbox, session: str = "slack-U0ADMIN", **params: Any) -> Any:
    request = sts_models.AssumeRoleRequest(role_arn=ROLE, role_session_name=session, **params)
    return (await sts_client(sb).assume_role_async(request)).body


async def test_assume_role_and_call_as_the_session(bot_sandbox: Sandbox) -> None:
    body = await assume(bot_sandbox)
    assert body.assumed_role_user.arn == f"{ROLE}/slack-U0ADMIN"
    creds = body.credentials
    assert creds.access_key_id.startswith("STS.") and creds.security_token
    kms = KmsClient(
        sdk_config(
            bot_sandbox,
            access_key_id=creds.access_key_id,
            access_key_secret=creds.access_key_secret,
            security_token=creds.security_token,
        )
    )
    await kms.list_secrets_async(m.ListSecretsRequest(page_size=1))
    calls = bot_sandbox.access.calls
    assert [(c.action, c.session_name) for c in calls] == [
        ("AssumeRole", ""),
        ("ListSecrets", "slack-U0ADMIN"),
    ]
    assert calls[1].principal == "secret-operators/slack-U0ADMIN"

    stolen = KmsClient(
        sdk_config(
            bot_sandbox,
            access_key_id=creds.access_key_id,
            access_key_secret=creds.access_key_secret,
            security_token="CAISforged",
        )
    )
    with pytest.raises(ClientException, match="InvalidSecurityToken.MismatchWithAccessKey"):
        await stolen.list_secrets_async(m.ListSecretsRequest(page_size=1))
    bot_sandbox.advance(timedelta(hours=1))
    with pytest.raises(ClientException, match="InvalidSecurityToken.Expired"):
        await kms.list_secrets_async(m.ListSecretsRequest(page_size=1))


async def test_assume_role_refusals(bot_sandbox: Sandbox) -> None:
    with pytest.raises(ClientException, match="InvalidParameter.RoleSessionName"):
        await assume(bot_sandbox, session="a")
    with pytest.raises(ClientException, match="InvalidParameter.RoleSessionName"):
        await assume(bot_sandbox, session="slack:user:U0ADMIN")
    with pytest.raises(ClientException, match="InvalidParameter.DurationSeconds"):
        await assume(bot_sandbox, duration_seconds=7200)
    with pytest.raises(ClientException) as missing:
        await sts_client(bot_sandbox).assume_role_async(
            sts_models.AssumeRoleRequest(role_arn=ROLE.replace("operators", "nobody"),
                                         role_session_name="slack-U1")
        )  # fmt: skip
    assert (missing.value.status_code, missing.value.code) == (404, "EntityNotExist.Role")

    async with Sandbox(ram_policy=policy(allow("kms:*"))) as sb:
        sb.sts.add_role("secret-operators")
        with pytest.raises(ClientException) as refused:
            await assume(sb)
    status, code, detail = refusal(refused)
    assert (status, code, detail["AuthAction"]) == (403, "NoPermission", "sts:AssumeRole")


async def test_a_role_with_its_own_policy() -> None:
    async with Sandbox() as sb:
        sb.sts.add_role("readers", policy=RamPolicy.parse(policy(allow("kms:ListSecrets"))))
        request = sts_models.AssumeRoleRequest(
            role_arn="acs:ram::1234567890123456:role/readers", role_session_name="local-alice"
        )
        creds = (await sts_client(sb).assume_role_async(request)).body.credentials
        kms = KmsClient(
            sdk_config(
                sb,
                access_key_id=creds.access_key_id,
                access_key_secret=creds.access_key_secret,
                security_token=creds.security_token,
            )
        )
        await kms.list_secrets_async(m.ListSecretsRequest())
        with pytest.raises(ClientException) as refused:
            await kms.describe_secret_async(
                m.DescribeSecretRequest(secret_name="acs/ecs/web-3-root")
            )
        assert refusal(refused)[2]["AuthPrincipalType"] == "AssumedRoleUser"


# --- steering it ----------------------------------------------------------------------------


async def test_control_routes_set_the_policy_add_roles_and_list_callers(
    bot_sandbox: Sandbox,
) -> None:
    async with aiohttp.ClientSession(bot_sandbox.url) as http:
        async with http.post("/_sandbox/ram", json={"policy": policy(allow("kms:ListSecrets"))}):
            pass
        ecs = EcsClient(sdk_config(bot_sandbox))
        with pytest.raises(ClientException, match="Forbidden.RAM"):
            await ecs.describe_instances_async(
                ecs_models.DescribeInstancesRequest(region_id=REGION)
            )
        async with http.post("/_sandbox/ram", json={"policy": "default"}) as reply:
            assert (await reply.json())["policy"]["Statement"]
        async with http.post("/_sandbox/roles", json={"name": "auditors"}) as reply:
            assert reply.status == 201
            assert (await reply.json())["arn"] == "acs:ram::1234567890123456:role/auditors"
        async with http.post("/_sandbox/ram", json={"policy": {"Version": "2"}}) as reply:
            assert reply.status == 400
        async with http.get("/_sandbox/callers") as reply:
            calls = (await reply.json())["calls"]
        async with http.get("/_sandbox/ram") as reply:
            roles = (await reply.json())["roles"]
    assert calls == [
        {
            "action": "DescribeInstances",
            "region": REGION,
            "accessKeyId": "sandbox",
            "principal": "ecs-secret-bot",
            "roleSessionName": "",
            "allowed": False,
        }
    ]
    assert {r["name"] for r in roles} == {"secret-operators", "auditors"}


def test_the_sandbox_command_refuses_an_unreadable_policy(tmp_path: Any) -> None:
    bad = tmp_path / "policy.json"
    bad.write_text('{"Version": "1", "Statement": [{"Effect": "Maybe"}]}', encoding="utf-8")
    for path in (bad, tmp_path / "missing.json"):
        done = subprocess.run(
            [sys.executable, "-m", "ecs_secret_bot.cli", "sandbox", "--ram-policy", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2
        assert done.stderr.startswith(f"--ram-policy {path}")
