"""Delete, scheduled or immediate, over the sandbox, real storage and real policies.

Crash safety as chosen in ``commands/delete.py``: the intent is written as ``unknown``
before DeleteSecret; KMS's answer settles it (``pending`` / ``deleted``); an error answer
discards it; no answer at all, or a crash, leaves it ``unknown``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fakes.cloud import sandbox_credential
from fakes.core import ADMIN_POLICIES, CoreHarness, actor

from ecs_secret_bot.cloud.gateway import AlibabaCloudGateway
from ecs_secret_bot.cloud.retry import RetryPolicy
from ecs_secret_bot.commands.operations.delete import attach_deletion_message, delete_secret
from ecs_secret_bot.commands.operations.restore import restore_secret
from ecs_secret_bot.commands.outcomes import DeleteResult, DryRunReport, HeldForApproval
from ecs_secret_bot.commands.requests import DeleteRequest, RestoreRequest
from ecs_secret_bot.errors import (
    AccessDenied,
    CloudClientError,
    CloudThrottled,
    CloudUnavailable,
    Conflict,
    InvalidInput,
    Subcommand,
)
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.storage import pending
from ecs_secret_bot.storage.audit import list_audit

ADMIN = actor("UADMIN")
READER = actor("UREADER")
STRANGER = actor("UNOBODY")
DELETE = "DeleteSecret"
NAME = "acs/ecs/web-3-root"
ALL = pending.PENDING_STATUSES

NO_RULES = """
[[access.bindings]]
principals = ["slack:user:UADMIN"]
policies = ["AliyunKMSSecretAdminAccess", "KeepTwoWeeks"]

[access.policies.KeepTwoWeeks]
Version = "1"
[[access.policies.KeepTwoWeeks.Statement]]
Effect = "Deny"
Action = ["kms:DeleteSecret"]
Resource = ["acs:kms:*:*:secret/*"]
Condition = { NumericLessThan = { "kms:RecoveryWindowInDays" = 14 } }
"""


async def start(tmp_path: Path, sandbox: Sandbox, access: str) -> CoreHarness:
    sandbox.add_ecs_secret("cn-hangzhou", "web-3-root", instance_id="i-web3")
    return await CoreHarness.start(tmp_path, sandbox, access_toml=access)


@pytest.fixture
async def h(tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[CoreHarness]:
    harness = await start(tmp_path, sandbox, ADMIN_POLICIES)
    try:
        yield harness
    finally:
        await harness.close()


@pytest.fixture
async def free(tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[CoreHarness]:
    """An admin whom no approval rule holds, and who keeps secrets two weeks at least."""
    harness = await start(tmp_path, sandbox, NO_RULES)
    try:
        yield harness
    finally:
        await harness.close()


def planned_in_kms(sb: Sandbox) -> datetime | None:
    secret = sb.kms.find("cn-hangzhou", NAME)
    assert secret is not None
    return secret.planned_delete


async def rows(h: CoreHarness) -> list[pending.PendingDeletion]:
    return await pending.list_pending(h.core.db, statuses=ALL)


async def outcomes(h: CoreHarness) -> list[str]:
    return [row.outcome for row in reversed(await list_audit(h.core.db))]


@pytest.mark.parametrize(("days", "expected"), [(None, 30), (7, 7), (30, 30)])
async def test_a_scheduled_deletion_is_recorded_with_kms_date(
    h: CoreHarness, days: int | None, expected: int
) -> None:
    result = await delete_secret(DeleteRequest("web-3-root", days=days), actor=ADMIN, core=h.core)
    assert isinstance(result, DeleteResult) and not result.immediately
    assert result.planned_delete_time is not None and result.pending_id is not None
    assert result.planned_delete_time == planned_in_kms(h.sandbox)
    ahead = result.planned_delete_time - h.sandbox.now()
    assert timedelta(days=expected) - timedelta(minutes=1) < ahead <= timedelta(days=expected)
    row = await pending.get_pending(h.core.db, result.pending_id)
    assert row is not None
    assert (row.status, row.secret_name, row.scheduled_by, row.channel_id) == (
        "pending",
        NAME,
        "slack:user:UADMIN",
        "CINC",
    )
    assert row.planned_delete_time == result.planned_delete_time
    assert await outcomes(h) == ["started", "executed"]


async def test_an_immediate_deletion_runs_at_once_when_no_rule_holds_it(free: CoreHarness) -> None:
    result = await delete_secret(
        DeleteRequest("web-3-root", immediately=True), actor=ADMIN, core=free.core
    )
    assert isinstance(result, DeleteResult)
    assert (result.immediately, result.planned_delete_time) == (True, None)
    assert free.sandbox.kms.find("cn-hangzhou", NAME) is None
    [row] = await rows(free)
    assert (row.id, row.status) == (result.pending_id, "deleted")


async def test_the_recovery_window_is_a_number_policies_can_compare(free: CoreHarness) -> None:
    with pytest.raises(AccessDenied) as caught:
        await delete_secret(DeleteRequest("web-3-root", days=7), actor=ADMIN, core=free.core)
    assert "KeepTwoWeeks" in caught.value.reason
    assert free.sandbox.calls.total(DELETE) == 0
    result = await delete_secret(DeleteRequest("web-3-root", days=14), actor=ADMIN, core=free.core)
    assert isinstance(result, DeleteResult)


async def test_an_immediate_deletion_by_an_admin_waits_for_approval(h: CoreHarness) -> None:
    held = await delete_secret(
        DeleteRequest("web-3-root", immediately=True, reason="decommissioned"),
        actor=ADMIN,
        core=h.core,
    )
    assert isinstance(held, HeldForApproval)
    assert (held.rule, held.action, held.reason) == (
        "immediate-delete",
        "kms:DeleteSecret",
        "decommissioned",
    )
    assert held.approvers == ("slack:usergroup:SSEC",)
    assert h.sandbox.calls.total(DELETE) == 0
    assert await rows(h) == []


@pytest.mark.parametrize(
    ("request_", "field", "fragment"),
    [
        (DeleteRequest("web-3-root", days=6), "days", "7 to 30 days ahead, not 6"),
        (DeleteRequest("web-3-root", days=31), "days", "7 to 30 days ahead, not 31"),
        (DeleteRequest("web-3-root", days=True), "days", "whole number"),  # type: ignore[arg-type]
        (DeleteRequest("web-3-root", days=7, immediately=True), "days", "not both"),
        (DeleteRequest("web/3/"), "name", "needs a name after"),
        (DeleteRequest("web-3-root", region="eu-x"), "region", "not one the bot manages"),
    ],
)
async def test_bad_input_is_refused_before_any_call(
    h: CoreHarness, request_: DeleteRequest, field: str, fragment: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await delete_secret(request_, actor=ADMIN, core=h.core)
    assert caught.value.field == field
    assert fragment in str(caught.value) and caught.value.next_step
    assert h.sandbox.calls.total() == 0
    assert await list_audit(h.core.db) == []


@pytest.mark.parametrize(
    ("who", "reason"),
    [(READER, "no policy bound to you allows kms:DeleteSecret"), (STRANGER, "no policy is bound")],
)
async def test_who_may_not_delete_is_refused(h: CoreHarness, who: object, reason: str) -> None:
    with pytest.raises(AccessDenied) as caught:
        await delete_secret(DeleteRequest("web-3-root"), actor=who, core=h.core)  # type: ignore[arg-type]
    assert reason in caught.value.reason
    assert h.sandbox.calls.total(DELETE) == 0
    assert await rows(h) == []
    assert await outcomes(h) == ["refused"]


async def test_a_secret_already_scheduled_is_refused_with_its_date_and_the_way_back(
    h: CoreHarness,
) -> None:
    h.sandbox.delete_out_of_band("cn-hangzhou", "web-3-root", planned=timedelta(days=9))
    with pytest.raises(Conflict) as caught:
        await delete_secret(DeleteRequest("web-3-root", days=7), actor=ADMIN, core=h.core)
    planned = planned_in_kms(h.sandbox)
    assert planned is not None
    assert f"already scheduled for deletion on {planned:%Y-%m-%d %H:%M} UTC" in str(caught.value)
    assert caught.value.next_step.command == Subcommand("restore", ("web-3-root",))
    assert h.sandbox.calls.total(DELETE) == 0


async def test_a_missing_secret_is_said_plainly(h: CoreHarness) -> None:
    with pytest.raises(CloudClientError) as caught:
        await delete_secret(DeleteRequest("web-9-root"), actor=ADMIN, core=h.core)
    assert caught.value.code == "Forbidden.ResourceNotFound"
    assert "acs/ecs/web-9-root" in caught.value.user_message
    assert h.sandbox.calls.total(DELETE) == 0


async def test_throttling_is_retried_then_given_up_and_nothing_stays_pending(
    h: CoreHarness,
) -> None:
    h.sandbox.faults.add(action=DELETE, kind="throttling")
    with pytest.raises(CloudThrottled):
        await delete_secret(DeleteRequest("web-3-root"), actor=ADMIN, core=h.core)
    assert h.sandbox.calls.total(DELETE) == 3
    assert await rows(h) == []
    assert planned_in_kms(h.sandbox) is None


async def test_a_server_error_is_not_retried_and_the_intent_is_discarded(h: CoreHarness) -> None:
    h.sandbox.faults.add(action=DELETE, kind="server_error", times=1)
    with pytest.raises(CloudUnavailable) as caught:
        await delete_secret(DeleteRequest("web-3-root"), actor=ADMIN, core=h.core)
    assert caught.value.status_code == 500
    assert h.sandbox.calls.total(DELETE) == 1  # DeleteSecret is not idempotent
    assert await rows(h) == []
    assert await outcomes(h) == ["started", "failed: InternalFailure: " + caught.value.user_message]
    # nothing blocks the next attempt
    assert isinstance(
        await delete_secret(DeleteRequest("web-3-root"), actor=ADMIN, core=h.core), DeleteResult
    )


async def test_no_answer_leaves_the_intent_unknown_until_kms_says(h: CoreHarness) -> None:
    # The client gives up after 0.3 s; KMS carries the deletion out 0.6 s after it arrived.
    h.core.gateway = AlibabaCloudGateway(
        h.core.settings.cloud,
        credential=sandbox_credential(),
        retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, attempt_timeout=0.3),
    )
    h.sandbox.faults.add(action=DELETE, kind="latency", latency=0.6, times=1)
    with pytest.raises(CloudUnavailable) as caught:
        await delete_secret(DeleteRequest("web-3-root"), actor=ADMIN, core=h.core)
    assert "may or may not have happened" in caught.value.user_message
    assert caught.value.next_step.command == Subcommand("show", ("web-3-root",))
    assert h.sandbox.calls.total(DELETE) == 1
    [row] = await rows(h)
    assert row.status == "unknown"
    assert (await outcomes(h))[-1].startswith(f"outcome unknown: pending deletion {row.id}")
    for _ in range(100):  # KMS finishes what it was asked
        if planned_in_kms(h.sandbox) is not None:
            break
        await asyncio.sleep(0.02)
    assert planned_in_kms(h.sandbox) is not None
    with pytest.raises(Conflict, match="already scheduled"):
        await delete_secret(DeleteRequest("web-3-root"), actor=ADMIN, core=h.core)
    restored = await restore_secret(RestoreRequest("web-3-root"), actor=ADMIN, core=h.core)
    assert restored.pending_id == row.id  # type: ignore[union-attr]
    closed = await pending.get_pending(h.core.db, row.id)
    assert closed is not None and closed.status == "restored"


async def test_a_crash_during_the_call_leaves_the_intent_unknown(h: CoreHarness) -> None:
    h.sandbox.faults.add(action=DELETE, kind="latency", latency=0.5, times=1)
    task = asyncio.create_task(delete_secret(DeleteRequest("web-3-root"), actor=ADMIN, core=h.core))
    for _ in range(200):
        if h.sandbox.calls.total(DELETE):
            break
        await asyncio.sleep(0.01)
    task.cancel()  # the process dies while DeleteSecret is on the wire
    with pytest.raises(asyncio.CancelledError):
        await task
    [row] = await rows(h)
    assert row.status == "unknown" and row.scheduled_by == "slack:user:UADMIN"
    assert await outcomes(h) == ["started"]


async def test_an_unknown_intent_blocks_a_new_deletion_only_while_it_may_be_in_flight(
    h: CoreHarness,
) -> None:
    now = h.core.clock()
    stale = await pending.record_pending(
        h.core.db,
        region="cn-hangzhou",
        secret_name=NAME,
        scheduled_by="slack:user:UOTHER",
        channel_id="CINC",
        planned_delete_time=now + timedelta(days=30),
        now=now,
        status="unknown",
    )
    with pytest.raises(Conflict) as caught:
        await delete_secret(DeleteRequest("web-3-root"), actor=ADMIN, core=h.core)
    assert "no known outcome yet" in caught.value.user_message
    assert h.sandbox.calls.total(DELETE) == 0
    h.clock.advance(timedelta(minutes=3))  # KMS still shows no deletion: it never happened
    result = await delete_secret(DeleteRequest("web-3-root"), actor=ADMIN, core=h.core)
    assert isinstance(result, DeleteResult)
    [row] = await rows(h)  # the stale intent gave way to the new deletion
    assert (row.id, row.status, row.scheduled_by) == (
        result.pending_id,
        "pending",
        "slack:user:UADMIN",
    )
    assert stale.scheduled_by == "slack:user:UOTHER"


async def test_a_deletion_restored_outside_the_bot_does_not_block_a_new_one(
    h: CoreHarness,
) -> None:
    first = await delete_secret(DeleteRequest("web-3-root"), actor=ADMIN, core=h.core)
    assert isinstance(first, DeleteResult) and first.pending_id is not None
    h.sandbox.restore_out_of_band("cn-hangzhou", NAME)
    second = await delete_secret(DeleteRequest("web-3-root", days=10), actor=ADMIN, core=h.core)
    assert isinstance(second, DeleteResult)
    old = await pending.get_pending(h.core.db, first.pending_id)
    assert old is not None and old.status == "restored"


async def test_dry_runs_say_which_deletion_and_whether_it_waits(h: CoreHarness) -> None:
    scheduled = await delete_secret(
        DeleteRequest("web-3-root", dry_run=True), actor=ADMIN, core=h.core
    )
    assert isinstance(scheduled, DryRunReport)
    assert scheduled.cloud_call == (
        f"KMS DeleteSecret SecretName={NAME} RecoveryWindowInDays=30 in cn-hangzhou"
    )
    assert scheduled.approval_rule == ""
    now = await delete_secret(
        DeleteRequest("web-3-root", immediately=True, dry_run=True), actor=ADMIN, core=h.core
    )
    assert isinstance(now, DryRunReport)
    assert "ForceDeleteWithoutRecovery=true" in now.cloud_call
    assert now.approval_rule == "immediate-delete" and "wait for approval" in now.summary
    assert h.sandbox.calls.total(DELETE) == 0
    assert await rows(h) == [] and await list_audit(h.core.db) == []


async def test_the_announcing_message_is_remembered(h: CoreHarness) -> None:
    result = await delete_secret(DeleteRequest("web-3-root"), actor=ADMIN, core=h.core)
    assert isinstance(result, DeleteResult) and result.pending_id is not None
    await attach_deletion_message(result.pending_id, channel_id="CINC", ts="171.0001", core=h.core)
    row = await pending.get_pending(h.core.db, result.pending_id)
    assert row is not None and (row.channel_id, row.message_ts) == ("CINC", "171.0001")


async def test_the_same_request_id_deletes_once(h: CoreHarness) -> None:
    request = DeleteRequest("web-3-root", request_id="view-d1")
    first = await delete_secret(request, actor=ADMIN, core=h.core)
    second = await delete_secret(request, actor=ADMIN, core=h.core)
    assert first == second
    assert h.sandbox.calls.total(DELETE) == 1
