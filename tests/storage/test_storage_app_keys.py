"""App keys: made once per database, shared by every process on it, kept across restarts,
stored only encrypted under the data key."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from storage_testdata import KEY

from ecs_secret_bot.storage import Database, app_keys, open_database


async def test_every_process_gets_the_same_key_made_once(databases: list[Database]) -> None:
    keys = await asyncio.gather(*(app_keys.app_key(db, "modal-metadata") for db in databases))
    assert len(set(keys)) == 1 and len(keys[0]) == app_keys.APP_KEY_BYTES
    other = await app_keys.app_key(databases[0], "something-else")
    assert other != keys[0]


async def test_the_key_survives_a_restart_and_is_stored_encrypted(db_path: Path) -> None:
    async with await open_database(db_path, data_key=KEY) as db:
        key = await app_keys.app_key(db, "modal-metadata")
    async with await open_database(db_path, data_key=KEY) as db:
        assert await app_keys.app_key(db, "modal-metadata") == key
    conn = sqlite3.connect(db_path)
    try:
        row = conn.execute("SELECT value FROM meta WHERE name = 'key:modal-metadata'").fetchone()
    finally:
        conn.close()
    stored = row[0]
    assert key not in bytes(stored)


async def test_an_altered_key_is_replaced_by_a_fresh_one(db_path: Path) -> None:
    async with await open_database(db_path, data_key=KEY) as db:
        first = await app_keys.app_key(db, "modal-metadata")
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("UPDATE meta SET value = zeroblob(60) WHERE name = 'key:modal-metadata'")
    conn.close()
    async with await open_database(db_path, data_key=KEY) as db:
        replaced = await asyncio.gather(*(app_keys.app_key(db, "modal-metadata") for _ in "ab"))
        assert replaced[0] == replaced[1] != first
        assert await app_keys.app_key(db, "modal-metadata") == replaced[0]
