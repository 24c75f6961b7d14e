"""The audit log: append-only entries, each chained to the one before by a keyed MAC.

Owns appending, listing and verifying entries. There is deliberately no function here
that updates or deletes an entry (and triggers refuse both inside SQLite); the chain makes
an edit made around the program, with plain ``sqlite3``, visible to ``verify_audit_chain``,
and since it is keyed (``_chain``), whoever edits cannot recompute the later links without
the audit key. The chain alone cannot see the newest entries being cut off the end: give
``verify_audit_chain`` an ``Anchor`` (a head recorded somewhere else: the daily line in the
approval channel and the log) and it can.

An entry never holds a secret value: ``detail`` refuses keys that name one.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from ecs_secret_bot.storage._chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
    LEGACY_FIELDS,
    SQL_FUNCTION,
    Anchor,
    ChainStart,
    ChainWalk,
    keyed_hash,
    legacy_hash,
    parse_anchor,
)
from ecs_secret_bot.storage._chain_start import CHAIN_START_ACTION, META_NAME
from ecs_secret_bot.storage._codec import canonical_json, from_text, frozen_mapping, to_text
from ecs_secret_bot.storage._sql import Row
from ecs_secret_bot.storage.db import Database

__all__ = [
    "CHAIN_START_ACTION",
    "Anchor",
    "AuditEntry",
    "AuditFilter",
    "AuditRow",
    "ChainCheck",
    "FORBIDDEN_DETAIL_KEYS",
    "append_audit",
    "append_audit_batch",
    "audit_head",
    "list_audit",
    "parse_anchor",
    "related_audit",
    "verify_audit_chain",
]

FORBIDDEN_DETAIL_KEYS = frozenset(
    {"value", "secret_value", "secret_data", "password", "private_key", "plaintext", "payload"}
)
"""``detail`` keys refused outright: a value under such a name is a leak waiting to happen."""

_COLUMNS = ", ".join(HASHED_FIELDS[1:])  # everything but seq, in MAC order
_ROW_NAMES = ("seq", *HASHED_FIELDS[1:], "prev_hash", "hash")
_ROW_COLUMNS = ", ".join(_ROW_NAMES)
_PLACEHOLDERS = ", ".join("?" * len(_ROW_NAMES))
_VALUES = ", ".join("?" * (len(HASHED_FIELDS) - 1))
_VERIFY_CHUNK = 2000
_RELATED_MAX = 500

_APPEND = f"""
INSERT INTO audit_log (seq, {_COLUMNS}, prev_hash, hash)
SELECT head.seq, {_VALUES}, head.prev, {SQL_FUNCTION}(head.prev, head.seq, {_VALUES})
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
    """The cloud's request id of the call this entry records, if any."""
    approval_id: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)
    correlation_id: str = ""
    """Shared by every entry of one request (refused, held, started, executed...)."""
    subject: str = ""
    """The ARN of the secret it is about (CreateSecret's ``resource`` is the collection)."""


@dataclass(frozen=True, kw_only=True)
class AuditRow(AuditEntry):
    """One stored entry, with its place in the chain."""

    seq: int
    at: datetime
    prev_hash: str
    hash: str
    intact: bool = True
    """Its contents still match its own MAC (listings check each entry they return, alone;
    whether entries are missing or relinked only ``verify_audit_chain`` tells)."""

    @property
    def entry(self) -> AuditEntry:
        """Return the entry as it was appended."""
        return AuditEntry(**{f.name: getattr(self, f.name) for f in fields(AuditEntry)})


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to list; every field left empty matches all."""

    resource: str = ""
    """Entries on this resource, or about this secret (``subject``)."""
    actor: str = ""
    channel_id: str = ""
    since: datetime | None = None
    before_seq: int | None = None
    """Only entries older than this one (to page back)."""


@dataclass(frozen=True)
class ChainCheck:
    """The verdict on the chain: ok, how many entries were read, where it first broke."""

    ok: bool
    checked: int
    first_broken_seq: int | None
    problem: str
    first_broken_at: datetime | None = None
    """The time of the first bad entry, when it still exists."""
    head_seq: int = 0
    """The last entry that verified (0: none)."""
    head_hash: str = GENESIS_HASH
    keyed_from: int = 1
    """The first entry MAC-ed with the audit key; those before have unkeyed links."""
    anchor_found: bool = False


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
        entry.correlation_id,
        entry.subject,
    )


def _row(row: Row | Mapping[str, Any]) -> AuditRow:
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
        correlation_id=row["correlation_id"],
        subject=row["subject"],
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


async def append_audit(db: Database, entry: AuditEntry, *, at: datetime) -> AuditRow:
    """Append one entry, chained to the current last one, atomically.

    SQLite computes the MAC inside one INSERT (``_APPEND``, with the function the
    connection registered); PostgreSQL has no such function of ours, so the entry is
    appended in a transaction, which holds the one write lock of every replica (``pg``).
    """
    if db.engine == "postgres":
        return (await append_audit_batch(db, [(entry, at)]))[0]
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
            digest = keyed_hash(db.chain_key, prev, seq, *values)
            out.append((seq, *values, prev, digest))
            prev = digest
        await tx.executemany(
            f"INSERT INTO audit_log ({_ROW_COLUMNS}) VALUES ({_PLACEHOLDERS})", out
        )
    return [_row(dict(zip(_ROW_NAMES, values, strict=True))) for values in out]


async def list_audit(
    db: Database,
    *,
    resource: str | None = None,
    actor: str | None = None,
    limit: int = 50,
    where: AuditFilter | None = None,
) -> list[AuditRow]:
    """Return the newest entries first, optionally filtered (``where``, or resource/actor)."""
    want = where or AuditFilter()
    clauses: list[str] = []
    params: list[Any] = []
    if resource or want.resource:
        clauses.append("(resource = ? OR subject = ?)")
        params += [resource or want.resource] * 2
    for column, value in (("actor", actor or want.actor), ("channel_id", want.channel_id)):
        if value:
            clauses.append(f"{column} = ?")
            params.append(value)
    if want.since is not None:
        clauses.append("at >= ?")
        params.append(to_text(want.since))
    if want.before_seq is not None:
        clauses.append("seq < ?")
        params.append(want.before_seq)
    condition = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = await db.fetchall(
        f"SELECT {_ROW_COLUMNS} FROM audit_log {condition} ORDER BY seq DESC LIMIT ?",
        (*params, limit),
    )
    return await _checked(db, rows)


async def related_audit(
    db: Database,
    *,
    correlation_ids: Iterable[str] = (),
    approval_ids: Iterable[str] = (),
    request_ids: Iterable[str] = (),
) -> list[AuditRow]:
    """Return the entries sharing any of these ids (oldest first), to complete requests."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, ids in (
        ("correlation_id", correlation_ids),
        ("approval_id", approval_ids),
        ("request_id", request_ids),
    ):
        wanted = sorted({i for i in ids if i})
        if wanted:  # "!= ''" lets SQLite use the partial indexes of migration 004
            clauses.append(f"({column} IN ({', '.join('?' * len(wanted))}) AND {column} != '')")
            params += wanted
    if not clauses:
        return []
    rows = await db.fetchall(
        f"SELECT {_ROW_COLUMNS} FROM audit_log WHERE {' OR '.join(clauses)} ORDER BY seq LIMIT ?",
        (*params, _RELATED_MAX),
    )
    return await _checked(db, rows)


async def _checked(db: Database, rows: Sequence[Row]) -> list[AuditRow]:
    """Read rows, each checked against its own link (one HMAC per entry returned)."""
    if not rows:
        return []
    start = await _chain_start(db)
    # No (genuine) start: hold every entry to the keyed chain, which no forger can meet.
    keyed_from = start.keyed_from if isinstance(start, ChainStart) else 1
    out = []
    for row in rows:
        values = [row[name] for name in HASHED_FIELDS]
        if row["seq"] >= keyed_from:
            digest = keyed_hash(db.chain_key, row["prev_hash"], *values)
        elif row["correlation_id"] or row["subject"]:  # fields an unkeyed link does not cover
            digest = ""
        else:
            digest = legacy_hash(row["prev_hash"], *values[: len(LEGACY_FIELDS)])
        out.append(replace(_row(row), intact=hmac.compare_digest(digest, row["hash"])))
    return out


async def audit_head(db: Database) -> tuple[int, str]:
    """Return the last entry's sequence number and hash ((0, genesis) when empty)."""
    row = await db.fetchone("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    return (row["seq"], row["hash"]) if row else (0, GENESIS_HASH)


async def _chain_start(db: Database) -> ChainStart | str:
    row = await db.fetchone("SELECT value FROM meta WHERE name = ?", (META_NAME,))
    if row is None:
        return "the record of where the keyed chain starts (meta 'audit_chain') is missing"
    raw = row["value"]
    start = ChainStart.from_text(raw.decode() if isinstance(raw, bytes) else str(raw))
    if start is None or not start.genuine(db.chain_key):
        return (
            "the record of where the keyed chain starts (meta 'audit_chain') was altered, "
            "or the database was written with another data key"
        )
    return start


async def verify_audit_chain(db: Database, *, anchor: Anchor | None = None) -> ChainCheck:
    """Re-check every entry in order; report the first broken link, if any.

    With ``anchor`` (a head recorded outside the database), also report when the log no
    longer holds that entry as it was: cut off after it, or rewritten up to it.
    """
    start = await _chain_start(db)
    if isinstance(start, str):
        return ChainCheck(False, 0, 1, start)
    walk = ChainWalk(db.chain_key, start, anchor=anchor)
    while True:
        # Chunks release the lock between reads; appends only add rows after the last one.
        rows = await db.fetchall(
            f"SELECT {_ROW_COLUMNS} FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT ?",
            (walk.expected_seq, _VERIFY_CHUNK),
        )
        for row in rows:
            broken = walk.feed(row)
            if broken is not None:
                return _verdict(walk, start, broken.seq, broken.at, broken.problem)
        if len(rows) < _VERIFY_CHUNK:
            end = walk.finish()
            if end is not None:
                return _verdict(walk, start, end.seq, end.at, end.problem)
            return _verdict(walk, start, None, "", "")


def _verdict(
    walk: ChainWalk, start: ChainStart, seq: int | None, at: str, problem: str
) -> ChainCheck:
    return ChainCheck(
        ok=seq is None,
        checked=walk.checked,
        first_broken_seq=seq,
        problem=problem,
        first_broken_at=from_text(at) if at else None,
        head_seq=walk.expected_seq - 1,
        head_hash=walk.prev,
        keyed_from=start.keyed_from,
        anchor_found=walk.anchor_found,
    )
