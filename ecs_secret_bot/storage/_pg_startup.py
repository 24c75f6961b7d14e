"""Preparing a PostgreSQL database: refusals first, then the numbered migrations and the key.

Owns ``prepare_pg``: under a transaction-scoped advisory lock (so two replicas starting
together never both migrate: the second waits, then finds the work done), it refuses a
database that holds someone else's tables or a schema newer than this code, applies the
missing steps of ``storage/migrations_pg``, records the version in the ``schema_version``
table, and checks the data key against the check value kept in ``meta``: every replica must
use the key the database was created with, and one with another key is refused. Never
holds business rules, never reads the environment, never says what a person should do.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ecs_secret_bot.errors import StorageFault, StorageProblem
from ecs_secret_bot.storage import keys
from ecs_secret_bot.storage._chain import GENESIS_HASH, ChainStart
from ecs_secret_bot.storage._chain_start import META_NAME
from ecs_secret_bot.storage._schema import PG_MIGRATIONS, SCHEMA_VERSION

__all__ = ["MIGRATE_LOCK", "prepare_pg"]

MIGRATE_LOCK = 0x45435342_0000
"""The advisory lock held while the schema is checked and migrated."""

_APPLICATION = "ecs-secret-bot"
_KEY_CHECK = "key_check"


async def prepare_pg(conn: PoolConnectionProxy[Any], where: str, *, data_key: bytes) -> None:
    """Check and migrate the database on ``conn``, and check ``data_key`` against it."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATE_LOCK)
        version = await _version(conn, where)
        if version > SCHEMA_VERSION:
            raise StorageFault(
                f"Cannot use the database {where}: it was written by a newer version of "
                f"ecs-secret-bot (schema {version}; this version knows up to {SCHEMA_VERSION}).",
                problem=StorageProblem.NEWER_SCHEMA,
                path=where,
            )
        if version >= 1:
            check = await conn.fetchval("SELECT value FROM meta WHERE name = $1", _KEY_CHECK)
            if check is not None and not keys.key_matches(data_key, bytes(check)):
                raise _wrong_key(where)
        if version == SCHEMA_VERSION:
            return
        if version == 0:
            await conn.execute(
                "CREATE TABLE schema_version (application TEXT NOT NULL, version INTEGER NOT NULL)"
            )
            await conn.execute("INSERT INTO schema_version VALUES ($1, 0)", _APPLICATION)
        for migration in PG_MIGRATIONS[version:]:
            try:
                for statement in migration.statements:
                    await conn.execute(statement)
            except asyncpg.PostgresError as exc:
                raise StorageFault(
                    f"Cannot upgrade the database {where} with migration {migration.name}: "
                    f"{exc}. Nothing was changed.",
                    problem=StorageProblem.MIGRATION_FAILED,
                    path=where,
                ) from None
        if version == 0:  # keyed from entry 1: PostgreSQL never held unkeyed entries
            start = ChainStart.make(
                keys.audit_key(data_key), keyed_from=1, legacy_head=GENESIS_HASH
            )
            await conn.execute(
                "INSERT INTO meta (name, value) VALUES ($1, $2), ($3, $4)",
                META_NAME,
                start.to_text().encode("utf-8"),
                _KEY_CHECK,
                keys.check_value(data_key),
            )
        await conn.execute("UPDATE schema_version SET version = $1", SCHEMA_VERSION)


async def _version(conn: PoolConnectionProxy[Any], where: str) -> int:
    """Return the schema version (0: an empty database); refuse someone else's tables."""
    has_table = await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
    if has_table:
        row = await conn.fetchrow("SELECT application, version FROM schema_version")
        if row is not None and row["application"] == _APPLICATION:
            return int(row["version"])
    elif not await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema())"
    ):
        return 0
    raise StorageFault(
        f"Cannot use the database {where}: it holds tables, and not ecs-secret-bot's "
        "(no ecs-secret-bot schema_version).",
        problem=StorageProblem.FOREIGN,
        path=where,
    )


def _wrong_key(where: str) -> StorageFault:
    return StorageFault(
        f"Cannot use the database {where}: this data key is not the one it was created "
        "with (every replica must use the same data key).",
        problem=StorageProblem.WRONG_KEY,
        path=where,
    )
