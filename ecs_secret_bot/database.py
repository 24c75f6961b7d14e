"""Opening the configured database, on either engine, with its data key.

Owns ``open_configured`` (``runtime.open_core``'s database), ``open_storage`` (``check``'s)
and ``key_wrapper`` (KMS with ``[storage] key_kms_key_id``). SQLite (``[storage] path``):
the key file beside it by default, created with a new database; wrapped by KMS when
``key_kms_key_id`` is set (``storage.wrapped_key``). PostgreSQL (``[storage] url``): the key
file is the replicas' shared key and is never created here (``storage.shared_key``), the
password comes from ``[storage] password_file`` or libpq's own ``PGPASSWORD``/``PGPASSFILE``.
Never reads the environment (the data key given in it arrives as text) and never words a
fault: a ``StorageFault`` goes up to the front end's reporter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecs_secret_bot.cloud.gateway import AlibabaCloudGateway
from ecs_secret_bot.config import Settings
from ecs_secret_bot.storage import Database, open_database, parse_data_key
from ecs_secret_bot.storage.db import default_key_file
from ecs_secret_bot.storage.pg import open_pg_database
from ecs_secret_bot.storage.shared_key import read_password_file, shared_data_key
from ecs_secret_bot.storage.wrapped_key import KeyWrapper, load_data_key

if TYPE_CHECKING:
    from alibabacloud_credentials.client import Client as CredentialClient

__all__ = ["key_wrapper", "open_configured", "open_storage"]


def key_wrapper(settings: Settings, *, credential: CredentialClient | None = None) -> KeyWrapper:
    """Return KMS with ``[storage] key_kms_key_id``, as the data key needs it."""
    gateway = AlibabaCloudGateway(settings.cloud, credential=credential)
    return gateway.key_wrapper(settings.storage.key_kms_region, settings.storage.key_kms_key_id)


async def open_configured(
    settings: Settings,
    key: bytes | None,
    *,
    credential: CredentialClient | None = None,
    unwrap: bool = True,
    init: bool = False,
) -> Database:
    """Open the configured database with ``key`` (else the configured key file's)."""
    storage = settings.storage
    wrapper = None
    if key is None and unwrap and storage.key_kms_key_id:
        wrapper = key_wrapper(settings, credential=credential)
    if storage.url:  # PostgreSQL: the key file is the replicas' shared key, never made here
        key = key or await shared_data_key(storage.key_file, wrapper)
        password = read_password_file(storage.password_file)
        return await open_pg_database(storage.url, data_key=key, password=password)
    if key is None and wrapper is not None:
        # Envelope encryption: the key file holds the data key as KMS wrapped it.
        key_file = storage.key_file or default_key_file(storage.path)
        new = not key_file.exists()  # then KMS makes the key of a new database, here
        key = await load_data_key(key_file, wrapper, may_create=not storage.path.exists())
        init = init or new
    return await open_database(storage.path, data_key=key, key_file=storage.key_file, init=init)


async def open_storage(
    settings: Settings,
    *,
    data_key: str = "",
    credential: CredentialClient | None = None,
    init: bool = False,
) -> Database:
    """Open the configured database with the data key as written in the environment.

    ``init`` creates a new, empty database even where its key file shows one existed.
    """
    key = parse_data_key(data_key) if data_key else None
    return await open_configured(settings, key, credential=credential, init=init)
