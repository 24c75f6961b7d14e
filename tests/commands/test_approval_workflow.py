"""The approval workflow over a real SQLite file: who may approve, races, expiry, restarts."""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes.policies import ADMIN_ACCESS, access_toml

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.approval.requests import ActionRequest, VoteResult
from ecs_secret_bot.commands.approval.rules import RouteKind
from ecs_secret_bot.commands.approval.workflow import CLAIM_WINDOW, ApprovalWorkflow
from ecs_secret_bot.config import Settings, parse_settings
from ecs_secret_bot.errors import AccessDenied, ApprovalError, NotFound
from ecs_secret_bot.storage.approvals import ApprovalRow
from ecs_secret_bot.storage.db import Database, open_database
from ecs_secret_bot.storage.payloads import read_payload
from ecs_secret_bot.storage.pg import open_pg_database

START = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
KEY = bytes(range(32))
SECRET = "acs:kms:cn-hangzhou:*:secret/acs/ecs/web-3-root"

CONFIG = access_toml(
    admins=["slack:usergroup:SSRE", "slack:usergroup:SSEC"],
    admin_policies=[ADMIN_ACCESS],
    readers=["slack:user:*"],
    channel="C0SECOPS",
    delete_approvers=["slack:usergroup:SSEC", "slack:usergroup:SJUNIOR"],
    restore_approvers=["slack:usergroup:SSRE"],
    more="""
[[approval.rules]]
name = "custom-value"
actions = ["kms:PutSecretValue"]
notify_dm = true
[[approval.rules.approver_sets]]
name = "sre"
approvers = ["slack:usergroup:SSRE"]
[[approval.rules.approver_sets]]
name = "security"
approvers = ["slack:usergroup:SSEC"]
""",
)


def person(user: str, *groups: str, **facts: object) -> Actor:
    return Actor(
        f"slack:user:{user}",
        groups=frozenset(f"slack:usergroup:{g}" for g in groups),
        channel_id="C0OPS",
        channel_name="ops",
        team_id="T1",
        **facts,  # type: ignore[arg-type]
    )


ADMIN = person("UADMIN", "SSRE")
SEC1 = person("USEC1", "SSEC")
SEC2 = person("USEC2", "SSEC")
SRE2 = person("USRE2", "SSRE")
BOTH = person("UBOTH", "SSRE", "SSEC")
MATE = person("UMATE")
JUNIOR = person("UJUNIOR", "SJUNIOR")  # an approver by the rule, but not allowed to delete
GUEST = person("UGUEST", "SSEC", is_guest=True)
BOT = person("UBOT", "SSEC", is_bot=True)
GONE = person("UGONE", "SSEC", is_deleted=True)
PEOPLE = [ADMIN, SEC1, SEC2, SRE2, BOTH, MATE, JUNIOR, GUEST, BOT, GONE]

FORCE_DELETE = ActionRequest(
    action="kms:DeleteSecret",
    resource=SECRET,
    region="cn-hangzhou",
    secret_name="acs/ecs/web-3-root",
    params={"force": True},
    request_keys={"kms:ForceDeleteWithoutRecovery": True},
)
RESTORE = ActionRequest("kms:RestoreSecret", SECRET, "cn-hangzhou", "acs/ecs/web-3-root")
CUSTOM = ActionRequest(
    "kms:PutSecretValue",
    SECRET,
    "cn-hangzhou",
    "acs/ecs/web-3-root",
    request_keys={"kms:CustomSecretValue": True},
)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class Directory:
    """Who exists now, as the Slack layer would look it up."""

    def __init__(self, people: list[Actor]) -> None:
        self.people = {p.principal: p for p in people}

    async def lookup(self, principal: str) -> Actor | None:
        return self.people.get(principal)


def settings(toml: str = CONFIG) -> Settings:
    return parse_settings(tomllib.loads(toml), source=Path("/etc/bot/bot.toml"))


def workflow(
    db: Database, clock: Clock, directory: Directory, toml: str = CONFIG
) -> ApprovalWorkflow:
    s = settings(toml)
    return ApprovalWorkflow(
        db, access=s.policies, rules=s.approval_rules, directory=directory, clock=clock
    )


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "postgres":  # the throwaway PostgreSQL of tests/conftest.py
        url = request.getfixturevalue("database_url")
        database: Database = await open_pg_database(url, data_key=KEY)
    else:
        database = await open_database(tmp_path / "bot.db", data_key=KEY)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def directory() -> Directory:
    return Directory(PEOPLE)


@pytest.fixture
def flow(db: Database, clock: Clock, directory: Directory) -> ApprovalWorkflow:
    return workflow(db, clock, directory)


async def test_a_gated_request_waits_runs_once_and_records_its_outcome(
    flow: ApprovalWorkflow,
) -> None:
    assert flow.route(ADMIN, FORCE_DELETE).kind is RouteKind.HOLD
    row = await flow.open_request(ADMIN, FORCE_DELETE)
    assert row.status == "pending"
    assert row.rule == "immediate-delete"
    assert row.requirements == {"approvers": 1}
    assert row.params_hash == FORCE_DELETE.fingerprint()
    assert row.expires_at == START + timedelta(hours=2)
    assert row.reason == (
        "held by approval rule immediate-delete: it needs 1 approval from "
        "slack:usergroup:SSEC or slack:usergroup:SJUNIOR"
    )

    vote = await flow.approve(row.id, SEC1)
    assert vote.result is VoteResult.APPROVED
    assert vote.message == "Approved by slack:user:USEC1; it runs now."
    assert vote.approval.status == "approved"

    claim = await flow.claim_execution(row.id, FORCE_DELETE)
    assert claim.won and claim.request == FORCE_DELETE
    assert claim.approval.outcome.startswith("started at 2025-06-01 09:00 UTC")
    again = await flow.claim_execution(row.id, FORCE_DELETE)
    assert not again.won
    assert again.message.startswith("It was approved by slack:user:USEC1 and is already running")

    assert await flow.finish(row.id, ok=True, outcome="deleted at once")
    done = await flow.get(row.id)
    assert (done.status, done.outcome) == ("executed", "deleted at once")
    late = await flow.approve(row.id, SEC2)
    assert late.result is VoteResult.CLOSED
    assert late.message == (
        "It was approved by slack:user:USEC1 and has already run: deleted at once."
    )


@pytest.mark.parametrize(
    ("approver", "message"),
    [
        (
            ADMIN,
            "You cannot approve this request: you asked for it, and someone else must approve it.",
        ),
        (
            GUEST,
            "You cannot approve this request: guests, bots and deactivated accounts "
            "cannot approve.",
        ),
        (
            BOT,
            "You cannot approve this request: guests, bots and deactivated accounts "
            "cannot approve.",
        ),
        (
            GONE,
            "You cannot approve this request: guests, bots and deactivated accounts "
            "cannot approve.",
        ),
        (
            MATE,
            "You cannot approve this request: it needs 1 approval from slack:usergroup:SSEC or "
            "slack:usergroup:SJUNIOR.",
        ),
        (
            JUNIOR,
            "You cannot approve this request: an approver must be allowed to do it themselves, and "
            f"no policy bound to you allows kms:DeleteSecret on {SECRET}.",
        ),
    ],
)
async def test_who_may_not_approve_is_told_why_and_nothing_changes(
    flow: ApprovalWorkflow, approver: Actor, message: str
) -> None:
    requester = replace(ADMIN, groups=ADMIN.groups | {"slack:usergroup:SSEC"})
    row = await flow.open_request(requester if approver is ADMIN else ADMIN, FORCE_DELETE)
    vote = await flow.approve(row.id, approver)
    assert vote.result is VoteResult.REFUSED
    assert vote.message == message
    assert (await flow.get(row.id)).votes == ()
    assert flow.why_not_approver(row, approver) is not None


async def test_the_requester_cannot_approve_even_as_a_member_of_the_approver_set(
    flow: ApprovalWorkflow,
) -> None:
    row = await flow.open_request(BOTH, CUSTOM)
    assert (await flow.approve(row.id, BOTH)).result is VoteResult.REFUSED
    assert flow.progress(await flow.get(row.id)).counts == {"sre": 0, "security": 0}


async def test_an_approver_is_judged_in_their_own_channel_at_the_moment_of_approving(
    db: Database, clock: Clock, directory: Directory
) -> None:
    toml = CONFIG + (
        '[[access.guardrails]]\nchannels = ["C0READONLY"]\npolicies = ["AliyunKMSReadOnlyAccess"]'
    )
    flow = workflow(db, clock, directory, toml)
    row = await flow.open_request(ADMIN, FORCE_DELETE)
    in_readonly = replace(SEC1, channel_id="C0READONLY", channel_name="readonly")
    refused = await flow.approve(row.id, in_readonly)
    assert refused.result is VoteResult.REFUSED
    assert "the guardrail of #readonly does not allow kms:DeleteSecret" in refused.message
    assert (await flow.approve(row.id, SEC1)).result is VoteResult.APPROVED


async def test_two_approver_sets_need_one_of_each(flow: ApprovalWorkflow) -> None:
    row = await flow.open_request(ADMIN, CUSTOM)
    assert row.requirements == {"sre": 1, "security": 1}
    first = await flow.approve(row.id, SEC1)
    assert first.result is VoteResult.RECORDED
    assert first.message == "Your approval is recorded; still waiting (sre 0/1, security 1/1)."
    second = await flow.approve(row.id, SEC2)  # another security engineer does not help
    assert second.result is VoteResult.RECORDED
    assert (await flow.approve(row.id, SEC2)).result is VoteResult.DUPLICATE
    done = await flow.approve(row.id, SRE2)
    assert done.result is VoteResult.APPROVED
    assert done.tally is not None and done.tally.complete


async def test_one_person_in_both_sets_counts_once(flow: ApprovalWorkflow) -> None:
    row = await flow.open_request(ADMIN, CUSTOM)
    assert (await flow.approve(row.id, BOTH)).result is VoteResult.RECORDED
    # BOTH moves to whichever set still needs someone: SRE2 completes it
    assert (await flow.approve(row.id, SRE2)).result is VoteResult.APPROVED


async def test_one_denial_ends_it(flow: ApprovalWorkflow) -> None:
    row = await flow.open_request(ADMIN, CUSTOM)
    assert (await flow.approve(row.id, SEC1)).result is VoteResult.RECORDED
    denied = await flow.deny(row.id, SRE2)
    assert denied.result is VoteResult.DENIED
    assert denied.approval.status == "denied"
    late = await flow.approve(row.id, BOTH)
    assert late.result is VoteResult.CLOSED
    assert late.message == "It was already closed: denied by slack:user:USRE2."
    assert not (await flow.claim_execution(row.id)).won


async def test_a_stranger_cannot_deny_but_the_requester_can_withdraw(
    flow: ApprovalWorkflow,
) -> None:
    row = await flow.open_request(ADMIN, FORCE_DELETE)
    assert (await flow.deny(row.id, MATE)).result is VoteResult.REFUSED
    withdrawn = await flow.deny(row.id, ADMIN)
    assert withdrawn.result is VoteResult.WITHDRAWN
    assert withdrawn.message == "The request was withdrawn by its requester."


async def test_a_request_expires_after_its_time(flow: ApprovalWorkflow, clock: Clock) -> None:
    row = await flow.open_request(ADMIN, FORCE_DELETE)
    other = await flow.open_request(ADMIN, FORCE_DELETE)
    clock.advance(timedelta(hours=2))
    vote = await flow.approve(row.id, SEC1)
    assert vote.result is VoteResult.EXPIRED
    assert vote.message == "It expired at 2025-06-01 11:00 UTC."
    assert (await flow.approve(row.id, SEC2)).message == "It expired at 2025-06-01 11:00 UTC."
    swept = await flow.expire_due()
    assert [r.id for r in swept] == [other.id]
    assert swept[0].outcome == "expired at 2025-06-01 11:00 UTC (approvers 0/1)"
    assert await flow.expire_due() == []


async def test_an_open_rule_lets_a_teammate_ask_and_runs_on_approval(
    flow: ApprovalWorkflow,
) -> None:
    assert flow.route(ADMIN, RESTORE).kind is RouteKind.RUN
    assert flow.route(MATE, RESTORE).kind is RouteKind.HOLD
    row = await flow.open_request(MATE, RESTORE)
    assert (await flow.approve(row.id, SEC1)).result is VoteResult.REFUSED  # not SRE
    assert (await flow.approve(row.id, SRE2)).result is VoteResult.APPROVED
    assert (await flow.claim_execution(row.id, RESTORE)).won


async def test_what_may_not_be_asked_is_refused_at_once(flow: ApprovalWorkflow) -> None:
    with pytest.raises(AccessDenied) as raised:
        await flow.open_request(MATE, FORCE_DELETE)
    assert raised.value.reason == f"no policy bound to you allows kms:DeleteSecret on {SECRET}"
    with pytest.raises(ValueError, match="needs no approval"):
        await flow.open_request(ADMIN, RESTORE)
    with pytest.raises(NotFound):
        await flow.approve("apr-nothing", SEC1)


async def test_a_request_from_a_dm_needs_the_approval_channel(
    db: Database, clock: Clock, directory: Directory
) -> None:
    in_dm = replace(ADMIN, channel_id="D0DM", channel_name="")
    flow = workflow(db, clock, directory)
    assert flow.rules.announce_channel(in_dm) == "C0SECOPS"
    assert (await flow.open_request(in_dm, FORCE_DELETE)).channel_id == "D0DM"
    bare = workflow(db, clock, directory, CONFIG.replace('channel = "C0SECOPS"', ""))
    with pytest.raises(ApprovalError, match="no \\[approval\\] channel is configured"):
        await bare.open_request(in_dm, FORCE_DELETE)


async def test_what_runs_is_exactly_what_was_approved(flow: ApprovalWorkflow) -> None:
    row = await flow.open_request(ADMIN, FORCE_DELETE)
    await flow.approve(row.id, SEC1)
    other = replace(FORCE_DELETE, secret_name="acs/ecs/prod-db")
    claim = await flow.claim_execution(row.id, other)
    assert not claim.won
    assert claim.message == "Nothing ran: what was about to run differs from what was approved."
    assert claim.approval.status == "failed"


async def test_an_approver_who_lost_eligibility_voids_the_approval(
    flow: ApprovalWorkflow, directory: Directory
) -> None:
    row = await flow.open_request(ADMIN, FORCE_DELETE)
    await flow.approve(row.id, SEC1)
    directory.people[SEC1.principal] = replace(SEC1, groups=frozenset())  # left the group
    claim = await flow.claim_execution(row.id, FORCE_DELETE)
    assert not claim.won
    assert claim.message == (
        "Nothing ran: its approvals no longer suffice: slack:user:USEC1 may no longer approve "
        "it (it needs 1 approval from slack:usergroup:SSEC or slack:usergroup:SJUNIOR)."
    )


async def test_a_requester_who_lost_the_permission_voids_a_gated_request(
    db: Database, clock: Clock, directory: Directory
) -> None:
    flow = workflow(db, clock, directory)
    row = await flow.open_request(ADMIN, FORCE_DELETE)
    await flow.approve(row.id, SEC1)
    directory.people[ADMIN.principal] = replace(ADMIN, groups=frozenset())
    claim = await flow.claim_execution(row.id)
    assert not claim.won
    assert claim.message == (
        "Nothing ran: the requester may no longer ask for it: no policy bound to you allows "
        f"kms:DeleteSecret on {SECRET}."
    )


async def test_the_policy_is_checked_again_at_execution(
    db: Database, clock: Clock, directory: Directory
) -> None:
    row = await workflow(db, clock, directory).open_request(ADMIN, FORCE_DELETE)
    await workflow(db, clock, directory).approve(row.id, SEC1)
    stricter = CONFIG + (
        '[[access.bindings]]\nprincipals = ["slack:user:*"]\npolicies = ["NoDelete"]\n'
        '[[access.policies.NoDelete.Statement]]\nEffect = "Deny"\n'
        'Action = "kms:DeleteSecret"\nResource = "*"\n'
    )
    claim = await workflow(db, clock, directory, stricter).claim_execution(row.id)
    assert not claim.won
    assert "denied by NoDelete, statement 1 (explicit deny)" in claim.message


async def test_the_secret_state_is_checked_at_execution(flow: ApprovalWorkflow) -> None:
    row = await flow.open_request(MATE, RESTORE)
    await flow.approve(row.id, SRE2)

    async def not_pending(_: ApprovalRow) -> str | None:
        return "acs/ecs/web-3-root is not scheduled for deletion any more"

    claim = await flow.claim_execution(row.id, RESTORE, check_state=not_pending)
    assert not claim.won
    assert claim.approval.outcome == (
        "not run: acs/ecs/web-3-root is not scheduled for deletion any more"
    )


async def test_an_approved_request_must_start_soon(flow: ApprovalWorkflow, clock: Clock) -> None:
    row = await flow.open_request(MATE, RESTORE)
    await flow.approve(row.id, SRE2)
    clock.advance(timedelta(days=1) + CLAIM_WINDOW + timedelta(seconds=1))
    claim = await flow.claim_execution(row.id)
    assert not claim.won and "had not started by" in claim.message


async def test_an_approval_executes_once_under_fifty_concurrent_claims(
    flow: ApprovalWorkflow,
) -> None:
    row = await flow.open_request(ADMIN, FORCE_DELETE)
    await flow.approve(row.id, SEC1)
    claims = await asyncio.gather(*(flow.claim_execution(row.id) for _ in range(50)))
    assert sum(c.won for c in claims) == 1
    assert all("already running" in c.message for c in claims if not c.won)


async def test_fifty_concurrent_final_approvals_approve_once(flow: ApprovalWorkflow) -> None:
    row = await flow.open_request(ADMIN, FORCE_DELETE)
    approvers = [person(f"USEC{i}X", "SSEC") for i in range(50)]
    flow.directory.people.update({a.principal: a for a in approvers})  # type: ignore[attr-defined]
    votes = await asyncio.gather(*(flow.approve(row.id, a) for a in approvers))
    assert sum(v.result is VoteResult.APPROVED for v in votes) == 1
    losers = [v for v in votes if v.result is not VoteResult.APPROVED]
    assert all(v.message.startswith("It was already approved by") for v in losers)


async def test_a_custom_value_is_handed_to_the_winner_and_erased(flow: ApprovalWorkflow) -> None:
    row = await flow.open_request(ADMIN, CUSTOM, payload=b"correct horse")
    await flow.approve(row.id, SEC1)
    await flow.approve(row.id, SRE2)
    claim = await flow.claim_execution(row.id, CUSTOM)
    assert claim.won and claim.payload == b"correct horse"
    assert "correct horse" not in repr(claim)
    assert await read_payload(flow.db, row.id) is None


async def test_a_crash_between_claim_and_outcome_stays_visible(flow: ApprovalWorkflow) -> None:
    row = await flow.open_request(ADMIN, FORCE_DELETE)
    await flow.approve(row.id, SEC1)
    assert (await flow.claim_execution(row.id)).won
    stuck = await flow.interrupted()
    assert [r.id for r in stuck] == [row.id]
    assert "no result was recorded" in stuck[0].outcome
    await flow.finish(row.id, ok=False, outcome="KMS answered Rejected.ResourceInUse")
    assert (await flow.get(row.id)).status == "failed"
    assert await flow.interrupted() == []


async def test_a_restart_loses_no_request(
    tmp_path: Path, clock: Clock, directory: Directory
) -> None:
    path = tmp_path / "restart.db"
    db = await open_database(path, data_key=KEY)
    try:
        row = await workflow(db, clock, directory).open_request(ADMIN, CUSTOM, payload=b"v")
        await workflow(db, clock, directory).approve(row.id, SEC1)
    finally:
        await db.close()
    db = await open_database(path, data_key=KEY)
    try:
        flow = workflow(db, clock, directory)
        again = await flow.get(row.id)
        assert again.status == "pending" and again.approved_by == (SEC1.principal,)
        assert flow.progress(again).progress() == "sre 0/1, security 1/1"
        assert (await flow.approve(row.id, SRE2)).result is VoteResult.APPROVED
        claim = await flow.claim_execution(row.id, CUSTOM)
        assert claim.won and claim.payload == b"v"
    finally:
        await db.close()


async def test_a_rule_removed_from_the_configuration_closes_its_requests(
    db: Database, clock: Clock, directory: Directory
) -> None:
    row = await workflow(db, clock, directory).open_request(ADMIN, FORCE_DELETE)
    without = CONFIG.replace('name = "immediate-delete"', 'name = "immediate-delete-v2"')
    vote = await workflow(db, clock, directory, without).approve(row.id, SEC1)
    assert vote.result is VoteResult.CLOSED
    assert vote.message == (
        "It cannot go on: its approval rule immediate-delete is no longer in the configuration."
    )


async def test_waiting_for_lists_what_a_person_may_still_approve(
    flow: ApprovalWorkflow, clock: Clock
) -> None:
    delete = await flow.open_request(ADMIN, FORCE_DELETE)
    custom = await flow.open_request(ADMIN, CUSTOM)
    assert {r.id for r in await flow.waiting_for(SEC1)} == {custom.id, delete.id}
    assert [r.id for r in await flow.waiting_for(SRE2)] == [custom.id]
    assert await flow.waiting_for(ADMIN) == []  # never one's own
    assert await flow.waiting_for(MATE) == []
    await flow.approve(custom.id, SEC1)
    assert [r.id for r in await flow.waiting_for(SEC1)] == [delete.id]
    clock.advance(timedelta(hours=2))
    assert [r.id for r in await flow.waiting_for(SEC1)] == []
