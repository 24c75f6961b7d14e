"""What the emulated KMS keeps of a secret: its versions and their stages, its rotation state.

Versions and stages. A secret's versions carry stage labels: ``ACSCurrent`` (exactly
one), ``ACSPrevious`` (the one before it) and, while a change is being pushed to the
instance, ``ACSPending`` on the new version. A version without a label is deprecated
(listed only with ``IncludeDeprecated``). Plain data: ``kms_state`` owns how it changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "ACS_CURRENT",
    "ACS_PENDING",
    "ACS_PREVIOUS",
    "RotationEvent",
    "RotationFailure",
    "Secret",
    "Version",
]

ACS_CURRENT = "ACSCurrent"
ACS_PREVIOUS = "ACSPrevious"
ACS_PENDING = "ACSPending"


@dataclass
class Version:
    """One version of a secret value."""

    version_id: str
    data: str
    data_type: str
    created: datetime
    stages: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RotationFailure:
    """Why a change could not be applied on the instance (CloudMonitor ``failureInfo``)."""

    code: str
    message: str
    time: datetime


@dataclass(frozen=True)
class RotationEvent:
    """A CloudMonitor-like ``Secret:RotateSecret:Success`` / ``:Failure`` event."""

    region: str
    secret_name: str
    version_id: str
    success: bool
    time: datetime
    failure: RotationFailure | None = None

    @property
    def name(self) -> str:
        """Return the CloudMonitor event name."""
        return "Secret:RotateSecret:" + ("Success" if self.success else "Failure")


@dataclass
class Secret:
    """A secret with its versions and rotation and deletion state."""

    name: str
    region: str
    secret_type: str
    created: datetime
    updated: datetime
    description: str = ""
    versions: dict[str, Version] = field(default_factory=dict)
    extended_config: dict[str, Any] | None = None
    encryption_key_id: str | None = None
    dkms_instance_id: str | None = None
    tags: list[tuple[str, str]] = field(default_factory=list)
    creator: str = ""
    auto_rotation: bool = False
    interval: int | None = None
    last_rotation: datetime | None = None
    next_rotation: datetime | None = None
    failure: RotationFailure | None = None
    planned_delete: datetime | None = None
    pending_version: str | None = None
    rotation_times: list[datetime] = field(default_factory=list)

    @property
    def is_ecs(self) -> bool:
        """Return whether this is a dynamic ECS secret."""
        return self.secret_type == "ECS"

    @property
    def sub_type(self) -> str:
        """Return the ECS SecretSubType (Password or SSHKey)."""
        return str((self.extended_config or {}).get("SecretSubType", ""))

    @property
    def instance_id(self) -> str:
        """Return the ECS instance of the secret."""
        return str((self.extended_config or {}).get("InstanceId", ""))

    def with_stage(self, stage: str) -> Version | None:
        """Return the version carrying ``stage``, or None."""
        return next((v for v in self.versions.values() if stage in v.stages), None)

    def current(self) -> Version:
        """Return the ACSCurrent version."""
        version = self.with_stage(ACS_CURRENT)
        assert version is not None, "a secret always has an ACSCurrent version"
        return version

    def automatic_rotation(self) -> str:
        """Return ``Enabled``, ``Disabled`` or ``Invalid`` (a failed change)."""
        if self.failure is not None:
            return "Invalid"
        return "Enabled" if self.auto_rotation else "Disabled"
