"""The numbered migrations: ``storage/migrations`` (SQLite) and ``storage/migrations_pg``
(PostgreSQL), found, ordered and (SQLite's) split into statements.

Owns reading ``NNN_name.sql`` files shipped as package data and insisting they run 001,
002, ... without gaps, and that both folders hold the same steps under the same names, so
no step is added to one engine only. Never touches a connection: ``_startup`` (SQLite,
``PRAGMA user_version``) and ``_pg_startup`` (PostgreSQL, the ``schema_version`` table)
apply them, all in one transaction.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources

__all__ = [
    "MIGRATIONS",
    "PG_MIGRATIONS",
    "SCHEMA_VERSION",
    "Migration",
    "load_migrations",
    "split_statements",
]

_MIGRATION_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    """One numbered schema step: ``NNN_name.sql`` split into statements."""

    version: int
    name: str
    statements: tuple[str, ...]


def split_statements(script: str) -> tuple[str, ...]:
    """Split an SQL script into complete statements (triggers with BEGIN ... END stay whole)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    leftover = [ln for ln in buffer.splitlines() if ln.strip() and not ln.strip().startswith("--")]
    if leftover:
        raise ValueError(f"unterminated SQL statement: {leftover[0]!r}")
    return tuple(statements)


def load_migrations(
    folder_name: str = "migrations", *, split: bool = True
) -> tuple[Migration, ...]:
    """Read ``storage/<folder>/NNN_*.sql`` in order; insist on 001, 002, ... without gaps.

    ``split=False`` keeps each file one script (PostgreSQL runs a script whole, functions
    with ``$$`` bodies included).
    """
    folder = resources.files("ecs_secret_bot.storage").joinpath(folder_name)
    found: list[tuple[int, str, str]] = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match[1]), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    for expected, (version, name, _) in enumerate(found, start=1):
        if version != expected:
            raise RuntimeError(f"migration {name} is out of sequence: expected {expected:03d}_*")
    return tuple(
        Migration(v, name, split_statements(sql) if split else (sql,)) for v, name, sql in found
    )


MIGRATIONS = load_migrations()
PG_MIGRATIONS = load_migrations("migrations_pg", split=False)
SCHEMA_VERSION = len(MIGRATIONS)
if [m.name for m in PG_MIGRATIONS] != [m.name for m in MIGRATIONS]:
    raise RuntimeError(
        "storage/migrations and storage/migrations_pg must hold the same numbered steps "
        "under the same names"
    )
