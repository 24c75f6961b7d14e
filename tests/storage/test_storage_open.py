"""Opening the database: the happy path, durability across reopen, and every refusal.

Each refusal is a StorageFault whose message names the path and the problem (and whose
``problem`` says which, for the layers above to word), and a failed start leaves nothing
behind that it created. A database that vanished (missing or empty beside its key file) is
refused unless the caller says ``init``.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from storage_testdata import KEY

from ecs_secret_bot.errors import StorageFault, StorageProblem
from ecs_secret_bot.storage import SCHEMA_VERSION, open_database, pending
from ecs_secret_bot.storage.db import APPLICATION_ID, default_key_file


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


async def test_creates_a_wal_database_with_foreign_keys_and_secure_delete(db_path: Path) -> None:
    async with await open_database(db_path) as db:
        pragmas = {
            name: (await db.fetchone(f"PRAGMA {name}"))[0]  # type: ignore[index]
            for name in (
                "journal_mode",
                "foreign_keys",
                "secure_delete",
                "busy_timeout",
                "user_version",
                "application_id",
                "synchronous",
            )
        }
    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "secure_delete": 1,
        "busy_timeout": 5000,
        "user_version": SCHEMA_VERSION,
        "application_id": APPLICATION_ID,
        "synchronous": 1,  # NORMAL
    }


async def test_synchronous_full_can_be_asked_for(db_path: Path) -> None:
    async with await open_database(db_path, synchronous="full") as db:
        row = await db.fetchone("PRAGMA synchronous")
    assert row is not None and row[0] == 2
    with pytest.raises(ValueError, match="synchronous"):
        await open_database(db_path, synchronous="OFF")


async def test_key_file_is_created_0600_next_to_the_database(db_path: Path) -> None:
    async with await open_database(db_path):
        pass
    key_file = default_key_file(db_path)
    assert key_file == db_path.with_name("bot.db.key")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_text().strip()) == 44  # base64 of 32 bytes


async def test_rows_survive_close_and_reopen(db_path: Path, now: datetime) -> None:
    async with await open_database(db_path) as db:
        row = await pending.record_pending(
            db,
            region="cn-hangzhou",
            secret_name="acs/ecs/web-3-root",
            scheduled_by="U1",
            channel_id="C1",
            planned_delete_time=now + timedelta(days=7),
            now=now,
        )
    async with await open_database(db_path) as db:
        assert await pending.get_pending(db, row.id) == row


async def test_memory_database_works_without_a_key(now: datetime) -> None:
    async with await open_database(Path(":memory:")) as db:
        assert await pending.list_pending(db) == []
    assert not Path(":memory:").exists()


async def test_missing_folder_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "bot.db"
    with pytest.raises(StorageFault) as caught:
        await open_database(path)
    assert str(path) in caught.value.detail
    assert "does not exist" in caught.value.detail
    assert caught.value.path == str(path)
    assert caught.value.problem is StorageProblem.FOLDER_MISSING
    assert _files(tmp_path) == set()


async def test_parent_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    path = tmp_path / "plain" / "bot.db"
    with pytest.raises(StorageFault, match="is not a folder") as caught:
        await open_database(path)
    assert str(path) in caught.value.detail
    assert _files(tmp_path) == {"plain"}


async def test_a_folder_in_place_of_the_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bot.db").mkdir()
    with pytest.raises(StorageFault, match="is a folder"):
        await open_database(tmp_path / "bot.db")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through file modes")
async def test_unwritable_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    try:
        with pytest.raises(StorageFault, match="not writable") as caught:
            await open_database(folder / "bot.db")
        assert str(folder / "bot.db") in caught.value.detail
        assert _files(folder) == set()
    finally:
        folder.chmod(0o700)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through file modes")
async def test_read_only_file_is_refused(db_path: Path) -> None:
    async with await open_database(db_path):
        pass
    db_path.chmod(0o400)
    try:
        with pytest.raises(StorageFault, match="cannot be written"):
            await open_database(db_path)
    finally:
        db_path.chmod(0o600)


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux /proc")
async def test_a_path_sqlite_cannot_create_is_refused() -> None:
    # /proc refuses new files even to root: this exercises SQLite's own error, not our checks.
    path = Path("/proc/ecs-secret-bot-test.db")
    with pytest.raises(StorageFault) as caught:
        await open_database(path, data_key=KEY)
    assert str(path) in caught.value.detail
    assert not path.exists()


async def test_a_file_that_is_not_sqlite_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    content = b"these are my notes, not a database\n" * 200
    path.write_bytes(content)
    with pytest.raises(StorageFault) as caught:
        await open_database(path, data_key=KEY)
    message = caught.value.detail
    assert str(path) in message and "not an SQLite database" in message
    assert caught.value.problem is StorageProblem.SQLITE_REFUSED
    assert path.read_bytes() == content
    assert _files(tmp_path) == {"bot.db"}


async def test_another_programs_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    conn.close()
    with pytest.raises(StorageFault, match="not one of ecs-secret-bot's") as caught:
        await open_database(path, data_key=KEY)
    assert str(path) in caught.value.detail
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    finally:
        conn.close()


async def test_a_foreign_application_id_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 1234")
    conn.close()
    with pytest.raises(StorageFault, match="another program"):
        await open_database(path, data_key=KEY)


async def test_a_newer_schema_is_refused_without_being_written(db_path: Path) -> None:
    async with await open_database(db_path):
        pass
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = db_path.read_bytes()
    with pytest.raises(StorageFault) as caught:
        await open_database(db_path)
    message = caught.value.detail
    assert str(db_path) in message and "newer version" in message
    assert f"schema {SCHEMA_VERSION + 1}" in message
    assert caught.value.problem is StorageProblem.NEWER_SCHEMA
    assert db_path.read_bytes() == before


async def test_a_wrong_key_file_is_refused(db_path: Path) -> None:
    async with await open_database(db_path):
        pass
    key_file = default_key_file(db_path)
    key_file.write_text("00" * 32 + "\n")
    with pytest.raises(StorageFault, match="not the data key it was created with") as caught:
        await open_database(db_path)
    assert str(db_path) in caught.value.detail
    assert str(key_file) in caught.value.detail


async def test_a_wrong_explicit_key_is_refused(db_path: Path) -> None:
    async with await open_database(db_path, data_key=KEY):
        pass
    with pytest.raises(StorageFault, match="ECS_SECRET_BOT_DATA_KEY is not the data key"):
        await open_database(db_path, data_key=bytes(32))


async def test_a_key_of_the_wrong_length_is_refused(db_path: Path) -> None:
    with pytest.raises(StorageFault, match="must be 32"):
        await open_database(db_path, data_key=b"short")
    assert not db_path.exists()


async def test_a_missing_key_file_is_refused_not_recreated(db_path: Path) -> None:
    async with await open_database(db_path):
        pass
    key_file = default_key_file(db_path)
    key_file.unlink()
    with pytest.raises(StorageFault, match="is missing") as caught:
        await open_database(db_path)
    assert str(key_file) in caught.value.detail
    assert caught.value.problem is StorageProblem.KEY_FILE_MISSING
    assert not key_file.exists()


async def test_an_env_key_database_does_not_silently_get_a_key_file(db_path: Path) -> None:
    async with await open_database(db_path, data_key=KEY):
        pass
    with pytest.raises(StorageFault, match="is missing"):
        await open_database(db_path)
    assert not default_key_file(db_path).exists()


async def test_a_key_file_others_can_read_is_refused_and_nothing_is_created(
    tmp_path: Path,
) -> None:
    key_file = tmp_path / "bot.key"
    key_file.write_text("11" * 32)
    key_file.chmod(0o644)
    with pytest.raises(StorageFault, match=r"can be read by other users \(mode 0644\)") as caught:
        await open_database(tmp_path / "bot.db", key_file=key_file)
    assert caught.value.problem is StorageProblem.KEY_FILE_EXPOSED
    assert _files(tmp_path) == {"bot.key"}


async def test_a_key_file_that_cannot_be_created_leaves_no_database(tmp_path: Path) -> None:
    key_file = tmp_path / "missing-folder" / "bot.key"
    with pytest.raises(StorageFault, match="cannot be created") as caught:
        await open_database(tmp_path / "bot.db", key_file=key_file)
    assert str(key_file) in caught.value.detail
    assert _files(tmp_path) == set()


async def test_a_garbled_key_file_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "bot.key"
    key_file.write_text("not a key at all!")
    key_file.chmod(0o600)
    with pytest.raises(StorageFault, match="is not a data key") as caught:
        await open_database(tmp_path / "bot.db", key_file=key_file)
    assert "not a key at all" not in str(caught.value)
    assert _files(tmp_path) == {"bot.key"}


async def test_a_configured_key_file_is_used(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "bot.key"
    key_file.parent.mkdir()
    async with await open_database(tmp_path / "bot.db", key_file=key_file):
        pass
    assert key_file.exists()
    assert not default_key_file(tmp_path / "bot.db").exists()
    async with await open_database(tmp_path / "bot.db", key_file=key_file):
        pass


async def test_repr_never_shows_the_key(db_path: Path) -> None:
    async with await open_database(db_path, data_key=KEY) as db:
        assert repr(db) == f"<Database {str(db_path)!r}>"


async def test_a_new_database_file_is_private(db_path: Path) -> None:
    async with await open_database(db_path):
        assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
        assert stat.S_IMODE(Path(f"{db_path}-wal").stat().st_mode) == 0o600


async def test_processes_starting_together_agree_on_one_key(db_path: Path, now: datetime) -> None:
    opened = await asyncio.gather(*(open_database(db_path) for _ in range(5)))
    try:
        await pending.record_pending(
            opened[0],
            region="cn-hangzhou",
            secret_name="acs/ecs/a",
            scheduled_by="U1",
            channel_id="C1",
            planned_delete_time=now,
            now=now,
        )
        for db in opened:
            assert len(await pending.list_pending(db)) == 1
    finally:
        for db in opened:
            await db.close()
    assert [p.name for p in db_path.parent.iterdir() if p.name.endswith(".tmp")] == []
    async with await open_database(db_path):
        pass


async def _vanish(db_path: Path, *, how: str) -> None:
    """Leave the database as a truncation or a removal would: its key file stays."""
    async with await open_database(db_path):
        pass
    for suffix in ("-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    if how == "emptied":
        db_path.write_bytes(b"")
    else:
        db_path.unlink()


@pytest.mark.parametrize("how", ["emptied", "removed"])
async def test_a_database_that_vanished_is_refused_and_left_as_it_is(
    db_path: Path, how: str
) -> None:
    await _vanish(db_path, how=how)
    before = _files(db_path.parent)
    with pytest.raises(StorageFault) as caught:
        await open_database(db_path)
    assert caught.value.problem is StorageProblem.DATABASE_MISSING
    assert str(db_path) in caught.value.detail
    assert str(default_key_file(db_path)) in caught.value.detail
    assert _files(db_path.parent) == before
    if how == "emptied":
        assert db_path.read_bytes() == b""


async def test_init_starts_over_with_the_key_file_that_is_there(db_path: Path) -> None:
    await _vanish(db_path, how="emptied")
    key = default_key_file(db_path).read_bytes()
    async with await open_database(db_path, init=True):
        pass
    assert default_key_file(db_path).read_bytes() == key
    async with await open_database(db_path):  # an ordinary start from now on
        pass


async def test_a_database_being_created_by_another_process_is_not_taken_for_vanished(
    db_path: Path,
) -> None:
    # Many starts at once on a new path: some find the key file the first one just made.
    opened = await asyncio.gather(*(open_database(db_path) for _ in range(8)))
    for db in opened:
        await db.close()


async def test_without_a_key_file_there_is_no_sign_of_a_vanished_database(db_path: Path) -> None:
    async with await open_database(db_path, data_key=KEY):
        pass
    db_path.write_bytes(b"")
    async with await open_database(db_path, data_key=KEY):
        pass
