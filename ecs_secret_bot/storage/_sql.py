"""The one storage interface both engines offer, and the one place their SQL differs.

Owns the ``Database`` and ``Transaction`` protocols the table modules are written against
(SQLite's ``db.SqliteDatabase`` and PostgreSQL's ``pg.PgDatabase`` implement them), the
``Row`` they return (readable by column name and by position), ``UniqueViolation`` (a
unique constraint refused a row, on either engine), and ``to_postgres``: the table modules
write SQLite's dialect (``?`` placeholders, ``json_group_array``, ``json_array``,
``zeroblob``), and this turns it into PostgreSQL's, once per distinct statement. Never
touches a connection, never holds business rules.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from functools import lru_cache
from typing import Any, Literal, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["Database", "Row", "Transaction", "UniqueViolation", "to_postgres"]

Engine = Literal["sqlite", "postgres"]


class Row(Protocol):
    """One result row: ``row["name"]`` or ``row[0]``."""

    def __getitem__(self, key: Any, /) -> Any: ...

    def keys(self) -> Any: ...


class UniqueViolation(sqlite3.IntegrityError):
    """A unique constraint refused the row (on SQLite, still an ``sqlite3.IntegrityError``)."""


class Transaction(Protocol):
    """The statements of one open transaction."""

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run one statement in the open transaction; return its rows."""
        ...

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement in the open transaction; return its first row, or None."""
        ...

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement once per parameter row, in the open transaction."""
        ...


class Database(Protocol):
    """What the table modules call, on either engine."""

    @property
    def engine(self) -> Engine:
        """Say which engine this is."""
        ...

    @property
    def where(self) -> str:
        """Name the database in messages (a file, or a URL without its password)."""
        ...

    @property
    def cipher(self) -> AESGCM:
        """Return the AES-256-GCM cipher under the data key (for ``payloads`` only)."""
        ...

    @property
    def chain_key(self) -> bytes:
        """Return the audit chain's MAC key (for ``audit`` only)."""
        ...

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run one statement as its own transaction; return its rows."""
        ...

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement as its own transaction; return its first row, or None."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """Open a transaction that no other writer interleaves with; commit or roll back."""
        ...

    async def close(self) -> None:
        """Close the connections."""
        ...


_TOKENS = re.compile(r"'(?:[^']|'')*'|\?|json_group_array\(|json_array\(|zeroblob\(length\(")


def _closing(sql: str, start: int) -> int:
    """Return the index of the parenthesis closing the one opened just before ``start``."""
    depth = 1
    for index in range(start, len(sql)):
        char = sql[index]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
    raise ValueError(f"unbalanced parentheses in {sql!r}")


@lru_cache(maxsize=512)
def to_postgres(sql: str) -> str:
    """Return the SQLite-dialect statement in PostgreSQL's dialect."""
    out: list[str] = []
    position = 0
    number = 0
    suffix: dict[int, str] = {}  # index of a closing parenthesis -> what follows it
    for match in _TOKENS.finditer(sql):
        token = match.group()
        if token.startswith("'"):
            continue
        out.append(_with_suffixes(sql, position, match.start(), suffix))
        position = match.end()
        if token == "?":
            number += 1
            out.append(f"${number}")
        elif token == "json_group_array(":
            out.append("coalesce(json_agg(")
            suffix[_closing(sql, match.end())] = ", '[]')::text"
        elif token == "json_array(":
            out.append("json_build_array(")
        else:  # zeroblob(length(x)): as many zero bytes as x has
            out.append("decode(repeat('00', length(")
            suffix[_closing(sql, _closing(sql, match.end()) + 1)] = ", 'hex')"
    out.append(_with_suffixes(sql, position, len(sql), suffix))
    return "".join(out)


def _with_suffixes(sql: str, start: int, end: int, suffix: dict[int, str]) -> str:
    text = []
    for index in range(start, end):
        text.append(sql[index])
        if index in suffix:
            text.append(suffix[index])
    return "".join(text)
