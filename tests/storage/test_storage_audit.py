"""The audit log: appends chain, lists read newest first, and tampering is named.

Tampering is done the way an intruder would: with plain ``sqlite3`` on the file, after
dropping the triggers that make the table append-only inside SQLite.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from storage_testdata import NOW

from ecs_secret_bot.storage import Database, audit, open_database
from ecs_secret_bot.storage._chain import GENESIS_HASH, HASHED_FIELDS, entry_hash
from ecs_secret_bot.storage.audit import AuditEntry


def entry(
    n: int, *, actor: str = "U1", resource: str = "acs:kms:cn-hangzhou:*:secret/x"
) -> AuditEntry:
    return AuditEntry(
        actor=actor,
        action="kms:RotateSecret",
        resource=resource,
        channel_id="C1",
        decision="allow",
        reason="statement OnCallRotate/1",
        outcome=f"triggered {n}",
        request_id=f"REQ-{n}",
        detail={"n": n, "instance": "i-web3"},
    )


async def fill(db: Database, count: int) -> None:
    for n in range(1, count + 1):
        await audit.append_audit(db, entry(n), at=NOW + timedelta(seconds=n))


def tamper(path: Path, *sql: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        conn.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        for statement in sql:
            conn.execute(statement)
    finally:
        conn.close()


async def test_append_returns_the_chained_row(db: Database, now: datetime) -> None:
    first = await audit.append_audit(db, entry(1), at=now)
    second = await audit.append_audit(db, entry(2), at=now)
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert first.entry == entry(1)
    assert first.at == now
    assert await audit.audit_head(db) == (2, second.hash)


async def test_list_is_newest_first_and_filters(db: Database, now: datetime) -> None:
    for n, actor, resource in [(1, "U1", "r1"), (2, "U2", "r1"), (3, "U1", "r2")]:
        await audit.append_audit(db, entry(n, actor=actor, resource=resource), at=now)
    assert [r.seq for r in await audit.list_audit(db)] == [3, 2, 1]
    assert [r.seq for r in await audit.list_audit(db, resource="r1")] == [2, 1]
    assert [r.seq for r in await audit.list_audit(db, actor="U1")] == [3, 1]
    assert [r.seq for r in await audit.list_audit(db, actor="U1", resource="r1")] == [1]
    assert [r.seq for r in await audit.list_audit(db, limit=1)] == [3]


async def test_concurrent_appends_form_one_chain(databases: list[Database]) -> None:
    # Five connections (as five processes would) append at once: no fork, no lost entry.
    await asyncio.gather(
        *(audit.append_audit(databases[n % 5], entry(n), at=NOW) for n in range(100))
    )
    check = await audit.verify_audit_chain(databases[0])
    assert check == audit.ChainCheck(ok=True, checked=100, first_broken_seq=None, problem="")


async def test_batch_append_continues_the_chain(db: Database, now: datetime) -> None:
    await fill(db, 2)
    rows = await audit.append_audit_batch(db, [(entry(n), now) for n in (3, 4, 5)])
    assert [r.seq for r in rows] == [3, 4, 5]
    assert (await audit.verify_audit_chain(db)).checked == 5
    assert await audit.append_audit_batch(db, []) == []


async def test_empty_log_verifies(db: Database) -> None:
    assert await audit.verify_audit_chain(db) == audit.ChainCheck(True, 0, None, "")


async def test_verify_reads_past_one_chunk(db: Database, now: datetime) -> None:
    await audit.append_audit_batch(db, [(entry(n), now) for n in range(4500)])
    check = await audit.verify_audit_chain(db)
    assert check.ok and check.checked == 4500


async def test_sqlite_refuses_updates_and_deletes(db: Database, now: datetime) -> None:
    await fill(db, 1)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        await db.fetchall("UPDATE audit_log SET outcome = 'nothing happened'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        await db.fetchall("DELETE FROM audit_log")


def test_the_module_has_no_way_to_change_an_entry() -> None:
    public = set(audit.__all__)
    assert not {name for name in public if "update" in name or "delete" in name}


async def test_an_edited_row_is_named(db_path: Path) -> None:
    async with await open_database(db_path) as db:
        await fill(db, 10)
    tamper(db_path, "UPDATE audit_log SET actor = 'U-SOMEONE-ELSE' WHERE seq = 6")
    async with await open_database(db_path) as db:
        check = await audit.verify_audit_chain(db)
    assert not check.ok
    assert check.first_broken_seq == 6
    assert check.checked == 5
    assert "entry 6 was changed" in check.problem


async def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(db_path: Path) -> None:
    async with await open_database(db_path) as db:
        await fill(db, 10)
    conn = sqlite3.connect(db_path)
    row = conn.execute(
        f"SELECT prev_hash, {', '.join(HASHED_FIELDS)} FROM audit_log WHERE seq = 4"
    ).fetchone()
    conn.close()
    fields = list(row[1:])
    fields[HASHED_FIELDS.index("outcome")] = "refused"
    forged = entry_hash(row[0], *fields)
    tamper(
        db_path,
        f"UPDATE audit_log SET outcome = 'refused', hash = '{forged}' WHERE seq = 4",
    )
    async with await open_database(db_path) as db:
        check = await audit.verify_audit_chain(db)
    assert (check.ok, check.first_broken_seq) == (False, 5)
    assert "entry 5 does not link to entry 4" in check.problem


async def test_a_deleted_row_is_named(db_path: Path) -> None:
    async with await open_database(db_path) as db:
        await fill(db, 10)
    tamper(db_path, "DELETE FROM audit_log WHERE seq IN (3, 4)")
    async with await open_database(db_path) as db:
        check = await audit.verify_audit_chain(db)
    assert (check.ok, check.first_broken_seq) == (False, 3)
    assert "entries 3 to 4 are missing" in check.problem


async def test_a_deleted_first_row_is_named(db_path: Path) -> None:
    async with await open_database(db_path) as db:
        await fill(db, 3)
    tamper(db_path, "DELETE FROM audit_log WHERE seq = 1")
    async with await open_database(db_path) as db:
        check = await audit.verify_audit_chain(db)
    assert (check.ok, check.first_broken_seq) == (False, 1)
    assert "entry 1 is missing" in check.problem


async def test_secret_valued_detail_keys_are_refused(db: Database, now: datetime) -> None:
    for key in ("value", "Password", "private_key", "secret_value"):
        bad = AuditEntry("U1", "a", "r", "C1", "allow", "", "", detail={key: "x"})
        with pytest.raises(ValueError, match="names a secret value"):
            await audit.append_audit(db, bad, at=now)
    assert await audit.list_audit(db) == []


async def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="naive"):
        await audit.append_audit(db, entry(1), at=datetime(2025, 1, 1))


_text = st.text(max_size=20)


@given(
    fields=st.tuples(
        st.integers(1, 10**9),
        _text,
        _text,
        _text,
        _text,
        _text,
        _text,
        _text,
        _text,
        _text,
        _text,
        _text,
    ),
    index=st.integers(0, len(HASHED_FIELDS) - 1),
    replacement=_text,
)
def test_changing_any_hashed_field_changes_the_hash(
    fields: tuple[object, ...], index: int, replacement: str
) -> None:
    changed = list(fields)
    changed[index] = replacement if index else int(fields[0]) + 1  # type: ignore[call-overload]
    if changed[index] == fields[index]:
        return
    assert entry_hash(GENESIS_HASH, *fields) != entry_hash(GENESIS_HASH, *changed)
