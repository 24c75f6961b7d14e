"""The bot's own RAM permissions: with the shipped policy minus one action, ``check`` names
that action (with the policy line that grants it, or as one no harmless call can show), and
the operation that needs it tells the person which permission the bot lacks."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from fakes.cloud import REGIONS, sandbox_credential
from fakes.core import CoreHarness, actor
from fakes.policies import access_toml
from terminal_harness import config_text

from ecs_secret_bot.check import CheckLine, format_lines, run_check
from ecs_secret_bot.cloud.permissions import BOT_POLICY_FILE, ram_actions
from ecs_secret_bot.cloud.probes import UNCHECKED
from ecs_secret_bot.commands.operations.create import create_secret
from ecs_secret_bot.commands.operations.delete import delete_secret
from ecs_secret_bot.commands.operations.restore import restore_secret
from ecs_secret_bot.commands.operations.rotate import rotate_secret
from ecs_secret_bot.commands.operations.rotation_policy import set_rotation_policy
from ecs_secret_bot.commands.outcomes import RotateResult
from ecs_secret_bot.commands.queries.detail import show_secret
from ecs_secret_bot.commands.queries.secrets import list_secrets
from ecs_secret_bot.commands.requests import (
    CreateRequest,
    DeleteRequest,
    ListRequest,
    RestoreRequest,
    RotateRequest,
    RotationPolicyRequest,
)
from ecs_secret_bot.commands.tracker import follow_rotation
from ecs_secret_bot.config import load_settings
from ecs_secret_bot.errors import CloudPermissionDenied
from ecs_secret_bot.sandbox import Sandbox

ROLE = "acs:ram::1234567890123456:role/secret-operators"
ADMIN = actor("UADMIN")
OPERATOR = actor("UOPS")  # bound with role_arn


def shipped_minus(action: str) -> dict[str, Any]:
    """Return the shipped policy without ``action``."""
    document = json.loads(BOT_POLICY_FILE.read_text(encoding="utf-8"))
    statements = []
    for statement in document["Statement"]:
        actions = statement["Action"]
        kept = [a for a in ([actions] if isinstance(actions, str) else actions) if a != action]
        if kept:
            statements.append({**statement, "Action": kept})
    return {"Version": "1", "Statement": statements}


Operation = Callable[[CoreHarness], Awaitable[object]]


async def _rotate(h: CoreHarness) -> None:
    await rotate_secret(RotateRequest("web-3-root"), actor=ADMIN, core=h.core)


async def _rotate_and_follow(h: CoreHarness) -> None:
    result = await rotate_secret(RotateRequest("web-3-root"), actor=ADMIN, core=h.core)
    assert isinstance(result, RotateResult)
    await follow_rotation(result.rotation_id, core=h.core)


async def _rotate_custom(h: CoreHarness) -> None:
    request = RotateRequest("web-3-root", custom_password="Cust0m-Passw0rd!")
    await rotate_secret(request, actor=ADMIN, core=h.core)


async def _create(h: CoreHarness) -> None:
    request = CreateRequest(
        "web-4-root", instance_id="i-bp1sbxweb4000000002", password="Curr3nt-Passw0rd!"
    )
    await create_secret(request, actor=ADMIN, core=h.core)


async def _create_under_a_key(h: CoreHarness) -> None:
    request = CreateRequest(
        "web-4-root",
        instance_id="i-bp1sbxweb4000000002",
        password="Curr3nt-Passw0rd!",
        encryption_key_id="key-hzz65f1a2b3c4d5e6f7g8",
    )
    await create_secret(request, actor=ADMIN, core=h.core)


async def _list(h: CoreHarness) -> None:
    listing = await list_secrets(ListRequest(region="cn-hangzhou"), actor=ADMIN, core=h.core)
    (region,) = listing.regions
    assert region.status == "failed"
    raise CloudPermissionDenied(region.reason, permission="kms:ListSecrets")


async def _restore(h: CoreHarness) -> None:
    h.sandbox.delete_out_of_band("cn-hangzhou", "web-3-root")
    await restore_secret(RestoreRequest("web-3-root"), actor=ADMIN, core=h.core)


async def _as_operator(h: CoreHarness) -> None:
    await show_secret("web-3-root", actor=OPERATOR, core=h.core)


OPERATIONS: dict[str, Operation] = {
    "kms:CreateSecret": _create,
    "kms:ListSecrets": _list,
    "kms:DescribeSecret": lambda h: show_secret("web-3-root", actor=ADMIN, core=h.core),
    "kms:ListSecretVersionIds": _rotate_and_follow,
    "kms:RotateSecret": _rotate,
    "kms:PutSecretValue": _rotate_custom,
    "kms:UpdateSecretRotationPolicy": lambda h: set_rotation_policy(
        RotationPolicyRequest("web-3-root", enabled=False), actor=ADMIN, core=h.core
    ),
    "kms:DeleteSecret": lambda h: delete_secret(
        DeleteRequest("web-3-root", days=7), actor=ADMIN, core=h.core
    ),
    "kms:RestoreSecret": _restore,
    "kms:GenerateDataKey": _create_under_a_key,
    "ecs:DescribeInstances": _rotate,
    "ecs:DescribeCloudAssistantStatus": _rotate,
    "sts:AssumeRole": _as_operator,
}


def test_every_permission_has_an_operation_here() -> None:
    assert set(OPERATIONS) == set(ram_actions())


def by_name(lines: list[CheckLine]) -> dict[str, CheckLine]:
    return {line.name: line for line in lines}


@pytest.mark.parametrize("action", ram_actions())
async def test_without_one_permission_check_names_it_and_so_does_the_operation(
    action: str, tmp_path: Path
) -> None:
    access = access_toml(
        admins=["slack:user:UADMIN"], channel="CSECOPS", delete_approvers=["slack:user:USEC"]
    )
    access += f"""
[[access.bindings]]
principals = ["slack:user:UOPS"]
policies = ["AliyunKMSSecretAdminAccess"]
role_arn = "{ROLE}"
"""
    async with Sandbox(
        regions=REGIONS, seed=True, rotation_delay=0.05, ram_policy=shipped_minus(action)
    ) as sb:
        sb.sts.add_role("secret-operators")
        config = tmp_path / "check" / "bot.toml"
        config.parent.mkdir()
        config.write_text(config_text(sb, policies=access), encoding="utf-8")
        lines = await run_check(
            load_settings(config),
            slack_token="",
            slack_api_url="http://127.0.0.1:9/",
            credential=sandbox_credential(),
        )
        report = format_lines(lines)
        found = by_name(lines)
        if action == "sts:AssumeRole":
            line = found["permission sts:AssumeRole as role secret-operators"]
            assert line.status == "FAIL" and "sts:AssumeRole" in line.next_step
        elif action in UNCHECKED:
            assert found["permissions"].status == "OK", report
            assert action in found["permissions"].detail
        else:
            line = found[f"permission {action}"]
            assert line.status == "FAIL", report
            assert "the bot's own identity lacks" in line.detail
            assert f'"Action": "{action}"' in line.next_step
            assert "bot-ram-policy.json" in line.next_step
            assert found["permissions"].status == "FAIL"

        h = await CoreHarness.start(tmp_path, sb, access_toml=access)
        h.directory.add(ADMIN, OPERATOR)
        try:
            with pytest.raises(CloudPermissionDenied) as denied:
                await OPERATIONS[action](h)
        finally:
            await h.close()
    assert denied.value.permission == action
    assert action in str(denied.value)
