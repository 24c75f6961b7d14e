"""The core's dependencies in one place, and the rules every operation shares about them.

``Core`` is built once at start-up by ``runtime``, for a front end (the Slack app, the
terminal), and passed to every operation: the settings, the cloud gateway, the database,
the approval workflow (which holds the policies and rules), a clock, and the instance
directory (ECS instances cached briefly for the instance picker). ``Core.claim_once``
lets a front end handle a delivery once (an event Slack sends twice). Nothing here reads
the environment.

Whose identity a cloud call runs as: the calls that carry out or display a person's
request go through ``cloud_for(actor)`` (or ``cloud(execution.identity)``), which is the
RAM role of the person's binding (``role_arn``, assumed through STS with a session named
after them) or else the bot's own identity; the bot's own work (following rotations,
reminders, reconciling deletions, the shared instance cache) uses ``gateway``, its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.approval.requests import ActorDirectory
from ecs_secret_bot.commands.approval.rules import ApprovalConfig
from ecs_secret_bot.commands.approval.workflow import ApprovalWorkflow
from ecs_secret_bot.commands.gateway import CloudGateway, CloudIdentity
from ecs_secret_bot.commands.instance_directory import InstanceDirectory
from ecs_secret_bot.commands.names import collection_arn, full_secret_name, secret_arn
from ecs_secret_bot.commands.policy.engine import AccessConfig
from ecs_secret_bot.commands.settings import CoreSettings
from ecs_secret_bot.errors import InvalidInput
from ecs_secret_bot.storage import idempotency
from ecs_secret_bot.storage.db import Database

__all__ = ["Core", "SecretRef", "build_core", "utcnow"]


def utcnow() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class SecretRef:
    """One secret as policies see it: region, full KMS name and ARN."""

    region: str
    name: str
    arn: str

    @property
    def short_name(self) -> str:
        """Return the name without ``acs/ecs/``."""
        return self.name.removeprefix("acs/ecs/")


@dataclass
class Core:
    """What every operation needs."""

    settings: CoreSettings
    gateway: CloudGateway
    db: Database
    workflow: ApprovalWorkflow
    clock: Callable[[], datetime] = utcnow
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    idempotency_ttl: timedelta = timedelta(hours=24)
    follow_up_first_delay: float = 1.0
    follow_up_max_delay: float = 15.0
    follow_up_growth: float = 1.25
    """Each look at a rotation waits this much longer than the last, up to the max delay:
    a rotation is seen within about a quarter of its time (a sweep's slot is held until then)."""
    instances: InstanceDirectory = field(default_factory=InstanceDirectory)
    """ECS instances per region, cached briefly for the instance picker."""

    def identity_of(self, actor: Actor) -> CloudIdentity | None:
        """Return the RAM role ``actor``'s calls run as (their binding's ``role_arn``), if any."""
        role = self.access.role_for(actor)
        return CloudIdentity(role_arn=role, principal=actor.principal) if role else None

    def cloud(self, identity: CloudIdentity | None = None) -> CloudGateway:
        """Return the gateway whose calls run as ``identity``; None: the bot's own identity."""
        return self.gateway if identity is None else self.gateway.as_identity(identity)

    def cloud_for(self, actor: Actor) -> CloudGateway:
        """Return the gateway for the calls made for ``actor``: as their role, if they have one."""
        return self.cloud(self.identity_of(actor))

    @property
    def access(self) -> AccessConfig:
        """Return the policies in force."""
        return self.workflow.access

    @property
    def rules(self) -> ApprovalConfig:
        """Return the approval rules in force."""
        return self.workflow.rules

    def region(self, region: str = "") -> str:
        """Return ``region`` if the bot manages it, the default region if empty."""
        cloud = self.settings.cloud
        if not region:
            return cloud.default_region
        if region not in cloud.regions:
            raise InvalidInput(
                f"Region {region!r} is not one the bot manages.",
                field="region",
                next_step=f"Use one of: {', '.join(cloud.regions)}.",
            )
        return region

    def secret(self, name: str, region: str = "", *, field: str = "name") -> SecretRef:
        """Validate a secret name typed with or without ``acs/ecs/`` and return its ref."""
        full = full_secret_name(name, field=field)
        where = self.region(region)
        return SecretRef(where, full, secret_arn(where, self.settings.cloud.account_id, full))

    def collection(self, region: str = "") -> str:
        """Return the ARN of the secret collection of a region."""
        return collection_arn(self.region(region), self.settings.cloud.account_id)

    def instances_arn(self, region: str = "") -> str:
        """Return the ARN the instance picker is authorized on."""
        return f"acs:ecs:{self.region(region)}:{self.settings.cloud.account_id}:instance/*"

    async def claim_once(self, key: str, *, ttl: timedelta) -> bool:
        """Claim ``key`` for ``ttl``: True the first time (go ahead), False while it is held."""
        return await idempotency.claim_key(self.db, key, now=self.clock(), ttl=ttl)


def build_core(
    settings: CoreSettings,
    *,
    gateway: CloudGateway,
    db: Database,
    directory: ActorDirectory,
    clock: Callable[[], datetime] = utcnow,
) -> Core:
    """Wire the core from the validated settings."""
    workflow = ApprovalWorkflow(
        db,
        access=settings.policies,
        rules=settings.approval_rules,
        directory=directory,
        clock=clock,
    )
    return Core(settings=settings, gateway=gateway, db=db, workflow=workflow, clock=clock)
