"""Keys the bot makes for itself, one per purpose (the seal of a modal's context), kept in
the ``meta`` table.

Owns the ``key:<purpose>`` rows: 32 random bytes made on first use, stored as AES-256-GCM
ciphertext under the data key (the row's name as associated data), so reading the
database file alone gives no key. Every process on the database gets the same key, and a
restart keeps it; two processes making it at once keep the first one written (insert or
ignore, then read). Never logs or returns a key in an error; never says what to do (a
``StorageFault`` names the problem).
"""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag

from ecs_secret_bot.errors import StorageFault, StorageProblem
from ecs_secret_bot.storage.db import Database

__all__ = ["APP_KEY_BYTES", "app_key"]

APP_KEY_BYTES = 32
_NONCE_BYTES = 12


async def app_key(db: Database, purpose: str) -> bytes:
    """Return the database's key for ``purpose``, making it on first use."""
    name = f"key:{purpose}"
    aad = name.encode("utf-8")
    nonce = secrets.token_bytes(_NONCE_BYTES)
    fresh = nonce + db.cipher.encrypt(nonce, secrets.token_bytes(APP_KEY_BYTES), aad)
    await db.fetchall(
        "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        (name, fresh),
    )
    row = await db.fetchone("SELECT value FROM meta WHERE name = ?", (name,))
    assert row is not None
    stored = bytes(row[0])
    try:
        return db.cipher.decrypt(stored[:_NONCE_BYTES], stored[_NONCE_BYTES:], aad)
    except InvalidTag:
        raise StorageFault(
            f"The {purpose} key in {db.path} cannot be decrypted: it was altered.",
            problem=StorageProblem.APP_KEY_UNREADABLE,
            path=str(db.path),
        ) from None
