"""Approvals: requests, votes, and state changes that happen exactly once.

Races are run for real: 50 tasks spread over five connections to one file (standing in
for processes), all trying the same transition; exactly one wins, and every loser can read
what happened.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from storage_testdata import NOW

from ecs_secret_bot.storage import Database, approvals, payloads
from ecs_secret_bot.storage.approvals import NewApproval


def request(**overrides: object) -> NewApproval:
    fields: dict[str, object] = {
        "action": "kms:RestoreSecret",
        "resource": "acs:kms:cn-hangzhou:*:secret/acs/ecs/old-batch-root",
        "region": "cn-hangzhou",
        "secret_name": "acs/ecs/old-batch-root",
        "requester": "U1",
        "channel_id": "C1",
        "rule": "teammate-restore",
        "params": {"force": False, "days": 7},
        "requirements": {"slack:usergroup:S01SRE": 1},
        "reason": "deleted by mistake",
        "expires_at": NOW + timedelta(hours=2),
    }
    fields.update(overrides)
    return NewApproval(**fields)  # type: ignore[arg-type]


async def test_insert_and_get(db: Database, now: datetime) -> None:
    row = await approvals.insert_approval(db, request(), now=now)
    assert row.id.startswith("apr-") and len(row.id) == 16
    assert (row.status, row.votes, row.outcome) == ("pending", (), "")
    assert row.params == {"force": False, "days": 7}
    assert row.requirements == {"slack:usergroup:S01SRE": 1}
    assert row.params_hash == approvals.compute_params_hash(
        row.action, row.resource, {"days": 7, "force": False}
    )
    assert row.expires_at == now + timedelta(hours=2)
    assert await approvals.get_approval(db, row.id) == row
    assert await approvals.get_approval(db, "apr-000000000000") is None


async def test_a_given_params_hash_is_kept(db: Database, now: datetime) -> None:
    row = await approvals.insert_approval(db, request(params_hash="abc", expires_at=None), now=now)
    assert (row.params_hash, row.expires_at) == ("abc", None)


async def test_votes_once_per_voter_while_pending(db: Database, now: datetime) -> None:
    row = await approvals.insert_approval(db, request(), now=now)
    vote = {"approver_set": "slack:usergroup:S01SRE"}
    assert await approvals.add_vote(db, row.id, voter="U2", decision="approve", at=now, **vote)
    assert not await approvals.add_vote(db, row.id, voter="U2", decision="deny", at=now, **vote)
    assert await approvals.add_vote(
        db, row.id, voter="U3", decision="deny", at=now + timedelta(seconds=1), **vote
    )
    got = await approvals.get_approval(db, row.id)
    assert got is not None
    assert got.approved_by == ("U2",) and got.denied_by == ("U3",)
    assert got.votes[0] == approvals.Vote("U2", "approve", "slack:usergroup:S01SRE", now)

    assert await approvals.set_status(db, row.id, expected="pending", new="denied", at=now)
    assert not await approvals.add_vote(db, row.id, voter="U4", decision="approve", at=now, **vote)
    with pytest.raises(ValueError, match="decision"):
        await approvals.add_vote(db, row.id, voter="U5", decision="maybe", at=now, **vote)


async def test_no_vote_after_expiry_even_before_the_sweep(db: Database, now: datetime) -> None:
    row = await approvals.insert_approval(db, request(), now=now)
    late = now + timedelta(hours=2)
    assert not await approvals.add_vote(
        db, row.id, voter="U2", decision="approve", approver_set="S", at=late
    )
    assert not await approvals.set_status(db, row.id, expected="pending", new="approved", at=late)
    assert [r.id for r in await approvals.pending_expired(db, now=late)] == [row.id]
    assert await approvals.set_status(db, row.id, expected="pending", new="expired", at=late)
    assert await approvals.pending_expired(db, now=late) == []


async def test_fifty_concurrent_approvals_execute_once(databases: list[Database]) -> None:
    row = await approvals.insert_approval(databases[0], request(), now=NOW)

    async def click(n: int) -> bool:
        db = databases[n % 5]
        if not await approvals.set_status(db, row.id, expected="pending", new="approved", at=NOW):
            return False
        # Only the winner reaches the cloud call; it then records the outcome.
        return await approvals.set_status(
            db, row.id, expected="approved", new="executed", at=NOW, outcome=f"by task {n}"
        )

    results = await asyncio.gather(*(click(n) for n in range(50)))
    assert results.count(True) == 1
    final = await approvals.get_approval(databases[3], row.id)
    assert final is not None
    assert final.status == "executed"
    assert final.outcome == f"by task {results.index(True)}"


async def test_approval_racing_expiry_has_one_outcome(databases: list[Database]) -> None:
    row = await approvals.insert_approval(databases[0], request(), now=NOW)
    at = NOW + timedelta(hours=1)

    async def attempt(n: int) -> tuple[str, bool]:
        new = "approved" if n % 2 else "expired"
        won = await approvals.set_status(
            databases[n % 5], row.id, expected="pending", new=new, at=at
        )
        return new, won

    results = await asyncio.gather(*(attempt(n) for n in range(50)))
    winners = [new for new, won in results if won]
    assert len(winners) == 1
    # Every loser learns what happened by reading the row.
    final = await approvals.get_approval(databases[1], row.id)
    assert final is not None and final.status == winners[0]


async def test_expected_may_be_several_statuses(db: Database, now: datetime) -> None:
    row = await approvals.insert_approval(db, request(), now=now)
    assert await approvals.set_status(
        db, row.id, expected=("pending", "approved"), new="failed", at=now, outcome="KMS said no"
    )
    assert not await approvals.set_status(
        db, row.id, expected=("pending", "approved"), new="failed", at=now
    )
    got = await approvals.get_approval(db, row.id)
    assert got is not None and (got.status, got.outcome) == ("failed", "KMS said no")
    with pytest.raises(ValueError, match="status"):
        await approvals.set_status(db, row.id, expected="pending", new="done", at=now)


async def test_message_and_listing(db: Database, now: datetime) -> None:
    first = await approvals.insert_approval(db, request(), now=now)
    second = await approvals.insert_approval(
        db, request(requester="U9"), now=now + timedelta(seconds=1)
    )
    await approvals.set_message(db, first.id, channel="C1", ts="1700.1")
    listed = await approvals.list_approvals(db)
    assert [r.id for r in listed] == [second.id, first.id]
    assert (listed[1].message_channel, listed[1].message_ts) == ("C1", "1700.1")
    assert [r.id for r in await approvals.list_approvals(db, requester="U9")] == [second.id]
    await approvals.set_status(db, first.id, expected="pending", new="denied", at=now)
    assert [r.id for r in await approvals.list_approvals(db, statuses=("denied",))] == [first.id]
    assert [r.id for r in await approvals.list_approvals(db, limit=1)] == [second.id]


@pytest.mark.parametrize("closing", ["denied", "expired", "failed"])
async def test_closing_a_request_erases_its_payload(
    db: Database, now: datetime, closing: str
) -> None:
    row = await approvals.insert_approval(db, request(), now=now)
    await payloads.put_payload(db, row.id, b"custom value")
    assert await approvals.set_status(db, row.id, expected="pending", new=closing, at=now)
    assert await payloads.read_payload(db, row.id) is None


async def test_executing_erases_the_payload_used(db: Database, now: datetime) -> None:
    row = await approvals.insert_approval(db, request(), now=now)
    await payloads.put_payload(db, row.id, b"custom value")
    assert await approvals.set_status(db, row.id, expected="pending", new="approved", at=now)
    assert await payloads.read_payload(db, row.id) == b"custom value"
    assert await approvals.set_status(db, row.id, expected="approved", new="executed", at=now)
    assert await payloads.read_payload(db, row.id) is None


async def test_failed_card_posts_are_counted_until_the_card_is_posted(
    db: Database, now: datetime
) -> None:
    row = await approvals.insert_approval(db, request(), now=now)
    assert row.card_attempts == 0
    assert await approvals.count_card_failure(db, row.id) == 1
    assert await approvals.count_card_failure(db, row.id) == 2
    got = await approvals.get_approval(db, row.id)
    assert got is not None and got.card_attempts == 2
    await approvals.set_message(db, row.id, channel="C1", ts="1.2")
    assert await approvals.count_card_failure(db, row.id) == 0  # posted: nothing to count
    assert await approvals.count_card_failure(db, "apr-missing") == 0
