"""Secret values: the password or SSH key pair of an ECS user, checked and kept out of sight.

Values are wrapped so that ``repr``/``str`` never show them (a value that slips into a log
line or an exception shows ``<redacted>``). Validation errors name the field and the rule,
never the value. The only ways out are ``secret_data_json`` (the KMS ``SecretData``), and
``to_payload``/``from_payload`` (bytes that storage keeps encrypted while an approval waits).
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ecs_secret_bot.errors import InvalidInput

__all__ = [
    "ECS_PASSWORD_SPECIALS",
    "PasswordValue",
    "SecretValue",
    "SshKeyValue",
    "MAX_PASSWORD_LENGTH",
    "check_custom_password",
    "check_user_name",
    "from_payload",
    "secret_data_json",
    "ssh_key_value",
    "to_payload",
]

ECS_PASSWORD_SPECIALS = "()`~!@#$%^&*-_+=|{}[]:;'<>,.?/"
_ALLOWED_PASSWORD_CHARS = frozenset(string.ascii_letters + string.digits + ECS_PASSWORD_SPECIALS)
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 32
"""KMS itself generates 32-character passwords; the ECS API's 30 governs ECS API fields only."""
_MIN_RSA_BITS = 2048
_MAX_VALUE_BYTES = 30_720  # the KMS limit on SecretData


@dataclass(frozen=True, repr=False)
class PasswordValue:
    """The password of one OS user."""

    user_name: str
    password: str

    def __repr__(self) -> str:
        return f"PasswordValue(user_name={self.user_name!r}, password=<redacted>)"

    __str__ = __repr__

    @property
    def sub_type(self) -> Literal["Password"]:
        """Return the KMS SecretSubType."""
        return "Password"


@dataclass(frozen=True, repr=False)
class SshKeyValue:
    """The SSH key pair of one OS user (OpenSSH public key, PEM private key)."""

    user_name: str
    public_key: str
    private_key: str

    def __repr__(self) -> str:
        return f"SshKeyValue(user_name={self.user_name!r}, private_key=<redacted>)"

    __str__ = __repr__

    @property
    def sub_type(self) -> Literal["SSHKey"]:
        """Return the KMS SecretSubType."""
        return "SSHKey"


SecretValue = PasswordValue | SshKeyValue


def check_user_name(user_name: str, *, field: str = "user_name") -> str:
    """Return a stripped OS user name, or raise InvalidInput."""
    name = user_name.strip() if isinstance(user_name, str) else ""
    if not name:
        raise InvalidInput(
            "The user name is empty.", field=field, next_step="Write the OS user, e.g. root."
        )
    if len(name) > 64 or any(ch.isspace() or ch in "\"'\\:/" for ch in name):
        raise InvalidInput(
            f"{name[:64]!r} is not an OS user name.",
            field=field,
            next_step="Use the login name as the OS knows it (root, ecs-user, Administrator).",
        )
    return name


def check_custom_password(password: str, *, os_type: str, field: str = "password") -> None:
    """Raise InvalidInput unless ``password`` can be the value of a KMS ECS password secret.

    The character rules are ECS's (three of four classes, its special characters, no
    leading ``/`` on Windows); the length is 8 to 32, as long as the passwords KMS itself
    generates (the ECS API's cap of 30 applies to ECS API fields, not to KMS values).
    """
    low, high = MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH
    if not low <= len(password) <= high:
        raise InvalidInput(
            f"The password is {len(password)} characters long; KMS takes {low} to {high}.",
            field=field,
            next_step=f"Choose a password of {low} to {high} characters.",
        )
    bad = sorted(set(password) - _ALLOWED_PASSWORD_CHARS)
    if bad:
        kinds = "spaces" if bad == [" "] else f"{len(bad)} character(s) ECS does not allow"
        raise InvalidInput(
            f"The password contains {kinds}.",
            field=field,
            next_step=f"Use letters, digits and these special characters: {ECS_PASSWORD_SPECIALS}",
        )
    classes = sum(
        (
            any(ch.isupper() for ch in password),
            any(ch.islower() for ch in password),
            any(ch.isdigit() for ch in password),
            any(ch in ECS_PASSWORD_SPECIALS for ch in password),
        )
    )
    if classes < 3:
        raise InvalidInput(
            f"The password uses {classes} of the 4 character classes; ECS needs at least 3.",
            field=field,
            next_step="Mix three of: upper case, lower case, digits, special characters.",
        )
    if os_type.lower() == "windows" and password.startswith("/"):
        raise InvalidInput(
            "A Windows password must not start with '/'.",
            field=field,
            next_step="Move the '/' elsewhere in the password.",
        )


def ssh_key_value(
    user_name: str,
    private_key_pem: str,
    *,
    public_key: str | None = None,
    field: str = "private_key",
    public_key_field: str = "public_key",
) -> SshKeyValue:
    """Check a PEM RSA private key (>= 2048 bits) and pair it with its derived public key."""
    text = private_key_pem.strip() if isinstance(private_key_pem, str) else ""
    if not text.startswith("-----BEGIN"):
        raise InvalidInput(
            "The private key is not in PEM format.",
            field=field,
            next_step="Paste the whole key, from -----BEGIN ... to -----END ... .",
        )
    try:
        key = serialization.load_pem_private_key(text.encode("utf-8"), password=None)
    except TypeError:
        raise InvalidInput(
            "The private key is protected by a passphrase.",
            field=field,
            next_step="Give the key without a passphrase (KMS stores it encrypted).",
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidInput(
            "The private key cannot be read as a PEM private key.",
            field=field,
            next_step="Paste the whole key, from -----BEGIN ... to -----END ... .",
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidInput(
            "The private key is not an RSA key; dynamic ECS secrets hold RSA key pairs.",
            field=field,
            next_step="Generate one with: ssh-keygen -t rsa -b 4096 -m PEM",
        )
    if key.key_size < _MIN_RSA_BITS:
        raise InvalidInput(
            f"The RSA key has {key.key_size} bits; at least {_MIN_RSA_BITS} are needed.",
            field=field,
            next_step="Generate one with: ssh-keygen -t rsa -b 4096 -m PEM",
        )
    derived = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode("ascii")
    )
    if public_key is not None and public_key.strip():
        given = public_key.strip().split()
        if len(given) < 2 or given[:2] != derived.split()[:2]:
            raise InvalidInput(
                "The public key does not belong to the private key.",
                field=public_key_field,
                next_step="Leave the public key empty to derive it, or paste the matching one.",
            )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode("ascii")
    return SshKeyValue(user_name=check_user_name(user_name), public_key=derived, private_key=pem)


def secret_data_json(value: SecretValue) -> str:
    """Return the KMS SecretData of an ECS secret for this value."""
    if isinstance(value, PasswordValue):
        data = {"UserName": value.user_name, "Password": value.password}
    else:
        data = {
            "UserName": value.user_name,
            "PublicKey": value.public_key,
            "PrivateKey": value.private_key,
        }
    text = json.dumps(data, separators=(",", ":"))
    if len(text.encode("utf-8")) > _MAX_VALUE_BYTES:
        raise InvalidInput("The value is larger than the 30,720 bytes KMS accepts.", field="value")
    return text


def to_payload(value: SecretValue) -> bytes:
    """Serialise a value for encrypted storage while an approval waits."""
    if isinstance(value, PasswordValue):
        data = {"kind": "Password", "user": value.user_name, "password": value.password}
    else:
        data = {
            "kind": "SSHKey",
            "user": value.user_name,
            "public": value.public_key,
            "private": value.private_key,
        }
    return json.dumps(data).encode("utf-8")


def from_payload(payload: bytes) -> SecretValue:
    """Rebuild a value from ``to_payload`` bytes."""
    data = json.loads(payload.decode("utf-8"))
    if data["kind"] == "Password":
        return PasswordValue(user_name=data["user"], password=data["password"])
    return SshKeyValue(
        user_name=data["user"], public_key=data["public"], private_key=data["private"]
    )
