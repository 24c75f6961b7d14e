"""KMS ``Encrypt``, ``Decrypt`` and ``GenerateDataKey`` for the bot's own data key.

Owns ``KmsKeyWrapper``, which implements ``storage.wrapped_key.KeyWrapper`` (by shape: cloud
imports nothing of storage) with one KMS key in one region: envelope encryption, where the
key file holds only the data key as KMS encrypted it, and the bot asks KMS to decrypt it at
start. The data key crosses the wire only inside these calls, over the region's endpoint,
and is never logged (errors carry the call, the code and the key id, never a payload).
Never does: decrypt a secret (no GetSecretValue), retry or map errors itself (``retry``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from ecs_secret_bot.cloud.retry import Sender
from ecs_secret_bot.cloud.sdk import KmsKeySdk
from ecs_secret_bot.errors import CloudError

__all__ = ["DATA_KEY_BYTES", "KmsKeyWrapper"]

DATA_KEY_BYTES = 32


def _plain(text: str | None, *, action: str) -> bytes:
    try:
        return base64.b64decode(text or "", validate=True)
    except (binascii.Error, ValueError):
        raise CloudError(f"KMS {action} answered a Plaintext that is not base64.") from None


def _models() -> Any:
    """Return the SDK's KMS models module (untyped), imported at the first call: it is slow."""
    from alibabacloud_kms20160120 import models

    return models


class KmsKeyWrapper:
    """One KMS key (an id, an ARN or an alias) in one region, wrapping the data key."""

    def __init__(self, send: Sender[KmsKeySdk], *, region: str, key_id: str) -> None:
        self._send = send
        self.region = region
        self.key_id = key_id

    async def encrypt(self, plaintext: bytes, *, context: Mapping[str, str]) -> str:
        """Return KMS ``Encrypt``'s CiphertextBlob of ``plaintext`` under this key."""
        request = _models().EncryptRequest(
            key_id=self.key_id,
            plaintext=base64.b64encode(plaintext).decode("ascii"),
            encryption_context=dict(context),
        )
        response = await self._send(
            self.region,
            "Encrypt",
            lambda client: client.encrypt_async(request),
            idempotent=True,
            subject=self.key_id,
        )
        return str(response.body.ciphertext_blob or "")

    async def decrypt(self, ciphertext_blob: str, *, context: Mapping[str, str]) -> bytes:
        """Return KMS ``Decrypt``'s plaintext of a blob (the key is named inside it)."""
        request = _models().DecryptRequest(
            ciphertext_blob=ciphertext_blob, encryption_context=dict(context)
        )
        response = await self._send(
            self.region,
            "Decrypt",
            lambda client: client.decrypt_async(request),
            idempotent=True,
            subject=self.key_id,
        )
        return _plain(response.body.plaintext, action="Decrypt")

    async def generate(self, *, context: Mapping[str, str]) -> tuple[bytes, str]:
        """Return a new data key and its blob, from KMS ``GenerateDataKey``."""
        request = _models().GenerateDataKeyRequest(
            key_id=self.key_id, number_of_bytes=DATA_KEY_BYTES, encryption_context=dict(context)
        )
        response = await self._send(
            self.region,
            "GenerateDataKey",
            lambda client: client.generate_data_key_async(request),
            idempotent=True,
            subject=self.key_id,
        )
        body = response.body
        return _plain(body.plaintext, action="GenerateDataKey"), str(body.ciphertext_blob or "")
