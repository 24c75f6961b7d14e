"""Preparing a freshly opened connection: refusals first, then WAL, pragmas, key and schema.

Owns ``prepare``: the read-only checks of the file's header (another program's, a newer
schema), the refusal of a database that vanished, WAL mode and the pragmas, the data key
(read, or created with a new database) and its check value, and the numbered migrations,
run under the write lock. ``db.open_database`` calls it and cleans up after a refusal.
Never holds business rules, never reads the environment, never says what a person should
do (a ``StorageFault`` names the problem; the layers above word it).

A database that vanished is refused (``StorageProblem.DATABASE_MISSING``): a missing or
empty file whose data key file exists. The key file is created with a new database, under
the write lock that creates its schema, and the bot never removes it, so it is the sign
that a database was here; a new one in its place is created only when the caller says
``init``. (With the key from ``ECS_SECRET_BOT_DATA_KEY`` and no key file there is no such
sign.) Because a key file is only ever created under the write lock, a process that finds
one beside an empty database takes that lock before it concludes: another process creating
the database at that moment is waited for, never mistaken for a vanished one.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import aiosqlite
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ecs_secret_bot.errors import StorageFault, StorageProblem
from ecs_secret_bot.storage import keys
from ecs_secret_bot.storage._chain import HASHED_FIELDS, SQL_FUNCTION, sql_function
from ecs_secret_bot.storage._chain_start import start_keyed_chain
from ecs_secret_bot.storage._schema import MIGRATIONS, SCHEMA_VERSION

__all__ = ["APPLICATION_ID", "prepare"]

APPLICATION_ID = 0x45435342  # "ECSB" in the SQLite header: this file is ours
_KEY_CHECK = "key_check"
_KEYED_CHAIN = 5  # the schema from which the audit chain is keyed


async def prepare(
    conn: aiosqlite.Connection,
    path: Path,
    *,
    memory: bool,
    data_key: bytes | None,
    key_file: Path,
    synchronous: str,
    busy_ms: int,
    created_key: list[Path],
    init: bool,
) -> bytes:
    """Check, set up and migrate ``conn`` on ``path``; return its data key."""
    # Read-only checks first, so that a file we must refuse is never written to.
    # One statement, so one snapshot: a process migrating the file at this very moment is
    # seen either wholly before (version 0, no tables) or wholly after.
    header = list(
        await conn.execute_fetchall(
            "SELECT (SELECT user_version FROM pragma_user_version),"
            " (SELECT application_id FROM pragma_application_id),"
            " EXISTS (SELECT 1 FROM sqlite_master)"
        )
    )
    version, app_id, has_tables = (int(value) for value in header[0])
    _check_header(path, version=version, app_id=app_id, has_tables=bool(has_tables))
    if version == 0 and not memory and not init and key_file.exists():
        if data_key is None:
            keys.read_or_create_key_file(key_file, may_create=False)  # its own faults first
        await _refuse_if_vanished(conn, path, key_file)

    if not memory:
        if await _enable_wal(conn, busy_ms) != "wal":
            raise StorageFault(
                f"Cannot use the database {path}: SQLite could not switch it to WAL mode.",
                problem=StorageProblem.NO_WAL,
                path=str(path),
            )
    for pragma in (
        f"PRAGMA synchronous = {synchronous}",
        "PRAGMA foreign_keys = ON",
        "PRAGMA secure_delete = ON",
        f"PRAGMA busy_timeout = {busy_ms}",
    ):
        await conn.execute_fetchall(pragma)

    check = await _key_check(conn) if version >= 1 else None
    if version == SCHEMA_VERSION and check is not None:
        key = data_key if data_key is not None else _key_from_file(key_file, created_key)
        if not keys.key_matches(key, check):
            raise _wrong_key(path, data_key is None, key_file)
        await _keyed_audit(conn, key)
        return key
    return await _migrate(
        conn, path, data_key=data_key, memory=memory, key_file=key_file, created_key=created_key
    )


async def _keyed_audit(conn: aiosqlite.Connection, key: bytes) -> None:
    # Every append computes its MAC inside the INSERT, under the key that never leaves us.
    mac = sql_function(keys.audit_key(key))
    await conn.create_function(SQL_FUNCTION, 1 + len(HASHED_FIELDS), mac, deterministic=True)


def _check_header(path: Path, *, version: int, app_id: int, has_tables: bool) -> None:
    """Refuse a file that is another program's, or newer than this code."""
    if app_id not in (0, APPLICATION_ID):
        raise StorageFault(
            f"Cannot use the database {path}: it belongs to another program "
            f"(SQLite application id {app_id:#x}).",
            problem=StorageProblem.FOREIGN,
            path=str(path),
        )
    if version > SCHEMA_VERSION:
        raise StorageFault(
            f"Cannot use the database {path}: it was written by a newer version of "
            f"ecs-secret-bot (schema {version}; this version knows up to {SCHEMA_VERSION}).",
            problem=StorageProblem.NEWER_SCHEMA,
            path=str(path),
        )
    if version == 0 and has_tables:
        raise StorageFault(
            f"Cannot use the database {path}: it is an SQLite database, but not one "
            "of ecs-secret-bot's (it has tables and no ecs-secret-bot schema).",
            problem=StorageProblem.FOREIGN,
            path=str(path),
        )


async def _refuse_if_vanished(conn: aiosqlite.Connection, path: Path, key_file: Path) -> None:
    """Refuse an empty database beside its key file, unless another process is creating it."""
    # Key files are created under the write lock: waiting for it waits for such a process.
    await conn.execute_fetchall("BEGIN IMMEDIATE")
    try:
        version = await _pragma(conn, "user_version")
    finally:
        await conn.execute_fetchall("ROLLBACK")
    if version == 0:
        raise StorageFault(
            f"The database {path} is missing or empty, but its data key file {key_file} "
            "exists: a database was created here before, and it is gone.",
            problem=StorageProblem.DATABASE_MISSING,
            path=str(path),
        )


async def _key_check(conn: aiosqlite.Connection) -> bytes | None:
    rows = list(await conn.execute_fetchall("SELECT value FROM meta WHERE name = 'key_check'"))
    return bytes(rows[0][0]) if rows else None


def _key_from_file(key_file: Path, created_key: list[Path], *, may_create: bool = False) -> bytes:
    key, created = keys.read_or_create_key_file(key_file, may_create=may_create)
    if created:
        created_key.append(key_file)
    return key


async def _migrate(
    conn: aiosqlite.Connection,
    path: Path,
    *,
    data_key: bytes | None,
    memory: bool,
    key_file: Path,
    created_key: list[Path],
) -> bytes:
    """Bring the schema up to date under the write lock; return the data key it checks."""
    await conn.execute_fetchall("BEGIN IMMEDIATE")
    try:
        # Re-read under the write lock: another process may have migrated meanwhile.
        version = await _pragma(conn, "user_version")
        if version > SCHEMA_VERSION:
            raise StorageFault(
                f"Cannot use the database {path}: another process upgraded it to schema "
                f"{version}, newer than this version of ecs-secret-bot knows.",
                problem=StorageProblem.NEWER_SCHEMA,
                path=str(path),
            )
        check = await _key_check(conn) if version >= 1 else None
        key = data_key
        if key is None and memory:
            key = AESGCM.generate_key(bit_length=256)
        if key is None:
            # A new database gets its key file now, under the lock (see the module docstring).
            key = _key_from_file(key_file, created_key, may_create=check is None)
        if check is not None and not keys.key_matches(key, check):
            raise _wrong_key(path, data_key is None, key_file)
        await _keyed_audit(conn, key)
        for migration in MIGRATIONS[version:]:
            try:
                for statement in migration.statements:
                    await conn.execute_fetchall(statement)
            except sqlite3.Error as exc:
                raise StorageFault(
                    f"Cannot upgrade the database {path} with migration {migration.name}: "
                    f"{exc}. Nothing was changed.",
                    problem=StorageProblem.MIGRATION_FAILED,
                    path=str(path),
                ) from None
        if version < _KEYED_CHAIN:
            await start_keyed_chain(conn, keys.audit_key(key))
        await conn.execute_fetchall(f"PRAGMA user_version = {SCHEMA_VERSION}")
        await conn.execute_fetchall(f"PRAGMA application_id = {APPLICATION_ID}")
        await conn.execute_fetchall(
            "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            (_KEY_CHECK, keys.check_value(key)),
        )
        stored = await _key_check(conn)
        if stored is None or not keys.key_matches(key, stored):
            raise _wrong_key(path, data_key is None, key_file)
        await conn.execute_fetchall("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            await conn.execute_fetchall("ROLLBACK")
        raise
    return key


async def _enable_wal(conn: aiosqlite.Connection, busy_ms: int) -> str:
    # Switching a fresh file to WAL needs it to itself, and SQLite answers "locked" at once
    # instead of calling the busy handler: wait for the other starting process ourselves.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + busy_ms / 1000
    while True:
        try:
            rows = list(await conn.execute_fetchall("PRAGMA journal_mode = WAL"))
            return str(rows[0][0]).lower()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or loop.time() > deadline:
                raise
            await asyncio.sleep(0.005)


async def _pragma(conn: aiosqlite.Connection, name: str) -> int:
    rows = list(await conn.execute_fetchall(f"PRAGMA {name}"))
    return int(rows[0][0])


def _wrong_key(path: Path, from_file: bool, key_file: Path) -> StorageFault:
    source = f"the key in {key_file}" if from_file else "ECS_SECRET_BOT_DATA_KEY"
    return StorageFault(
        f"Cannot use the database {path}: {source} is not the data key it was created with.",
        problem=StorageProblem.WRONG_KEY,
        path=str(path),
    )
