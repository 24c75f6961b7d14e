"""Start-up checks: refuse a database path SQLite could not use, and name SQLite's errors.

Owns turning "this path will not work" into a ``StorageFault`` that names the path and the
problem, before SQLite creates anything. Never opens a connection, never says what to do.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ecs_secret_bot.errors import StorageFault, StorageProblem

__all__ = ["check_location", "create_empty", "sqlite_fault"]


def check_location(path: Path) -> bool:
    """Refuse a path SQLite could not use; return whether the file already exists."""
    parent = path.parent

    def refuse(detail: str, problem: StorageProblem) -> StorageFault:
        return StorageFault(
            f"Cannot open the database {path}: {detail}.", problem=problem, path=str(path)
        )

    if path.exists():
        if path.is_dir():
            raise refuse("it is a folder, not a file", StorageProblem.NOT_A_FILE)
        if not path.is_file():
            raise refuse("it is not a regular file", StorageProblem.NOT_A_FILE)
        if not os.access(path, os.R_OK | os.W_OK):
            raise refuse(
                "the file cannot be written (permission denied)", StorageProblem.FILE_NOT_WRITABLE
            )
        if not os.access(parent, os.W_OK | os.X_OK):
            raise refuse(
                f"its folder {parent} is not writable, and SQLite keeps its -wal and -shm "
                "files there",
                StorageProblem.FOLDER_NOT_WRITABLE,
            )
        return True
    if not parent.exists():
        raise refuse(f"the folder {parent} does not exist", StorageProblem.FOLDER_MISSING)
    if not parent.is_dir():
        raise refuse(f"{parent} is not a folder", StorageProblem.FOLDER_NOT_A_FOLDER)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise refuse(
            f"the folder {parent} is not writable (permission denied)",
            StorageProblem.FOLDER_NOT_WRITABLE,
        )
    return False


def create_empty(path: Path) -> bool:
    """Create an empty database file only its owner can read; False if it appeared meanwhile."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    except OSError as exc:
        raise StorageFault(
            f"Cannot create the database {path}: {exc.strerror}.",
            problem=StorageProblem.FOLDER_NOT_WRITABLE,
            path=str(path),
        ) from None
    os.close(fd)
    return True


def sqlite_fault(path: Path, exc: sqlite3.Error) -> StorageFault:
    """Translate an SQLite error met while opening ``path`` into a StorageFault."""
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
    return StorageFault(
        f"Cannot open the database {path}: {problem}.",
        problem=StorageProblem.SQLITE_REFUSED,
        path=str(path),
    )
