"""Held requests that an approver's click runs (or does not), end to end over the sandbox.

The policies are the admin set of ``fakes.core`` plus: security (SSEC) may administer
secrets too, a create waits for security, and so does a change of rotation policy.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from fakes.core import ADMIN_POLICIES, CoreHarness, actor

from ecs_secret_bot.commands.approval.requests import VoteResult
from ecs_secret_bot.commands.approval.votes import approve_request, deny_request
from ecs_secret_bot.commands.operations.create import create_secret
from ecs_secret_bot.commands.operations.delete import delete_secret
from ecs_secret_bot.commands.operations.restore import restore_secret
from ecs_secret_bot.commands.operations.rotation_policy import set_rotation_policy
from ecs_secret_bot.commands.outcomes import (
    CreateResult,
    DeleteResult,
    HeldForApproval,
    RestoreResult,
    RotationPolicyResult,
)
from ecs_secret_bot.commands.requests import (
    CreateRequest,
    DeleteRequest,
    RestoreRequest,
    RotationPolicyRequest,
)
from ecs_secret_bot.errors import PreflightFailed
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.storage import open_database, pending
from ecs_secret_bot.storage.audit import list_audit

ACCESS = (
    ADMIN_POLICIES
    + """
[[access.bindings]]
principals = ["slack:usergroup:SSEC"]
policies = ["AliyunKMSSecretAdminAccess"]

[[approval.rules]]
name = "create-needs-security"
actions = ["kms:CreateSecret"]
approvers = ["slack:usergroup:SSEC"]
min_approvals = 1

[[approval.rules]]
name = "policy-change"
actions = ["kms:UpdateSecretRotationPolicy"]
approvers = ["slack:usergroup:SSEC"]
min_approvals = 1
"""
)
ADMIN = actor("UADMIN")
READER = actor("UREADER")
SEC = actor("USEC", "SSEC")
SEC2 = actor("USEC2", "SSEC")
SRE = actor("USRE", "SSRE")
NAME = "acs/ecs/web-3-root"
CANARY = "Canary-approved-create#41"


@pytest.fixture(params=["sqlite", "postgres"])
async def h(
    tmp_path: Path, sandbox: Sandbox, request: pytest.FixtureRequest
) -> AsyncIterator[CoreHarness]:
    sandbox.add_ecs_secret("cn-hangzhou", "web-3-root", instance_id="i-web3")
    url = request.getfixturevalue("database_url") if request.param == "postgres" else ""
    harness = await CoreHarness.start(tmp_path, sandbox, access_toml=ACCESS, database_url=url)
    harness.directory.add(ADMIN, READER, SEC, SEC2, SRE)
    try:
        yield harness
    finally:
        await harness.close()


async def held_immediate_delete(h: CoreHarness) -> str:
    held = await delete_secret(
        DeleteRequest("web-3-root", immediately=True), actor=ADMIN, core=h.core
    )
    assert isinstance(held, HeldForApproval) and held.rule == "immediate-delete"
    return held.approval_id


async def held_teammate_restore(h: CoreHarness) -> str:
    h.sandbox.delete_out_of_band("cn-hangzhou", "web-3-root", planned=timedelta(days=7))
    held = await restore_secret(RestoreRequest("web-3-root"), actor=READER, core=h.core)
    assert isinstance(held, HeldForApproval) and held.rule == "teammate-restore"
    return held.approval_id


async def assert_nowhere(h: CoreHarness, caplog: pytest.LogCaptureFixture, canary: str) -> None:
    rows = await list_audit(h.core.db, limit=1000)
    assert rows and all(canary not in repr(row) for row in rows)
    assert canary not in caplog.text
    if h.core.db.engine == "postgres":  # no file of ours: the rows hold ciphertext only
        held = await h.core.db.fetchall("SELECT nonce, ciphertext FROM payloads")
        assert all(canary.encode() not in bytes(r[0]) + bytes(r[1]) for r in held)
        return
    await h.core.db.close()
    try:
        for suffix in ("", "-wal", "-shm"):
            path = Path(f"{h.db_path}{suffix}")
            if path.exists():
                assert canary.encode() not in path.read_bytes()
    finally:
        h.core.db = h.core.workflow.db = await open_database(h.db_path)


async def test_an_immediate_deletion_runs_when_security_approves(h: CoreHarness) -> None:
    approval_id = await held_immediate_delete(h)
    step = await approve_request(approval_id, actor=SEC, core=h.core)
    assert step.vote.result is VoteResult.APPROVED and step.error is None
    result = step.result
    assert isinstance(result, DeleteResult) and result.immediately
    assert (result.requested_by, result.approved_by) == ("slack:user:UADMIN", ("slack:user:USEC",))
    assert h.sandbox.kms.find("cn-hangzhou", NAME) is None
    [row] = await pending.list_pending(h.core.db, statuses=pending.PENDING_STATUSES)
    assert (row.id, row.status, row.scheduled_by) == (
        result.pending_id,
        "deleted",
        "slack:user:UADMIN",
    )
    assert step.approval.status == "executed" and step.approval.outcome == "done"
    executed = [r for r in await list_audit(h.core.db) if r.outcome == "executed"]
    assert executed[0].approval_id == approval_id
    assert "approved by slack:user:USEC" in executed[0].detail["by"]


@pytest.mark.parametrize(
    ("who", "why"),
    [(ADMIN, "you asked for it"), (SRE, "it needs 1 approval")],
)
async def test_the_requester_and_non_approvers_cannot_approve(
    h: CoreHarness, who: object, why: str
) -> None:
    approval_id = await held_immediate_delete(h)
    step = await approve_request(approval_id, actor=who, core=h.core)  # type: ignore[arg-type]
    assert step.vote.result is VoteResult.REFUSED
    assert why in step.vote.message
    assert step.result is None and step.approval.status == "pending"
    assert h.sandbox.calls.total("DeleteSecret") == 0


async def test_one_denial_ends_the_request(h: CoreHarness) -> None:
    approval_id = await held_immediate_delete(h)
    denied = await deny_request(approval_id, actor=SEC, core=h.core)
    assert denied.vote.result is VoteResult.DENIED
    late = await approve_request(approval_id, actor=SEC2, core=h.core)
    assert late.vote.result is VoteResult.CLOSED and late.result is None
    assert "denied" in late.vote.message
    assert h.sandbox.calls.total("DeleteSecret") == 0
    assert h.sandbox.kms.find("cn-hangzhou", NAME) is not None


async def test_nothing_runs_when_the_secret_changed_while_waiting(h: CoreHarness) -> None:
    approval_id = await held_immediate_delete(h)
    h.sandbox.delete_out_of_band("cn-hangzhou", "web-3-root", planned=timedelta(days=7))
    step = await approve_request(approval_id, actor=SEC, core=h.core)
    assert step.result is None and step.error is not None
    assert step.error.user_message == f"Nothing ran: {NAME} is now scheduled for deletion."
    assert step.approval.status == "failed"
    assert h.sandbox.calls.total("DeleteSecret") == 0
    assert await pending.list_pending(h.core.db, statuses=pending.PENDING_STATUSES) == []


async def test_a_teammate_restore_runs_when_sre_approves(h: CoreHarness) -> None:
    approval_id = await held_teammate_restore(h)
    step = await approve_request(approval_id, actor=SRE, core=h.core)
    result = step.result
    assert isinstance(result, RestoreResult), step.error
    assert (result.requested_by, result.approved_by) == ("slack:user:UREADER", ("slack:user:USRE",))
    secret = h.sandbox.kms.find("cn-hangzhou", NAME)
    assert secret is not None and secret.planned_delete is None


async def test_a_restore_approved_after_someone_else_restored_does_nothing(
    h: CoreHarness,
) -> None:
    approval_id = await held_teammate_restore(h)
    result = await restore_secret(RestoreRequest("web-3-root"), actor=ADMIN, core=h.core)
    assert isinstance(result, RestoreResult)
    step = await approve_request(approval_id, actor=SRE, core=h.core)
    assert step.error is not None
    assert "no longer scheduled for deletion" in step.error.user_message
    assert h.sandbox.calls.total("RestoreSecret") == 1


async def test_a_held_rotation_policy_change_runs_on_approval(h: CoreHarness) -> None:
    held = await set_rotation_policy(
        RotationPolicyRequest("web-3-root", enabled=True, interval="14d"), actor=ADMIN, core=h.core
    )
    assert isinstance(held, HeldForApproval) and held.rule == "policy-change"
    step = await approve_request(held.approval_id, actor=SEC, core=h.core)
    assert isinstance(step.result, RotationPolicyResult) and step.result.interval == "14d"
    detail = await h.core.gateway.describe_secret("cn-hangzhou", NAME)
    assert detail.rotation_interval == timedelta(days=14)


async def test_an_approved_create_runs_and_its_password_is_kept_only_encrypted(
    h: CoreHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    held = await create_secret(
        CreateRequest("web-3-new", instance_id="i-web3", password=CANARY), actor=ADMIN, core=h.core
    )
    assert isinstance(held, HeldForApproval) and held.rule == "create-needs-security"
    assert h.sandbox.calls.total("CreateSecret") == 0
    await assert_nowhere(h, caplog, CANARY)  # while it waits, too
    step = await approve_request(held.approval_id, actor=SEC, core=h.core)
    assert isinstance(step.result, CreateResult), step.error
    assert step.result.approved_by == ("slack:user:USEC",)
    secret = h.sandbox.kms.find("cn-hangzhou", "acs/ecs/web-3-new")
    assert secret is not None and CANARY in secret.current().data
    await assert_nowhere(h, caplog, CANARY)


async def test_a_denied_create_leaves_no_trace_of_its_password(
    h: CoreHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    held = await create_secret(
        CreateRequest("web-3-new", instance_id="i-web3", password=CANARY), actor=ADMIN, core=h.core
    )
    assert isinstance(held, HeldForApproval)
    step = await deny_request(held.approval_id, actor=SEC, core=h.core)
    assert step.vote.result is VoteResult.DENIED
    assert h.sandbox.calls.total("CreateSecret") == 0
    await assert_nowhere(h, caplog, CANARY)


async def test_an_approved_create_still_passes_the_preflight(h: CoreHarness) -> None:
    held = await create_secret(
        CreateRequest("web-3-new", instance_id="i-web3", password=CANARY), actor=ADMIN, core=h.core
    )
    assert isinstance(held, HeldForApproval)
    h.sandbox.set_instance_status("cn-hangzhou", "i-web3", "Stopped")
    step = await approve_request(held.approval_id, actor=SEC, core=h.core)
    assert isinstance(step.error, PreflightFailed) and step.error.check == "running"
    assert step.approval.status == "failed"
    assert h.sandbox.calls.total("CreateSecret") == 0
