"""Restore a secret scheduled for deletion, over the sandbox, real storage and policies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from fakes.core import CoreHarness, actor

from ecs_secret_bot.commands.operations.delete import delete_secret
from ecs_secret_bot.commands.operations.restore import restore_secret
from ecs_secret_bot.commands.outcomes import (
    DeleteResult,
    DryRunReport,
    HeldForApproval,
    RestoreResult,
)
from ecs_secret_bot.commands.requests import DeleteRequest, RestoreRequest
from ecs_secret_bot.errors import (
    AccessDenied,
    CloudClientError,
    CloudThrottled,
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
RESTORE = "RestoreSecret"
NAME = "acs/ecs/web-3-root"


@pytest.fixture
async def h(tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[CoreHarness]:
    sandbox.add_ecs_secret("cn-hangzhou", "web-3-root", instance_id="i-web3")
    harness = await CoreHarness.start(tmp_path, sandbox)
    try:
        yield harness
    finally:
        await harness.close()


async def scheduled_by_the_bot(h: CoreHarness) -> int:
    result = await delete_secret(DeleteRequest("web-3-root", days=7), actor=ADMIN, core=h.core)
    assert isinstance(result, DeleteResult) and result.pending_id is not None
    return result.pending_id


def scheduled_in_kms(sb: Sandbox) -> bool:
    secret = sb.kms.find("cn-hangzhou", NAME)
    return secret is not None and secret.planned_delete is not None


async def test_an_admin_restores_and_the_pending_deletion_closes(h: CoreHarness) -> None:
    pending_id = await scheduled_by_the_bot(h)
    result = await restore_secret(
        RestoreRequest("web-3-root", reason="still in use"), actor=ADMIN, core=h.core
    )
    assert isinstance(result, RestoreResult)
    assert (result.secret_name, result.pending_id, result.requested_by) == (
        NAME,
        pending_id,
        "slack:user:UADMIN",
    )
    assert result.request_id and not scheduled_in_kms(h.sandbox)
    row = await pending.get_pending(h.core.db, pending_id)
    assert row is not None and row.status == "restored"
    assert "restored by slack:user:UADMIN" in row.note
    restore_rows = await list_audit(h.core.db, resource=f"acs:kms:cn-hangzhou:*:secret/{NAME}")
    assert [(r.action, r.outcome) for r in reversed(restore_rows)][-2:] == [
        ("kms:RestoreSecret", "started"),
        ("kms:RestoreSecret", "executed"),
    ]


async def test_a_deletion_scheduled_outside_the_bot_is_restored_too(h: CoreHarness) -> None:
    h.sandbox.delete_out_of_band("cn-hangzhou", "web-3-root", planned=timedelta(days=20))
    result = await restore_secret(RestoreRequest(NAME), actor=ADMIN, core=h.core)
    assert isinstance(result, RestoreResult) and result.pending_id is None
    assert not scheduled_in_kms(h.sandbox)


async def test_a_secret_not_scheduled_gets_a_plain_answer_before_any_restore_call(
    h: CoreHarness,
) -> None:
    with pytest.raises(Conflict) as caught:
        await restore_secret(RestoreRequest("web-3-root"), actor=ADMIN, core=h.core)
    assert caught.value.user_message == (
        "web-3-root is not scheduled for deletion; nothing to restore."
    )
    assert caught.value.next_step.command == Subcommand("pending")
    assert h.sandbox.calls.total(RESTORE) == 0
    assert await list_audit(h.core.db) == []


async def test_a_teammate_asks_and_is_held_for_approval(h: CoreHarness) -> None:
    await scheduled_by_the_bot(h)
    held = await restore_secret(
        RestoreRequest("web-3-root", reason="mistake"), actor=READER, core=h.core
    )
    assert isinstance(held, HeldForApproval)
    assert (held.rule, held.requested_by, held.approvers) == (
        "teammate-restore",
        "slack:user:UREADER",
        ("slack:usergroup:SSRE",),
    )
    assert h.sandbox.calls.total(RESTORE) == 0 and scheduled_in_kms(h.sandbox)


async def test_an_unbound_user_may_not_even_ask(h: CoreHarness) -> None:
    await scheduled_by_the_bot(h)
    with pytest.raises(AccessDenied) as caught:
        await restore_secret(RestoreRequest("web-3-root"), actor=STRANGER, core=h.core)
    assert "no policy is bound to you" in caught.value.reason
    assert h.sandbox.calls.total(RESTORE) == 0


@pytest.mark.parametrize(
    ("request_", "field"),
    [(RestoreRequest("web 3"), "name"), (RestoreRequest("web-3-root", region="x-1"), "region")],
)
async def test_bad_input_is_refused_before_any_call(
    h: CoreHarness, request_: RestoreRequest, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await restore_secret(request_, actor=ADMIN, core=h.core)
    assert caught.value.field == field and caught.value.next_step
    assert h.sandbox.calls.total() == 0
    assert await list_audit(h.core.db) == []


async def test_a_missing_secret_is_said_plainly(h: CoreHarness) -> None:
    with pytest.raises(CloudClientError) as caught:
        await restore_secret(RestoreRequest("gone"), actor=ADMIN, core=h.core)
    assert caught.value.code == "Forbidden.ResourceNotFound"
    assert h.sandbox.calls.total(RESTORE) == 0


async def test_throttling_is_retried_then_given_up_and_the_deletion_stays(
    h: CoreHarness,
) -> None:
    pending_id = await scheduled_by_the_bot(h)
    h.sandbox.faults.add(action=RESTORE, kind="throttling")
    with pytest.raises(CloudThrottled):
        await restore_secret(RestoreRequest("web-3-root"), actor=ADMIN, core=h.core)
    assert h.sandbox.calls.total(RESTORE) == 3
    row = await pending.get_pending(h.core.db, pending_id)
    assert row is not None and row.status == "pending" and scheduled_in_kms(h.sandbox)


async def test_dry_runs_say_who_restores_and_who_asks(h: CoreHarness) -> None:
    await scheduled_by_the_bot(h)
    mine = await restore_secret(
        RestoreRequest("web-3-root", dry_run=True), actor=ADMIN, core=h.core
    )
    assert isinstance(mine, DryRunReport) and mine.approval_rule == ""
    assert mine.cloud_call == f"KMS RestoreSecret SecretName={NAME} in cn-hangzhou"
    asked = await restore_secret(
        RestoreRequest("web-3-root", dry_run=True), actor=READER, core=h.core
    )
    assert isinstance(asked, DryRunReport) and asked.approval_rule == "teammate-restore"
    assert h.sandbox.calls.total(RESTORE) == 0 and scheduled_in_kms(h.sandbox)


async def test_the_same_request_id_restores_once_and_answers_the_same(h: CoreHarness) -> None:
    await scheduled_by_the_bot(h)
    request = RestoreRequest("web-3-root", request_id="view-r1")
    first = await restore_secret(request, actor=ADMIN, core=h.core)
    second = await restore_secret(request, actor=ADMIN, core=h.core)
    assert isinstance(first, RestoreResult) and first == second
    assert h.sandbox.calls.total(RESTORE) == 1
