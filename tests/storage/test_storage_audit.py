"""The audit log: appends chain, lists read newest first, and tampering is named.

Tampering is done the way an intruder would: with plain ``sqlite3`` on the file, after
dropping the triggers that make the table append-only inside SQLite; a forger who also
recomputes the later links does it with SHA-256 (what the chain was before it was keyed),
with a guessed key, or with the real audit key (someone who holds the data key).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

import asyncpg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from storage_testdata import KEY, NOW

from ecs_secret_bot.storage import Database, audit, keys, open_database
from ecs_secret_bot.storage._chain import GENESIS_HASH, HASHED_FIELDS, keyed_hash
from ecs_secret_bot.storage.audit import AuditEntry

AUDIT_KEY = keys.audit_key(KEY)


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
    assert (check.ok, check.checked, check.first_broken_seq, check.problem) == (True, 100, None, "")
    assert (check.head_seq, check.head_hash) == await audit.audit_head(databases[0])


async def test_batch_append_continues_the_chain(db: Database, now: datetime) -> None:
    await fill(db, 2)
    rows = await audit.append_audit_batch(db, [(entry(n), now) for n in (3, 4, 5)])
    assert [r.seq for r in rows] == [3, 4, 5]
    assert (await audit.verify_audit_chain(db)).checked == 5
    assert await audit.append_audit_batch(db, []) == []


async def test_empty_log_verifies(db: Database) -> None:
    check = await audit.verify_audit_chain(db)
    assert (check.ok, check.checked, check.first_broken_seq, check.problem) == (True, 0, None, "")
    assert (check.head_seq, check.head_hash, check.keyed_from) == (0, GENESIS_HASH, 1)


async def test_verify_reads_past_one_chunk(db: Database, now: datetime) -> None:
    await audit.append_audit_batch(db, [(entry(n), now) for n in range(4500)])
    check = await audit.verify_audit_chain(db)
    assert check.ok and check.checked == 4500


async def test_the_database_refuses_updates_and_deletes(db: Database, now: datetime) -> None:
    await fill(db, 1)
    refused = (sqlite3.IntegrityError, asyncpg.RaiseError)
    with pytest.raises(refused, match="append-only"):
        await db.fetchall("UPDATE audit_log SET outcome = 'nothing happened'")
    with pytest.raises(refused, match="append-only"):
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


def forge(path: Path, seq: int, outcome: str, digest: Callable[..., str]) -> None:
    """Change entry ``seq``'s outcome and recompute its link and every later one."""
    conn = sqlite3.connect(path)
    rows = conn.execute(
        f"SELECT prev_hash, {', '.join(HASHED_FIELDS)} FROM audit_log WHERE seq >= ? ORDER BY seq",
        (seq,),
    ).fetchall()
    conn.close()
    statements = []
    prev = rows[0][0]
    for row in rows:
        fields = list(row[1:])
        if fields[0] == seq:
            fields[HASHED_FIELDS.index("outcome")] = outcome
        new = digest(prev, *fields)
        statements.append(
            f"UPDATE audit_log SET outcome = '{fields[HASHED_FIELDS.index('outcome')]}', "
            f"prev_hash = '{prev}', hash = '{new}' WHERE seq = {fields[0]}"
        )
        prev = new
    tamper(path, *statements)


def sha256_link(prev: str, *fields: object) -> str:
    body = json.dumps([prev, *fields], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


@pytest.mark.parametrize(
    "digest",
    [
        pytest.param(sha256_link, id="plain SHA-256"),
        pytest.param(partial(keyed_hash, bytes(32)), id="a guessed key"),
    ],
)
async def test_a_rewrite_recomputing_every_later_link_without_the_key_is_named(
    db_path: Path, digest: Callable[..., str]
) -> None:
    async with await open_database(db_path, data_key=KEY) as db:
        await fill(db, 10)
    forge(db_path, 6, "refused", digest)
    async with await open_database(db_path, data_key=KEY) as db:
        check = await audit.verify_audit_chain(db)
    assert (check.ok, check.first_broken_seq, check.checked) == (False, 6, 5)
    assert check.first_broken_at == NOW + timedelta(seconds=6)
    assert "entry 6 was changed after it was written" in check.problem
    assert "MAC" in check.problem


async def test_an_edit_with_a_recomputed_mac_breaks_the_next_link(db_path: Path) -> None:
    # Whoever holds the key can recompute one MAC; the next entry still links to the old one.
    async with await open_database(db_path, data_key=KEY) as db:
        await fill(db, 10)
    conn = sqlite3.connect(db_path)
    row = conn.execute(
        f"SELECT prev_hash, {', '.join(HASHED_FIELDS)} FROM audit_log WHERE seq = 4"
    ).fetchone()
    conn.close()
    fields = list(row[1:])
    fields[HASHED_FIELDS.index("outcome")] = "refused"
    forged = keyed_hash(AUDIT_KEY, row[0], *fields)
    tamper(
        db_path,
        f"UPDATE audit_log SET outcome = 'refused', hash = '{forged}' WHERE seq = 4",
    )
    async with await open_database(db_path, data_key=KEY) as db:
        check = await audit.verify_audit_chain(db)
    assert (check.ok, check.first_broken_seq) == (False, 5)
    assert "entry 5 does not link to entry 4" in check.problem


async def test_with_the_key_a_whole_rewrite_verifies_but_not_against_an_anchor(
    db_path: Path,
) -> None:
    # What the chain cannot prove: someone with the key and write access rewrites the rest.
    # An anchor recorded outside the database before the rewrite still tells.
    async with await open_database(db_path, data_key=KEY) as db:
        await fill(db, 10)
        seq, head = await audit.audit_head(db)
    forge(db_path, 6, "refused", partial(keyed_hash, AUDIT_KEY))
    async with await open_database(db_path, data_key=KEY) as db:
        assert (await audit.verify_audit_chain(db)).ok
        check = await audit.verify_audit_chain(db, anchor=audit.Anchor(head, seq))
    assert (check.ok, check.first_broken_seq) == (False, 10)
    assert "not the entry the anchor recorded" in check.problem


async def test_an_anchor_detects_the_newest_entries_cut_off(db_path: Path) -> None:
    async with await open_database(db_path, data_key=KEY) as db:
        await fill(db, 10)
        seq, head = await audit.audit_head(db)
        await fill(db, 2)  # entries after the anchor are fine to have
        assert (await audit.verify_audit_chain(db, anchor=audit.Anchor(head, seq))).anchor_found
        assert (await audit.verify_audit_chain(db, anchor=audit.Anchor(head))).ok
    tamper(db_path, "DELETE FROM audit_log WHERE seq >= 9")
    async with await open_database(db_path, data_key=KEY) as db:
        # Without an anchor the shorter chain is whole: a cut end leaves no trace in it.
        assert (await audit.verify_audit_chain(db)).ok
        with_seq = await audit.verify_audit_chain(db, anchor=audit.Anchor(head, seq))
        without_seq = await audit.verify_audit_chain(db, anchor=audit.Anchor(head))
    assert (with_seq.ok, with_seq.first_broken_seq) == (False, 9)
    assert "the log ends at entry 8, but the anchor recorded entry 10" in with_seq.problem
    assert (without_seq.ok, without_seq.first_broken_seq) == (False, 9)
    assert "no entry has the anchor's hash" in without_seq.problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 64, audit.Anchor("a" * 64)),
        (f"12:{'B' * 64}", audit.Anchor("b" * 64, 12)),
        (f" 3:{'0' * 64}\n", audit.Anchor("0" * 64, 3)),
    ],
)
def test_anchors_parse(text: str, expected: audit.Anchor) -> None:
    assert audit.parse_anchor(text) == expected
    assert audit.parse_anchor(str(expected)) == expected


@pytest.mark.parametrize("text", ["", "abc", "x:" + "a" * 64, "0:" + "a" * 64, "a" * 63])
def test_bad_anchors_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="anchor"):
        audit.parse_anchor(text)


async def test_the_chain_start_cannot_be_moved_or_removed(db_path: Path) -> None:
    async with await open_database(db_path, data_key=KEY) as db:
        await fill(db, 3)
    tamper(
        db_path,
        "UPDATE meta SET value = replace(value, '\"keyed_from\":1', '\"keyed_from\":9') "
        "WHERE name = 'audit_chain'",
    )
    async with await open_database(db_path, data_key=KEY) as db:
        moved = await audit.verify_audit_chain(db)
    tamper(db_path, "DELETE FROM meta WHERE name = 'audit_chain'")
    async with await open_database(db_path, data_key=KEY) as db:
        removed = await audit.verify_audit_chain(db)
    assert (moved.ok, moved.first_broken_seq) == (False, 1)
    assert "was altered" in moved.problem
    assert (removed.ok, removed.first_broken_seq) == (False, 1)
    assert "is missing" in removed.problem


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
    fields=st.tuples(st.integers(1, 10**9), *([_text] * (len(HASHED_FIELDS) - 1))),
    index=st.integers(0, len(HASHED_FIELDS) - 1),
    replacement=_text,
)
def test_changing_any_covered_field_changes_the_mac(
    fields: tuple[object, ...], index: int, replacement: str
) -> None:
    changed = list(fields)
    changed[index] = replacement if index else int(str(fields[0])) + 1
    if changed[index] == fields[index]:
        return
    assert keyed_hash(AUDIT_KEY, GENESIS_HASH, *fields) != keyed_hash(
        AUDIT_KEY, GENESIS_HASH, *changed
    )
    assert keyed_hash(AUDIT_KEY, GENESIS_HASH, *fields) != keyed_hash(
        bytes(32), GENESIS_HASH, *fields
    )
