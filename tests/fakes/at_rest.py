"""What the bot's database holds at rest, as bytes, on either engine: for the leak tests.

Owns ``stored_bytes``: on SQLite, the bytes of the database's files (the file, its WAL and
shared memory); on PostgreSQL, every value of every row of every table of ours, raw bytes as
they are and everything else as its text. A plaintext secret or token found in there was
stored in clear. Never changes the database.
"""

from __future__ import annotations

from pathlib import Path

from ecs_secret_bot.storage import Database

__all__ = ["stored_bytes"]


async def stored_bytes(db: Database, *, path: Path) -> bytes:
    """Return what ``db`` holds at rest (``path`` is its file, on SQLite)."""
    if db.engine == "sqlite":
        return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))
    tables = await db.fetchall(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
    )
    out: list[bytes] = []
    for (table,) in tables:
        for row in await db.fetchall(f'SELECT * FROM "{table}"'):
            for value in row:
                raw = isinstance(value, bytes | memoryview)
                out.append(bytes(value) if raw else str(value).encode())
    return b"\n".join(out)
