"""Per-person cloud identity: a binding's ``role_arn`` makes that person's calls run as the
role, through STS AssumeRole with a session named after them; others use the bot's own."""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fakes.core import CoreHarness, Directory, actor

from ecs_secret_bot.commands.approval.votes import approve_request
from ecs_secret_bot.commands.gateway import CloudIdentity, role_session_name
from ecs_secret_bot.commands.operations.delete import delete_secret
from ecs_secret_bot.commands.operations.rotate import rotate_secret
from ecs_secret_bot.commands.outcomes import HeldForApproval, RotateResult
from ecs_secret_bot.commands.queries.detail import show_secret
from ecs_secret_bot.commands.queries.secrets import list_secrets
from ecs_secret_bot.commands.requests import DeleteRequest, ListRequest, RotateRequest
from ecs_secret_bot.config import parse_settings
from ecs_secret_bot.runtime import open_core
from ecs_secret_bot.sandbox import Sandbox

ROLE = "acs:ram::1234567890123456:role/secret-operators"
ADMIN = actor("UADMIN")  # bound with role_arn
OTHER = actor("UOTHER")  # the same policies, no role
SEC = actor("USEC", "SSEC")

ACCESS = f"""
[[access.bindings]]
principals = ["slack:user:UADMIN", "slack:usergroup:SOPS"]
policies = ["AliyunKMSSecretAdminAccess"]
role_arn = "{ROLE}"

[[access.bindings]]
principals = ["slack:user:UOTHER", "slack:usergroup:SSEC"]
policies = ["AliyunKMSSecretAdminAccess"]

[approval]
channel = "CSECOPS"

[[approval.rules]]
name = "immediate-delete"
actions = ["kms:DeleteSecret"]
condition = {{ Bool = {{ "kms:ForceDeleteWithoutRecovery" = "true" }} }}
approvers = ["slack:usergroup:SSEC"]
"""


@pytest.fixture
async def h(tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[CoreHarness]:
    sandbox.sts.add_role("secret-operators")
    sandbox.add_ecs_secret("cn-hangzhou", "web-3-root", instance_id="i-web3")
    harness = await CoreHarness.start(tmp_path, sandbox, access_toml=ACCESS)
    harness.directory.add(ADMIN, OTHER, SEC)
    try:
        yield harness
    finally:
        await harness.close()


def sessions(sb: Sandbox) -> list[tuple[str, str]]:
    """Return (action, role session name) of every call the sandbox authorized, in order."""
    return [(c.action, c.session_name) for c in sb.access.calls]


async def test_a_person_with_a_role_acts_as_it_and_others_as_the_bot(h: CoreHarness) -> None:
    result = await rotate_secret(RotateRequest("web-3-root"), actor=ADMIN, core=h.core)
    assert isinstance(result, RotateResult)
    calls = sessions(h.sandbox)
    # one AssumeRole, made by the bot's own identity, then every call of the rotation as UADMIN
    assert calls[0] == ("AssumeRole", "")
    assert {action for action, _ in calls[1:]} >= {"DescribeSecret", "RotateSecret"}
    assert {session for _, session in calls[1:]} == {"slack-UADMIN"}
    h.sandbox.access.calls.clear()

    await show_secret("web-3-root", actor=ADMIN, core=h.core)
    await list_secrets(ListRequest(), actor=ADMIN, core=h.core)
    assert h.sandbox.access.sessions_of("AssumeRole") == []  # the cached credentials served
    assert set(h.sandbox.access.sessions_of()) == {"slack-UADMIN"}
    h.sandbox.access.calls.clear()

    await list_secrets(ListRequest(), actor=OTHER, core=h.core)
    await show_secret("web-3-root", actor=OTHER, core=h.core)
    assert set(h.sandbox.access.sessions_of()) == {""}
    h.sandbox.access.calls.clear()

    operator = actor("UOPS", "SOPS")  # bound through a group: the same role, their own session
    await list_secrets(ListRequest(), actor=operator, core=h.core)
    await list_secrets(ListRequest(), actor=ADMIN, core=h.core)
    assert sessions(h.sandbox) == [
        ("AssumeRole", ""),
        ("ListSecrets", "slack-UOPS"),
        ("ListSecrets", "slack-UOPS"),
        ("ListSecrets", "slack-UADMIN"),
        ("ListSecrets", "slack-UADMIN"),
    ]


async def test_an_approved_request_runs_as_the_requester(h: CoreHarness) -> None:
    held = await delete_secret(
        DeleteRequest("web-3-root", immediately=True), actor=ADMIN, core=h.core
    )
    assert isinstance(held, HeldForApproval)
    h.sandbox.access.calls.clear()
    step = await approve_request(held.approval_id, actor=SEC, core=h.core)
    assert step.error is None and step.result is not None
    assert h.sandbox.access.sessions_of("DeleteSecret") == ["slack-UADMIN"]


async def test_the_role_is_the_binding_s_not_anyone_else_s(h: CoreHarness) -> None:
    colleague = actor("UADMIN2")
    assert h.core.identity_of(colleague) is None
    assert h.core.identity_of(ADMIN) == CloudIdentity(ROLE, "slack:user:UADMIN")


@pytest.mark.parametrize(
    ("principal", "session"),
    [
        ("slack:user:U0ADMIN", "slack-U0ADMIN"),
        ("local:user:alice", "local-alice"),
        ("local:user:jean+ops", "local-jean_ops"),
        ("local:user:" + "x" * 80, "local-" + "x" * 58),
        ("x", "x_"),
    ],
)
def test_session_names_keep_to_sts_rules(principal: str, session: str) -> None:
    name = role_session_name(principal)
    assert name == session
    assert 2 <= len(name) <= 64


async def test_the_in_process_sandbox_has_the_roles_the_bindings_name(tmp_path: Path) -> None:
    text = f"""
[cloud]
regions = ["cn-hangzhou"]
account_id = "1234567890123456"

[storage]
path = "bot.db"

[[access.bindings]]
principals = ["slack:user:UADMIN"]
policies = ["AliyunKMSSecretAdminAccess"]
role_arn = "{ROLE}"
"""
    settings = parse_settings(tomllib.loads(text), source=tmp_path / "bot.toml")
    async with open_core(settings, directory=Directory(), sandbox=True) as core:
        listing = await list_secrets(ListRequest(), actor=ADMIN, core=core)
    assert [region.status for region in listing.regions] == ["listed"]
    assert listing.rows
