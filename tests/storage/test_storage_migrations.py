"""Migrations: every one upgrades a database written by the version before it, data intact.

``build_at(version)`` makes a database exactly as that schema version left it (the
migrations up to it, applied with plain ``sqlite3``) and ``SEEDERS[version]`` fills it with
rows of every kind that version knows; opening it with the current code must upgrade it
and keep every row readable, the audit chain whole and the payload decryptable. A new
migration NNN needs a seeder for version NNN-1's data: the first test insists.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import aiosqlite
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from storage_testdata import KEY, NOW

from ecs_secret_bot.errors import StorageFault
from ecs_secret_bot.storage import (
    SCHEMA_VERSION,
    approvals,
    audit,
    keys,
    leases,
    open_database,
    payloads,
    pending,
    rotations,
    sweeps,
)
from ecs_secret_bot.storage._chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
    SQL_FUNCTION,
    legacy_hash,
    sql_function,
)
from ecs_secret_bot.storage._chain_start import start_keyed_chain
from ecs_secret_bot.storage._codec import to_text
from ecs_secret_bot.storage.db import APPLICATION_ID, MIGRATIONS, Database, split_statements
from ecs_secret_bot.storage.keys import audit_key

T = to_text(NOW)
LATER = to_text(NOW + timedelta(days=7))


def build_at(path: Path, version: int) -> None:
    """Write a database as schema ``version`` left it, with the key check for KEY."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        for migration in MIGRATIONS[:version]:
            for statement in migration.statements:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {version}")
        if version:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(
                "INSERT INTO meta (name, value) VALUES ('key_check', ?)", (keys.check_value(KEY),)
            )
    finally:
        conn.close()


def seed_v0(conn: sqlite3.Connection) -> None:
    """Version 0 is an empty file: nothing to keep."""


def seed_v1(conn: sqlite3.Connection) -> None:
    """Fill every table of schema 1: a pending deletion, an approval, a vote, audit, keys."""
    conn.execute(
        """INSERT INTO pending_deletions (id, region, secret_name, scheduled_by, channel_id,
               message_ts, planned_delete_time, status, created_at, updated_at, note)
           VALUES (7, 'cn-hangzhou', 'acs/ecs/web-3-root', 'U1', 'C1', '1700.1', ?, 'pending',
               ?, ?, '')""",
        (LATER, T, T),
    )
    conn.execute("INSERT INTO pending_reminders VALUES (7, '3d', ?)", (T,))
    conn.execute(
        """INSERT INTO approvals (id, action, resource, region, secret_name, params, params_hash,
               requester, channel_id, rule, requirements, reason, status, created_at,
               expires_at, updated_at, message_channel, message_ts, outcome)
           VALUES ('apr-000000000001', 'kms:PutSecretValue', 'acs:kms:cn-hangzhou:*:secret/x',
               'cn-hangzhou', 'acs/ecs/x', '{"custom":true}', 'h', 'U1', 'C1', 'custom-value',
               '{"S1":1}', 'incident', 'pending', ?, ?, ?, 'C1', '1700.2', '')""",
        (T, LATER, T),
    )
    conn.execute(
        "INSERT INTO approval_votes VALUES ('apr-000000000001', 'U2', 'approve', 'S1', ?)", (T,)
    )
    nonce = secrets.token_bytes(12)
    conn.execute(
        "INSERT INTO payloads VALUES ('apr-000000000001', ?, ?)",
        (nonce, AESGCM(KEY).encrypt(nonce, b"old-value", b"apr-000000000001")),
    )
    prev = GENESIS_HASH
    for seq in (1, 2, 3):
        fields = (seq, T, "U1", "kms:DeleteSecret", "r", "C1", "allow", "", "ok", "", "", "{}")
        digest = legacy_hash(prev, *fields)
        conn.execute(
            """INSERT INTO audit_log (seq, at, actor, action, resource, channel_id, decision,
                   reason, outcome, request_id, approval_id, detail, prev_hash, hash)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (*fields, prev, digest),
        )
        prev = digest
    conn.execute("INSERT INTO idempotency_keys VALUES ('ev-1', ?, ?, '{\"ok\":true}')", (T, LATER))


def seed_v2(conn: sqlite3.Connection) -> None:
    """Fill what schema 2 added: a lease held by a runner."""
    conn.execute("INSERT INTO leases VALUES ('reminders', 'p-old', ?, ?, ?)", (T, T, LATER))


def seed_v3(conn: sqlite3.Connection) -> None:
    """Fill what schema 3 added: a rotation in flight."""
    conn.execute(
        """INSERT INTO rotations (id, region, secret_name, version_id, requested_by, status,
               started_at, deadline, updated_at)
           VALUES (3, 'cn-hangzhou', 'acs/ecs/db-1-root', 'r0', 'U1', 'in_progress', ?, ?, ?)""",
        (T, LATER, T),
    )


def seed_v4(conn: sqlite3.Connection) -> None:
    """Fill what schema 4 added: a card that could not be posted twice."""
    conn.execute("UPDATE approvals SET card_attempts = 2 WHERE id = 'apr-000000000001'")


def seed_v5(conn: sqlite3.Connection) -> None:
    """Nothing new to fill: schema 5 added audit columns, which the append-only log's rows
    of version 1 already hold (empty), and the keyed chain, which opening the file starts."""
    del conn


async def start_chain_as_005_did(path: Path) -> None:
    """Write the keyed chain's start, as the upgrade to schema 5 did after the old entries."""
    async with aiosqlite.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        await conn.create_function(
            SQL_FUNCTION, 1 + len(HASHED_FIELDS), sql_function(audit_key(KEY)), deterministic=True
        )
        await start_keyed_chain(conn, audit_key(KEY))
        await conn.commit()


def seed_v6(conn: sqlite3.Connection) -> None:
    """Fill what schema 6 added: the workspace of a request and of a deletion."""
    conn.execute("UPDATE approvals SET team_id = 'T0WS' WHERE id = 'apr-000000000001'")
    conn.execute("UPDATE pending_deletions SET team_id = 'T0WS' WHERE id = 7")
    conn.execute("INSERT INTO oauth_states VALUES ('st-1', ?)", (LATER,))


def seed_v7(conn: sqlite3.Connection) -> None:
    """Fill a rotation that had finished before 008 (which counts it as reported)."""
    conn.execute(
        """INSERT INTO rotations (id, region, secret_name, version_id, requested_by, status,
               started_at, deadline, updated_at)
           VALUES (4, 'cn-hangzhou', 'acs/ecs/web-9-root', 'r9', 'U1', 'completed', ?, ?, ?)""",
        (T, LATER, T),
    )


SEEDERS: dict[int, Callable[[sqlite3.Connection], None]] = {
    0: seed_v0,
    1: seed_v1,
    2: seed_v2,
    3: seed_v3,
    4: seed_v4,
    5: seed_v5,
    6: seed_v6,
    7: seed_v7,
}


async def check_v1_data(db: Database) -> None:
    row = await pending.get_pending(db, 7)
    assert row is not None
    assert (row.secret_name, row.status, row.reminders_sent) == (
        "acs/ecs/web-3-root",
        "pending",
        frozenset({"3d"}),
    )
    approval = await approvals.get_approval(db, "apr-000000000001")
    assert approval is not None and approval.approved_by == ("U2",)
    assert await payloads.read_payload(db, "apr-000000000001") == b"old-value"
    # The three unkeyed entries stay; a chain-start entry, the first keyed one, follows them.
    check = await audit.verify_audit_chain(db)
    assert (check.ok, check.checked, check.keyed_from) == (True, 4, 4)
    start = (await audit.list_audit(db, limit=1))[0]
    assert (start.seq, start.action) == (4, audit.CHAIN_START_ACTION)
    assert start.outcome == "the 3 unkeyed entries before it verified"
    assert start.detail["unkeyed_entries"] == 3
    appended = await audit.append_audit(
        db, audit.AuditEntry("U1", "a", "r", "C1", "allow", "", "ok", correlation_id="c1"), at=NOW
    )
    assert appended.seq == 5
    assert (await audit.verify_audit_chain(db)).ok


def test_every_schema_version_before_the_latest_has_a_seeder() -> None:
    assert set(range(SCHEMA_VERSION)) <= set(SEEDERS)


def test_migrations_are_numbered_without_gaps() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, SCHEMA_VERSION + 1))
    assert all(m.statements for m in MIGRATIONS)


@pytest.mark.parametrize("version", range(SCHEMA_VERSION))
async def test_upgrade_from_each_previous_version_keeps_the_data(
    tmp_path: Path, version: int
) -> None:
    path = tmp_path / "bot.db"
    build_at(path, version)
    conn = sqlite3.connect(path)
    try:
        with conn:
            for older in range(1, version + 1):
                SEEDERS[older](conn)
    finally:
        conn.close()
    if version >= 5:
        await start_chain_as_005_did(path)

    async with await open_database(path, data_key=KEY) as db:
        row = await db.fetchone("PRAGMA user_version")
        assert row is not None and row[0] == SCHEMA_VERSION
        if version >= 1:
            await check_v1_data(db)
        else:
            assert (await audit.verify_audit_chain(db)).keyed_from == 1
            assert await audit.list_audit(db) == []
        if version >= 2:
            lease = await leases.get_lease(db, "reminders")
            assert lease is not None and lease.owner == "p-old"
        assert await leases.acquire_lease(
            db, "sweep", owner="p1", now=NOW, ttl=timedelta(minutes=1)
        )
        # What 003 added works on the upgraded file.
        started = await rotations.start_rotation(
            db,
            region="cn-hangzhou",
            secret_name="acs/ecs/web-3-root",
            version_id="r1",
            instance_id="i-1",
            custom=False,
            requested_by="U1",
            now=NOW,
            deadline=NOW + timedelta(minutes=10),
        )
        active = await rotations.active_rotations(db)
        assert started in active
        if version >= 3:
            names = sorted(r.secret_name for r in active)
            assert names == ["acs/ecs/db-1-root", "acs/ecs/web-3-root"]
            # What 008 added: a rotation in flight nobody follows may be taken at once.
            assert await rotations.claim_follow_up(
                db, 3, follower="p1", now=NOW, ttl=timedelta(minutes=1)
            )
        if version >= 7:
            old = await rotations.get_rotation(db, 4)  # finished before 008: counted as said
            assert old is not None and old.reported_at is not None
        if version >= 2:
            fence = await leases.take_lease(
                db, "reminders", owner="p2", now=NOW + timedelta(days=400), ttl=timedelta(1)
            )
            assert fence is not None and fence.token == 1  # the old holder's was 0
        # What 004 added: a request's failed tries to post its card, counted from zero.
        if version >= 1:
            approval = await approvals.get_approval(db, "apr-000000000001")
            assert approval is not None and approval.card_attempts == (2 if version >= 4 else 0)
            # What 006 added: records made before it belong to the single token's workspace.
            team = "T0WS" if version >= 6 else ""
            assert approval.team_id == team
            row = await pending.get_pending(db, 7)
            assert row is not None and row.team_id == team
        assert started.team_id == ""
        # What 007 added: a sweep and its secrets.
        await sweeps.insert_sweep(
            db,
            sweeps.NewSweep("sweep-1", "U1", "INC-1", "C1", {"match": "web-*"}, "d", "running"),
            [sweeps.NewSweepItem("cn-hangzhou", "acs/ecs/web-3-root", "queued")],
            now=NOW,
        )
        assert await sweeps.set_item_state(
            db, "sweep-1", 0, expected=("queued",), new="running", now=NOW
        )
        assert [s.id for s in await sweeps.unfinished_sweeps(db)] == ["sweep-1"]


async def test_an_upgrade_writes_down_that_the_unkeyed_chain_was_already_broken(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.db"
    build_at(path, 4)  # the last schema before the keyed chain (005)
    conn = sqlite3.connect(path)
    with conn:
        seed_v1(conn)
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("UPDATE audit_log SET actor = 'U-FORGED' WHERE seq = 2")
    conn.close()
    async with await open_database(path, data_key=KEY) as db:
        start = (await audit.list_audit(db, limit=1))[0]
        check = await audit.verify_audit_chain(db)
    assert start.outcome.startswith("the 3 unkeyed entries before it did not verify: entry 2")
    assert (check.ok, check.first_broken_seq) == (False, 2)


async def test_the_keyed_chain_refuses_a_record_of_unkeyed_entries_that_were_not(
    tmp_path: Path,
) -> None:
    # Entries written after the upgrade cannot be passed off as unkeyed ones, whose links
    # anyone can recompute: the chain start is MAC-ed, and unkeyed entries have no new fields.
    path = tmp_path / "bot.db"
    async with await open_database(path, data_key=KEY) as db:
        await audit.append_audit(
            db, audit.AuditEntry("U1", "a", "r", "C1", "allow", "", "ok", subject="r"), at=NOW
        )
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DELETE FROM meta WHERE name = 'audit_chain'")
    conn.close()
    async with await open_database(path, data_key=KEY) as db:
        check = await audit.verify_audit_chain(db)
    assert (check.ok, check.first_broken_seq) == (False, 1) and "missing" in check.problem


async def test_an_empty_file_is_version_zero_and_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    path.touch()
    async with await open_database(path, data_key=KEY) as db:
        assert await pending.list_pending(db) == []


async def test_an_upgrade_interrupted_by_an_error_leaves_the_old_version(tmp_path: Path) -> None:
    # What the newest migration creates (its last table, or its last column) already
    # exists: the migration fails half-way, and the whole upgrade rolls back to the version
    # the file had.
    last = MIGRATIONS[-1]
    script = "\n".join(last.statements)
    tables = re.findall(r"CREATE TABLE (\w+)", script)
    if tables:
        sabotage, problem = f"CREATE TABLE {tables[-1]} (x)", f"table {tables[-1]} already exists"
    else:
        table, column = re.findall(r"ALTER TABLE (\w+)\s+ADD COLUMN (\w+)", script)[-1]
        sabotage = f"ALTER TABLE {table} ADD COLUMN {column}"
        problem = f"duplicate column name: {column}"
    path = tmp_path / "bot.db"
    build_at(path, SCHEMA_VERSION - 1)
    conn = sqlite3.connect(path)
    conn.execute(sabotage)
    conn.commit()
    conn.close()
    with pytest.raises(StorageFault, match=f"{last.name}: {problem}"):
        await open_database(path, data_key=KEY)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION - 1
    finally:
        conn.close()


def test_split_statements_keeps_triggers_whole() -> None:
    script = """
    -- a comment; with a semicolon
    CREATE TABLE t (x);
    CREATE TRIGGER t_no_delete BEFORE DELETE ON t
    BEGIN
        SELECT RAISE(ABORT, 'no; never');
    END;
    -- trailing comment
    """
    statements = split_statements(script)
    assert len(statements) == 2
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")


def test_split_statements_refuses_an_unterminated_statement() -> None:
    with pytest.raises(ValueError, match="unterminated"):
        split_statements("CREATE TABLE t (x)")
