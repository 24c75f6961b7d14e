"""A change KMS made while the database refused the bot's records is told as made, never undone.

Each operation runs against the sandbox and a real SQLite file; its cloud call is slowed by
a latency fault, and while it is under way another connection takes the file's write lock
(``BEGIN EXCLUSIVE``), so every write after the call fails (``database is locked``) as it
would with a full disk or a database gone away. The person is told what KMS did, that the
bot could not record it, and not to do it again; once the lock is gone, what the duties
run settles the rows left behind, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes.core import ADMIN_POLICIES, CoreHarness, actor
from test_sweep import GATE, INCIDENT, SECURITY, SRE, incident_world, runner_of, states
from test_sweep import start as sweep_start

from ecs_secret_bot.bot.errors import describe as slack_words
from ecs_secret_bot.commands.approval.votes import ApprovalStep, approve_request
from ecs_secret_bot.commands.operations.create import create_secret
from ecs_secret_bot.commands.operations.delete import delete_secret, settle_unknown_deletions
from ecs_secret_bot.commands.operations.restore import restore_secret
from ecs_secret_bot.commands.operations.rotate import rotate_secret
from ecs_secret_bot.commands.operations.rotation_policy import set_rotation_policy
from ecs_secret_bot.commands.outcomes import (
    CreateResult,
    DeleteResult,
    HeldForApproval,
    RotationPolicyResult,
)
from ecs_secret_bot.commands.requests import (
    CreateRequest,
    DeleteRequest,
    RestoreRequest,
    RotateRequest,
    RotationPolicyRequest,
)
from ecs_secret_bot.commands.sweeps import plan_sweep
from ecs_secret_bot.commands.tracker import follow_rotation
from ecs_secret_bot.commands.unrecorded import ChangeNotRecorded
from ecs_secret_bot.errors import Conflict, StorageError, Subcommand, known_error
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.storage import pending, rotations
from ecs_secret_bot.storage.audit import list_audit
from ecs_secret_bot.terminal.exit_codes import ExitCode, exit_code_of
from ecs_secret_bot.terminal.report import describe_error, error_json

ACCESS = (
    ADMIN_POLICIES
    + """
[[access.bindings]]
principals = ["slack:usergroup:SSEC"]
policies = ["AliyunKMSSecretAdminAccess"]
"""
)
ADMIN = actor("UADMIN", "SSRE")
SEC = actor("USEC", "SSEC")
NAME = "acs/ecs/web-3-root"
PASSWORD = "Kx7#pQ2vLm9wR4zT"


@pytest.fixture
async def h(tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[CoreHarness]:
    sandbox.add_ecs_secret("cn-hangzhou", "web-3-root", instance_id="i-web3")
    harness = await CoreHarness.start(tmp_path, sandbox, access_toml=ACCESS)
    harness.directory.add(ADMIN, SEC)
    # The bot's connection gives up on a locked file after 0.3 s rather than 5 s.
    await harness.core.db.fetchall("PRAGMA busy_timeout = 300")
    try:
        yield harness
    finally:
        await harness.close()


@contextmanager
def write_locked(path: Path) -> Iterator[None]:
    """Hold the database file's write lock from another connection, as another process would."""
    other = sqlite3.connect(path, isolation_level=None, timeout=5)
    try:
        other.execute("BEGIN EXCLUSIVE")
        yield
        other.execute("ROLLBACK")
    finally:
        other.close()


async def while_locked(h: CoreHarness, action: str, run: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``run``; once its ``action`` reaches the cloud, lock the database until it answers."""
    h.sandbox.faults.add(action=action, kind="latency", latency=1.0, times=1)
    before = h.sandbox.calls.total(action)
    task = asyncio.ensure_future(run())
    deadline = time.monotonic() + 10
    while h.sandbox.calls.total(action) == before:  # the intent is audited, the call under way
        assert time.monotonic() < deadline, f"{action} was never called"
        if task.done():  # it ended before reaching the cloud: what it answered is the failure
            return task.result()
        await asyncio.sleep(0.02)
    with write_locked(h.db_path):
        try:
            return await task
        except Exception as exc:
            return exc


def when_planned(h: CoreHarness) -> str:
    """Return the deletion date KMS holds for web-3-root, as the messages give it."""
    secret = h.sandbox.kms.find("cn-hangzhou", NAME)
    assert secret is not None and secret.planned_delete is not None
    return f"{secret.planned_delete:%Y-%m-%d %H:%M} UTC"


def told(answer: object, *, done: str) -> ChangeNotRecorded:
    """Check the person is told what KMS did and not to do it again, in both fronts' words."""
    assert isinstance(answer, ChangeNotRecorded), answer
    assert isinstance(known_error(answer), StorageError)
    assert answer.user_message == (
        f"{done}, but the bot could not record it because it could not write to its database."
    )
    assert "nothing was changed" not in str(answer)
    assert answer.next_step.command == Subcommand("show", ("web-3-root",))
    assert "again" in answer.next_step.text
    # The words come from one place; each front end spells the subcommand its own way.
    terminal = describe_error(answer)
    assert terminal.startswith(answer.user_message)
    assert "`ecs-secret show web-3-root` shows what KMS has now" in terminal
    assert error_json(answer)["next_command"] == {"subcommand": "show", "args": ["web-3-root"]}
    assert exit_code_of(answer) is ExitCode.SETUP
    slack = slack_words(answer)
    assert slack.startswith(answer.user_message)
    assert "`/ecs-secret show web-3-root` shows what KMS has now" in slack
    return answer


async def test_a_rotation_kms_took_is_said_triggered_and_followed_once_the_database_is_back(
    h: CoreHarness,
) -> None:
    answer = await while_locked(
        h,
        "RotateSecret",
        lambda: rotate_secret(
            RotateRequest("web-3-root", request_id="view:V1"), actor=ADMIN, core=h.core
        ),
    )
    error = told(answer, done="Rotation of web-3-root was triggered in KMS")
    assert h.sandbox.calls.total("RotateSecret") == 1
    assert "do not rotate it again" in error.next_step.text.lower()
    # The row it left is starting, with its version: the follow-up settles it and audits it.
    [row] = await rotations.active_rotations(h.core.db)
    assert row.status == "starting" and error.did.record_id == row.id
    outcome = await follow_rotation(row.id, core=h.core)
    assert outcome.state == "completed"
    outcomes = [e.outcome for e in await list_audit(h.core.db)]
    assert "started" in outcomes and "rotation completed" in outcomes
    # The same request again is not carried out twice: its claim stays.
    with pytest.raises(Conflict, match="already being carried out"):
        await rotate_secret(
            RotateRequest("web-3-root", request_id="view:V1"), actor=ADMIN, core=h.core
        )
    assert h.sandbox.calls.total("RotateSecret") == 1


async def test_a_custom_value_kms_took_is_said_put(h: CoreHarness) -> None:
    answer = await while_locked(
        h,
        "PutSecretValue",
        lambda: rotate_secret(
            RotateRequest("web-3-root", custom_password=PASSWORD), actor=ADMIN, core=h.core
        ),
    )
    told(answer, done="Rotation of web-3-root was triggered in KMS")
    [row] = await rotations.active_rotations(h.core.db)
    assert row.custom and row.status == "starting"
    assert (await follow_rotation(row.id, core=h.core)).state == "completed"


async def test_a_scheduled_deletion_kms_made_is_said_made_and_settled_from_kms(
    h: CoreHarness,
) -> None:
    answer = await while_locked(
        h,
        "DeleteSecret",
        lambda: delete_secret(DeleteRequest("web-3-root", days=7), actor=ADMIN, core=h.core),
    )
    error = told(answer, done="web-3-root was scheduled for deletion in KMS on " + when_planned(h))
    assert "do not delete it again" in error.next_step.text.lower()
    [row] = await pending.list_pending(h.core.db, statuses=("unknown",), limit=10)
    assert (await settle_unknown_deletions(h.core)).scheduled == 1
    # Its outcome entry, which the locked file refused, is written as it is settled.
    [settled_entry] = [e for e in await list_audit(h.core.db) if "settled" in e.outcome]
    assert settled_entry.action == "kms:DeleteSecret"
    assert settled_entry.outcome == (
        f"scheduled to {when_planned(h)} (pending deletion {row.id}, settled from KMS)"
    )
    assert settled_entry.actor == "slack:user:UADMIN"
    settled = await pending.get_pending(h.core.db, row.id)
    assert settled is not None and settled.status == "pending"


async def test_an_approved_immediate_deletion_kms_made_is_said_made(h: CoreHarness) -> None:
    held = await delete_secret(
        DeleteRequest("web-3-root", immediately=True), actor=ADMIN, core=h.core
    )
    assert isinstance(held, HeldForApproval)
    answer = await while_locked(
        h, "DeleteSecret", lambda: approve_request(held.approval_id, actor=SEC, core=h.core)
    )
    assert isinstance(answer, ApprovalStep) and answer.result is None, answer
    told(answer.error, done="web-3-root was deleted in KMS, immediately and for good")
    assert h.sandbox.kms.find("cn-hangzhou", NAME) is None
    # Back: the approval says it ran and to check the secret (its end could not be
    # recorded), and the deletion's row is settled from KMS.
    approval = await h.core.workflow.get(held.approval_id)
    assert approval.status == "executed" and "check the secret" in approval.outcome
    assert (await settle_unknown_deletions(h.core)).deleted == 1
    [settled_entry] = [e for e in await list_audit(h.core.db) if "settled" in e.outcome]
    assert settled_entry.outcome.startswith("deleted (pending deletion")


async def test_a_restore_kms_made_is_said_made(h: CoreHarness) -> None:
    scheduled = await delete_secret(
        DeleteRequest("web-3-root", days=7), actor=actor("UADMIN"), core=h.core
    )
    assert isinstance(scheduled, DeleteResult)
    answer = await while_locked(
        h,
        "RestoreSecret",
        lambda: restore_secret(RestoreRequest("web-3-root"), actor=ADMIN, core=h.core),
    )
    error = told(answer, done="web-3-root was restored in KMS (its deletion is cancelled)")
    assert "do not restore it again" in error.next_step.text.lower()
    secret = h.sandbox.kms.find("cn-hangzhou", NAME)
    assert secret is not None and secret.planned_delete is None


async def test_a_creation_whose_answer_cannot_be_kept_is_answered_all_the_same(
    h: CoreHarness,
) -> None:
    answer = await while_locked(
        h,
        "CreateSecret",
        lambda: create_secret(
            CreateRequest(
                "web-3-new", instance_id="i-web3", password=PASSWORD, request_id="view:C1"
            ),
            actor=ADMIN,
            core=h.core,
        ),
    )
    # Nothing but its outcome's audit entry and the copy for repeats came after the call:
    # the answer is what KMS did.
    assert isinstance(answer, CreateResult), answer
    assert h.sandbox.kms.find("cn-hangzhou", "acs/ecs/web-3-new") is not None


async def test_a_rotation_policy_whose_answer_cannot_be_kept_is_answered_all_the_same(
    h: CoreHarness,
) -> None:
    answer = await while_locked(
        h,
        "UpdateSecretRotationPolicy",
        lambda: set_rotation_policy(
            RotationPolicyRequest("web-3-root", enabled=True, interval="12h"),
            actor=ADMIN,
            core=h.core,
        ),
    )
    assert isinstance(answer, RotationPolicyResult), answer
    detail = await h.core.gateway.describe_secret("cn-hangzhou", NAME)
    assert detail.rotation_interval == timedelta(hours=12)


async def test_a_sweep_item_whose_rotation_kms_took_is_followed_not_failed(
    tmp_path: Path, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    incident_world(sandbox)
    h = await sweep_start(tmp_path, sandbox, extra_access=GATE)
    await h.core.db.fetchall("PRAGMA busy_timeout = 300")
    try:
        plan = await plan_sweep(INCIDENT, actor=SRE, core=h.core)
        runner, _ = runner_of(h, concurrency=1)
        held = await runner.start(plan, actor=SRE, reason="INC-42")
        step = await approve_request(held.approval_id, actor=SECURITY, core=h.core)

        async def first_item_under_a_lock() -> None:
            await runner.approved(step.sweep_id)
            while not sandbox.calls.total("RotateSecret"):
                await asyncio.sleep(0.01)

        sandbox.faults.add(action="RotateSecret", kind="latency", latency=1.0, times=1)
        # The rotation itself ends after the lock is gone, so only the records right after
        # the call are refused (a follow-up whose own record is refused is another story).
        sandbox.faults.add(action="RotateSecret", kind="rotation_slow", latency=3.0, times=1)
        await first_item_under_a_lock()
        with write_locked(h.db_path):
            await asyncio.sleep(2.0)  # its call answers, and its records are refused
        done = await runner.wait(held.sweep_id)
        # KMS took all three: none is said failed, none rotated twice.
        assert "recording it failed" in caplog.text
        assert (done.counts.done, done.counts.failed) == (3, 0), states(done)
        assert sandbox.calls.total("RotateSecret") == 3
    finally:
        await h.close()
