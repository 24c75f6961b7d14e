"""The numbered migrations in ``storage/migrations``: found, ordered and split into statements.

Owns reading ``NNN_name.sql`` files shipped as package data and insisting they run 001,
002, ... without gaps. Never touches a connection: ``db.py`` applies them, all in one
transaction, and records the version in ``PRAGMA user_version``.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Migration", "load_migrations", "split_statements"]

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


def load_migrations() -> tuple[Migration, ...]:
    """Read ``storage/migrations/NNN_*.sql`` in order; insist on 001, 002, ... without gaps."""
    folder = resources.files("ecs_secret_bot.storage").joinpath("migrations")
    found: list[tuple[int, str, str]] = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match[1]), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    for expected, (version, name, _) in enumerate(found, start=1):
        if version != expected:
            raise RuntimeError(f"migration {name} is out of sequence: expected {expected:03d}_*")
    return tuple(Migration(v, name, split_statements(sql)) for v, name, sql in found)


MIGRATIONS = load_migrations()
SCHEMA_VERSION = len(MIGRATIONS)
