"""Fixtures for the storage tests: a real database on each engine, a fixed clock.

``db`` and ``databases`` are parametrized over ``engine``: ``sqlite`` (a file under
``tmp_path``) and ``postgres`` (a fresh database on the session's throwaway server, see
``tests/conftest.py``), so every test using them runs on both. A test about one engine's
own machinery (files, pragmas) uses ``sqlite_db`` or opens its file itself.

Every database opened here is closed again (aiosqlite warns otherwise, and warnings are
errors in this suite).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from storage_testdata import KEY, NOW

from ecs_secret_bot.storage import Database, open_database, open_pg_database


@pytest.fixture
def now() -> datetime:
    """Return the tests' fixed 'now' (aware UTC)."""
    return NOW


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Return where the test database lives."""
    return tmp_path / "bot.db"


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> str:
    """Return the engine under test."""
    return str(request.param)


@pytest.fixture
async def db(engine: str, db_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    """Yield an open database: SQLite with the default key file beside it, or PostgreSQL."""
    if engine == "postgres":
        url = request.getfixturevalue("database_url")
        database: Database = await open_pg_database(url, data_key=KEY)
    else:
        database = await open_database(db_path)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
async def sqlite_db(db_path: Path) -> AsyncIterator[Database]:
    """Yield an open SQLite database with the default key file beside it."""
    database = await open_database(db_path)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
async def databases(
    engine: str, db_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[list[Database]]:
    """Yield five connections to one database, standing in for five processes."""
    if engine == "postgres":
        url = request.getfixturevalue("database_url")
        opened: list[Database] = [await open_pg_database(url, data_key=KEY) for _ in range(5)]
    else:
        opened = [await open_database(db_path, data_key=KEY) for _ in range(5)]
    try:
        yield opened
    finally:
        for database in opened:
            await database.close()
