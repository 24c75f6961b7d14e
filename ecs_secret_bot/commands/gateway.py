"""The cloud gateway's surface: the typed results and the ``CloudGateway`` protocol.

What the operations see of KMS and ECS: frozen dataclasses (no SDK model leaks upward)
and the narrow protocol of the calls we make. ``cloud.gateway`` implements it over the real
SDK clients; nothing here does I/O. ``CloudIdentity`` names the RAM role a person's calls
run as (``CloudGateway.as_identity``), with the STS role session name that names them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from ecs_secret_bot.commands.values import SecretValue

__all__ = [
    "CloudAssistantState",
    "CloudGateway",
    "CloudIdentity",
    "CreateSecretCall",
    "CreatedSecret",
    "DeletedSecret",
    "EcsSecretConfig",
    "Instance",
    "InstancePage",
    "Receipt",
    "SecretDetail",
    "SecretPage",
    "SecretSummary",
    "SecretVersion",
    "role_session_name",
]


# --- typed results ---------------------------------------------------------------------


@dataclass(frozen=True)
class EcsSecretConfig:
    """The ExtendedConfig of a dynamic ECS secret."""

    sub_type: str
    region_id: str
    instance_id: str
    custom_data: Mapping[str, Any] = field(default_factory=dict)
    user_name: str = ""
    """The OS user, as ``CustomData.UserName`` records it; empty when its creator left it out.

    KMS names the user only inside the value (``SecretData``), which the bot never reads:
    it writes the user into CustomData at create so that DescribeSecret can tell it.
    """


@dataclass(frozen=True)
class SecretSummary:
    """One row of ListSecrets (metadata only)."""

    region: str
    name: str
    secret_type: str
    create_time: datetime | None
    update_time: datetime | None
    planned_delete_time: datetime | None
    tags: Mapping[str, str]


@dataclass(frozen=True)
class SecretPage:
    """One page of ListSecrets."""

    region: str
    secrets: tuple[SecretSummary, ...]
    page_number: int
    page_size: int
    total_count: int
    request_id: str


@dataclass(frozen=True)
class SecretDetail:
    """DescribeSecret of one secret."""

    region: str
    name: str
    arn: str
    secret_type: str
    description: str
    create_time: datetime | None
    update_time: datetime | None
    ecs: EcsSecretConfig | None
    automatic_rotation: str
    rotation_interval: timedelta | None
    last_rotation: datetime | None
    next_rotation: datetime | None
    planned_delete_time: datetime | None
    dkms_instance_id: str
    encryption_key_id: str
    tags: Mapping[str, str]
    request_id: str

    @property
    def pending_deletion(self) -> bool:
        """Say whether the secret is scheduled for deletion."""
        return self.planned_delete_time is not None


@dataclass(frozen=True)
class SecretVersion:
    """One version of a secret and its stages."""

    version_id: str
    stages: tuple[str, ...]
    create_time: datetime | None


@dataclass(frozen=True)
class CreateSecretCall:
    """Everything CreateSecret needs for a dynamic ECS secret."""

    region: str
    name: str
    version_id: str
    value: SecretValue
    instance_id: str
    automatic_rotation: bool = False
    rotation_interval: timedelta | None = None
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    dkms_instance_id: str | None = None
    encryption_key_id: str | None = None


@dataclass(frozen=True)
class CreatedSecret:
    """What CreateSecret answered."""

    region: str
    name: str
    arn: str
    version_id: str
    automatic_rotation: str
    next_rotation: datetime | None
    request_id: str


@dataclass(frozen=True)
class DeletedSecret:
    """What DeleteSecret answered (no planned time for an immediate deletion)."""

    region: str
    name: str
    planned_delete_time: datetime | None
    request_id: str


@dataclass(frozen=True)
class Receipt:
    """A call that answers only with its RequestId."""

    region: str
    name: str
    request_id: str


@dataclass(frozen=True)
class Instance:
    """One ECS instance."""

    region: str
    instance_id: str
    name: str
    status: str
    os_type: str
    os_name: str
    zone_id: str
    private_ips: tuple[str, ...]
    public_ips: tuple[str, ...]
    tags: Mapping[str, str] = field(default_factory=dict)
    """The instance's ECS tags (``env`` -> ``prod``)."""


@dataclass(frozen=True)
class InstancePage:
    """One page of DescribeInstances."""

    region: str
    instances: tuple[Instance, ...]
    next_token: str | None
    request_id: str


@dataclass(frozen=True)
class CloudAssistantState:
    """Whether the Cloud Assistant agent of an instance is online."""

    instance_id: str
    online: bool


# --- whose identity a call runs as -----------------------------------------------------------

_SESSION_NAME_MAX = 64
_SESSION_NAME_BAD = re.compile(r"[^A-Za-z0-9.@_-]")


def role_session_name(principal: str) -> str:
    """Return the STS role session name naming ``principal`` (``slack-U0ADMIN``).

    STS takes 2 to 64 letters, digits and ``. @ - _``: the front end and the id part of
    the principal, any other character replaced by ``_``, cut to 64.
    """
    kind, _, name = principal.partition(":")
    last = principal.rsplit(":", 1)[-1]
    text = f"{kind}-{last}" if name else principal
    return _SESSION_NAME_BAD.sub("_", text)[:_SESSION_NAME_MAX].ljust(2, "_")


@dataclass(frozen=True)
class CloudIdentity:
    """A RAM role the bot assumes (STS AssumeRole) for one person's calls."""

    role_arn: str
    """``acs:ram::<account>:role/<name>``."""
    principal: str
    """The person, e.g. ``slack:user:U0ADMIN``."""

    @property
    def session_name(self) -> str:
        """Return the role session name ActionTrail shows for these calls."""
        return role_session_name(self.principal)

    @property
    def role_name(self) -> str:
        """Return the role's name, the last part of its ARN."""
        return self.role_arn.rpartition("/")[2]


# --- the protocol --------------------------------------------------------------------------


class CloudGateway(Protocol):
    """The KMS and ECS calls the operations make, and nothing else.

    Example of a test double for a front end that needs no cloud::

        class NoCloud:
            async def describe_secret(self, region: str, name: str) -> SecretDetail:
                raise NotFound(f"{name} does not exist")
            ...
    """

    def as_identity(self, identity: CloudIdentity) -> CloudGateway:
        """Return this gateway making its calls as ``identity`` (a role assumed for a person)."""
        ...

    async def create_secret(self, call: CreateSecretCall) -> CreatedSecret:
        """Create a dynamic ECS secret."""
        ...

    async def describe_secret(self, region: str, name: str) -> SecretDetail:
        """Describe one secret."""
        ...

    async def list_secrets(
        self, region: str, *, page: int = 1, page_size: int = 100, name_contains: str = ""
    ) -> SecretPage:
        """List one page of the ECS secrets of a region."""
        ...

    async def list_secret_versions(
        self, region: str, name: str, *, include_deprecated: bool = False
    ) -> tuple[SecretVersion, ...]:
        """List the versions of a secret that carry a stage (and, if asked, those without)."""
        ...

    async def rotate_secret(self, region: str, name: str, *, version_id: str) -> Receipt:
        """Start a rotation with a KMS-generated value."""
        ...

    async def put_secret_value(
        self, region: str, name: str, *, version_id: str, value: SecretValue
    ) -> Receipt:
        """Store a custom value as the new current version."""
        ...

    async def delete_secret(
        self,
        region: str,
        name: str,
        *,
        recovery_window_days: int | None = None,
        force: bool = False,
    ) -> DeletedSecret:
        """Schedule a deletion (7-30 days) or delete at once."""
        ...

    async def restore_secret(self, region: str, name: str) -> Receipt:
        """Cancel a scheduled deletion."""
        ...

    async def update_rotation_policy(
        self, region: str, name: str, *, enabled: bool, interval: timedelta | None = None
    ) -> Receipt:
        """Turn automatic rotation on (with an interval) or off."""
        ...

    async def describe_instances(
        self,
        region: str,
        *,
        instance_ids: Sequence[str] = (),
        name: str | None = None,
        status: str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
        tags: Sequence[tuple[str, str]] = (),
    ) -> InstancePage:
        """List one page of ECS instances (those carrying every tag of ``tags``, if given)."""
        ...

    async def cloud_assistant_status(
        self, region: str, instance_ids: Sequence[str]
    ) -> tuple[CloudAssistantState, ...]:
        """Say, for each instance, whether its Cloud Assistant is online."""
        ...
