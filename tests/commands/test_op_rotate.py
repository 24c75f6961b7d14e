"""Rotate now, over the sandbox (real SDK, HTTP), real storage and real policies."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from fakes.core import CoreHarness, actor

from ecs_secret_bot.commands.operations.delete import delete_secret
from ecs_secret_bot.commands.operations.rotate import (
    CustomValueRefused,
    RotationInProgress,
    rotate_secret,
)
from ecs_secret_bot.commands.operations.rotation_policy import set_rotation_policy
from ecs_secret_bot.commands.outcomes import DryRunReport, RotateResult
from ecs_secret_bot.commands.requests import DeleteRequest, RotateRequest, RotationPolicyRequest
from ecs_secret_bot.commands.tracker import follow_rotation
from ecs_secret_bot.errors import (
    AccessDenied,
    CloudClientError,
    Conflict,
    InvalidInput,
    PreflightFailed,
    Subcommand,
)
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.storage.audit import list_audit, verify_audit_chain
from ecs_secret_bot.storage.rotations import get_rotation

ADMIN = actor("UADMIN")
READER = actor("UREADER")
STRANGER = actor("UNOBODY")
CANARY = "Canary#Pw9-rotate"


@pytest.fixture
async def h(tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[CoreHarness]:
    sandbox.add_ecs_secret("cn-hangzhou", "web-3-root", instance_id="i-web3")
    sandbox.add_ecs_secret(
        "cn-hangzhou", "win-1-admin", instance_id="i-win1", user_name="Administrator"
    )
    harness = await CoreHarness.start(tmp_path, sandbox)
    try:
        yield harness
    finally:
        await harness.close()


def cloud_calls(sb: Sandbox, action: str) -> int:
    return sb.calls.total(action)


async def test_generated_rotation_is_triggered_followed_and_audited(h: CoreHarness) -> None:
    result = await rotate_secret(RotateRequest("web-3-root"), actor=ADMIN, core=h.core)
    assert isinstance(result, RotateResult)
    assert (result.secret_name, result.instance_id, result.instance_name) == (
        "acs/ecs/web-3-root",
        "i-web3",
        "web-3",
    )
    assert not result.custom and result.request_id
    follow = await follow_rotation(result.rotation_id, core=h.core)
    assert follow.state == "completed" and follow.reported_here
    row = await get_rotation(h.core.db, result.rotation_id)
    assert row is not None and row.status == "completed"
    # a second watcher learns the end without reporting it again
    again = await follow_rotation(result.rotation_id, core=h.core)
    assert again.state == "completed" and not again.reported_here
    outcomes = [row.outcome for row in reversed(await list_audit(h.core.db))]
    assert outcomes == ["started", "executed", "rotation completed"]
    assert (await verify_audit_chain(h.core.db)).ok


async def test_a_reader_is_refused_with_the_reason_and_nothing_is_called(h: CoreHarness) -> None:
    with pytest.raises(AccessDenied) as caught:
        await rotate_secret(RotateRequest("web-3-root"), actor=READER, core=h.core)
    assert "no policy bound to you allows kms:RotateSecret" in caught.value.reason
    assert "acs/ecs/web-3-root" in caught.value.reason
    assert cloud_calls(h.sandbox, "RotateSecret") == 0
    [row] = await list_audit(h.core.db)
    assert (row.decision, row.outcome, row.actor) == ("deny", "refused", "slack:user:UREADER")


async def test_an_unbound_user_may_use_nothing(h: CoreHarness) -> None:
    with pytest.raises(AccessDenied) as caught:
        await rotate_secret(RotateRequest("web-3-root"), actor=STRANGER, core=h.core)
    assert "no policy is bound to you" in caught.value.reason


@pytest.mark.parametrize(
    ("setup", "check"),
    [
        (lambda sb: sb.set_instance_status("cn-hangzhou", "i-web3", "Stopped"), "running"),
        (lambda sb: sb.set_cloud_assistant("cn-hangzhou", "i-web3", False), "cloud_assistant"),
    ],
)
async def test_preflight_stops_before_kms(h: CoreHarness, setup: object, check: str) -> None:
    setup(h.sandbox)  # type: ignore[operator]
    with pytest.raises(PreflightFailed) as caught:
        await rotate_secret(RotateRequest("web-3-root"), actor=ADMIN, core=h.core)
    assert caught.value.check == check
    assert caught.value.next_step
    assert cloud_calls(h.sandbox, "RotateSecret") == 0


async def test_a_second_rotation_while_one_runs_is_refused(h: CoreHarness) -> None:
    h.sandbox.rotation_delay = 30
    await rotate_secret(RotateRequest("web-3-root"), actor=ADMIN, core=h.core)
    with pytest.raises(RotationInProgress) as caught:
        await rotate_secret(RotateRequest("web-3-root"), actor=ADMIN, core=h.core)
    assert isinstance(caught.value, Conflict)
    assert "still in progress" in caught.value.user_message
    assert caught.value.secret_name == "acs/ecs/web-3-root"
    assert cloud_calls(h.sandbox, "RotateSecret") == 1


async def test_rotation_failing_on_the_instance_is_reported_with_the_reason(
    h: CoreHarness,
) -> None:
    h.sandbox.rotation_delay = 0.3
    result = await rotate_secret(RotateRequest("web-3-root"), actor=ADMIN, core=h.core)
    assert isinstance(result, RotateResult)
    h.sandbox.set_instance_status("cn-hangzhou", "i-web3", "Stopped")
    follow = await follow_rotation(result.rotation_id, core=h.core)
    assert follow.state == "failed"
    assert "Stopped" in follow.reason
    [last, *_] = await list_audit(h.core.db)
    assert last.outcome.startswith("rotation failed")


async def test_rotation_past_the_follow_up_timeout_is_timed_out(h: CoreHarness) -> None:
    h.sandbox.rotation_delay = 30
    result = await rotate_secret(RotateRequest("web-3-root"), actor=ADMIN, core=h.core)
    assert isinstance(result, RotateResult)
    h.clock.advance(timedelta(minutes=2))
    follow = await follow_rotation(result.rotation_id, core=h.core)
    assert follow.state == "timed_out"
    assert "may still finish" in follow.reason


async def test_custom_password_is_put_and_never_written_anywhere(
    h: CoreHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    result = await rotate_secret(
        RotateRequest("web-3-root", custom_password=CANARY), actor=ADMIN, core=h.core
    )
    assert isinstance(result, RotateResult) and result.custom
    assert cloud_calls(h.sandbox, "PutSecretValue") == 1
    assert cloud_calls(h.sandbox, "RotateSecret") == 0
    follow = await follow_rotation(result.rotation_id, core=h.core)
    assert follow.state == "completed"
    [started] = [r for r in await list_audit(h.core.db) if r.outcome == "started"]
    assert started.action == "kms:PutSecretValue"
    await h.core.db.close()
    for suffix in ("", "-wal", "-shm"):
        path = Path(str(h.db_path) + suffix)
        if path.exists():
            assert CANARY.encode() not in path.read_bytes()
    assert CANARY not in caplog.text
    h.core.db = await __import__(
        "ecs_secret_bot.storage", fromlist=["open_database"]
    ).open_database(h.db_path)


@pytest.mark.parametrize(
    ("request_", "field", "fragment"),
    [
        (RotateRequest("web-3-root", custom_password="short"), "custom_password", "8 to 32"),
        (
            RotateRequest("web-3-root", custom_private_key="-----BEGIN x"),
            "custom_password",
            "holds a password",
        ),
        (
            RotateRequest("win-1-admin", custom_password="/Abcdefg12"),
            "custom_password",
            "Windows",
        ),
        (RotateRequest("web 3"), "name", "does not allow ' '"),
        (RotateRequest("web-3-root", region="eu-west-1"), "region", "not one the bot manages"),
    ],
)
async def test_bad_input_is_refused_before_any_change(
    h: CoreHarness, request_: RotateRequest, field: str, fragment: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await rotate_secret(request_, actor=ADMIN, core=h.core)
    assert caught.value.field == field
    assert fragment in str(caught.value)
    assert cloud_calls(h.sandbox, "RotateSecret") + cloud_calls(h.sandbox, "PutSecretValue") == 0
    assert await list_audit(h.core.db) == []


async def test_a_custom_value_kms_refuses_is_said_plainly(h: CoreHarness) -> None:
    h.sandbox.refuse_custom_values = True
    with pytest.raises(CustomValueRefused) as caught:
        await rotate_secret(
            RotateRequest("web-3-root", custom_password=CANARY), actor=ADMIN, core=h.core
        )
    assert "did not accept a custom value" in caught.value.user_message
    assert "KMS console" in caught.value.next_step.text
    assert caught.value.next_step.command == Subcommand("rotate", ("web-3-root",))
    assert CANARY not in str(caught.value)
    assert cloud_calls(h.sandbox, "RotateSecret") == 0  # no silent fallback
    # the refused rotation does not block the next one
    assert isinstance(
        await rotate_secret(RotateRequest("web-3-root"), actor=ADMIN, core=h.core), RotateResult
    )


async def test_missing_and_deleting_secrets_get_clear_answers(h: CoreHarness) -> None:
    with pytest.raises(CloudClientError) as missing:
        await rotate_secret(RotateRequest("nope"), actor=ADMIN, core=h.core)
    assert missing.value.code == "Forbidden.ResourceNotFound"
    h.sandbox.delete_out_of_band("cn-hangzhou", "web-3-root", planned=timedelta(days=7))
    with pytest.raises(Conflict) as deleting:
        await rotate_secret(RotateRequest("web-3-root"), actor=ADMIN, core=h.core)
    assert "scheduled for deletion" in deleting.value.user_message
    assert deleting.value.next_step.command == Subcommand("restore", ("web-3-root",))


async def test_dry_run_reports_and_changes_nothing(h: CoreHarness) -> None:
    report = await rotate_secret(
        RotateRequest("web-3-root", dry_run=True), actor=ADMIN, core=h.core
    )
    assert isinstance(report, DryRunReport)
    assert report.allowed and report.approval_rule == ""
    assert report.preflight[0].startswith("ok:") and len(report.preflight) == 3
    assert "RotateSecret SecretName=acs/ecs/web-3-root" in report.cloud_call
    assert "Nothing was done" in report.summary
    denied = await rotate_secret(
        RotateRequest("web-3-root", dry_run=True), actor=READER, core=h.core
    )
    assert isinstance(denied, DryRunReport) and not denied.allowed
    assert cloud_calls(h.sandbox, "RotateSecret") == 0
    assert await list_audit(h.core.db) == []


async def test_the_same_request_id_runs_once(h: CoreHarness) -> None:
    first = await rotate_secret(
        RotateRequest("web-3-root", request_id="view-1"), actor=ADMIN, core=h.core
    )
    second = await rotate_secret(
        RotateRequest("web-3-root", request_id="view-1"), actor=ADMIN, core=h.core
    )
    assert first == second
    assert cloud_calls(h.sandbox, "RotateSecret") == 1


async def test_a_request_id_answered_by_a_rotation_answers_no_other_kind(h: CoreHarness) -> None:
    await rotate_secret(RotateRequest("web-3-root", request_id="view-2"), actor=ADMIN, core=h.core)
    with pytest.raises(Conflict, match="another kind of request"):
        await set_rotation_policy(
            RotationPolicyRequest("web-3-root", enabled=False, request_id="view-2"),
            actor=ADMIN,
            core=h.core,
        )
    with pytest.raises(Conflict, match="another kind of request"):
        await delete_secret(
            DeleteRequest("web-3-root", request_id="view-2"), actor=ADMIN, core=h.core
        )
    assert cloud_calls(h.sandbox, "UpdateSecretRotationPolicy") == 0
    assert cloud_calls(h.sandbox, "DeleteSecret") == 0
