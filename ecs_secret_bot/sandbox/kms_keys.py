"""Symmetric KMS keys and the actions that use them: Encrypt, Decrypt, GenerateDataKey.

Owns ``KeyVault`` (the keys of each region, their aliases, their material) and
``KmsCryptoApi`` (the three actions, mixed into ``kms_api.KmsApi``). Field names are those
of the SDK models. Choices where the documentation is silent:

* A ``CiphertextBlob`` is base64 of: the key id's length (one byte), the key id, a 12-byte
  nonce, and AES-256-GCM of the plaintext with the canonical ``EncryptionContext`` as
  associated data. So, as in KMS, Decrypt needs no KeyId, and a blob decrypts only in its
  key's region and with the same EncryptionContext.
* An unknown KeyId or alias, or a blob whose key is not in this region (or no longer
  exists): 404 ``Forbidden.KeyNotFound``. A blob that does not decrypt (altered, another
  context): 400 ``InvalidParameter`` naming ``CiphertextBlob``.
* ``NumberOfBytes`` 1 to 1024, else ``KeySpec`` ``AES_256`` (32 bytes) or ``AES_128`` (16).
* RAM: ``kms:<Action>`` on the key's ARN (``access``); the shipped policy grants none of
  them, ``grant_key_use`` does for one key, as an operator would for the bot's data key.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ecs_secret_bot.sandbox.access import Access
from ecs_secret_bot.sandbox.errors import ApiError, invalid_parameter
from ecs_secret_bot.sandbox.params import Params
from ecs_secret_bot.sandbox.ram import RamPolicy

__all__ = ["CRYPTO_ACTIONS", "SANDBOX_KEY_ALIAS", "KeyVault", "KmsCryptoApi", "grant_key_use"]

CRYPTO_ACTIONS = ("Decrypt", "Encrypt", "GenerateDataKey")
SANDBOX_KEY_ALIAS = "alias/ecs-secret-bot"
"""The alias of the key ``seed`` creates in the demo region."""
_NONCE = 12
_KEY_SPECS = {"AES_256": 32, "AES_128": 16}


@dataclass
class KeyVault:
    """The symmetric keys of an emulated account: id and alias to material, per region."""

    material: dict[tuple[str, str], bytes] = field(default_factory=dict)
    aliases: dict[tuple[str, str], str] = field(default_factory=dict)

    def create_key(
        self, region: str, *, key_id: str = "", alias: str = "", material: bytes = b""
    ) -> str:
        """Create a key in ``region`` (and an alias for it); return its id.

        ``material`` (32 bytes) makes a key that is the same in every sandbox run, as the
        demo key is, so that what it wrapped survives a restart; else it is random.
        """
        key_id = key_id or f"key-{region[:2]}{secrets.token_hex(10)}"
        self.material[(region, key_id)] = material or AESGCM.generate_key(bit_length=256)
        if alias:
            self.aliases[(region, alias)] = key_id
        return key_id

    def key_named(self, region: str, text: str) -> str | None:
        """Return the id of the key ``text`` names (id, ARN, alias) or a blob was made with."""
        try:
            return self.resolve(region, text)
        except ApiError:
            pass
        try:
            raw = base64.b64decode(text, validate=True)
            key_id = raw[1 : 1 + raw[0]].decode("ascii")
        except (binascii.Error, ValueError, IndexError):
            return None
        return key_id if (region, key_id) in self.material else None

    def resolve(self, region: str, key: str) -> str:
        """Return the id of a key named by id, ARN or alias; 404 when there is none."""
        name = key.rpartition(":")[2] if key.startswith("acs:kms:") else key
        name = name.removeprefix("key/")
        key_id = self.aliases.get((region, name), name)
        if (region, key_id) not in self.material:
            raise ApiError(404, "Forbidden.KeyNotFound", f"The specified Key {key!r} is not found.")
        return key_id

    def encrypt(self, region: str, key: str, plaintext: bytes, context: Mapping[str, Any]) -> str:
        """Return the blob of ``plaintext`` under a key."""
        key_id = self.resolve(region, key)
        nonce = secrets.token_bytes(_NONCE)
        sealed = AESGCM(self.material[(region, key_id)]).encrypt(nonce, plaintext, _aad(context))
        raw = bytes([len(key_id)]) + key_id.encode("ascii") + nonce + sealed
        return base64.b64encode(raw).decode("ascii")

    def decrypt(self, region: str, blob: str, context: Mapping[str, Any]) -> tuple[str, bytes]:
        """Return the key id and plaintext of a blob; 400 when it does not decrypt here."""
        bad = invalid_parameter("CiphertextBlob", "it cannot be decrypted.")
        try:
            raw = base64.b64decode(blob, validate=True)
            size = raw[0]
            key_id = raw[1 : 1 + size].decode("ascii")
            nonce, sealed = raw[1 + size : 1 + size + _NONCE], raw[1 + size + _NONCE :]
        except (binascii.Error, ValueError, IndexError):
            raise bad from None
        material = self.material[(region, self.resolve(region, key_id))]
        try:
            return key_id, AESGCM(material).decrypt(nonce, sealed, _aad(context))
        except (ValueError, InvalidTag):
            raise bad from None


def grant_key_use(access: Access, region: str, key_id: str) -> None:
    """Allow the sandbox's RAM user Encrypt, Decrypt and GenerateDataKey on one key.

    What an operator does for the bot's data key: a statement of its own, on that key alone
    (the shipped policy does not cover it).
    """
    arn = f"acs:kms:{region}:{access.account_id}:key/{key_id}"
    statement = {"Effect": "Allow", "Action": [f"kms:{a}" for a in CRYPTO_ACTIONS], "Resource": arn}
    document = dict(access.policy.document)
    document["Statement"] = [*document["Statement"], statement]
    access.policy = RamPolicy.parse(document, source=access.policy.source)


def _aad(context: Mapping[str, Any]) -> bytes:
    return json.dumps(dict(context), sort_keys=True, separators=(",", ":")).encode("utf-8")


def _context(params: Params) -> Mapping[str, Any]:
    value = params.json_value("EncryptionContext")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid_parameter("EncryptionContext", "it is not a JSON object.")
    return value


class KmsCryptoApi:
    """Encrypt, Decrypt and GenerateDataKey over ``self.keys`` (mixed into ``KmsApi``)."""

    keys: KeyVault

    async def Encrypt(self, region: str, params: Params, caller: str) -> dict[str, Any]:  # noqa: N802
        """Encrypt a base64 plaintext (at most 6 KB) under a key."""
        key = params.required("KeyId")
        try:
            plaintext = base64.b64decode(params.required("Plaintext"), validate=True)
        except (binascii.Error, ValueError):
            raise invalid_parameter("Plaintext", "it is not base64.") from None
        if len(plaintext) > 6144:
            raise invalid_parameter("Plaintext", "it is longer than 6 KB.")
        key_id = self.keys.resolve(region, key)
        blob = self.keys.encrypt(region, key_id, plaintext, _context(params))
        return {"KeyId": key_id, "KeyVersionId": key_id, "CiphertextBlob": blob}

    async def Decrypt(self, region: str, params: Params, caller: str) -> dict[str, Any]:  # noqa: N802
        """Decrypt a blob made in this region with the same EncryptionContext."""
        key_id, plain = self.keys.decrypt(
            region, params.required("CiphertextBlob"), _context(params)
        )
        plaintext = base64.b64encode(plain).decode("ascii")
        return {"KeyId": key_id, "KeyVersionId": key_id, "Plaintext": plaintext}

    async def GenerateDataKey(self, region: str, params: Params, caller: str) -> dict[str, Any]:  # noqa: N802
        """Return a random data key in plaintext and encrypted under a key."""
        key_id = self.keys.resolve(region, params.required("KeyId"))
        spec = params.text("KeySpec", "AES_256") or "AES_256"
        if spec not in _KEY_SPECS:
            raise invalid_parameter("KeySpec", "use AES_256 or AES_128.")
        size = params.integer("NumberOfBytes", _KEY_SPECS[spec], low=1, high=1024)
        plain = secrets.token_bytes(size)
        blob = self.keys.encrypt(region, key_id, plain, _context(params))
        return {
            "KeyId": key_id,
            "KeyVersionId": key_id,
            "CiphertextBlob": blob,
            "Plaintext": base64.b64encode(plain).decode("ascii"),
        }
