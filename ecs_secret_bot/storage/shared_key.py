"""What a shared (PostgreSQL) database needs from files: its data key and its password.

Owns ``shared_data_key`` and ``read_password_file``. A PostgreSQL database has no file for
a key file to sit beside, and every replica must use the key the database was created with
(``_pg_startup`` refuses another), so the key is never created here: it is read from the
configured key file, plain or wrapped by KMS (``wrapped_key``). The password file is held to
the key file's rules: a regular file only its owner can read. Never reads the environment
(libpq's ``PGPASSWORD``/``PGPASSFILE`` are the driver's), never logs a key or a password.
"""

from __future__ import annotations

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
    keys.require_private_file(path, what="password file")
    try:
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
