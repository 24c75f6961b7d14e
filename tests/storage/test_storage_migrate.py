"""``ecs-secret-bot migrate --to``: an SQLite database copied into PostgreSQL, chain and all.

The SQLite database is filled through the storage API as the bot fills it; the copy runs as
the command runs (``migrate_command``), and the PostgreSQL database is then read as a
replica would read it.
"""

from __future__ import annotations

import io
import sqlite3
from datetime import timedelta
from pathlib import Path

from storage_testdata import KEY, NOW
from test_storage_migrations import SEEDERS, build_at

from ecs_secret_bot.migrate import migrate_command
from ecs_secret_bot.storage import (
    app_keys,
    approvals,
    audit,
    leases,
    open_database,
    open_pg_database,
    payloads,
    pending,
    rotations,
)
from ecs_secret_bot.storage.approvals import NewApproval
from ecs_secret_bot.storage.audit import AuditEntry
from ecs_secret_bot.storage.keys import read_or_create_key_file


async def fill(path: Path) -> tuple[str, bytes, tuple[int, str]]:
    """Fill an SQLite database as the bot would; return an approval id, a key, the head."""
    async with await open_database(path) as db:
        row = await pending.record_pending(
            db,
            region="cn-hangzhou",
            secret_name="acs/ecs/web-3-root",
            scheduled_by="slack:user:U1",
            channel_id="C1",
            planned_delete_time=NOW + timedelta(days=7),
            now=NOW,
        )
        await pending.mark_reminder_sent(db, row.id, "3d", now=NOW)
        request = await approvals.insert_approval(
            db,
            NewApproval(
                action="kms:RotateSecret",
                resource="acs:kms:cn-hangzhou:*:secret/acs/ecs/web-4-root",
                region="cn-hangzhou",
                secret_name="acs/ecs/web-4-root",
                requester="slack:user:U1",
                channel_id="C1",
                rule="custom-values",
                requirements={"security": 2},
                expires_at=NOW + timedelta(hours=2),
            ),
            now=NOW,
        )
        await approvals.add_vote(
            db,
            request.id,
            voter="slack:user:U2",
            decision="approve",
            approver_set="security",
            at=NOW,
        )
        await payloads.put_payload(db, request.id, b"Held-Value#1")
        await rotations.start_rotation(
            db,
            region="cn-hangzhou",
            secret_name="acs/ecs/web-5-root",
            version_id="v2",
            instance_id="i-web5",
            custom=False,
            requested_by="slack:user:U1",
            now=NOW,
            deadline=NOW + timedelta(minutes=10),
        )
        await leases.acquire_lease(db, "duties", owner="host-1", now=NOW, ttl=timedelta(minutes=1))
        for n in range(30):
            entry = AuditEntry(
                "slack:user:U1", "kms:RotateSecret", f"s{n}", "C1", "allow", "", "ok"
            )
            await audit.append_audit(db, entry, at=NOW + timedelta(seconds=n))
        seal = await app_keys.app_key(db, "modal-metadata")
        return request.id, seal, await audit.audit_head(db)


def config(folder: Path) -> Path:
    path = folder / "bot.toml"
    path.write_text('[storage]\npath = "bot.db"\n', encoding="utf-8")
    return path


async def test_migrate_copies_everything_and_the_chain_verifies_there(
    tmp_path: Path, database_url: str
) -> None:
    approval_id, seal, head = await fill(tmp_path / "bot.db")
    out = io.StringIO()
    assert await migrate_command(config(tmp_path), to=database_url, env={}, out=out) == 0, (
        out.getvalue()
    )
    said = out.getvalue()
    assert "1 pending deletion(s), 1 approval request(s) with 1 vote(s) and 1 held" in said
    assert "1 rotation(s), 30 audit entries" in said
    assert f"head {head[0]}:{head[1]}" in said
    assert f'url = "{database_url}"' in said

    key, _ = read_or_create_key_file(tmp_path / "bot.db.key", may_create=False)
    async with await open_pg_database(database_url, data_key=key) as db:
        check = await audit.verify_audit_chain(db)
        assert check.ok and check.checked == 30
        assert await audit.audit_head(db) == head
        [row] = await pending.list_pending(db)
        assert row.reminders_sent == frozenset({"3d"})
        copied = await approvals.get_approval(db, approval_id)
        assert copied is not None and copied.votes[0].voter == "slack:user:U2"
        assert await payloads.read_payload(db, approval_id) == b"Held-Value#1"
        assert await app_keys.app_key(db, "modal-metadata") == seal
        assert await leases.get_lease(db, "duties") is None  # a running process's, not copied
        [active] = await rotations.active_rotations(db)
        assert active.secret_name == "acs/ecs/web-5-root"
        later = await pending.record_pending(
            db,
            region="cn-hangzhou",
            secret_name="acs/ecs/db-1-root",
            scheduled_by="slack:user:U1",
            channel_id="C1",
            planned_delete_time=NOW + timedelta(days=7),
            now=NOW,
        )
        assert later.id > row.id  # the ids go on after the copied ones
        entry = AuditEntry("slack:user:U1", "kms:DeleteSecret", "s", "C1", "allow", "", "ok")
        await audit.append_audit(db, entry, at=NOW)
        assert (await audit.verify_audit_chain(db)).ok


async def test_migrate_refuses_a_database_that_holds_records(
    tmp_path: Path, database_url: str
) -> None:
    await fill(tmp_path / "bot.db")
    assert await migrate_command(config(tmp_path), to=database_url, env={}, out=io.StringIO()) == 0
    again = io.StringIO()
    assert await migrate_command(config(tmp_path), to=database_url, env={}, out=again) == 1
    assert "already holds records" in again.getvalue()
    assert "Traceback" not in again.getvalue()


async def test_migrate_refuses_a_password_in_the_url_and_a_missing_database(
    tmp_path: Path,
) -> None:
    out = io.StringIO()
    url = "postgresql://bot:hunter2@127.0.0.1/bot"
    assert await migrate_command(config(tmp_path), to=url, env={}, out=out) == 1
    assert "holds a password" in out.getvalue() and "hunter2" not in out.getvalue()
    out = io.StringIO()
    assert (
        await migrate_command(
            config(tmp_path), to="postgresql://bot@127.0.0.1/bot", env={}, out=out
        )
        == 1
    )
    assert "There is no database at" in out.getvalue()
    assert not (tmp_path / "bot.db").exists()


async def test_an_upgraded_chain_with_unkeyed_entries_verifies_after_the_copy(
    tmp_path: Path, database_url: str
) -> None:
    path = tmp_path / "bot.db"
    build_at(path, 4)  # a database of schema 4: its audit entries have unkeyed links
    conn = sqlite3.connect(path)
    try:
        with conn:
            for older in range(1, 5):
                SEEDERS[older](conn)
    finally:
        conn.close()
    async with await open_database(path, data_key=KEY) as db:  # upgraded: keyed from here on
        before = await audit.verify_audit_chain(db)
    assert before.ok and before.keyed_from > 1
    out = io.StringIO()
    env = {"ECS_SECRET_BOT_DATA_KEY": KEY.hex()}
    assert await migrate_command(config(tmp_path), to=database_url, env=env, out=out) == 0, (
        out.getvalue()
    )
    async with await open_pg_database(database_url, data_key=KEY) as db:
        after = await audit.verify_audit_chain(db)
        assert after.ok, after
        assert (after.keyed_from, after.checked, after.head_hash) == (
            before.keyed_from,
            before.checked,
            before.head_hash,
        )
        assert await payloads.read_payload(db, "apr-000000000001") is not None
