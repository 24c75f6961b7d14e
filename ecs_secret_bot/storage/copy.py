"""Copying the bot's records from one database into another, empty one (SQLite to PostgreSQL).

Owns ``copy_records``: pending deletions with their reminders, approvals with their votes
and encrypted payloads (copied as ciphertext: both databases share the data key, and a
payload's associated data is its approval id, which does not change), rotations, sweeps
with their secrets, the keys the bot made for itself, and the audit log row for row with
the record of where its keyed chain starts, so the chain verifies in the new database as in
the old one. Leases and idempotency claims are not copied: they belong to running
processes. All of it in one transaction of the target (holding its write lock): a failed
copy leaves it empty. A target that already holds records is refused before anything is
written. Never decides when to copy; ``migrate`` (the command) does, and verifies the chain
afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ecs_secret_bot.errors import StorageFault, StorageProblem
from ecs_secret_bot.storage._sql import Database, Transaction

__all__ = ["COPIED_TABLES", "Copied", "copy_records"]

COPIED_TABLES: tuple[tuple[str, str], ...] = (
    ("pending_deletions", "id"),
    ("pending_reminders", "pending_id, label"),
    ("approvals", "id"),
    ("approval_votes", "approval_id, voter"),
    ("payloads", "approval_id"),
    ("rotations", "id"),
    ("audit_log", "seq"),
    ("installations", "team_id"),
    ("sweeps", "id"),
    ("sweep_items", "sweep_id, position"),
)
"""The tables copied, parents first, each with the order it is read in."""

_MINE = ("key_check",)  # the target keeps its own check value of the (same) key
_CHUNK = 2000
_IDENTITIES = ("pending_deletions", "rotations")


@dataclass(frozen=True)
class Copied:
    """How many rows of each table were copied."""

    rows: tuple[tuple[str, int], ...]

    def count(self, table: str) -> int:
        """Return how many rows of ``table`` were copied."""
        return dict(self.rows).get(table, 0)


async def _refuse_if_not_empty(target: Database) -> None:
    for table, _ in COPIED_TABLES:
        if await target.fetchone(f"SELECT 1 FROM {table} LIMIT 1") is not None:
            raise StorageFault(
                f"Cannot copy into the database {target.where}: it already holds records "
                f"(its {table} table is not empty); records are copied into an empty "
                "database only, once.",
                problem=StorageProblem.FOREIGN,
                path=target.where,
            )


def _columns(row: Any) -> list[str]:
    return list(row.keys())


async def _copy_table(source: Database, tx: Transaction, table: str, order: str) -> int:
    copied = 0
    while True:
        rows = await source.fetchall(
            f"SELECT * FROM {table} ORDER BY {order} LIMIT ? OFFSET ?", (_CHUNK, copied)
        )
        if not rows:
            return copied
        columns = _columns(rows[0])
        marks = ", ".join("?" * len(columns))
        values: Sequence[Sequence[Any]] = [tuple(row[c] for c in columns) for row in rows]
        await tx.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", values)
        copied += len(rows)
        if len(rows) < _CHUNK:
            return copied


async def copy_records(source: Database, target: Database) -> Copied:
    """Copy every record of ``source`` into the empty ``target``, in one transaction."""
    await _refuse_if_not_empty(target)
    counts: list[tuple[str, int]] = []
    meta = [
        (row["name"], _as_bytes(row["value"]))
        for row in await source.fetchall("SELECT name, value FROM meta ORDER BY name")
        if row["name"] not in _MINE
    ]
    async with target.transaction() as tx:
        for table, order in COPIED_TABLES:
            counts.append((table, await _copy_table(source, tx, table, order)))
        names = [name for name, _ in meta]
        if names:
            marks = ", ".join("?" * len(names))
            await tx.fetchall(f"DELETE FROM meta WHERE name IN ({marks})", names)
            await tx.executemany("INSERT INTO meta (name, value) VALUES (?, ?)", meta)
        if target.engine == "postgres":  # the next id follows the copied ones
            for table in _IDENTITIES:
                await tx.fetchall(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
                )
    return Copied(tuple(counts))


def _as_bytes(value: Any) -> bytes:
    return (
        bytes(value)
        if isinstance(value, bytes | bytearray | memoryview)
        else str(value).encode("utf-8")
    )
