"""The ``[storage]`` table: which engine keeps the bot's records, and where its data key is.

Owns ``StorageSettings`` and ``parse_storage``, which ``config.parse_settings`` calls with
the table it reads key by key. SQLite (``path``, the default) or PostgreSQL (``url``), never
both. A URL never holds the password: it comes from libpq's own ``PGPASSWORD`` or
``PGPASSFILE`` (read by the driver) or from ``password_file``. With PostgreSQL there is no
database file for the key file to sit beside, and every replica must use the same data
key, so ``key_file`` (plain, or wrapped by KMS with ``key_kms_key_id``) is required. Never
reads the environment or a file (``runtime`` reads the password file).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from ecs_secret_bot.errors import ConfigError

__all__ = ["StorageSettings", "parse_storage", "postgres_url"]

T = TypeVar("T")


@dataclass(frozen=True)
class StorageSettings:
    """Where the database (SQLite ``path`` or PostgreSQL ``url``) and its data key live."""

    path: Path = Path("ecs-secret-bot.db")
    key_file: Path | None = None
    key_kms_key_id: str = ""
    """The KMS key that wraps the data key (envelope encryption); empty: a plain key file."""
    key_kms_region: str = ""
    """The region of that key; empty: ``cloud.default_region``."""
    url: str = ""
    """``postgresql://user@host:port/database``: PostgreSQL instead of the SQLite ``path``."""
    password_file: Path | None = None
    """A file holding the PostgreSQL password (else libpq's PGPASSWORD / PGPASSFILE)."""

    @property
    def where(self) -> str:
        """Name the database in messages: the URL, else the file."""
        return self.url or str(self.path)


class _Table(Protocol):
    data: Any

    def error(self, name: str, message: str, next_step: str = "") -> ConfigError: ...

    def get(self, name: str, kind: type[T], default: T) -> T: ...

    def convert(self, name: str, default: T, parse: Callable[[Any], T]) -> T: ...

    def finish(self, allowed_hint: str = "") -> None: ...


def postgres_url(value: Any) -> str:
    """Check a PostgreSQL URL without a password; raise ValueError saying what is wrong."""
    if not isinstance(value, str):
        raise ValueError('must be a string like "postgresql://bot@db.example:5432/bot"')
    parts = urlsplit(value)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError(
            f'must start with postgresql://, like "postgresql://bot@db.example:5432/bot" '
            f"(not {parts.scheme or 'no'} scheme)"
        )
    if parts.password is not None:
        raise ValueError(
            "holds a password; a configuration file is no place for it: remove it from the "
            "URL and give it in PGPASSWORD, a PGPASSFILE, or [storage] password_file"
        )
    try:
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        raise ValueError("has a port that is not a number from 1 to 65535") from None
    if not parts.hostname or parts.path.strip("/") == "":
        raise ValueError('must name a host and a database, like "postgresql://bot@host/bot"')
    return value


def parse_storage(
    table: _Table, *, base: Path, regions: Sequence[str], default_region: str, region: Any
) -> StorageSettings:
    """Read the ``[storage]`` table; raise ConfigError naming the bad key."""
    url = table.convert("url", "", postgres_url)
    path = table.get("path", str, "ecs-secret-bot.db")
    if not path.strip():
        raise table.error("path", 'must not be empty; write a file name like "bot.db"')
    if url and "path" in table.data:
        raise table.error(
            "url",
            "and [storage] path are both set: the bot keeps its records in one database",
            "Keep url for PostgreSQL, or path for an SQLite file, not both.",
        )
    key_file = table.get("key_file", str, "")
    if url and not key_file:
        raise table.error(
            "key_file",
            "must be set with [storage] url: there is no database file for the data key to sit "
            "beside, and every replica must use the same data key",
            "Create the key once (`openssl rand -base64 32 > bot.key; chmod 600 bot.key`), give "
            "each replica a copy and name it here (or wrap it with KMS: key_kms_key_id).",
        )
    password_file = table.get("password_file", str, "")
    if password_file and not url:
        raise table.error("password_file", "is for PostgreSQL: set [storage] url too")
    kms_region = table.convert("key_kms_region", "", region)
    if kms_region and kms_region not in regions:
        raise table.error("key_kms_region", f"must be one of cloud.regions ({', '.join(regions)})")
    settings = StorageSettings(
        path=(base / path) if path != ":memory:" else Path(path),
        key_file=(base / key_file) if key_file else None,
        key_kms_key_id=table.get("key_kms_key_id", str, "").strip(),
        key_kms_region=kms_region or default_region,
        url=url,
        password_file=(base / password_file) if password_file else None,
    )
    table.finish()
    return settings
