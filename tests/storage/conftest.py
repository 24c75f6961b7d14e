"""Fixtures for the storage tests: a real database file under ``tmp_path``, a fixed clock.

Every database opened here is closed again (aiosqlite warns otherwise, and warnings are
errors in this suite).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from storage_testdata import KEY, NOW

from ecs_secret_bot.storage import Database, open_database


@pytest.fixture
def now() -> datetime:
    """Return the tests' fixed 'now' (aware UTC)."""
    return NOW


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Return where the test database lives."""
    return tmp_path / "bot.db"


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    """Yield an open database with the default key file beside it."""
    database = await open_database(db_path)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
async def databases(db_path: Path) -> AsyncIterator[list[Database]]:
    """Yield five connections to one file, standing in for five processes."""
    opened = [await open_database(db_path, data_key=KEY) for _ in range(5)]
    try:
        yield opened
    finally:
        for database in opened:
            await database.close()
