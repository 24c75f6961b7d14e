"""What a front end asks the core to do: one frozen request type per operation.

Fields hold what the person typed or picked, not yet validated (the operations validate
and answer with ``InvalidInput`` naming the field). Field names double as the ``field`` of
those errors, so a modal can map them to its blocks. A custom value is carried as a
field left out of the dataclass ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "CreateRequest",
    "DeleteRequest",
    "ListRequest",
    "RestoreRequest",
    "RotateRequest",
    "RotationPolicyRequest",
]


@dataclass(frozen=True)
class CreateRequest:
    """Host an existing credential of one OS user on one instance as a dynamic ECS secret."""

    name: str
    instance_id: str
    user_name: str = "root"
    kind: Literal["Password", "SSHKey"] = "Password"
    password: str = field(default="", repr=False)
    """The user's current password (kind Password)."""
    private_key: str = field(default="", repr=False)
    """The user's current PEM private key (kind SSHKey); the public key is derived."""
    public_key: str = ""
    """Optional: must match the private key when given."""
    automatic_rotation: bool = False
    rotation_interval: str = ""
    """``6h`` to ``365d``; empty means 7 days when rotation is on."""
    description: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    region: str = ""
    """Empty means the configured default region."""
    dkms_instance_id: str = ""
    encryption_key_id: str = ""
    request_id: str = ""
    """Idempotency key: the same id runs once, a repeat gets the first answer."""
    reason: str = ""
    dry_run: bool = False


@dataclass(frozen=True)
class RotateRequest:
    """Rotate now: a KMS-generated value, or the custom value when one is given.

    A custom value is a password (password secrets) or a PEM private key with an optional
    matching public key (SSH key secrets); the user stays the secret's own. KMS records that
    user only where the secret's creator wrote it into CustomData (the bot does), so a
    custom value for a secret created elsewhere needs ``user_name`` from the person.
    """

    name: str
    custom_password: str = field(default="", repr=False)
    custom_private_key: str = field(default="", repr=False)
    custom_public_key: str = ""
    user_name: str = ""
    """The OS user of a custom value; empty means the one KMS records (CustomData)."""
    region: str = ""
    reason: str = ""
    request_id: str = ""
    dry_run: bool = False

    @property
    def custom(self) -> bool:
        """Say whether a custom value was given."""
        return bool(self.custom_password or self.custom_private_key)


@dataclass(frozen=True)
class RotationPolicyRequest:
    """Turn automatic rotation on (keeping or changing the interval) or off."""

    name: str
    enabled: bool
    interval: str = ""
    """Empty with ``enabled``: keep the current interval, or 7 days if there is none."""
    region: str = ""
    reason: str = ""
    request_id: str = ""
    dry_run: bool = False


@dataclass(frozen=True)
class DeleteRequest:
    """Schedule a deletion in ``days`` (7-30, default 30) or delete ``immediately``."""

    name: str
    days: int | None = None
    immediately: bool = False
    region: str = ""
    reason: str = ""
    request_id: str = ""
    dry_run: bool = False


@dataclass(frozen=True)
class RestoreRequest:
    """Cancel the scheduled deletion of a secret."""

    name: str
    region: str = ""
    reason: str = ""
    request_id: str = ""
    dry_run: bool = False


@dataclass(frozen=True)
class ListRequest:
    """List the ECS secrets of the configured regions (or one), optionally filtered by name."""

    name_filter: str = ""
    region: str = ""
    """Empty means every configured region."""
