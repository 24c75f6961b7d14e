"""The data key wrapped by KMS (envelope encryption): the key file's second form.

Owns ``WrappedKey`` (what the file holds: the KMS key that wraps the data key, its region,
and the ``CiphertextBlob`` KMS returned; never the data key itself), reading and writing
that file (one JSON line, mode 0600, replaced atomically), ``KeyWrapper`` (KMS as the data
key sees it; ``cloud`` implements it) and the two things done with it: ``load_data_key``
(at start: ask KMS to decrypt the blob; on a first start, ask KMS for a new data key) and
``wrap_key_file`` (turn a plain key file, or a key given in the environment, into a wrapped
one, or re-wrap it under another KMS key). Every blob is bound to ``ENCRYPTION_CONTEXT``, so
a blob made for something else does not decrypt here. Never logs or raises a key's bytes;
states what went wrong with the file as a ``StorageFault``, never what to do; lets KMS's own
refusals (``CloudError``) through.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ecs_secret_bot.errors import StorageFault, StorageProblem
from ecs_secret_bot.storage import keys

__all__ = [
    "ENCRYPTION_CONTEXT",
    "WRAPPED_FORMAT",
    "KeyWrapper",
    "WrapOutcome",
    "WrappedKey",
    "load_data_key",
    "read_wrapped",
    "wrap_key_file",
]

WRAPPED_FORMAT = keys.WRAPPED_FORMAT
ENCRYPTION_CONTEXT: Mapping[str, str] = {"purpose": "ecs-secret-bot data key"}


class KeyWrapper(Protocol):
    """One KMS key in one region, as the data key needs it. ``cloud`` implements it.

    Example (a wrapper for tests that keeps keys in memory, as the sandbox does)::

        class MemoryWrapper:
            key_id, region = "key-test", "cn-hangzhou"
            async def encrypt(self, plaintext, *, context): ...
            async def decrypt(self, ciphertext_blob, *, context): ...
            async def generate(self, *, context): ...
    """

    key_id: str
    region: str

    async def encrypt(self, plaintext: bytes, *, context: Mapping[str, str]) -> str:
        """Return KMS ``Encrypt``'s CiphertextBlob of ``plaintext`` under this key."""
        ...

    async def decrypt(self, ciphertext_blob: str, *, context: Mapping[str, str]) -> bytes:
        """Return KMS ``Decrypt``'s plaintext of a blob."""
        ...

    async def generate(self, *, context: Mapping[str, str]) -> tuple[bytes, str]:
        """Return a new 32-byte data key and its blob, from KMS ``GenerateDataKey``."""
        ...


@dataclass(frozen=True)
class WrappedKey:
    """What a wrapped key file holds: no key, only what KMS needs to give it back."""

    key_id: str
    region: str
    ciphertext_blob: str

    def to_text(self) -> str:
        """Spell it as the key file's one line."""
        body = {
            "format": WRAPPED_FORMAT,
            "key_id": self.key_id,
            "region": self.region,
            "ciphertext_blob": self.ciphertext_blob,
        }
        return json.dumps(body, separators=(",", ":")) + "\n"

    @classmethod
    def from_text(cls, text: str) -> WrappedKey | None:
        """Read a key file's text; None when it is not a wrapped key."""
        try:
            body = json.loads(text)
            if body.get("format") != WRAPPED_FORMAT:
                return None
            return cls(str(body["key_id"]), str(body["region"]), str(body["ciphertext_blob"]))
        except (ValueError, AttributeError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class WrapOutcome:
    """What ``wrap_key_file`` did: ``created``, ``wrapped``, ``rewrapped`` or ``unchanged``."""

    did: str
    file: Path
    key_id: str
    region: str


def read_wrapped(path: Path) -> WrappedKey | None:
    """Return the wrapped key in ``path``; None when there is no file; raise if it is not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problem = exc.strerror if isinstance(exc, OSError) else "it is not text"
        raise StorageFault(
            f"The data key file {path} cannot be read: {problem}.",
            problem=StorageProblem.KEY_FILE_UNREADABLE,
            path=str(path),
        ) from None
    wrapped = WrappedKey.from_text(text)
    if wrapped is None:
        raise StorageFault(
            f"The data key file {path} holds a plain data key, not one wrapped by KMS as "
            "[storage] key_kms_key_id says (`ecs-secret-bot wrap-key` wraps it).",
            problem=StorageProblem.KEY_FILE_UNREADABLE,
            path=str(path),
        )
    return wrapped


def _write(path: Path, wrapped: WrappedKey, *, replace: bool) -> bool:
    """Publish the file atomically (0600); False when, not replacing, one appeared meanwhile."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, wrapped.to_text().encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # never replaces: two first starts agree on one key
    except FileExistsError:
        return False
    except OSError as exc:
        raise StorageFault(
            f"The data key file {path} cannot be written: {exc.strerror}.",
            problem=StorageProblem.KEY_FILE_UNWRITABLE,
            path=str(path),
        ) from None
    finally:
        temporary.unlink(missing_ok=True)
    return True


def _not_back(path: Path, wrapper: KeyWrapper, what: str) -> StorageFault:
    return StorageFault(
        f"KMS ({wrapper.key_id} in {wrapper.region}) {what} for the data key in {path}.",
        problem=StorageProblem.KEY_MALFORMED,
        path=str(path),
    )


async def _unwrap(path: Path, wrapped: WrappedKey, wrapper: KeyWrapper) -> bytes:
    # A refusal stays KMS's (a CloudError naming the call, the key and, for a missing
    # permission, the RAM action): it is the cloud's to word.
    key = await wrapper.decrypt(wrapped.ciphertext_blob, context=ENCRYPTION_CONTEXT)
    if len(key) != keys.KEY_BYTES:
        raise _not_back(path, wrapper, f"decrypted {len(key)} bytes, not {keys.KEY_BYTES},")
    return key


def _missing(path: Path) -> StorageFault:
    return StorageFault(
        f"The data key file {path} is missing, and the database was encrypted with its key.",
        problem=StorageProblem.KEY_FILE_MISSING,
        path=str(path),
    )


async def load_data_key(path: Path, wrapper: KeyWrapper, *, may_create: bool) -> bytes:
    """Return the data key KMS unwraps from ``path``; make one with KMS when ``may_create``."""
    wrapped = read_wrapped(path)
    if wrapped is not None:
        return await _unwrap(path, wrapped, wrapper)
    if not may_create:
        raise _missing(path)
    key, blob = await wrapper.generate(context=ENCRYPTION_CONTEXT)
    if not _write(path, WrappedKey(wrapper.key_id, wrapper.region, blob), replace=False):
        return await load_data_key(path, wrapper, may_create=False)  # another start won
    return key


async def wrap_key_file(
    path: Path,
    wrapper: KeyWrapper,
    *,
    given: bytes | None = None,
    may_create: bool,
    confirm: Callable[[bytes], Awaitable[None]] | None = None,
) -> tuple[WrapOutcome, bytes]:
    """Make ``path`` hold the data key wrapped by ``wrapper``'s KMS key; return it too.

    The key is ``given`` (from the environment), else the plain or wrapped key already in
    ``path``, else (only when ``may_create``: no database yet) a new one from KMS.
    ``confirm`` (that the database opens with it) runs before the file is replaced.
    """

    def outcome(did: str) -> WrapOutcome:
        return WrapOutcome(did, path, wrapper.key_id, wrapper.region)

    text = path.read_text(encoding="ascii", errors="replace") if path.exists() else None
    existing = WrappedKey.from_text(text) if text is not None else None
    if given is None and existing is not None:
        key = await _unwrap(path, existing, wrapper)
        if (existing.key_id, existing.region) == (wrapper.key_id, wrapper.region):
            return outcome("unchanged"), key
        did = "rewrapped"
    elif given is None and text is not None:
        key, _ = keys.read_or_create_key_file(path, may_create=False)
        did = "wrapped"
    elif given is None:
        if not may_create:
            raise _missing(path)
        key = await load_data_key(path, wrapper, may_create=True)
        return outcome("created"), key
    else:
        key, did = given, "wrapped"
    if confirm is not None:
        await confirm(key)
    blob = await wrapper.encrypt(key, context=ENCRYPTION_CONTEXT)
    if await wrapper.decrypt(blob, context=ENCRYPTION_CONTEXT) != key:
        raise _not_back(path, wrapper, "did not give back the key it wrapped")
    _write(path, WrappedKey(wrapper.key_id, wrapper.region, blob), replace=text is not None)
    return outcome(did), key
