"""Sensitive payloads: a custom secret value held, encrypted, while its approval is pending.

Owns the ``payloads`` rows. A value is stored only as AES-256-GCM ciphertext under the data
key, with the approval id as associated data (a ciphertext moved to another approval does
not decrypt). ``erase_payload`` overwrites the row and deletes it in one transaction, and
``secure_delete`` zeroes the freed space; closing the approval (denied, expired, executed,
failed) erases it too, in the statement that closes it. Never logs, returns in an error or
writes anywhere else a plaintext value.

Erased means gone from every file: the WAL still holds the page images written while the
value was there, so each erasure is followed by ``scrub`` (a ``TRUNCATE`` checkpoint: the
zeroed pages go into the database file and the WAL is emptied). A process reading the file
at that very moment can hold the checkpoint off beyond the busy timeout; the old frames are
then overwritten by later writes and go at the next checkpoint (at the latest when the last
connection closes).

On PostgreSQL the value is overwritten and deleted the same way, but the old row versions
stay in the table's pages (dead tuples) and in the WAL segments until VACUUM reuses the
space and the segments are recycled: ``scrub`` cannot force that (see the README).
"""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag

from ecs_secret_bot.errors import StorageFault, StorageProblem
from ecs_secret_bot.storage._sql import Transaction
from ecs_secret_bot.storage.db import Database

__all__ = ["erase_payload", "put_payload", "read_payload", "scrub"]

_NONCE_BYTES = 12


async def put_payload(db: Database, approval_id: str, plaintext: bytes) -> None:
    """Encrypt ``plaintext`` and store it for the approval, replacing any earlier value."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    ciphertext = db.cipher.encrypt(nonce, plaintext, approval_id.encode("utf-8"))
    async with db.transaction() as tx:
        replaced = await _erase(tx, approval_id)
        await tx.fetchall(
            "INSERT INTO payloads (approval_id, nonce, ciphertext) VALUES (?, ?, ?)",
            (approval_id, nonce, ciphertext),
        )
    if replaced:
        await scrub(db)


async def read_payload(db: Database, approval_id: str) -> bytes | None:
    """Return the decrypted value for the approval, or None when there is none (erased)."""
    row = await db.fetchone(
        "SELECT nonce, ciphertext FROM payloads WHERE approval_id = ?", (approval_id,)
    )
    if row is None:
        return None
    try:
        return db.cipher.decrypt(
            bytes(row["nonce"]), bytes(row["ciphertext"]), approval_id.encode("utf-8")
        )
    except InvalidTag:
        raise StorageFault(
            f"The stored value for approval {approval_id} in {db.where} cannot be decrypted: "
            "it was altered, or moved from another approval.",
            problem=StorageProblem.PAYLOAD_UNREADABLE,
            path=db.where,
        ) from None


async def erase_payload(db: Database, approval_id: str) -> bool:
    """Overwrite and delete the approval's value, in every file; False when there was none."""
    async with db.transaction() as tx:
        erased = await _erase(tx, approval_id)
    if erased:
        await scrub(db)
    return erased


async def scrub(db: Database) -> bool:
    """Move the WAL into the database file and empty it; False if a reader held it off.

    On PostgreSQL there is nothing to do: its dead tuples wait for VACUUM (``pg``).
    """
    if db.engine != "sqlite":
        return True
    row = await db.fetchone("PRAGMA wal_checkpoint(TRUNCATE)")
    return row is None or row[0] == 0


async def _erase(tx: Transaction, approval_id: str) -> bool:
    # Overwrite first so the ciphertext leaves its page even if a copy of the page survives.
    await tx.fetchall(
        """UPDATE payloads
              SET nonce = zeroblob(length(nonce)), ciphertext = zeroblob(length(ciphertext))
            WHERE approval_id = ?""",
        (approval_id,),
    )
    rows = await tx.fetchall(
        "DELETE FROM payloads WHERE approval_id = ? RETURNING approval_id", (approval_id,)
    )
    return bool(rows)
