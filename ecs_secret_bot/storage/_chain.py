"""The audit chain's arithmetic: what an entry's MAC covers, where the keyed chain starts, and
the walk that checks a run of entries against both.

Since schema 5 every entry carries HMAC-SHA256, under the audit key (derived from the data
key, ``keys.audit_key``; never stored in the database), over the previous entry's MAC and
its own fields: rewriting an entry and recomputing every later one needs that key. Entries
written before schema 5 keep their plain SHA-256 links (``legacy_hash``); ``ChainStart``
says where they end and the keyed chain begins, and is itself MAC-ed, so it cannot be moved
to pass keyed entries off as unkeyed ones.

Owns the functions only. ``db.py`` registers ``keyed_hash`` as the SQL function
``ecs_audit_mac`` so an append computes its MAC inside the INSERT, against the row that is
really last at that moment; ``audit.py`` and ``_chain_start.py`` feed rows to
``ChainWalk``. Never touches a connection.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from ecs_secret_bot.storage._codec import canonical_json
from ecs_secret_bot.storage._sql import Row

__all__ = [
    "GENESIS_HASH",
    "HASHED_FIELDS",
    "LEGACY_FIELDS",
    "SQL_FUNCTION",
    "Anchor",
    "Break",
    "ChainStart",
    "ChainWalk",
    "legacy_hash",
    "keyed_hash",
    "parse_anchor",
    "sql_function",
]

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first entry."""

SQL_FUNCTION = "ecs_audit_mac"

LEGACY_FIELDS = (
    "seq",
    "at",
    "actor",
    "action",
    "resource",
    "channel_id",
    "decision",
    "reason",
    "outcome",
    "request_id",
    "approval_id",
    "detail",
)
"""The columns an unkeyed (schema 1-4) entry's SHA-256 covers, in order."""

HASHED_FIELDS = (*LEGACY_FIELDS, "correlation_id", "subject")
"""The columns a keyed entry's MAC covers, in the order ``keyed_hash`` takes them."""

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def legacy_hash(prev_hash: str, *fields: object) -> str:
    """Return the unkeyed SHA-256 link of a schema 1-4 entry (``LEGACY_FIELDS`` order)."""
    if len(fields) != len(LEGACY_FIELDS):
        raise TypeError(f"legacy_hash takes {len(LEGACY_FIELDS)} fields, got {len(fields)}")
    body = canonical_json([prev_hash, *fields])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def keyed_hash(key: bytes, prev_hash: str, *fields: object) -> str:
    """Return HMAC-SHA256 under ``key`` over the previous MAC and one entry's fields."""
    if len(fields) != len(HASHED_FIELDS):
        raise TypeError(f"keyed_hash takes {len(HASHED_FIELDS)} fields, got {len(fields)}")
    body = canonical_json(["keyed-v1", prev_hash, *fields])
    return hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()


def sql_function(key: bytes) -> Callable[..., str]:
    """Return ``keyed_hash`` bound to ``key``, to register as ``SQL_FUNCTION``."""
    return partial(keyed_hash, key)


@dataclass(frozen=True)
class ChainStart:
    """Where the keyed chain begins: entry ``keyed_from``, linked to ``legacy_head``."""

    keyed_from: int
    legacy_head: str
    mac: str

    @classmethod
    def make(cls, key: bytes, *, keyed_from: int, legacy_head: str) -> ChainStart:
        """Return the start, MAC-ed under ``key``."""
        return cls(keyed_from, legacy_head, cls._mac(key, keyed_from, legacy_head))

    @staticmethod
    def _mac(key: bytes, keyed_from: int, legacy_head: str) -> str:
        body = canonical_json(["chain-start", keyed_from, legacy_head])
        return hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()

    def genuine(self, key: bytes) -> bool:
        """Tell whether this start was written with ``key``, unaltered."""
        return hmac.compare_digest(self.mac, self._mac(key, self.keyed_from, self.legacy_head))

    def to_text(self) -> str:
        """Spell it for the ``meta`` table."""
        return canonical_json(
            {"keyed_from": self.keyed_from, "legacy_head": self.legacy_head, "mac": self.mac}
        )

    @classmethod
    def from_text(cls, text: str) -> ChainStart | None:
        """Read it back; None when the text is not one."""
        try:
            value = json.loads(text)
            return cls(int(value["keyed_from"]), str(value["legacy_head"]), str(value["mac"]))
        except (ValueError, TypeError, KeyError):
            return None


@dataclass(frozen=True)
class Anchor:
    """A head recorded outside the database: entry ``seq`` (when known) had MAC ``hash``."""

    hash: str
    seq: int | None = None

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}" if self.seq is not None else self.hash


def parse_anchor(text: str) -> Anchor:
    """Read ``SEQ:HASH`` or ``HASH`` (64 hex digits); raise ValueError saying what is wrong."""
    seq_text, _, digest = text.strip().rpartition(":")
    digest = digest.lower()
    if not _HEX64.match(digest):
        raise ValueError("an anchor is the head's hash (64 hex digits), or SEQ:HASH")
    if not seq_text:
        return Anchor(digest)
    if not seq_text.isascii() or not seq_text.isdigit() or int(seq_text) < 1:
        raise ValueError(f"the entry number of an anchor is a positive integer, not {seq_text!r}")
    return Anchor(digest, int(seq_text))


@dataclass(frozen=True)
class Break:
    """The first entry that does not verify: its number, its time (if it exists), what is wrong."""

    seq: int
    at: str
    problem: str


class ChainWalk:
    """Checks entries fed in order, from entry 1; remembers the head and the anchor seen."""

    def __init__(self, key: bytes, start: ChainStart, *, anchor: Anchor | None = None) -> None:
        self._key = key
        self._start = start
        self._anchor = anchor
        self.expected_seq = 1
        self.prev = GENESIS_HASH
        self.checked = 0
        self.head_at = ""
        self.anchor_found = False

    def feed(self, row: Row | Mapping[str, Any]) -> Break | None:
        """Check the next entry; return the break it shows, or None."""
        seq = int(row["seq"])
        at = str(row["at"])
        if seq != self.expected_seq:
            gap = (
                f"entry {self.expected_seq} is"
                if seq == self.expected_seq + 1
                else f"entries {self.expected_seq} to {seq - 1} are"
            )
            return Break(self.expected_seq, "", f"{gap} missing: the chain jumps to {seq}")
        if row["prev_hash"] != self.prev:
            problem = (
                f"entry {seq} does not link to entry {seq - 1} as it is now "
                "(one of them was changed after it was written)"
                if seq > 1
                else "entry 1 does not start the chain"
            )
            return Break(seq, at, problem)
        keyed = seq >= self._start.keyed_from
        if keyed:
            digest = keyed_hash(self._key, self.prev, *(row[name] for name in HASHED_FIELDS))
        elif row["correlation_id"] or row["subject"]:
            return Break(seq, at, f"entry {seq} has fields its unkeyed hash does not cover")
        else:
            digest = legacy_hash(self.prev, *(row[name] for name in LEGACY_FIELDS))
        if not hmac.compare_digest(digest, str(row["hash"])):
            kind = "MAC" if keyed else "unkeyed hash"
            return Break(
                seq,
                at,
                f"entry {seq} was changed after it was written (its contents no longer match "
                f"its {kind})",
            )
        if seq == self._start.keyed_from - 1 and digest != self._start.legacy_head:
            problem = f"entry {seq} is not the last unkeyed entry the chain start names"
            return Break(seq, at, problem)
        anchor = self._anchor
        if anchor is not None and anchor.seq in (seq, None):
            if digest == anchor.hash:
                self.anchor_found = True
            elif anchor.seq == seq:
                return Break(
                    seq,
                    at,
                    f"entry {seq} is not the entry the anchor recorded (its MAC differs): the log "
                    "was rewritten at or before it",
                )
        self.prev = digest
        self.head_at = at
        self.expected_seq = seq + 1
        self.checked += 1
        return None

    def finish(self) -> Break | None:
        """Return the break that only the end shows: a cut-off end, a missing anchor."""
        last = self.expected_seq - 1
        # An upgraded log has its chain-start entry at keyed_from: the log cannot end before.
        keyed_from = self._start.keyed_from
        if keyed_from > 1 and last < keyed_from:
            return Break(
                last + 1,
                "",
                f"the log ends at entry {last}, before entry {keyed_from} where the keyed chain "
                "starts: the newest entries were removed",
            )
        anchor = self._anchor
        if anchor is None or self.anchor_found:
            return None
        if anchor.seq is not None:
            return Break(
                last + 1,
                "",
                f"the log ends at entry {last}, but the anchor recorded entry {anchor.seq}: "
                f"entries {last + 1} to {anchor.seq} at least were removed",
            )
        return Break(
            last + 1,
            "",
            f"no entry has the anchor's hash: entries after {last} were removed, or the log "
            "was rewritten, or the anchor is another database's",
        )
