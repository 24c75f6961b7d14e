"""Approval requests: what was asked, who voted how, and which state the request is in.

Owns the ``approvals`` and ``approval_votes`` rows. Every state change is one
compare-and-set statement (``UPDATE ... WHERE id = ? AND status IN (...)``), so two
concurrent "Approve" clicks, or an approval racing its expiry, move the request once:
the winner gets True, every loser False, and ``get_approval`` tells a loser what
happened. A decision (``approved``, ``denied``) or a vote on a request past its
``expires_at`` loses to the expiry even before the expiry sweep has run. ``set_status``
with an empty ``outcome`` keeps the outcome recorded before. ``count_card_failure`` counts
the failed tries to post a request's card (one statement, so concurrent tries each count).

Never decides who may approve or how many approvals suffice (``commands/`` does) and never
holds a secret value: ``params`` are the request's non-secret parameters; a custom secret
value goes to ``payloads``, encrypted, and is erased when the request closes.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ecs_secret_bot.storage._codec import canonical_json, from_text, frozen_mapping, to_text
from ecs_secret_bot.storage._sql import Row, UniqueViolation
from ecs_secret_bot.storage.db import Database
from ecs_secret_bot.storage.leases import Fence, guarded
from ecs_secret_bot.storage.payloads import scrub

__all__ = [
    "APPROVAL_STATUSES",
    "CLOSED_STATUSES",
    "ApprovalRow",
    "NewApproval",
    "Vote",
    "add_vote",
    "compute_params_hash",
    "count_card_failure",
    "get_approval",
    "insert_approval",
    "list_approvals",
    "pending_expired",
    "set_message",
    "set_status",
]

APPROVAL_STATUSES = ("pending", "approved", "denied", "expired", "executed", "failed")
CLOSED_STATUSES = ("denied", "expired", "executed", "failed")
"""Statuses that end a request; reaching one erases its payload in the same statement."""

_DECISIONS = ("approve", "deny")

_SELECT = """
SELECT a.*,
       (SELECT json_group_array(json_array(v.voter, v.decision, v.approver_set, v.at))
          FROM approval_votes AS v WHERE v.approval_id = a.id) AS votes
FROM approvals AS a
"""


@dataclass(frozen=True)
class Vote:
    """One person's approval or denial."""

    voter: str
    decision: str
    approver_set: str
    at: datetime


@dataclass(frozen=True, kw_only=True)
class NewApproval:
    """A request to hold for approval; ``params_hash`` is computed when left empty."""

    action: str
    resource: str
    region: str
    secret_name: str
    requester: str
    channel_id: str
    rule: str
    params: Mapping[str, Any] = field(default_factory=dict)
    requirements: Mapping[str, int] = field(default_factory=dict)
    reason: str = ""
    expires_at: datetime | None = None
    params_hash: str = ""
    team_id: str = ""


@dataclass(frozen=True)
class ApprovalRow:
    """A stored approval request with its votes."""

    id: str
    action: str
    resource: str
    region: str
    secret_name: str
    params: Mapping[str, Any]
    params_hash: str
    requester: str
    channel_id: str
    rule: str
    requirements: Mapping[str, int]
    reason: str
    status: str
    created_at: datetime
    expires_at: datetime | None
    updated_at: datetime
    message_channel: str | None
    message_ts: str | None
    outcome: str
    votes: tuple[Vote, ...]
    card_attempts: int = 0
    """How many tries to post the request's card failed so far."""
    team_id: str = ""
    """The Slack workspace the request was made in ('': the single token's)."""

    @property
    def approved_by(self) -> tuple[str, ...]:
        """Return who approved, in vote order."""
        return tuple(v.voter for v in self.votes if v.decision == "approve")

    @property
    def denied_by(self) -> tuple[str, ...]:
        """Return who denied, in vote order."""
        return tuple(v.voter for v in self.votes if v.decision == "deny")


def compute_params_hash(action: str, resource: str, params: Mapping[str, Any]) -> str:
    """Return SHA-256 over the action, resource and parameters, canonically serialised."""
    body = canonical_json({"action": action, "resource": resource, "params": dict(params)})
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _status(status: str) -> str:
    if status not in APPROVAL_STATUSES:
        raise ValueError(f"approval status must be one of {APPROVAL_STATUSES}: {status!r}")
    return status


def _row(row: Row) -> ApprovalRow:
    votes = sorted(
        (
            Vote(voter=v, decision=d, approver_set=s, at=from_text(t))
            for v, d, s, t in json.loads(row["votes"])
        ),
        key=lambda vote: (vote.at, vote.voter),
    )
    return ApprovalRow(
        id=row["id"],
        action=row["action"],
        resource=row["resource"],
        region=row["region"],
        secret_name=row["secret_name"],
        params=frozen_mapping(row["params"]),
        params_hash=row["params_hash"],
        requester=row["requester"],
        channel_id=row["channel_id"],
        rule=row["rule"],
        requirements=frozen_mapping(row["requirements"]),
        reason=row["reason"],
        status=row["status"],
        created_at=from_text(row["created_at"]),
        expires_at=from_text(row["expires_at"]) if row["expires_at"] else None,
        updated_at=from_text(row["updated_at"]),
        message_channel=row["message_channel"],
        message_ts=row["message_ts"],
        outcome=row["outcome"],
        votes=tuple(votes),
        card_attempts=int(row["card_attempts"]),
        team_id=row["team_id"],
    )


async def insert_approval(db: Database, new: NewApproval, *, now: datetime) -> ApprovalRow:
    """Store a new pending request under a fresh ``apr-`` id."""
    params_hash = new.params_hash or compute_params_hash(new.action, new.resource, new.params)
    values = (
        new.action,
        new.resource,
        new.region,
        new.secret_name,
        canonical_json(dict(new.params)),
        params_hash,
        new.requester,
        new.channel_id,
        new.rule,
        canonical_json(dict(new.requirements)),
        new.reason,
        to_text(now),
        to_text(new.expires_at) if new.expires_at else None,
        to_text(now),
        new.team_id,
    )
    for attempt in range(3):
        approval_id = "apr-" + secrets.token_hex(6)
        try:
            await db.fetchall(
                """INSERT INTO approvals (id, action, resource, region, secret_name, params,
                       params_hash, requester, channel_id, rule, requirements, reason, status,
                       created_at, expires_at, updated_at, team_id)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)""",
                (approval_id, *values),
            )
        except UniqueViolation:
            if attempt == 2:  # three 48-bit collisions in a row is not chance
                raise
            continue
        break
    row = await get_approval(db, approval_id)
    assert row is not None
    return row


async def get_approval(db: Database, approval_id: str) -> ApprovalRow | None:
    """Return the request with its votes, or None."""
    row = await db.fetchone(f"{_SELECT} WHERE a.id = ?", (approval_id,))
    return _row(row) if row else None


async def add_vote(
    db: Database,
    approval_id: str,
    *,
    voter: str,
    decision: str,
    approver_set: str,
    at: datetime,
) -> bool:
    """Record a vote while the request is pending and unexpired; False if not, or if revoted."""
    if decision not in _DECISIONS:
        raise ValueError(f"decision must be one of {_DECISIONS}: {decision!r}")
    stamp = to_text(at)
    rows = await db.fetchall(
        """INSERT INTO approval_votes (approval_id, voter, decision, approver_set, at)
           SELECT ?, ?, ?, ?, ?
            WHERE EXISTS (SELECT 1 FROM approvals
                           WHERE id = ? AND status = 'pending'
                             AND (expires_at IS NULL OR expires_at > ?))
           ON CONFLICT (approval_id, voter) DO NOTHING
           RETURNING voter""",
        (approval_id, voter, decision, approver_set, stamp, approval_id, stamp),
    )
    return bool(rows)


async def set_status(
    db: Database,
    approval_id: str,
    *,
    expected: str | tuple[str, ...],
    new: str,
    at: datetime,
    outcome: str = "",
    fence: Fence | None = None,
) -> bool:
    """Move the request to ``new`` only if its status is ``expected``; False = someone else won."""
    wanted = (expected,) if isinstance(expected, str) else expected
    if not wanted:
        raise ValueError("give at least one expected status")
    for status in wanted:
        _status(status)
    stamp = to_text(at)
    # A decision cannot beat an expiry that has already passed, sweep or no sweep.
    unexpired = (
        " AND (expires_at IS NULL OR expires_at > ?)" if new in ("approved", "denied") else ""
    )
    # Closing erases the payload (a trigger); then it must leave the WAL too.
    holds_value = new in CLOSED_STATUSES and await db.fetchone(
        "SELECT 1 FROM payloads WHERE approval_id = ?", (approval_id,)
    )
    async with guarded(db, fence) as run:
        rows = await run.fetchall(
            f"""UPDATE approvals
                   SET status = ?, updated_at = ?,
                       outcome = CASE WHEN ? = '' THEN outcome ELSE ? END
                 WHERE id = ? AND status IN ({", ".join("?" * len(wanted))}){unexpired}
             RETURNING id""",
            (_status(new), stamp, outcome, outcome, approval_id, *wanted)
            + ((stamp,) if unexpired else ()),
        )
    if rows and holds_value:
        await scrub(db)
    return bool(rows)


async def set_message(db: Database, approval_id: str, *, channel: str, ts: str) -> None:
    """Record the Slack message that carries the request's card."""
    await db.fetchall(
        "UPDATE approvals SET message_channel = ?, message_ts = ? WHERE id = ?",
        (channel, ts, approval_id),
    )


async def count_card_failure(db: Database, approval_id: str, *, fence: Fence | None = None) -> int:
    """Count one more failed try to post the card of a request with none; return the count.

    Returns 0 when there is no such request or its card is already posted.
    """
    async with guarded(db, fence) as run:
        row = await run.fetchone(
            """UPDATE approvals SET card_attempts = card_attempts + 1
                WHERE id = ? AND message_ts IS NULL
            RETURNING card_attempts""",
            (approval_id,),
        )
    return int(row[0]) if row else 0


async def list_approvals(
    db: Database,
    *,
    statuses: tuple[str, ...] = ("pending",),
    requester: str | None = None,
    limit: int = 100,
) -> list[ApprovalRow]:
    """Return requests in these statuses, newest first, optionally only one requester's."""
    if not statuses:
        raise ValueError("give at least one status")
    for status in statuses:
        _status(status)
    where = f"a.status IN ({', '.join('?' * len(statuses))})"
    params: list[Any] = list(statuses)
    if requester is not None:
        where += " AND a.requester = ?"
        params.append(requester)
    rows = await db.fetchall(
        f"{_SELECT} WHERE {where} ORDER BY a.created_at DESC, a.id LIMIT ?", (*params, limit)
    )
    return [_row(r) for r in rows]


async def pending_expired(db: Database, *, now: datetime) -> list[ApprovalRow]:
    """Return pending requests whose expiry is at or before ``now``, oldest expiry first."""
    rows = await db.fetchall(
        f"""{_SELECT} WHERE a.status = 'pending' AND a.expires_at IS NOT NULL
              AND a.expires_at <= ? ORDER BY a.expires_at, a.id""",
        (to_text(now),),
    )
    return [_row(r) for r in rows]
