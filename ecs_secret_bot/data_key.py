"""``ecs-secret-bot wrap-key``: keep the data key wrapped by Alibaba Cloud KMS.

Owns ``wrap_key_command``: with ``[storage] key_kms_key_id`` set, make the key file hold the
data key only as KMS encrypted it (envelope encryption), so that reading the folder is no
longer enough to decrypt the custom values waiting for an approval or to forge the audit
log: the bot asks KMS to decrypt the key at every start. It creates a new data key with
``GenerateDataKey`` when there is no database yet; wraps the plain key file, or the key in
``ECS_SECRET_BOT_DATA_KEY``, with ``Encrypt`` (after checking that the database opens with
it); re-wraps a key wrapped under another KMS key. Never prints a key, never changes
anything but the key file (and opening the database, which creates nothing if it exists; a
new key comes with its new, empty database, as a first start would make them).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ecs_secret_bot.config import load_settings
from ecs_secret_bot.errors import BotError, ConfigError, StorageFault, storage_error
from ecs_secret_bot.runtime import key_wrapper
from ecs_secret_bot.storage import open_database, parse_data_key
from ecs_secret_bot.storage.db import default_key_file
from ecs_secret_bot.storage.pg import open_pg_database
from ecs_secret_bot.storage.shared_key import read_password_file
from ecs_secret_bot.storage.wrapped_key import WrapOutcome, wrap_key_file
from ecs_secret_bot.terminal.report import next_step_text

if TYPE_CHECKING:
    from alibabacloud_credentials.client import Client as CredentialClient

__all__ = ["wrap_key_command"]


def _said(outcome: WrapOutcome, *, from_env: bool) -> list[str]:
    by = f"KMS key {outcome.key_id} in {outcome.region}"
    lines = {
        "created": [f"Created {outcome.file}: a new data key, wrapped by {by}."],
        "wrapped": [f"Wrapped the data key in {outcome.file} with {by}."],
        "rewrapped": [f"Re-wrapped the data key in {outcome.file} with {by}."],
        "unchanged": [f"{outcome.file} already holds the data key wrapped by {by}: no change."],
    }[outcome.did]
    lines.append(
        "The file holds only the KMS-encrypted key; the bot and ecs-secret ask KMS to "
        "decrypt it at start (kms:Decrypt on that key)."
    )
    if from_env:
        lines.append(
            "It came from ECS_SECRET_BOT_DATA_KEY: remove that variable, or it goes on "
            "replacing the key file."
        )
    elif outcome.did == "wrapped":
        lines.append(
            "The plain key is gone from the file, not from backups of it or, until they are "
            "reused, from the disk's free blocks."
        )
    return lines


async def wrap_key_command(
    config_path: Path,
    *,
    env: Mapping[str, str],
    out: TextIO | None = None,
    credential: CredentialClient | None = None,
) -> int:
    """Wrap (or create) the configured data key with KMS; return 0, or 1 saying why not."""
    stream = out if out is not None else sys.stdout
    try:
        settings = load_settings(config_path)
        storage = settings.storage
        if not storage.key_kms_key_id:
            raise ConfigError(
                "[storage] key_kms_key_id is not set: there is no KMS key to wrap the data "
                "key with.",
                file=str(config_path),
                key="storage.key_kms_key_id",
            )
        key_file = storage.key_file or default_key_file(storage.path)
        given_text = env.get("ECS_SECRET_BOT_DATA_KEY", "")
        # PostgreSQL: the shared key is never made here, only wrapped once the database opens.
        exists = bool(storage.url) or storage.path.exists()

        async def confirm(key: bytes) -> None:
            if storage.url:
                password = read_password_file(storage.password_file)
                await (await open_pg_database(storage.url, data_key=key, password=password)).close()
                return
            db = await open_database(storage.path, data_key=key, key_file=key_file)
            await db.close()

        outcome, key = await wrap_key_file(
            key_file,
            key_wrapper(settings, credential=credential),
            given=parse_data_key(given_text) if given_text else None,
            may_create=not exists,
            confirm=confirm if exists else None,
        )
        if outcome.did == "created":  # with its database: a key file alone means one vanished
            db = await open_database(storage.path, data_key=key, key_file=key_file, init=True)
            await db.close()
    except (BotError, StorageFault) as exc:
        error = storage_error(exc) if isinstance(exc, StorageFault) else exc
        step = f"\n{next_step_text(error.next_step)}" if error.next_step else ""
        print(f"ecs-secret-bot wrap-key: {error.user_message}{step}", file=stream)
        return 1
    print("\n".join(_said(outcome, from_env=bool(given_text))), file=stream)
    return 0
