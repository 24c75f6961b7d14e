"""Keys the bot makes for itself, one per purpose (the seal of a modal's context), kept in
the ``meta`` table.

Owns the ``key:<purpose>`` rows: 32 random bytes made on first use, stored as AES-256-GCM
ciphertext under the data key (the row's name as associated data), so reading the
database file alone gives no key. Every process on the database gets the same key, and a
restart keeps it; two processes making it at once keep the first one written (insert or
ignore, then read). A row that no longer decrypts (altered) is replaced by a fresh key,
compare-and-set, so processes starting together agree on the replacement; what the old key
sealed (an open modal's context) no longer checks, which costs a modal opened again and
keeps the bot starting. Never logs or returns a key.
"""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag

from ecs_secret_bot.storage.db import Database

__all__ = ["APP_KEY_BYTES", "app_key"]

APP_KEY_BYTES = 32
_NONCE_BYTES = 12


async def app_key(db: Database, purpose: str) -> bytes:
    """Return the database's key for ``purpose``, making it on first use."""
    name = f"key:{purpose}"
    await db.fetchall(
        "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        (name, _sealed_new_key(db, name)),
    )
    for _ in range(3):
        row = await db.fetchone("SELECT value FROM meta WHERE name = ?", (name,))
        assert row is not None
        stored = bytes(row[0])
        try:
            return db.cipher.decrypt(stored[:_NONCE_BYTES], stored[_NONCE_BYTES:], name.encode())
        except InvalidTag:
            await db.fetchall(
                "UPDATE meta SET value = ? WHERE name = ? AND value = ?",
                (_sealed_new_key(db, name), name, stored),
            )
    raise RuntimeError(f"the {purpose} key cannot be kept in {db.where}")


def _sealed_new_key(db: Database, name: str) -> bytes:
    nonce = secrets.token_bytes(_NONCE_BYTES)
    key = secrets.token_bytes(APP_KEY_BYTES)
    return nonce + db.cipher.encrypt(nonce, key, name.encode("utf-8"))
