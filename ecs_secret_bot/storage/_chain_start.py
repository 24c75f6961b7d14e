"""Starting the keyed audit chain, once, when a database reaches schema 5.

Owns ``start_keyed_chain``, which ``db.py`` runs inside the migration's transaction. On a new
database the chain is keyed from entry 1. On a database with unkeyed (schema 1-4) entries it
first walks them (so the verdict on what came before is written down, under the key, at the
moment the key took over), then appends a chain-start entry, the first keyed one, linked to
the last unkeyed entry and naming it, and writes the MAC-ed ``ChainStart`` into ``meta``.
From then on rewriting any entry needs the audit key. Never holds business rules.
"""

from __future__ import annotations

from datetime import UTC, datetime

import aiosqlite

from ecs_secret_bot.storage._chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
    ChainStart,
    ChainWalk,
    keyed_hash,
)
from ecs_secret_bot.storage._codec import canonical_json, to_text

__all__ = ["CHAIN_START_ACTION", "META_NAME", "read_chain_start", "start_keyed_chain"]

META_NAME = "audit_chain"
CHAIN_START_ACTION = "ecs-secret-bot:StartKeyedAuditChain"
"""The action of the entry that starts the keyed chain after unkeyed ones."""

_CHUNK = 2000
_COLUMNS = ", ".join((*HASHED_FIELDS, "prev_hash", "hash"))


async def read_chain_start(conn: aiosqlite.Connection) -> ChainStart | None | str:
    """Return the stored chain start, None when there is none, or the text when unreadable."""
    rows = list(await conn.execute_fetchall("SELECT value FROM meta WHERE name = ?", (META_NAME,)))
    if not rows:
        return None
    raw = rows[0][0]
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return ChainStart.from_text(text) or text


async def _walk_unkeyed(conn: aiosqlite.Connection, key: bytes, last: int, head: str) -> str:
    """Walk entries 1..last as unkeyed ones; return the verdict, in words."""
    walk = ChainWalk(key, ChainStart(last + 1, head, ""))
    while walk.expected_seq <= last:
        rows = list(
            await conn.execute_fetchall(
                f"SELECT {_COLUMNS} FROM audit_log WHERE seq >= ? AND seq <= ? ORDER BY seq "
                "LIMIT ?",
                (walk.expected_seq, last, _CHUNK),
            )
        )
        for row in rows:
            broken = walk.feed(row)
            if broken is not None:
                return f"the {last} unkeyed entries before it did not verify: {broken.problem}"
        if len(rows) < _CHUNK:
            break
    return f"the {last} unkeyed entries before it verified"


async def start_keyed_chain(conn: aiosqlite.Connection, key: bytes) -> None:
    """Key the chain from here on (in the caller's transaction); nothing if already keyed."""
    if await read_chain_start(conn) is not None:
        return
    rows = list(
        await conn.execute_fetchall("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    )
    if not rows:
        start = ChainStart.make(key, keyed_from=1, legacy_head=GENESIS_HASH)
    else:
        last, head = int(rows[0]["seq"]), str(rows[0]["hash"])
        verdict = await _walk_unkeyed(conn, key, last, head)
        seq = last + 1
        fields = (
            seq,
            to_text(datetime.now(UTC)),
            "ecs-secret-bot",
            CHAIN_START_ACTION,
            "",
            "",
            "allow",
            "schema 5: from this entry on, each entry is MAC-ed with a key kept outside the "
            "database",
            verdict,
            "",
            "",
            canonical_json({"unkeyed_entries": last, "unkeyed_head": head}),
            "",
            "",
        )
        digest = keyed_hash(key, head, *fields)
        await conn.execute_fetchall(
            f"INSERT INTO audit_log ({_COLUMNS}) VALUES ({', '.join('?' * (len(fields) + 2))})",
            (*fields, head, digest),
        )
        start = ChainStart.make(key, keyed_from=seq, legacy_head=head)
    await conn.execute_fetchall(
        "INSERT INTO meta (name, value) VALUES (?, ?)", (META_NAME, start.to_text())
    )
