"""The settings the core and its cloud gateway read, as frozen data.

Owns: the shapes of ``[cloud]``, ``[rotation]``, ``[sweep]`` and ``[duties]`` and
``CoreSettings``, the part of the configuration every operation may read. ``config`` parses
the TOML into these; the core receives them and never reads a file or the environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from ecs_secret_bot.commands.approval.rules import ApprovalConfig
from ecs_secret_bot.commands.policy.engine import AccessConfig

__all__ = [
    "MAX_SWEEP_CONCURRENCY",
    "CloudSettings",
    "CoreSettings",
    "DutySettings",
    "RegionDefaults",
    "RotationSettings",
    "SweepSettings",
    "check_sweep_concurrency",
]

MAX_SWEEP_CONCURRENCY = 20


@dataclass(frozen=True)
class RegionDefaults:
    """What differs per region: where new secrets are kept (KMS 3.0 needs an instance and a
    key) and the endpoints that serve it."""

    dkms_instance_id: str | None = None
    encryption_key_id: str | None = None
    kms_endpoint: str | None = None
    """The KMS endpoint of this region, ``[http://|https://]host[:port]``."""
    ecs_endpoint: str | None = None


@dataclass(frozen=True)
class CloudSettings:
    """How to reach Alibaba Cloud and which regions the bot manages."""

    default_region: str = "cn-hangzhou"
    regions: tuple[str, ...] = ("cn-hangzhou",)
    account_id: str = "*"
    network: str = "public"
    """``public`` or ``vpc``: which of the documented endpoints of each region to use."""
    kms_endpoint: str | None = None
    """The KMS endpoint of every region without its own; ``{region}`` is the region id."""
    ecs_endpoint: str | None = None
    sts_endpoint: str | None = None
    """Where AssumeRole goes for ``role_arn`` bindings; None: the SDK's STS endpoint."""
    defaults: RegionDefaults = RegionDefaults()
    region_defaults: Mapping[str, RegionDefaults] = field(default_factory=dict)
    read_timeout: timedelta = timedelta(seconds=10)
    connect_timeout: timedelta = timedelta(seconds=5)
    max_attempts: int = 4

    def defaults_for(self, region: str) -> RegionDefaults:
        """Return the KMS instance and key for new secrets in ``region``."""
        override = self.region_defaults.get(region)
        if override is None:
            return self.defaults
        return RegionDefaults(
            dkms_instance_id=override.dkms_instance_id or self.defaults.dkms_instance_id,
            encryption_key_id=override.encryption_key_id or self.defaults.encryption_key_id,
            kms_endpoint=override.kms_endpoint,
            ecs_endpoint=override.ecs_endpoint,
        )

    def endpoint_override(self, service: str, region: str) -> str | None:
        """Return the configured ``kms``/``ecs`` endpoint of ``region``, or None for the default."""
        own = self.region_defaults.get(region, RegionDefaults())
        template = own.kms_endpoint or self.kms_endpoint
        if service == "ecs":
            template = own.ecs_endpoint or self.ecs_endpoint
        return template.replace("{region}", region) if template else None


@dataclass(frozen=True)
class RotationSettings:
    """How long a triggered rotation is watched before it is called timed out."""

    follow_up_timeout: timedelta = timedelta(minutes=10)


def check_sweep_concurrency(value: object) -> int:
    """Return ``value`` if it is a sweep concurrency (1..20); raise ValueError saying why."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be a whole number from 1 to {MAX_SWEEP_CONCURRENCY}")
    if not 1 <= value <= MAX_SWEEP_CONCURRENCY:
        raise ValueError(
            f"must be from 1 to {MAX_SWEEP_CONCURRENCY} (secrets a sweep rotates at once), "
            f"not {value}"
        )
    return value


@dataclass(frozen=True)
class SweepSettings:
    """How many secrets a sweep rotates at once (each followed to its end)."""

    concurrency: int = 5


@dataclass(frozen=True)
class DutySettings:
    """How often the background duties run, and how long a replica's lease on them (and its
    heartbeat on each rotation it follows) outlives its last renewal."""

    interval: timedelta = timedelta(seconds=30)
    lease_ttl: timedelta = timedelta(seconds=90)
    """A dead replica's duties and follow-ups are taken over within this time."""


class CoreSettings(Protocol):
    """What the core reads of the configuration (``config.Settings`` is one)."""

    @property
    def cloud(self) -> CloudSettings: ...

    @property
    def rotation(self) -> RotationSettings: ...

    @property
    def sweep(self) -> SweepSettings: ...

    @property
    def policies(self) -> AccessConfig: ...

    @property
    def approval_rules(self) -> ApprovalConfig: ...

    @property
    def reminders_before(self) -> tuple[timedelta, ...]: ...

    @property
    def duties(self) -> DutySettings: ...
