"""Start-up checks: refuse a database path SQLite could not use, and name SQLite's errors.

Owns turning "this path will not work" into a ``StorageError`` that names the path and the
problem, before SQLite creates anything. Never opens a connection.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ecs_secret_bot.errors import StorageError

__all__ = ["check_location", "create_empty", "storage_error"]


def check_location(path: Path) -> bool:
    """Refuse a path SQLite could not use; return whether the file already exists."""
    parent = path.parent

    def refuse(problem: str, next_step: str) -> StorageError:
        return StorageError(
            f"Cannot open the database {path}: {problem}.", path=str(path), next_step=next_step
        )

    change = "or change [storage] path in the configuration."
    if path.exists():
        if path.is_dir():
            raise refuse("it is a folder, not a file", "Point [storage] path at a file name.")
        if not path.is_file():
            raise refuse("it is not a regular file", "Point [storage] path at a file name.")
        if not os.access(path, os.R_OK | os.W_OK):
            raise refuse(
                "the file cannot be written (permission denied)", f"Fix its mode, {change}"
            )
        if not os.access(parent, os.W_OK | os.X_OK):
            raise refuse(
                f"its folder {parent} is not writable, and SQLite keeps its -wal and -shm "
                "files there",
                f"Make the folder writable, {change}",
            )
        return True
    if not parent.exists():
        raise refuse(f"the folder {parent} does not exist", f"Create the folder, {change}")
    if not parent.is_dir():
        raise refuse(f"{parent} is not a folder", f"Use a path inside a folder, {change}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise refuse(
            f"the folder {parent} is not writable (permission denied)",
            f"Make the folder writable, {change}",
        )
    return False


def create_empty(path: Path) -> bool:
    """Create an empty database file only its owner can read; False if it appeared meanwhile."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    except OSError as exc:
        raise StorageError(
            f"Cannot create the database {path}: {exc.strerror}.",
            path=str(path),
            next_step="Make the folder writable, or change [storage] path in the configuration.",
        ) from None
    os.close(fd)
    return True


def storage_error(path: Path, exc: sqlite3.Error) -> StorageError:
    """Translate an SQLite error met while opening ``path`` into a StorageError."""
    message = str(exc)
    known = {
        "file is not a database": "the file is not an SQLite database",
        "database disk image is malformed": "the file is damaged (malformed database image)",
        "attempt to write a readonly database": "the file cannot be written (read-only)",
        "unable to open database file": "SQLite cannot open or create the file",
        "database is locked": "another process holds it locked beyond the busy timeout",
        "disk I/O error": "a disk I/O error occurred",
    }
    problem = next((text for key, text in known.items() if key in message), f"SQLite: {message}")
    return StorageError(
        f"Cannot open the database {path}: {problem}.",
        path=str(path),
        next_step="Point [storage] path at the bot's database file, or move this file away.",
    )
