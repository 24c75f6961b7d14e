"""The data key that encrypts sensitive payloads: its text format, its file, its check value.

Owns parsing ``ECS_SECRET_BOT_DATA_KEY``-style text, creating and reading the plain key file
(mode 0600, next to the database by default; the KMS-wrapped form is ``wrapped_key``'s), the
key-check value that tells a wrong key from a right one before any payload is touched, and
the audit chain's MAC key derived from the data key (``audit_key``). Never reads the
environment (the entry point does and passes the text to ``parse_data_key``), never puts key
bytes in a message and never says what to do (a ``StorageFault`` names the problem; the
layers above word it).

Format: 32 random bytes, written either as 64 hexadecimal digits or as base64 (standard or
URL-safe alphabet, padding optional). ``generate_data_key`` returns the base64 form, which
is also what a created key file holds (one line).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ecs_secret_bot.errors import StorageFault, StorageProblem

__all__ = [
    "KEY_BYTES",
    "WRAPPED_FORMAT",
    "audit_key",
    "check_value",
    "generate_data_key",
    "key_matches",
    "parse_data_key",
    "read_or_create_key_file",
    "require_private_file",
]

KEY_BYTES = 32
WRAPPED_FORMAT = "ecs-secret-bot/kms-wrapped-data-key/1"
"""The ``format`` of a key file that holds the data key wrapped by KMS (``wrapped_key``)."""
_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
_B64 = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")
_AUDIT_KEY_INFO = b"ecs-secret-bot audit chain v1"
_CHECK_PLAINTEXT = b"ecs-secret-bot data key check v1"
_CHECK_AAD = b"ecs-secret-bot/key-check"
_NONCE_BYTES = 12


def generate_data_key() -> str:
    """Return a fresh random data key as base64 text."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def parse_data_key(text: str, *, source: str = "ECS_SECRET_BOT_DATA_KEY") -> bytes:
    """Decode a data key written as 64 hex digits or base64 of 32 bytes; raise StorageFault."""
    malformed = StorageProblem.KEY_MALFORMED
    cleaned = text.strip()
    if not cleaned:
        raise StorageFault(f"{source} is empty.", problem=malformed, path=source)
    if _HEX.match(cleaned):
        return bytes.fromhex(cleaned)
    if _B64.match(cleaned):
        core = cleaned.rstrip("=").replace("-", "+").replace("_", "/")
        try:
            key = base64.b64decode(core + "=" * (-len(core) % 4), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) == KEY_BYTES:
            return key
        if key:
            raise StorageFault(
                f"{source} decodes to {len(key)} bytes; a data key must be {KEY_BYTES}.",
                problem=malformed,
                path=source,
            )
    # Never echo the text: it may be a real key with one character wrong.
    raise StorageFault(
        f"{source} is not a data key (neither 64 hex digits nor base64 of 32 bytes).",
        problem=malformed,
        path=source,
    )


def read_or_create_key_file(path: Path, *, may_create: bool) -> tuple[bytes, bool]:
    """Read the key file at ``path``, or create it (0600) when allowed; return (key, created)."""
    if not path.exists():
        if not may_create:
            raise StorageFault(
                f"The data key file {path} is missing, and the database was encrypted with it.",
                problem=StorageProblem.KEY_FILE_MISSING,
                path=str(path),
            )
        created = _create_key_file(path)
        if created is not None:
            return created, True
    return _read_key_file(path), False


def require_private_file(path: Path, *, what: str) -> None:
    """Refuse ``path`` unless it is a regular file only its owner can read (``what`` names it)."""
    try:
        info = path.stat()
    except OSError as exc:
        raise StorageFault(
            f"The {what} {path} cannot be read: {exc.strerror}.",
            problem=StorageProblem.KEY_FILE_UNREADABLE,
            path=str(path),
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise StorageFault(
            f"The {what} {path} is not a regular file.",
            problem=StorageProblem.KEY_FILE_NOT_A_FILE,
            path=str(path),
        )
    if info.st_mode & 0o077:
        raise StorageFault(
            f"The {what} {path} can be read by other users "
            f"(mode {stat.S_IMODE(info.st_mode):04o}).",
            problem=StorageProblem.KEY_FILE_EXPOSED,
            path=str(path),
        )


def _read_key_file(path: Path) -> bytes:
    require_private_file(path, what="data key file")
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        problem = exc.strerror if isinstance(exc, OSError) else "it is not ASCII text"
        raise StorageFault(
            f"The data key file {path} cannot be read: {problem}.",
            problem=StorageProblem.KEY_FILE_UNREADABLE,
            path=str(path),
        ) from None
    if WRAPPED_FORMAT in text:
        raise StorageFault(
            f"The data key file {path} holds a data key wrapped by KMS, and no KMS key is "
            "given to unwrap it ([storage] key_kms_key_id).",
            problem=StorageProblem.KEY_FILE_UNREADABLE,
            path=str(path),
        )
    return parse_data_key(text, source=f"The data key file {path}")


def _create_key_file(path: Path) -> bytes | None:
    """Publish a new key file atomically; None if another process published one first."""
    text = generate_data_key()
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)  # the umask may only narrow the mode; make it exact
            os.write(fd, (text + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        # link() never replaces: two processes starting at once agree on one key.
        os.link(temporary, path)
    except FileExistsError:
        return None
    except OSError as exc:
        raise StorageFault(
            f"The data key file {path} cannot be created: {exc.strerror}.",
            problem=StorageProblem.KEY_FILE_UNWRITABLE,
            path=str(path),
        ) from None
    finally:
        temporary.unlink(missing_ok=True)
    return base64.b64decode(text)


def check_value(key: bytes) -> bytes:
    """Return a value that only ``key`` decrypts, to store beside the data it protects."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, _CHECK_PLAINTEXT, _CHECK_AAD)


def key_matches(key: bytes, check: bytes) -> bool:
    """Tell whether ``key`` is the key that produced ``check``."""
    try:
        plain = AESGCM(key).decrypt(check[:_NONCE_BYTES], check[_NONCE_BYTES:], _CHECK_AAD)
    except (InvalidTag, ValueError):
        return False
    return plain == _CHECK_PLAINTEXT


def audit_key(data_key: bytes) -> bytes:
    """Return the audit chain's MAC key, derived from the data key (HKDF-SHA256).

    Derived rather than kept in a file of its own: one secret to protect and back up, never
    stored in the database, and wrapped by KMS whenever the data key is. Its own ``info``
    keeps it independent of the encryption key it comes from.
    """
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_AUDIT_KEY_INFO)
    return hkdf.derive(data_key)
