"""Sensitive payloads: encrypted at rest, bound to their approval, erased without a trace.

The canary checks read every byte of every file beside the database (the database, its
-wal and -shm, the key file) while the value is stored and after it is erased.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from storage_testdata import KEY

from ecs_secret_bot.errors import StorageFault, StorageProblem
from ecs_secret_bot.storage import Database, approvals, open_database, payloads
from ecs_secret_bot.storage.approvals import NewApproval

CANARY = b"CANARY-Zq8v!secret-value-4f1d"


def all_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def assert_no_canary(folder: Path) -> None:
    files = all_bytes(folder)
    assert {"bot.db", "bot.db-wal", "bot.db-shm"} <= set(files)
    for name, content in files.items():
        for form in (CANARY, CANARY.hex().encode(), CANARY.decode().encode("utf-16-le")):
            assert form not in content, f"canary found in {name}"


async def new_approval(db: Database, now: datetime) -> str:
    row = await approvals.insert_approval(
        db,
        NewApproval(
            action="kms:PutSecretValue",
            resource="acs:kms:cn-hangzhou:*:secret/acs/ecs/web-3-root",
            region="cn-hangzhou",
            secret_name="acs/ecs/web-3-root",
            requester="U1",
            channel_id="C1",
            rule="custom-value",
            params={"custom_value": True},
            expires_at=now + timedelta(hours=1),
        ),
        now=now,
    )
    return row.id


async def test_round_trip(db: Database, now: datetime) -> None:
    approval_id = await new_approval(db, now)
    assert await payloads.read_payload(db, approval_id) is None
    await payloads.put_payload(db, approval_id, CANARY)
    assert await payloads.read_payload(db, approval_id) == CANARY
    await payloads.put_payload(db, approval_id, b"second thoughts")
    assert await payloads.read_payload(db, approval_id) == b"second thoughts"
    assert await payloads.erase_payload(db, approval_id)
    assert not await payloads.erase_payload(db, approval_id)
    assert await payloads.read_payload(db, approval_id) is None


async def test_a_payload_needs_its_approval(db: Database) -> None:
    with pytest.raises(
        (sqlite3.IntegrityError, asyncpg.ForeignKeyViolationError), match="(?i)FOREIGN KEY"
    ):
        await payloads.put_payload(db, "apr-nonexistent0", b"x")


async def test_canary_never_on_disk_while_stored_or_after_erase(
    db_path: Path, now: datetime
) -> None:
    folder = db_path.parent
    async with await open_database(db_path) as db:
        approval_id = await new_approval(db, now)
        await payloads.put_payload(db, approval_id, CANARY)
        assert_no_canary(folder)
        assert await payloads.read_payload(db, approval_id) == CANARY
        stored = await db.fetchone("SELECT ciphertext FROM payloads")
        assert stored is not None
        ciphertext = bytes(stored[0])
        assert any(ciphertext in content for content in all_bytes(folder).values())

        assert await payloads.erase_payload(db, approval_id)
        assert_no_canary(folder)
        # secure_delete, the overwrite and the checkpoint that follows: not even the
        # ciphertext is left, in the main file, the WAL or a free page, while still open.
        assert not any(ciphertext in content for content in all_bytes(folder).values())


async def test_a_ciphertext_moved_to_another_approval_does_not_decrypt(
    db_path: Path, now: datetime
) -> None:
    async with await open_database(db_path, data_key=KEY) as db:
        first = await new_approval(db, now)
        second = await new_approval(db, now)
        await payloads.put_payload(db, first, CANARY)
        await payloads.put_payload(db, second, b"other")
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute(
            "UPDATE payloads SET (nonce, ciphertext) = "
            "(SELECT nonce, ciphertext FROM payloads WHERE approval_id = ?) "
            "WHERE approval_id = ?",
            (first, second),
        )
    conn.close()
    async with await open_database(db_path, data_key=KEY) as db:
        with pytest.raises(StorageFault, match=f"approval {second} .* cannot be decrypted") as e:
            await payloads.read_payload(db, second)
        assert e.value.problem is StorageProblem.PAYLOAD_UNREADABLE
        assert CANARY.decode() not in str(e.value)
        assert await payloads.read_payload(db, first) == CANARY


async def test_a_wrong_key_is_an_error_not_garbage(db_path: Path, now: datetime) -> None:
    async with await open_database(db_path, data_key=KEY) as db:
        await payloads.put_payload(db, await new_approval(db, now), CANARY)
    with pytest.raises(StorageFault, match="not the data key"):
        await open_database(db_path, data_key=bytes(32))
