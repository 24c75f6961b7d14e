"""What a shared (PostgreSQL) database needs from files: its data key and its password.

Owns ``shared_data_key`` and ``read_password_file``. A PostgreSQL database has no file for
a key file to sit beside, and every replica must use the key the database was created with
(``_pg_startup`` refuses another), so the key is never created here: it is read from the
configured key file, plain or wrapped by KMS (``wrapped_key``). The password file is held to
the key file's rules: a regular file only its owner can read. Never reads the environment
(libpq's ``PGPASSWORD``/``PGPASSFILE`` are the driver's), never logs a key or a password.
"""

from __future__ import annotations

import stat
from pathlib import Path

from ecs_secret_bot.errors import StorageFault, StorageProblem
from ecs_secret_bot.storage import keys
from ecs_secret_bot.storage.wrapped_key import KeyWrapper, load_data_key

__all__ = ["read_password_file", "shared_data_key"]


async def shared_data_key(key_file: Path | None, wrapper: KeyWrapper | None) -> bytes:
    """Return the data key from ``key_file`` (unwrapped by ``wrapper`` when given)."""
    if key_file is None:
        raise StorageFault(
            "No data key for the PostgreSQL database: [storage] key_file is not set.",
            problem=StorageProblem.KEY_FILE_MISSING,
        )
    if wrapper is not None:
        return await load_data_key(key_file, wrapper, may_create=False)
    key, _ = keys.read_or_create_key_file(key_file, may_create=False)
    return key


def read_password_file(path: Path | None) -> str | None:
    """Return the password in ``path`` (its first line), or None when no file is given."""
    if path is None:
        return None
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise StorageFault(
                f"The password file {path} is not a regular file.",
                problem=StorageProblem.KEY_FILE_NOT_A_FILE,
                path=str(path),
            )
        if info.st_mode & 0o077:
            raise StorageFault(
                f"The password file {path} can be read by other users "
                f"(mode {stat.S_IMODE(info.st_mode):04o}).",
                problem=StorageProblem.KEY_FILE_EXPOSED,
                path=str(path),
            )
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problem = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise StorageFault(
            f"The password file {path} cannot be read: {problem}.",
            problem=StorageProblem.KEY_FILE_UNREADABLE,
            path=str(path),
        ) from None
    lines = text.splitlines()
    return lines[0] if lines else ""
