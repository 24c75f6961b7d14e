"""`pending`, `approvals` and `audit`: the bot's own records, read under the policies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from fakes.core import ADMIN_POLICIES, CoreHarness, actor

from ecs_secret_bot.commands.approval.requests import ActionRequest
from ecs_secret_bot.commands.approval.rules import RouteKind
from ecs_secret_bot.commands.queries import audit_view, list_approvals, list_pending
from ecs_secret_bot.errors import AccessDenied
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.storage.audit import AuditEntry, append_audit
from ecs_secret_bot.storage.pending import record_pending, set_pending_status

ADMIN = actor("UADMIN")
READER = actor("UREADER")
SRE = actor("USRE", "SSRE")
STRANGER = actor("UNOBODY")
LIMITED = actor("ULIMITED")
HZ, SH = "cn-hangzhou", "cn-shanghai"

# ULIMITED lists cn-hangzhou only, reads web-* only, and may never restore anything.
EXTRA = """
[[access.bindings]]
principals = ["slack:user:ULIMITED"]
policies = ["Limited"]

[access.policies.Limited]
Version = "1"
[[access.policies.Limited.Statement]]
Effect = "Allow"
Action = ["kms:ListSecrets"]
Resource = ["acs:kms:cn-hangzhou:*:secret"]
[[access.policies.Limited.Statement]]
Effect = "Allow"
Action = ["kms:DescribeSecret"]
Resource = ["acs:kms:*:*:secret/acs/ecs/web-*"]
[[access.policies.Limited.Statement]]
Effect = "Deny"
Action = ["kms:RestoreSecret"]
Resource = ["*"]
"""


def arn(region: str, name: str) -> str:
    return f"acs:kms:{region}:*:secret/acs/ecs/{name}"


@pytest.fixture
async def h(tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[CoreHarness]:
    harness = await CoreHarness.start(tmp_path, sandbox, access_toml=EXTRA + ADMIN_POLICIES)
    harness.directory.add(ADMIN, READER, SRE)
    try:
        yield harness
    finally:
        await harness.close()


async def schedule(h: CoreHarness, region: str, name: str, left: timedelta) -> None:
    now = h.clock()
    await record_pending(
        h.core.db,
        region=region,
        secret_name=f"acs/ecs/{name}",
        scheduled_by="slack:user:UADMIN",
        channel_id="CINC",
        planned_delete_time=now + left,
        now=now,
        note=f"retiring {name}",
    )


# --- pending ---------------------------------------------------------------------------------


async def test_pending_shows_time_left_and_who_may_restore(h: CoreHarness) -> None:
    await schedule(h, HZ, "web-3-root", timedelta(days=10, hours=3, minutes=30))
    await schedule(h, SH, "api-1-root", timedelta(hours=5, minutes=30))
    await schedule(h, HZ, "gone-root", timedelta(hours=-1))
    await schedule(h, HZ, "back-root", timedelta(days=3))
    admin = await list_pending(actor=ADMIN, core=h.core)
    assert [r.short_name for r in admin.rows] == [
        "gone-root",
        "api-1-root",
        "back-root",
        "web-3-root",
    ]
    gone, api, _, web = admin.rows
    assert (web.days_left, web.hours_left, web.time_left) == (10, 3, "10d 3h")
    assert (api.days_left, api.hours_left, api.time_left) == (0, 5, "5h")
    assert gone.overdue and gone.time_left == "overdue"
    assert (web.scheduled_by, web.channel_id, web.note) == (
        "slack:user:UADMIN",
        "CINC",
        "retiring web-3-root",
    )
    assert web.arn == arn(HZ, "web-3-root") and api.region == SH
    assert web.restore.kind is RouteKind.RUN and web.restore_label == "Restore"
    # storage only: KMS is not asked
    assert h.sandbox.calls.total() == 0

    reader = await list_pending(actor=READER, core=h.core)
    row = reader.rows[-1]
    assert row.restore.kind is RouteKind.HOLD and row.restore.rule == "teammate-restore"
    assert row.restore_label == "Request restore"


async def test_pending_leaves_out_restored_rows_and_regions_the_actor_may_not_list(
    h: CoreHarness,
) -> None:
    await schedule(h, HZ, "web-3-root", timedelta(days=2))
    await schedule(h, HZ, "back-root", timedelta(days=3))
    await schedule(h, SH, "api-1-root", timedelta(days=4))
    admin = await list_pending(actor=ADMIN, core=h.core)
    back = next(r for r in admin.rows if r.short_name == "back-root")
    await set_pending_status(
        h.core.db, back.id, expected=("pending",), new="restored", now=h.clock()
    )
    limited = await list_pending(actor=LIMITED, core=h.core)
    assert [r.short_name for r in limited.rows] == ["web-3-root"]
    assert limited.regions == (HZ,)
    [(region, reason)] = limited.skipped
    assert region == SH and "kms:ListSecrets" in reason
    [row] = limited.rows
    assert row.restore.kind is RouteKind.REFUSE and row.restore_label == ""
    assert "explicit deny" in row.restore.reason


async def test_pending_is_refused_without_list_permission(h: CoreHarness) -> None:
    with pytest.raises(AccessDenied) as caught:
        await list_pending(actor=STRANGER, core=h.core)
    assert "no policy is bound to you" in caught.value.reason
    with pytest.raises(AccessDenied):
        await list_pending(actor=LIMITED, core=h.core, region=SH)


# --- approvals -------------------------------------------------------------------------------


async def request_restore(h: CoreHarness, name: str) -> str:
    request = ActionRequest(
        action="kms:RestoreSecret",
        resource=arn(HZ, name),
        region=HZ,
        secret_name=f"acs/ecs/{name}",
        params={"reason": "still in use"},
    )
    row = await h.core.workflow.open_request(READER, request)
    return row.id


async def test_approvals_waiting_for_an_approver_and_the_requesters_own(h: CoreHarness) -> None:
    first = await request_restore(h, "web-3-root")
    second = await request_restore(h, "web-4-root")
    await h.core.workflow.deny(second, READER)  # withdrawn by its requester

    sre = await list_approvals(actor=SRE, core=h.core)
    [item] = sre.waiting_for_me
    assert (item.id, item.short_name, item.requester) == (first, "web-3-root", READER.principal)
    assert (item.rule, item.progress, item.status) == (
        "teammate-restore",
        "approvers 0/1",
        "pending",
    )
    assert item.needs == "1 approval from slack:usergroup:SSRE"
    assert item.requested_because == "still in use" and item.expires_at is not None
    assert item.open and sre.mine == ()

    mine = await list_approvals(actor=READER, core=h.core)
    assert mine.waiting_for_me == ()
    assert [(i.id, i.status) for i in mine.mine] == [(first, "pending"), (second, "denied")]
    assert "withdrawn" in mine.mine[1].outcome

    # the admin may restore, but is no approver of this rule
    assert (await list_approvals(actor=ADMIN, core=h.core)).waiting_for_me == ()


async def test_closed_requests_drop_out_after_a_week_and_past_expiry_reads_expired(
    h: CoreHarness,
) -> None:
    first = await request_restore(h, "web-3-root")
    second = await request_restore(h, "web-4-root")
    await h.core.workflow.deny(second, READER)
    h.clock.advance(timedelta(days=8))
    [item] = (await list_approvals(actor=READER, core=h.core)).mine
    assert (item.id, item.status, item.open) == (first, "expired", False)
    assert (await list_approvals(actor=SRE, core=h.core)).waiting_for_me == ()


async def test_approvals_need_only_a_bound_policy(h: CoreHarness) -> None:
    with pytest.raises(AccessDenied) as caught:
        await list_approvals(actor=STRANGER, core=h.core)
    assert "bound to nothing, so you may use nothing but help" in caught.value.user_message
    assert "[[access.bindings]]" in caught.value.next_step.text
    await list_approvals(actor=LIMITED, core=h.core)


# --- audit -----------------------------------------------------------------------------------


async def record(h: CoreHarness, resource: str, outcome: str) -> None:
    entry = AuditEntry(
        actor="slack:user:UADMIN",
        action="kms:RotateSecret",
        resource=resource,
        channel_id="CINC",
        decision="allow",
        reason="allowed by AliyunKMSSecretAdminAccess, statement 1",
        outcome=outcome,
    )
    await append_audit(h.core.db, entry, at=h.clock())


async def test_audit_of_one_secret_newest_first(h: CoreHarness) -> None:
    await record(h, arn(HZ, "web-3-root"), "started")
    await record(h, arn(HZ, "db-1-root"), "started")
    await record(h, arn(HZ, "web-3-root"), "executed")
    rows = (await audit_view("web-3-root", actor=READER, core=h.core)).entries
    assert [(r.outcome, r.secret_name, r.region) for r in rows] == [
        ("executed", "web-3-root", HZ),
        ("started", "web-3-root", HZ),
    ]
    assert rows[0].seq > rows[1].seq and rows[0].actor == "slack:user:UADMIN"
    one = await audit_view("acs/ecs/web-3-root", actor=ADMIN, core=h.core, limit=1)
    assert len(one.requests) == 1


async def test_audit_permissions_follow_describe_and_list(h: CoreHarness) -> None:
    await record(h, arn(HZ, "web-3-root"), "hz web")
    await record(h, arn(HZ, "db-1-root"), "hz db")
    await record(h, arn(SH, "web-9-root"), "sh web")
    everything = await audit_view(actor=ADMIN, core=h.core)
    assert [r.outcome for r in everything.requests] == ["sh web", "hz db", "hz web"]
    # audit <name>: kms:DescribeSecret on that secret
    of_web = await audit_view("web-3-root", actor=LIMITED, core=h.core)
    assert [r.outcome for r in of_web.requests] == ["hz web"]
    with pytest.raises(AccessDenied) as caught:
        await audit_view("db-1-root", actor=LIMITED, core=h.core)
    assert "kms:DescribeSecret" in caught.value.reason
    # audit: kms:ListSecrets, so only the regions the actor may list
    limited = await audit_view(actor=LIMITED, core=h.core)
    assert [r.outcome for r in limited.requests] == ["hz db", "hz web"]
    shanghai = await audit_view(region=SH, actor=ADMIN, core=h.core)
    assert [r.outcome for r in shanghai.requests] == ["sh web"]
    with pytest.raises(AccessDenied):
        await audit_view(region=SH, actor=LIMITED, core=h.core)
    with pytest.raises(AccessDenied):
        await audit_view(actor=STRANGER, core=h.core)
