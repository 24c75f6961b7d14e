"""Credentials KMS generates when it rotates a dynamic ECS secret.

A 32-character random password (upper and lower case letters, digits and special
characters, never starting with ``/`` so Windows accepts it) or an RSA-2048 key pair
(PEM private key, OpenSSH ``ssh-rsa`` public key). Values are returned, never logged.
"""

from __future__ import annotations

import json
import secrets
import string

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = [
    "PASSWORD_LENGTH",
    "generate_key_pair",
    "generate_password",
    "generate_value",
    "user_name_of",
]

PASSWORD_LENGTH = 32
_SPECIAL = "!@#$%^&*-_+=.,:?"
_ALPHABET = string.ascii_letters + string.digits + _SPECIAL


def generate_password(length: int = PASSWORD_LENGTH) -> str:
    """Return a random password with all four character classes, starting with a letter."""
    while True:
        rest = "".join(secrets.choice(_ALPHABET) for _ in range(length - 1))
        password = secrets.choice(string.ascii_letters) + rest
        if (
            any(c.islower() for c in password)
            and any(c.isupper() for c in password)
            and any(c.isdigit() for c in password)
            and any(c in _SPECIAL for c in password)
        ):
            return password


def generate_key_pair() -> tuple[str, str]:
    """Return ``(public_key, private_key)``: OpenSSH ``ssh-rsa`` line and PEM text."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.TraditionalOpenSSL,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        encoding=serialization.Encoding.OpenSSH,
        format=serialization.PublicFormat.OpenSSH,
    )
    return public.decode(), private


def generate_value(sub_type: str, user_name: str) -> str:
    """Return a new ECS SecretData JSON: a 32-char password or an RSA-2048 key pair."""
    if sub_type == "SSHKey":
        public, private = generate_key_pair()
        return json.dumps({"UserName": user_name, "PublicKey": public, "PrivateKey": private})
    return json.dumps({"UserName": user_name, "Password": generate_password()})


def user_name_of(data: str) -> str:
    """Return the UserName of ECS SecretData JSON (root if unreadable)."""
    try:
        parsed = json.loads(data)
    except ValueError:
        return "root"
    return str(parsed.get("UserName", "root")) if isinstance(parsed, dict) else "root"
