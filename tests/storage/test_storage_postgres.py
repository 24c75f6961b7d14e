"""What only the PostgreSQL engine has: its migrations beside SQLite's, its start-up faults,
replicas starting together, the shared data key, and a connection lost mid-operation.

The rest of the storage suite runs on both engines (``engine`` in ``conftest.py``).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from importlib import resources
from pathlib import Path

import asyncpg
import pytest
from fakes.postgres import PostgresServer
from storage_testdata import KEY, NOW

from ecs_secret_bot.errors import StorageFault, StorageProblem, storage_error
from ecs_secret_bot.storage import SCHEMA_VERSION, audit, open_pg_database, pending
from ecs_secret_bot.storage._schema import MIGRATIONS, PG_MIGRATIONS
from ecs_secret_bot.storage._sql import to_postgres
from ecs_secret_bot.storage.audit import AuditEntry
from ecs_secret_bot.storage.pg import PgDatabase
from ecs_secret_bot.storage.shared_key import read_password_file

OTHER_KEY = bytes(range(1, 33))


def test_both_engines_have_the_same_migrations() -> None:
    folder = resources.files("ecs_secret_bot.storage")
    sqlite = sorted(p.name for p in folder.joinpath("migrations").iterdir() if p.name[0].isdigit())
    postgres = sorted(
        p.name for p in folder.joinpath("migrations_pg").iterdir() if p.name[0].isdigit()
    )
    assert sqlite == postgres, "add each migration in both dialects, under the same name"
    assert [m.name for m in PG_MIGRATIONS] == [m.name for m in MIGRATIONS]


def test_the_dialect_differences_are_translated_in_one_place() -> None:
    assert to_postgres("SELECT a FROM t WHERE b = ? AND c = '?' AND d IN (?, ?)") == (
        "SELECT a FROM t WHERE b = $1 AND c = '?' AND d IN ($2, $3)"
    )
    assert to_postgres("SELECT json_group_array(json_array(a, b)) FROM t") == (
        "SELECT coalesce(json_agg(json_build_array(a, b)), '[]')::text FROM t"
    )
    assert to_postgres("UPDATE p SET n = zeroblob(length(n)) WHERE id = ?") == (
        "UPDATE p SET n = decode(repeat('00', length(n)), 'hex') WHERE id = $1"
    )


async def _version(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT version FROM schema_version"))
    finally:
        await conn.close()


async def test_replicas_starting_together_migrate_once(database_url: str) -> None:
    opened = await asyncio.gather(*(open_pg_database(database_url, data_key=KEY) for _ in range(4)))
    try:
        assert await _version(database_url) == SCHEMA_VERSION
        rows = await opened[0].fetchall("SELECT name FROM meta WHERE name = 'key_check'")
        assert len(rows) == 1
        assert (await audit.verify_audit_chain(opened[3])).ok
    finally:
        for db in opened:
            await db.close()


async def test_a_replica_with_another_data_key_is_refused(database_url: str) -> None:
    db = await open_pg_database(database_url, data_key=KEY)
    await db.close()
    with pytest.raises(StorageFault) as refused:
        await open_pg_database(database_url, data_key=OTHER_KEY)
    assert refused.value.problem is StorageProblem.WRONG_KEY
    assert "every replica must use the same data key" in str(refused.value)
    assert "postgres@127.0.0.1" in refused.value.path


async def test_someone_elses_database_and_a_newer_schema_are_refused(
    postgres_server: PostgresServer, database_url: str
) -> None:
    foreign = postgres_server.create_database()
    postgres_server.psql("CREATE TABLE customers (id int)", database=foreign.rsplit("/", 1)[1])
    with pytest.raises(StorageFault) as refused:
        await open_pg_database(foreign, data_key=KEY)
    assert refused.value.problem is StorageProblem.FOREIGN
    postgres_server.drop_database(foreign)

    db = await open_pg_database(database_url, data_key=KEY)
    await db.fetchall("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    await db.close()
    with pytest.raises(StorageFault) as newer:
        await open_pg_database(database_url, data_key=KEY)
    assert newer.value.problem is StorageProblem.NEWER_SCHEMA


@pytest.mark.parametrize(
    ("where", "problem", "said"),
    [
        ("missing_database", StorageProblem.SERVER_REFUSED, "does not exist"),
        ("unknown_user", StorageProblem.SERVER_REFUSED, "login was refused"),
        ("closed_port", StorageProblem.UNREACHABLE, "cannot be reached"),
    ],
)
async def test_start_up_faults_are_named_and_worded(
    postgres_server: PostgresServer, where: str, problem: StorageProblem, said: str
) -> None:
    url = {
        "missing_database": postgres_server.url("no_such_database"),
        "unknown_user": f"postgresql://nobody@127.0.0.1:{postgres_server.port}/postgres",
        "closed_port": "postgresql://bot@127.0.0.1:1/bot",
    }[where]
    with pytest.raises(StorageFault) as refused:
        await open_pg_database(url, data_key=KEY, connect_timeout=5)
    assert refused.value.problem is problem
    assert said in str(refused.value)
    step = str(storage_error(refused.value).next_step)
    assert "PostgreSQL" in step or "[storage] url" in step, step


async def test_a_url_holding_a_password_is_refused() -> None:
    with pytest.raises(StorageFault) as refused:
        await open_pg_database("postgresql://bot:hunter2@127.0.0.1/bot", data_key=KEY)
    assert "hunter2" not in str(refused.value)
    assert "holds a password" in str(refused.value)


async def test_replicas_append_to_one_chain(database_url: str) -> None:
    replicas = [await open_pg_database(database_url, data_key=KEY) for _ in range(3)]
    try:

        async def append(replica: PgDatabase, n: int) -> None:
            entry = AuditEntry("U1", "kms:RotateSecret", f"s{n}", "C1", "allow", "", "ok")
            await audit.append_audit(replica, entry, at=NOW)

        await asyncio.gather(*(append(replicas[n % 3], n) for n in range(60)))
        check = await audit.verify_audit_chain(replicas[0])
        assert check.ok and check.checked == 60
    finally:
        for replica in replicas:
            await replica.close()


async def _backend_of(db: PgDatabase) -> int:
    return int((await db.fetchone("SELECT pg_backend_pid() AS pid"))["pid"])


async def test_a_transaction_cut_off_changes_nothing(
    postgres_server: PostgresServer, database_url: str
) -> None:
    db = await open_pg_database(database_url, data_key=KEY)
    try:
        with pytest.raises(StorageFault) as lost:
            async with db.transaction() as tx:
                await tx.fetchall(
                    """INSERT INTO pending_deletions (region, secret_name, scheduled_by,
                       channel_id, planned_delete_time, status, created_at, updated_at)
                       VALUES ('cn-hangzhou', 's', 'U1', 'C1', 'x', 'pending', 'x', 'x')"""
                )
                pid = int((await tx.fetchone("SELECT pg_backend_pid() AS pid"))["pid"])
                postgres_server.psql(f"SELECT pg_terminate_backend({pid})")
                await tx.fetchall("SELECT 1")
        assert lost.value.problem is StorageProblem.UNREACHABLE
        assert "nothing was changed" in str(lost.value)
        assert await pending.list_pending(db) == []  # and the pool recovered by itself
    finally:
        await db.close()


async def test_a_read_on_a_connection_that_died_is_retried(
    postgres_server: PostgresServer, database_url: str
) -> None:
    db = await open_pg_database(database_url, data_key=KEY, max_size=1)
    try:
        pid = await _backend_of(db)
        postgres_server.psql(f"SELECT pg_terminate_backend({pid})")
        assert await pending.list_pending(db) == []
        assert await _backend_of(db) != pid
    finally:
        await db.close()


async def test_the_database_stopped_and_back_without_a_restart() -> None:
    with PostgresServer() as server:
        server.psql("CREATE DATABASE bot")
        db = await open_pg_database(server.url("bot"), data_key=KEY, connect_timeout=2)
        try:
            await pending.record_pending(
                db,
                region="cn-hangzhou",
                secret_name="before",
                scheduled_by="U1",
                channel_id="C1",
                planned_delete_time=NOW + timedelta(days=7),
                now=NOW,
            )
            await asyncio.to_thread(server.stop)
            for attempt in (pending.list_pending(db), audit.audit_head(db)):
                with pytest.raises(StorageFault) as down:
                    await attempt
                assert down.value.problem is StorageProblem.UNREACHABLE
            with pytest.raises(StorageFault) as refused_write:
                await pending.record_pending(
                    db,
                    region="cn-hangzhou",
                    secret_name="during",
                    scheduled_by="U1",
                    channel_id="C1",
                    planned_delete_time=NOW + timedelta(days=7),
                    now=NOW,
                )
            assert "nothing was changed" in str(refused_write.value)
            assert "try again" in str(storage_error(refused_write.value).next_step)
            await asyncio.to_thread(server.start)
            names = [row.secret_name for row in await pending.list_pending(db)]
            assert names == ["before"]
            entry = AuditEntry("U1", "kms:DeleteSecret", "s", "C1", "allow", "", "ok")
            await audit.append_audit(db, entry, at=NOW)
            assert (await audit.verify_audit_chain(db)).ok
        finally:
            await db.close()


async def test_the_password_comes_from_its_file_and_a_wrong_one_is_refused(
    postgres_server: PostgresServer, database_url: str, tmp_path: Path
) -> None:
    url = postgres_server.password_login(database_url)
    secret = tmp_path / "pg.password"
    secret.write_text("S3cret-pw\n", encoding="utf-8")
    secret.chmod(0o644)
    with pytest.raises(StorageFault) as exposed:
        read_password_file(secret)
    assert exposed.value.problem is StorageProblem.KEY_FILE_EXPOSED
    secret.chmod(0o600)
    async with await open_pg_database(url, data_key=KEY, password=read_password_file(secret)) as db:
        assert (await audit.verify_audit_chain(db)).ok
    with pytest.raises(StorageFault) as refused:
        await open_pg_database(url, data_key=KEY, password="not-it")
    assert refused.value.problem is StorageProblem.SERVER_REFUSED
    assert "login was refused" in str(refused.value) and "not-it" not in str(refused.value)
