"""`audit`: one line per request (who, what, which secret, decision, outcome, approvers), its
entries behind it, the filters, and `verify_audit` naming the first bad entry.

Requests run for real over the sandbox, so the entries are those the pipeline writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from fakes.core import ADMIN_POLICIES, CoreHarness, actor

from ecs_secret_bot.commands.approval.votes import approve_request
from ecs_secret_bot.commands.operations.create import create_secret
from ecs_secret_bot.commands.operations.delete import delete_secret
from ecs_secret_bot.commands.operations.rotate import rotate_secret
from ecs_secret_bot.commands.outcomes import CreateResult, HeldForApproval, RotateResult
from ecs_secret_bot.commands.queries import audit_view, verify_audit
from ecs_secret_bot.commands.requests import CreateRequest, DeleteRequest, RotateRequest
from ecs_secret_bot.commands.tracker import follow_rotation
from ecs_secret_bot.errors import AccessDenied, InvalidInput
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.storage.audit import AuditEntry, append_audit

ACCESS = (
    ADMIN_POLICIES
    + """
[[access.bindings]]
principals = ["slack:usergroup:SSEC"]
policies = ["AliyunKMSSecretAdminAccess"]

[[approval.rules]]
name = "custom-values"
actions = ["kms:PutSecretValue"]
approvers = ["slack:usergroup:SSEC"]
min_approvals = 1
"""
)
ADMIN = actor("UADMIN")
READER = actor("UREADER")
SEC = actor("USEC", "SSEC", channel_id="CSECOPS")
STRANGER = actor("UNOBODY")
ARN = "acs:kms:cn-hangzhou:*:secret/acs/ecs/web-3-root"


@pytest.fixture
async def h(tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[CoreHarness]:
    sandbox.add_ecs_secret("cn-hangzhou", "web-3-root", instance_id="i-web3")
    sandbox.add_ecs_secret("cn-hangzhou", "db-1-root", instance_id="i-web3")
    harness = await CoreHarness.start(tmp_path, sandbox, access_toml=ACCESS)
    harness.directory.add(ADMIN, READER, SEC)
    try:
        yield harness
    finally:
        await harness.close()


async def rotate(h: CoreHarness, who: object = ADMIN) -> RotateResult:
    result = await rotate_secret(RotateRequest("web-3-root"), actor=who, core=h.core)
    assert isinstance(result, RotateResult)
    await follow_rotation(result.rotation_id, core=h.core)
    return result


async def test_a_rotation_is_one_line_with_its_entries_behind_it(h: CoreHarness) -> None:
    await rotate(h)
    trail = await audit_view("web-3-root", actor=READER, core=h.core)
    [line] = trail.requests
    assert (line.requester, line.action, line.secret_name, line.region) == (
        ADMIN.principal,
        "kms:RotateSecret",
        "web-3-root",
        "cn-hangzhou",
    )
    assert (line.decision, line.outcome, line.approvers) == ("allowed", "rotation completed", ())
    assert [e.outcome for e in line.entries] == ["started", "executed", "rotation completed"]
    assert line.id.startswith("req-") and line.channel_id == "CINC"
    assert [e.seq for e in trail.entries] == [3, 2, 1]


async def test_a_create_names_its_secret_not_the_collection(h: CoreHarness) -> None:
    created = await create_secret(
        CreateRequest("web-3-new", instance_id="i-web3", password="Curr3nt-Passw0rd!"),
        actor=ADMIN,
        core=h.core,
    )
    assert isinstance(created, CreateResult)
    [line] = (await audit_view(actor=ADMIN, core=h.core)).requests
    assert (line.action, line.secret_name, line.outcome) == (
        "kms:CreateSecret",
        "web-3-new",
        "executed",
    )
    assert line.entries[0].resource == "acs:kms:cn-hangzhou:*:secret"
    # and `audit web-3-new` finds it, though its resource is the collection
    assert len((await audit_view("web-3-new", actor=ADMIN, core=h.core)).requests) == 1


async def test_a_held_request_its_vote_and_its_run_are_one_line(h: CoreHarness) -> None:
    held = await rotate_secret(
        RotateRequest("web-3-root", custom_password="Cust0m-Passw0rd!"), actor=ADMIN, core=h.core
    )
    assert isinstance(held, HeldForApproval)
    waiting = (await audit_view("web-3-root", actor=ADMIN, core=h.core)).requests
    assert [(r.decision, r.outcome) for r in waiting] == [("held", "pending approval")]
    step = await approve_request(held.approval_id, actor=SEC, core=h.core)
    assert isinstance(step.result, RotateResult)
    await follow_rotation(step.result.rotation_id, core=h.core)
    [line] = (await audit_view("web-3-root", actor=ADMIN, core=h.core)).requests
    assert (line.requester, line.action, line.decision) == (
        ADMIN.principal,
        "kms:PutSecretValue",
        "approved",
    )
    # A custom value: KMS holds it as current, and cannot confirm the instance changed.
    assert line.outcome.startswith("rotation completed: KMS holds the custom value")
    assert line.approvers == (SEC.principal,)
    assert [(e.actor, e.outcome.partition(":")[0]) for e in line.entries] == [
        (ADMIN.principal, "requested"),
        (ADMIN.principal, "pending approval"),
        (SEC.principal, "approved"),
        (ADMIN.principal, "started"),
        (ADMIN.principal, "executed"),
        (ADMIN.principal, "rotation completed"),
    ]


async def test_a_refusal_is_a_line_of_its_own(h: CoreHarness) -> None:
    with pytest.raises(AccessDenied):
        await delete_secret(DeleteRequest("web-3-root", days=7), actor=READER, core=h.core)
    await rotate(h)
    trail = await audit_view("web-3-root", actor=ADMIN, core=h.core)
    assert [(r.requester, r.decision, r.outcome) for r in trail.requests] == [
        (ADMIN.principal, "allowed", "rotation completed"),
        (READER.principal, "denied", "refused"),
    ]


async def test_filters_by_time_principal_and_channel(h: CoreHarness) -> None:
    await rotate(h)
    h.clock.advance(timedelta(days=2))
    await rotate(h, SEC)
    recent = await audit_view(actor=ADMIN, core=h.core, since=h.clock() - timedelta(days=1))
    assert [r.requester for r in recent.requests] == [SEC.principal]
    by_admin = await audit_view(actor=ADMIN, core=h.core, by=ADMIN.principal)
    assert [r.requester for r in by_admin.requests] == [ADMIN.principal]
    from_secops = await audit_view(actor=ADMIN, core=h.core, channel="CSECOPS")
    assert [r.requester for r in from_secops.requests] == [SEC.principal]
    assert (await audit_view("db-1-root", actor=ADMIN, core=h.core)).requests == ()
    limited = await audit_view(actor=ADMIN, core=h.core, limit=1)
    assert len(limited.requests) == 1 and limited.more
    with pytest.raises(InvalidInput):
        await audit_view(actor=ADMIN, core=h.core, limit=0)


async def test_entries_written_before_correlation_ids_still_pair_up(h: CoreHarness) -> None:
    for outcome in ("started", "executed"):
        entry = AuditEntry(ADMIN.principal, "kms:RotateSecret", ARN, "CINC", "allow", "", outcome)
        await append_audit(h.core.db, entry, at=h.clock())
    [line] = (await audit_view(actor=ADMIN, core=h.core)).requests
    assert (line.outcome, len(line.entries), line.id) == ("executed", 2, "#1")


def tamper(path: Path, sql: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        conn.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        conn.execute(sql)
    finally:
        conn.close()


async def test_verify_names_the_first_forged_entry(h: CoreHarness) -> None:
    await rotate(h)
    proof = await verify_audit(actor=READER, core=h.core)
    assert (proof.ok, proof.entries, proof.head_seq) == (True, 3, 3)
    tamper(h.db_path, "UPDATE audit_log SET actor = 'slack:user:UFORGED' WHERE seq = 2")
    forged = await verify_audit(actor=READER, core=h.core, anchor=proof.head)
    assert (forged.ok, forged.first_bad_seq, forged.entries) == (False, 2, 1)
    assert forged.first_bad_at is not None and "entry 2 was changed" in forged.problem
    # A listing checks each entry it shows against its own MAC: the forgery is marked there too.
    [line] = (await audit_view(actor=READER, core=h.core)).requests
    assert line.altered == (2,) and [e.intact for e in line.entries] == [True, False, True]


async def test_verify_against_an_anchor_detects_a_cut_end(h: CoreHarness) -> None:
    await rotate(h)
    anchor = (await verify_audit(actor=ADMIN, core=h.core)).head
    tamper(h.db_path, "DELETE FROM audit_log WHERE seq = 3")
    assert (await verify_audit(actor=ADMIN, core=h.core)).ok  # the chain alone cannot tell
    cut = await verify_audit(actor=ADMIN, core=h.core, anchor=anchor)
    assert (cut.ok, cut.first_bad_seq, cut.anchor) == (False, 3, anchor)
    assert "the anchor recorded entry 3" in cut.problem


async def test_verify_needs_list_and_a_well_formed_anchor(h: CoreHarness) -> None:
    with pytest.raises(AccessDenied):
        await verify_audit(actor=STRANGER, core=h.core)
    with pytest.raises(InvalidInput) as caught:
        await verify_audit(actor=ADMIN, core=h.core, anchor="12:not-a-hash")
    assert caught.value.field == "anchor"
