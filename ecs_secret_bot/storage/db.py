"""The database file: opening it safely, migrating it, and the one connection everyone shares.

Owns the connection, its pragmas, the numbered migrations in ``storage/migrations`` and the
data key's check value. Never holds business rules, never reads the environment, never
says what a person should do (a ``StorageFault`` names the problem; the layers above word it).

Concurrency story
-----------------
One ``Database`` wraps one aiosqlite connection, which runs every statement, in order, on
its own thread. Every use of that connection holds ``Database._lock`` (an ``asyncio.Lock``):

* a single statement (a read, or a compare-and-set ``UPDATE ... WHERE status IN (...)``)
  runs in autocommit mode and is its own transaction: one thread hop, atomic;
* a multi-statement write runs inside ``Database.transaction()``, which takes the lock,
  issues ``BEGIN IMMEDIATE`` (the write lock up front, so a read-then-write can never be
  overtaken by another writer, and never fails half-way with SQLITE_BUSY on upgrade), and
  ends with COMMIT, or ROLLBACK on any exception, cancellation included.

Because the lock covers reads too, no task ever sees another task's unfinished
transaction on the shared connection. Other processes on the same file (a second bot
process, ``sqlite3`` at a terminal) are handled by SQLite itself: WAL mode lets readers
run beside the one writer, and the busy timeout makes a writer wait its turn instead of
failing. Compare-and-set statements carry their precondition in the WHERE clause, so they
stay correct across processes, not only across tasks.

Durability: WAL with ``synchronous=NORMAL`` (the default here) loses nothing committed
when the process is killed; a power cut may lose the last commits but never corrupts the
file. ``open_database(..., synchronous="FULL")`` trades appends per second for surviving
power loss too. ``secure_delete`` is on, so erased payload bytes do not linger in free
pages.

Start-up refuses, with a ``StorageFault`` that names the path and the problem: a folder
that does not exist or cannot be written, a file that is not an SQLite database (or is
another program's), a schema newer than this code, a missing or wrong data key, a
database that vanished (``_startup`` tells how it knows). A file created by a failed start
is removed again: nothing is half-created.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import aiosqlite
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ecs_secret_bot.errors import StorageFault, StorageProblem
from ecs_secret_bot.storage import keys
from ecs_secret_bot.storage._checks import check_location, create_empty, sqlite_fault
from ecs_secret_bot.storage._schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Migration,
    load_migrations,
    split_statements,
)
from ecs_secret_bot.storage._sql import Database, Engine, UniqueViolation
from ecs_secret_bot.storage._startup import APPLICATION_ID, prepare

__all__ = [
    "APPLICATION_ID",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Database",
    "Migration",
    "SqliteDatabase",
    "Transaction",
    "default_key_file",
    "load_migrations",
    "open_database",
    "split_statements",
]

_SYNCHRONOUS = ("NORMAL", "FULL", "EXTRA")


def default_key_file(path: Path) -> Path:
    """Return where the data key lives when none is configured: ``<database>.key``."""
    return path.with_name(path.name + ".key")


async def _fetch(conn: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> list[sqlite3.Row]:
    try:
        return list(await conn.execute_fetchall(sql, params))
    except sqlite3.IntegrityError as exc:
        if "UNIQUE constraint failed" in str(exc):
            raise UniqueViolation(*exc.args) from None
        raise


class Transaction:
    """The connection inside ``SqliteDatabase.transaction()``: statements run without
    re-locking."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Run one statement in the open transaction; return its rows."""
        return await _fetch(self._conn, sql, params)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        """Run one statement in the open transaction; return its first row."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement once per parameter row, in the open transaction."""
        try:
            async with self._conn.executemany(sql, rows):
                pass
        except sqlite3.IntegrityError as exc:
            if "UNIQUE constraint failed" in str(exc):
                raise UniqueViolation(*exc.args) from None
            raise


class SqliteDatabase:
    """The bot's SQLite file: one aiosqlite connection, and the lock that orders its use.

    The table modules (``audit``, ``pending``, ``approvals``, ...) are the only callers of
    ``fetchall``/``fetchone``/``transaction`` (the ``Database`` protocol, which
    ``pg.PgDatabase`` implements too); code outside ``storage/`` calls them instead.
    """

    def __init__(
        self, conn: aiosqlite.Connection, *, path: Path, cipher: AESGCM, chain_key: bytes
    ) -> None:
        self.path = path
        self._conn = conn
        self._cipher = cipher
        self._chain_key = chain_key
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"<Database {str(self.path)!r}>"

    @property
    def engine(self) -> Engine:
        """Say which engine this is."""
        return "sqlite"

    @property
    def where(self) -> str:
        """Name the database in messages: its file."""
        return str(self.path)

    @property
    def cipher(self) -> AESGCM:
        """Return the AES-256-GCM cipher under the data key (for ``payloads`` only)."""
        return self._cipher

    @property
    def chain_key(self) -> bytes:
        """Return the audit chain's MAC key (for ``audit`` only)."""
        return self._chain_key

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Run one statement as its own transaction; return its rows."""
        async with self._lock:
            return await _fetch(self._conn, sql, params)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        """Run one statement as its own transaction; return its first row."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """Hold the lock and a BEGIN IMMEDIATE transaction; commit, or roll back on error."""
        async with self._lock:
            try:
                await self._conn.execute_fetchall("BEGIN IMMEDIATE")
                yield Transaction(self._conn)
                await self._conn.execute_fetchall("COMMIT")
            except BaseException:
                await self._rollback()
                raise

    async def _rollback(self) -> None:
        # Statements queue in order on the connection's thread, so this ROLLBACK runs after
        # whatever was interrupted; "no transaction is active" means COMMIT got there first.
        try:
            await self._conn.execute_fetchall("ROLLBACK")
        except sqlite3.OperationalError:
            if self._conn.in_transaction:
                raise

    async def close(self) -> None:
        """Wait for the statement in progress, then close the connection."""
        async with self._lock:
            await self._conn.close()

    async def __aenter__(self) -> SqliteDatabase:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def open_database(
    path: Path,
    *,
    data_key: bytes | None = None,
    key_file: Path | None = None,
    synchronous: str = "NORMAL",
    busy_timeout: timedelta = timedelta(seconds=5),
    init: bool = False,
) -> SqliteDatabase:
    """Open (or create) the database at ``path``, migrate it and check the data key.

    ``init`` creates a new, empty database even where the key file shows one existed.
    """
    sync = synchronous.upper()
    if sync not in _SYNCHRONOUS:
        raise ValueError(f"synchronous must be one of {_SYNCHRONOUS}, not {synchronous!r}")
    memory = str(path) == ":memory:"
    if data_key is not None and len(data_key) != keys.KEY_BYTES:
        raise StorageFault(
            f"The data key for {path} is {len(data_key)} bytes; it must be {keys.KEY_BYTES}.",
            problem=StorageProblem.KEY_MALFORMED,
            path=str(path),
        )
    existed = True if memory else check_location(path)
    if not existed:
        # Creating the file ourselves gives it mode 0600 (SQLite copies that to -wal and
        # -shm) and turns "cannot create" into an OSError we can name, before SQLite runs.
        existed = not create_empty(path)
    conn = aiosqlite.connect(
        ":memory:" if memory else path,
        isolation_level=None,
        timeout=busy_timeout.total_seconds(),
    )
    created_key: list[Path] = []
    try:
        try:
            await conn
            conn.row_factory = sqlite3.Row
            key = await prepare(
                conn,
                path,
                memory=memory,
                data_key=data_key,
                key_file=key_file or default_key_file(path),
                synchronous=sync,
                busy_ms=int(busy_timeout.total_seconds() * 1000),
                created_key=created_key,
                init=init,
            )
        except sqlite3.Error as exc:
            raise sqlite_fault(path, exc) from None
    except BaseException:
        with contextlib.suppress(Exception):
            await conn.close()
        if not existed:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        for created in created_key:
            created.unlink(missing_ok=True)
        raise
    return SqliteDatabase(conn, path=path, cipher=AESGCM(key), chain_key=keys.audit_key(key))
