"""The audit log: append-only entries, each chained to the one before by SHA-256.

Owns appending, listing and verifying entries. There is deliberately no function here
that updates or deletes an entry (and triggers refuse both inside SQLite); the hash chain
makes an edit made around the program, with plain ``sqlite3``, visible to
``verify_audit_chain``. The chain cannot see the newest entries being cut off the end:
anchor ``audit_head`` somewhere else (a channel, a ticket) when that matters.

An entry never holds a secret value: ``detail`` refuses keys that name one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from ecs_secret_bot.storage._chain import GENESIS_HASH, HASHED_FIELDS, SQL_FUNCTION, entry_hash
from ecs_secret_bot.storage._codec import canonical_json, from_text, frozen_mapping, to_text
from ecs_secret_bot.storage.db import Database

__all__ = [
    "AuditEntry",
    "AuditRow",
    "ChainCheck",
    "FORBIDDEN_DETAIL_KEYS",
    "append_audit",
    "append_audit_batch",
    "audit_head",
    "list_audit",
    "verify_audit_chain",
]

FORBIDDEN_DETAIL_KEYS = frozenset(
    {"value", "secret_value", "secret_data", "password", "private_key", "plaintext", "payload"}
)
"""``detail`` keys refused outright: a value under such a name is a leak waiting to happen."""

_COLUMNS = ", ".join(HASHED_FIELDS[1:])  # everything but seq, in hash order
_ROW_NAMES = ("seq", *HASHED_FIELDS[1:], "prev_hash", "hash")
_ROW_COLUMNS = ", ".join(_ROW_NAMES)
_PLACEHOLDERS = ", ".join("?" * len(_ROW_NAMES))
_VERIFY_CHUNK = 2000

_APPEND = f"""
INSERT INTO audit_log (seq, {_COLUMNS}, prev_hash, hash)
SELECT head.seq, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, head.prev,
       {SQL_FUNCTION}(head.prev, head.seq, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
FROM (SELECT coalesce((SELECT max(seq) FROM audit_log), 0) + 1 AS seq,
             coalesce((SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1), ?) AS prev
     ) AS head
RETURNING {_ROW_COLUMNS}
"""


@dataclass(frozen=True)
class AuditEntry:
    """What happened: who did what to which resource, from where, decided how, with what end."""

    actor: str
    action: str
    resource: str
    channel_id: str
    decision: str
    reason: str
    outcome: str
    request_id: str = ""
    approval_id: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class AuditRow(AuditEntry):
    """One stored entry, with its place in the chain."""

    seq: int
    at: datetime
    prev_hash: str
    hash: str

    @property
    def entry(self) -> AuditEntry:
        """Return the entry as it was appended."""
        return AuditEntry(**{f.name: getattr(self, f.name) for f in fields(AuditEntry)})


@dataclass(frozen=True)
class ChainCheck:
    """The verdict on the chain: ok, how many entries were read, where it first broke."""

    ok: bool
    checked: int
    first_broken_seq: int | None
    problem: str


def _fields(entry: AuditEntry, at: datetime) -> tuple[Any, ...]:
    for key in entry.detail:
        if key.lower() in FORBIDDEN_DETAIL_KEYS:
            raise ValueError(f"audit detail key {key!r} names a secret value; leave it out")
    return (
        to_text(at),
        entry.actor,
        entry.action,
        entry.resource,
        entry.channel_id,
        entry.decision,
        entry.reason,
        entry.outcome,
        entry.request_id,
        entry.approval_id,
        canonical_json(dict(entry.detail)),
    )


def _row(row: sqlite3.Row | Mapping[str, Any]) -> AuditRow:
    return AuditRow(
        seq=row["seq"],
        at=from_text(row["at"]),
        actor=row["actor"],
        action=row["action"],
        resource=row["resource"],
        channel_id=row["channel_id"],
        decision=row["decision"],
        reason=row["reason"],
        outcome=row["outcome"],
        request_id=row["request_id"],
        approval_id=row["approval_id"],
        detail=frozen_mapping(row["detail"]),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


async def append_audit(db: Database, entry: AuditEntry, *, at: datetime) -> AuditRow:
    """Append one entry, chained to the current last one, in a single atomic statement."""
    values = _fields(entry, at)
    rows = await db.fetchall(_APPEND, (*values, *values, GENESIS_HASH))
    return _row(rows[0])


async def append_audit_batch(
    db: Database, entries: Sequence[tuple[AuditEntry, datetime]]
) -> list[AuditRow]:
    """Append many entries in one transaction, in order (imports and benchmarks)."""
    prepared = [_fields(entry, at) for entry, at in entries]
    async with db.transaction() as tx:
        head = await tx.fetchone("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        seq, prev = (head["seq"], head["hash"]) if head else (0, GENESIS_HASH)
        out: list[tuple[Any, ...]] = []
        for values in prepared:
            seq += 1
            digest = entry_hash(prev, seq, *values)
            out.append((seq, *values, prev, digest))
            prev = digest
        await tx.executemany(
            f"INSERT INTO audit_log ({_ROW_COLUMNS}) VALUES ({_PLACEHOLDERS})", out
        )
    return [_row(dict(zip(_ROW_NAMES, values, strict=True))) for values in out]


async def list_audit(
    db: Database, *, resource: str | None = None, actor: str | None = None, limit: int = 50
) -> list[AuditRow]:
    """Return the newest entries first, optionally only for one resource and/or actor."""
    clauses: list[str] = []
    params: list[Any] = []
    if resource is not None:
        clauses.append("resource = ?")
        params.append(resource)
    if actor is not None:
        clauses.append("actor = ?")
        params.append(actor)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = await db.fetchall(
        f"SELECT {_ROW_COLUMNS} FROM audit_log {where} ORDER BY seq DESC LIMIT ?",
        (*params, limit),
    )
    return [_row(r) for r in rows]


async def audit_head(db: Database) -> tuple[int, str]:
    """Return the last entry's sequence number and hash ((0, genesis) when empty)."""
    row = await db.fetchone("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    return (row["seq"], row["hash"]) if row else (0, GENESIS_HASH)


async def verify_audit_chain(db: Database) -> ChainCheck:
    """Re-hash every entry in order; report the first broken link, if any."""
    expected_seq, prev = 1, GENESIS_HASH
    checked = 0
    while True:
        # Chunks release the lock between reads; appends only add rows after the last one.
        rows = await db.fetchall(
            f"SELECT {_ROW_COLUMNS} FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT ?",
            (expected_seq, _VERIFY_CHUNK),
        )
        for row in rows:
            seq = row["seq"]
            if seq != expected_seq:
                gap = (
                    f"entry {expected_seq} is"
                    if seq == expected_seq + 1
                    else f"entries {expected_seq} to {seq - 1} are"
                )
                return _broken(checked, expected_seq, f"{gap} missing: the chain jumps to {seq}")
            if row["prev_hash"] != prev:
                return _broken(
                    checked,
                    seq,
                    f"entry {seq} does not link to entry {seq - 1} as it is now "
                    f"(one of them was changed after it was written)"
                    if seq > 1
                    else "entry 1 does not start the chain",
                )
            values = [row[name] for name in HASHED_FIELDS]
            if entry_hash(prev, *values) != row["hash"]:
                return _broken(
                    checked,
                    seq,
                    f"entry {seq} was changed after it was written (its contents no longer "
                    "match its hash)",
                )
            prev = row["hash"]
            expected_seq = seq + 1
            checked += 1
        if len(rows) < _VERIFY_CHUNK:
            return ChainCheck(ok=True, checked=checked, first_broken_seq=None, problem="")


def _broken(checked: int, seq: int, problem: str) -> ChainCheck:
    return ChainCheck(ok=False, checked=checked, first_broken_seq=seq, problem=problem)
