"""The PostgreSQL engine: a pool of connections (asyncpg) behind the same interface as SQLite.

Owns ``PgDatabase`` and ``open_pg_database``. The table modules call ``fetchall``,
``fetchone`` and ``transaction`` as on SQLite; each statement is turned into PostgreSQL's
dialect once (``_sql.to_postgres``) and asyncpg prepares and caches it per connection.
Never holds business rules, never reads the environment (the password comes from the
caller, else from libpq's own ``PGPASSWORD``/``PGPASSFILE``, which asyncpg reads), never
says what a person should do (a ``StorageFault`` names the problem; the layers above word it).

Concurrency story
-----------------
A single statement runs on any pooled connection in autocommit mode: it is its own
transaction, and compare-and-set statements carry their precondition in the WHERE clause
(or ``ON CONFLICT``), so they are atomic across tasks and replicas alike, as on SQLite.
``transaction()`` keeps the meaning of SQLite's ``BEGIN IMMEDIATE``: one writer at a time
among all replicas, by a transaction-scoped advisory lock (``pg_advisory_xact_lock``) taken
first, so a read-then-write inside it is never overtaken and never needs a serialization
retry. The audit chain is appended only inside such a transaction, so every replica
appends to one chain.

A connection lost mid-operation
-------------------------------
A statement that was never sent (no connection to be had, or the pooled one found closed)
is retried, a few times within about a second: nothing happened. A read (``SELECT``) is
retried even when the connection went away while it ran. A write that was sent when the
connection went away is not retried (it may have committed): it is reported as a
``StorageFault`` (``UNREACHABLE``) saying so. A transaction that loses its connection
before COMMIT was rolled back by the server, whole; one that loses it during COMMIT is
reported as unknown, never half-done. The pool replaces broken connections by itself, so
the bot recovers when the server comes back, without a restart.

Erasure: an erased payload is overwritten and deleted, but PostgreSQL keeps the old row
versions (dead tuples) in the table's pages, and in its WAL segments, until VACUUM reuses
the space and the segments are recycled; ``payloads.scrub`` has nothing to do here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, TypeAlias, TypeVar
from urllib.parse import urlsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ecs_secret_bot.errors import StorageFault, StorageProblem
from ecs_secret_bot.storage import keys
from ecs_secret_bot.storage._pg_startup import prepare_pg
from ecs_secret_bot.storage._sql import Engine, UniqueViolation, to_postgres

__all__ = ["PgDatabase", "display_url", "open_pg_database"]

WRITE_LOCK = 0x45435342_0001
"""The advisory lock every ``transaction()`` holds: one writing transaction at a time."""

_BEGIN_LOCKED = f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})"
_ATTEMPTS = 4
_BACKOFF = 0.2
_RETRY_FOR = 1.5
"""Seconds after which a failure is no longer retried: a server that does not answer (a host
down, its packets dropped) costs one connect timeout, not four."""
_T = TypeVar("_T")
_Conn: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"

_LOST: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.InterfaceError,
)


def display_url(url: str) -> str:
    """Return the URL as shown in messages: never a password."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


def _never_sent(exc: BaseException) -> bool:
    # asyncpg refuses to send on a connection it already knows is closed.
    return isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in str(exc)


def _is_lost(exc: BaseException) -> bool:
    if isinstance(exc, asyncpg.InterfaceError):
        return "closed" in str(exc) and "pool" not in str(exc)
    return isinstance(exc, _LOST)


def _spent(started: float) -> float:
    return asyncio.get_running_loop().time() - started


def _reads_only(sql: str) -> bool:
    return sql.lstrip().upper().startswith("SELECT")


class PgTransaction:
    """The connection inside ``PgDatabase.transaction()``."""

    def __init__(self, conn: _Conn, db: PgDatabase) -> None:
        self._conn = conn
        self._db = db

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run one statement in the open transaction; return its rows."""
        query = to_postgres(sql)
        return await self._db.inside(lambda: self._conn.fetch(query, *params))

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement in the open transaction; return its first row, or None."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement once per parameter row, in the open transaction."""
        query = to_postgres(sql)
        await self._db.inside(lambda: self._conn.executemany(query, list(rows)))


class PgDatabase:
    """The bot's PostgreSQL database: a pool, and the rules for a connection that is lost."""

    def __init__(
        self, pool: asyncpg.Pool[asyncpg.Record], *, where: str, cipher: AESGCM, chain_key: bytes
    ) -> None:
        self.path = where
        self._pool = pool
        self._cipher = cipher
        self._chain_key = chain_key

    def __repr__(self) -> str:
        return f"<PgDatabase {self.path!r}>"

    @property
    def engine(self) -> Engine:
        """Say which engine this is."""
        return "postgres"

    @property
    def where(self) -> str:
        """Name the database in messages: its URL without a password."""
        return self.path

    @property
    def cipher(self) -> AESGCM:
        """Return the AES-256-GCM cipher under the data key (for ``payloads`` only)."""
        return self._cipher

    @property
    def chain_key(self) -> bytes:
        """Return the audit chain's MAC key (for ``audit`` only)."""
        return self._chain_key

    def unreachable(self, exc: BaseException, *, maybe_done: bool) -> StorageFault:
        """Return the fault of a connection that could not be had, or was lost."""
        cause = str(exc) or type(exc).__name__
        if maybe_done:
            what = (
                "the connection was lost before the database confirmed the change, so it "
                "was made whole or not at all"
            )
        else:
            what = "nothing was changed"
        return StorageFault(
            f"The database {self.path} is unreachable ({cause}): {what}.",
            problem=StorageProblem.UNREACHABLE,
            path=self.path,
        )

    async def inside(self, call: Callable[[], Awaitable[_T]]) -> _T:
        """Run a statement of an open transaction: a lost connection rolled it all back."""
        try:
            return await call()
        except asyncpg.UniqueViolationError as exc:
            raise UniqueViolation(str(exc)) from None
        except BaseException as exc:
            if _is_lost(exc):
                raise self.unreachable(exc, maybe_done=False) from None
            raise

    async def _acquire(self) -> _Conn:
        """Take a connection, retrying while none can be had (nothing was sent yet)."""
        started = asyncio.get_running_loop().time()
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                conn: _Conn = await self._pool.acquire()
                return conn
            except BaseException as exc:
                if not _is_lost(exc):
                    raise
                if attempt == _ATTEMPTS or _spent(started) > _RETRY_FOR:
                    raise self.unreachable(exc, maybe_done=False) from None
            await asyncio.sleep(_BACKOFF * attempt)
        raise AssertionError("unreachable")

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run one statement as its own transaction; return its rows."""
        query = to_postgres(sql)
        read = _reads_only(sql)
        started = asyncio.get_running_loop().time()
        for attempt in range(1, _ATTEMPTS + 1):
            conn = await self._acquire()
            try:
                rows: list[Any] = await conn.fetch(query, *params)
                return rows
            except asyncpg.UniqueViolationError as exc:
                raise UniqueViolation(str(exc)) from None
            except BaseException as exc:
                if not _is_lost(exc):
                    raise
                safe = read or _never_sent(exc)
                if not safe or attempt == _ATTEMPTS or _spent(started) > _RETRY_FOR:
                    raise self.unreachable(exc, maybe_done=not safe) from None
            finally:
                await self._release(conn)
            await asyncio.sleep(_BACKOFF * attempt)
        raise AssertionError("unreachable")

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement as its own transaction; return its first row, or None."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgTransaction]:
        """Hold the write lock in a transaction; commit, or roll back on error."""
        conn = await self._acquire()
        try:
            # One round trip: BEGIN and the lock travel together (the simple query protocol).
            await self.inside(lambda: conn.execute(_BEGIN_LOCKED))
            try:
                yield PgTransaction(conn, self)
            except BaseException:
                with contextlib.suppress(Exception):
                    await conn.execute("ROLLBACK")
                raise
            try:
                await conn.execute("COMMIT")
            except BaseException as exc:
                if _is_lost(exc):
                    raise self.unreachable(exc, maybe_done=True) from None
                raise
        finally:
            await self._release(conn)

    async def _release(self, conn: _Conn) -> None:
        with contextlib.suppress(Exception):
            await self._pool.release(conn)

    async def close(self) -> None:
        """Close every connection of the pool."""
        await self._pool.close()

    async def __aenter__(self) -> PgDatabase:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def _keep_session(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """Skip asyncpg's reset query on release: a round trip per statement, for session state
    (LISTEN, SET, session advisory locks) this module never leaves; an open transaction is
    still rolled back by the pool."""


def _start_fault(where: str, exc: BaseException) -> StorageFault:
    """Word what went wrong reaching the server at start-up, as a fault."""
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        detail, problem = str(exc), StorageProblem.SERVER_REFUSED
    elif isinstance(
        exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError
    ):
        detail, problem = f"the login was refused: {exc}", StorageProblem.SERVER_REFUSED
    elif isinstance(exc, _LOST):
        cause = str(exc) or type(exc).__name__
        detail, problem = f"the server cannot be reached ({cause})", StorageProblem.UNREACHABLE
    else:
        detail, problem = f"PostgreSQL said: {exc}", StorageProblem.SERVER_REFUSED
    return StorageFault(f"Cannot open the database {where}: {detail}.", problem=problem, path=where)


async def open_pg_database(
    url: str,
    *,
    data_key: bytes,
    password: str | None = None,
    max_size: int = 10,
    connect_timeout: float = 5.0,
) -> PgDatabase:
    """Connect to ``url``, migrate the schema under an advisory lock and check the data key."""
    where = display_url(url)
    if urlsplit(url).password is not None:
        raise StorageFault(
            f"The database URL {where} holds a password; it must come from elsewhere.",
            problem=StorageProblem.SERVER_REFUSED,
            path=where,
        )
    if len(data_key) != keys.KEY_BYTES:
        raise StorageFault(
            f"The data key for {where} is {len(data_key)} bytes; it must be {keys.KEY_BYTES}.",
            problem=StorageProblem.KEY_MALFORMED,
            path=where,
        )
    try:
        pool = await asyncpg.create_pool(
            dsn=url,
            password=password,
            min_size=1,
            max_size=max_size,
            timeout=connect_timeout,
            max_inactive_connection_lifetime=60.0,
            reset=_keep_session,
        )
    except Exception as exc:
        raise _start_fault(where, exc) from None
    try:
        try:
            async with pool.acquire() as conn:
                await prepare_pg(conn, where, data_key=data_key)
        except StorageFault:
            raise
        except Exception as exc:
            raise _start_fault(where, exc) from None
    except BaseException:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(pool.close(), 5)
        raise
    return PgDatabase(
        pool, where=where, cipher=AESGCM(data_key), chain_key=keys.audit_key(data_key)
    )
