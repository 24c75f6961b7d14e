"""The audit hash chain's arithmetic: what one entry's SHA-256 covers, and the first link.

Owns the hash function only. ``db.py`` registers it as the SQL function
``ecs_audit_hash`` so an append computes its hash inside the INSERT, against the row that
is really last at that moment; ``audit.py`` calls it again to verify. Never touches a
connection.
"""

from __future__ import annotations

import hashlib

from ecs_secret_bot.storage._codec import canonical_json

__all__ = ["GENESIS_HASH", "HASHED_FIELDS", "SQL_FUNCTION", "entry_hash"]

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first entry."""

SQL_FUNCTION = "ecs_audit_hash"

HASHED_FIELDS = (
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
"""The columns an entry's hash covers, in the order ``entry_hash`` takes them."""


def entry_hash(prev_hash: str, *fields: object) -> str:
    """Return SHA-256 over the previous hash and one entry's fields (``HASHED_FIELDS`` order)."""
    if len(fields) != len(HASHED_FIELDS):
        raise TypeError(f"entry_hash takes {len(HASHED_FIELDS)} fields, got {len(fields)}")
    body = canonical_json([prev_hash, *fields])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()
