"""The gateway acting as a RAM role: STS AssumeRole through the SDK against the sandbox, the
credentials cached until shortly before they expire, and denials that say whose they are."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from fakes.cloud import cloud_settings, fast_retry, sandbox_credential

from ecs_secret_bot.cloud.gateway import AlibabaCloudGateway
from ecs_secret_bot.commands.gateway import CloudIdentity
from ecs_secret_bot.errors import CloudClientError, CloudPermissionDenied
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.sandbox.ram import RamPolicy

ROLE = "acs:ram::1234567890123456:role/secret-operators"
ALICE = CloudIdentity(ROLE, "slack:user:UALICE")


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def gateway(sb: Sandbox, clock: Clock | None = None) -> AlibabaCloudGateway:
    return AlibabaCloudGateway(
        cloud_settings(sb), credential=sandbox_credential(), retry=fast_retry(), clock=clock
    )


async def test_credentials_are_reused_until_shortly_before_they_expire(sandbox: Sandbox) -> None:
    sandbox.sts.add_role("secret-operators")
    clock = Clock()
    gw = gateway(sandbox, clock)
    alice = gw.as_identity(ALICE)
    assert gw.as_identity(ALICE) is alice
    await asyncio.gather(*(alice.list_secrets("cn-hangzhou") for _ in range(3)))
    await alice.describe_instances("cn-shanghai")
    assert sandbox.access.sessions_of("AssumeRole") == [""]  # one, made as the bot
    assert set(sandbox.access.sessions_of("ListSecrets")) == {"slack-UALICE"}

    clock.now += timedelta(minutes=54)
    await alice.list_secrets("cn-hangzhou")
    assert len(sandbox.access.sessions_of("AssumeRole")) == 1
    clock.now += timedelta(minutes=2)  # within five minutes of the hour: renewed first
    await alice.list_secrets("cn-hangzhou")
    assert len(sandbox.access.sessions_of("AssumeRole")) == 2

    await gw.list_secrets("cn-hangzhou")  # the bot itself is unchanged
    assert sandbox.access.sessions_of()[-1] == ""


async def test_a_role_that_lacks_a_permission_is_named(sandbox: Sandbox) -> None:
    narrow = {
        "Version": "1",
        "Statement": [{"Effect": "Allow", "Action": "kms:ListSecrets", "Resource": "*"}],
    }
    sandbox.sts.add_role("secret-operators", policy=RamPolicy.parse(narrow))
    alice = gateway(sandbox).as_identity(ALICE)
    await alice.list_secrets("cn-hangzhou")
    with pytest.raises(CloudPermissionDenied) as denied:
        await alice.describe_secret("cn-hangzhou", "acs/ecs/web-3-root")
    error = denied.value
    assert (error.code, error.permission) == ("Forbidden.NoPermission", "kms:DescribeSecret")
    assert "RAM role secret-operators" in error.user_message
    assert "session slack-UALICE" in error.user_message
    assert "to the role secret-operators" in error.next_step.text


async def test_a_role_the_bot_may_not_assume(sandbox: Sandbox) -> None:
    alice = gateway(sandbox).as_identity(ALICE)
    with pytest.raises(CloudClientError) as missing:
        await alice.list_secrets("cn-hangzhou")
    assert (missing.value.code, missing.value.action) == ("EntityNotExist.Role", "AssumeRole")

    sandbox.sts.add_role("secret-operators")
    sandbox.access.policy = RamPolicy.parse(
        {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}
    )
    with pytest.raises(CloudPermissionDenied) as denied:
        await alice.list_secrets("cn-hangzhou")
    assert denied.value.permission == "sts:AssumeRole"
    assert ROLE in denied.value.user_message
    assert "sts:AssumeRole" in denied.value.next_step.text
