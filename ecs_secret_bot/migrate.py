"""``ecs-secret-bot migrate --to postgresql://...``: move the records from SQLite to PostgreSQL.

Owns ``migrate_command``: open the configured SQLite database (``[storage] path``, which
must exist) with its data key, check that its audit chain verifies, open the PostgreSQL
database (created by its admin, empty; the bot's tables are made in it) with the same data
key, copy every record in one transaction (``storage.copy``: pending deletions, approvals,
held values as ciphertext, rotations, the audit log; leases and idempotency claims not),
and verify the chain there: the same number of entries and the same head. A target that
already holds records is refused, so it never runs twice into one database. The password
comes from libpq's ``PGPASSWORD`` or ``PGPASSFILE``, never from the URL. Never changes the
SQLite database or the configuration: it says what to write into ``[storage]`` after.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from ecs_secret_bot.config import load_settings
from ecs_secret_bot.database import key_wrapper
from ecs_secret_bot.errors import BotError, ConfigError, StorageFault, storage_error
from ecs_secret_bot.storage import open_database, open_pg_database, parse_data_key
from ecs_secret_bot.storage.audit import verify_audit_chain
from ecs_secret_bot.storage.copy import copy_records
from ecs_secret_bot.storage.db import default_key_file
from ecs_secret_bot.storage.shared_key import shared_data_key
from ecs_secret_bot.storage_settings import postgres_url
from ecs_secret_bot.terminal.report import next_step_text

__all__ = ["migrate_command"]

_TAMPERED = (
    "Keep this copy as evidence, find who could write to it, and restore from a backup you "
    "trust before copying it anywhere."
)


class _Refused(Exception):
    """The migration stops here; the message says why and what to do."""


async def _copy(config_path: Path, to: str, env: Mapping[str, str]) -> list[str]:
    settings = load_settings(config_path)
    storage = settings.storage
    if storage.url:
        raise ConfigError(
            "[storage] url is set: migrate copies the SQLite database named by [storage] "
            "path, and this configuration names PostgreSQL already",
            file=str(config_path),
            key="storage.url",
        )
    try:
        url = postgres_url(to)
    except ValueError as exc:
        raise _Refused(f"--to {exc}") from None
    if not storage.path.is_file():
        raise _Refused(f"There is no database at {storage.path} to copy.")
    given = env.get("ECS_SECRET_BOT_DATA_KEY", "")
    key_file = storage.key_file or default_key_file(storage.path)
    if given:
        key = parse_data_key(given)
    else:
        wrapper = key_wrapper(settings) if storage.key_kms_key_id else None
        key = await shared_data_key(key_file, wrapper)
    source = await open_database(storage.path, data_key=key)
    try:
        before = await verify_audit_chain(source)
        if not before.ok:
            raise _Refused(
                f"The audit log of {storage.path} does not verify (entry "
                f"{before.first_broken_seq}: {before.problem}); it is not copied.\n{_TAMPERED}"
            )
        target = await open_pg_database(url, data_key=key)
        try:
            copied = await copy_records(source, target)
            after = await verify_audit_chain(target)
        finally:
            await target.close()
    finally:
        await source.close()
    if not after.ok or (after.head_seq, after.head_hash) != (before.head_seq, before.head_hash):
        raise _Refused(
            f"The audit log copied into {target.where} does not verify as it did in "
            f"{storage.path}: {after.problem or 'another head'}. Drop that database and "
            "report the problem."
        )
    head = f"{after.head_seq}:{after.head_hash}"
    return [
        f"Copied {storage.path} into {target.where}: "
        f"{copied.count('pending_deletions')} pending deletion(s), "
        f"{copied.count('approvals')} approval request(s) with "
        f"{copied.count('approval_votes')} vote(s) and {copied.count('payloads')} held "
        f"value(s), {copied.count('rotations')} rotation(s), "
        f"{copied.count('audit_log')} audit entries.",
        f"The audit log verifies there: {after.checked} entries, head {head}, as in "
        f"{storage.path}.",
        f'Now set [storage] url = "{url}" and key_file = "{key_file}" (the same data key, '
        "for every replica) in place of path, and start the bot. The SQLite file is left "
        "as it was.",
    ]


async def migrate_command(
    config_path: Path, *, to: str, env: Mapping[str, str], out: TextIO | None = None
) -> int:
    """Copy the configured SQLite database into the PostgreSQL at ``to``; return 0, or 1."""
    stream = out if out is not None else sys.stdout
    try:
        lines = await _copy(config_path, to, env)
    except _Refused as exc:
        print(f"ecs-secret-bot migrate: {exc}", file=stream)
        return 1
    except (BotError, StorageFault) as exc:
        error = storage_error(exc) if isinstance(exc, StorageFault) else exc
        step = f"\n{next_step_text(error.next_step)}" if error.next_step else ""
        print(f"ecs-secret-bot migrate: {error.user_message}{step}", file=stream)
        return 1
    print("\n".join(lines), file=stream)
    return 0
