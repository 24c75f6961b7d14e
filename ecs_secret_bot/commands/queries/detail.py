"""``show`` and the rotate modal's summary: one dynamic ECS secret, described in full.

Owns ``show_secret`` (authorized as ``kms:DescribeSecret``), ``prepare_rotation`` (the
summary the rotate modal shows, authorized as the rotation itself: ``kms:RotateSecret``, or
``kms:PutSecretValue`` with ``kms:CustomSecretValue`` true, allowed or requestable) and
``SecretView``. The reads made to display the secret (DescribeSecret, DescribeInstances of
its instance) are covered by the operation the actor was authorized for, as design.md says;
they run concurrently, and a failed side lookup becomes a note, not an error.

Never shows, keeps or decrypts a secret value: the user name is the one DescribeSecret's
``ExtendedConfig.CustomData`` records (the bot writes it there at create); a secret created
elsewhere may not record it, and then the view says the user is unknown.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.approval.rules import RouteKind
from ecs_secret_bot.commands.core import Core, SecretRef
from ecs_secret_bot.commands.gateway import CloudGateway, InstancePage
from ecs_secret_bot.commands.operations.rotate import describe_ecs_secret
from ecs_secret_bot.commands.queries.access import (
    DESCRIBE,
    PUT_VALUE,
    ROTATE,
    Access,
    access_for,
    authorize,
)
from ecs_secret_bot.errors import AccessDenied, CloudError, Conflict, NextStep, Subcommand
from ecs_secret_bot.storage.pending import PendingDeletion, get_active_pending
from ecs_secret_bot.storage.rotations import RotationRow, get_active_rotation

__all__ = [
    "ActiveRotation",
    "PendingInfo",
    "SecretView",
    "prepare_rotation",
    "show_secret",
]

_SUB_TYPES = ("Password", "SSHKey")


@dataclass(frozen=True)
class ActiveRotation:
    """A rotation the bot triggered that has not finished yet."""

    id: int
    status: str
    """``starting`` or ``in_progress``."""
    version_id: str
    custom: bool
    requested_by: str
    approved_by: tuple[str, ...]
    started_at: datetime
    deadline: datetime
    channel_id: str


@dataclass(frozen=True)
class PendingInfo:
    """The bot's record of the secret's scheduled deletion."""

    id: int
    status: str
    """``pending``, or ``unknown`` when the bot could not learn how its call ended."""
    planned_delete_time: datetime
    scheduled_by: str
    channel_id: str
    note: str


@dataclass(frozen=True)
class SecretView:
    """Everything about one dynamic ECS secret but its value."""

    region: str
    name: str
    short_name: str
    arn: str
    description: str
    instance_id: str
    instance_name: str
    instance_status: str
    """``Running``, ``Stopped``...; empty when ECS could not be asked."""
    instance_os: str
    """``linux`` or ``windows``; empty when unknown."""
    user_name: str
    """From ``CustomData.UserName``; empty when KMS does not record it (created elsewhere)."""
    sub_type: str
    """``Password`` or ``SSHKey``."""
    automatic_rotation: str
    """``Enabled``, ``Disabled`` or ``Invalid`` (the last rotation failed)."""
    rotation_interval: timedelta | None
    last_rotation: datetime | None
    next_rotation: datetime | None
    planned_deletion: datetime | None
    created: datetime | None
    updated: datetime | None
    tags: tuple[tuple[str, str], ...]
    active_rotation: ActiveRotation | None = None
    pending: PendingInfo | None = None
    notes: tuple[str, ...] = ()
    """What could not be looked up, in words (the view is shown anyway)."""
    rotate_generated: Access | None = None
    """For the rotate modal: may the actor rotate with a generated value (or ask to)?"""
    rotate_custom: Access | None = None
    """For the rotate modal: may the actor rotate with a custom value (or ask to)?"""
    instance_public_ips: tuple[str, ...] = ()
    """The instance's public IPs, its elastic IP included; empty when it has none."""

    @property
    def pending_deletion(self) -> bool:
        """Say whether KMS has the secret scheduled for deletion."""
        return self.planned_deletion is not None


def _active_rotation(row: RotationRow | None) -> ActiveRotation | None:
    if row is None:
        return None
    return ActiveRotation(
        id=row.id,
        status=row.status,
        version_id=row.version_id,
        custom=row.custom,
        requested_by=row.requested_by,
        approved_by=row.approved_by,
        started_at=row.started_at,
        deadline=row.deadline,
        channel_id=row.channel_id,
    )


def _pending(row: PendingDeletion | None) -> PendingInfo | None:
    if row is None:
        return None
    return PendingInfo(
        id=row.id,
        status=row.status,
        planned_delete_time=row.planned_delete_time,
        scheduled_by=row.scheduled_by,
        channel_id=row.channel_id,
        note=row.note,
    )


async def _instances(
    cloud: CloudGateway, region: str, instance_id: str
) -> InstancePage | CloudError:
    try:
        return await cloud.describe_instances(region, instance_ids=[instance_id], max_results=10)
    except CloudError as exc:
        return exc


async def _describe(core: Core, ref: SecretRef, actor: Actor) -> SecretView:
    """Describe the secret and look up its instance and the bot's own records."""
    identity = core.identity_of(actor)
    cloud = core.cloud(identity)
    detail = await describe_ecs_secret(core, ref, identity=identity)
    assert detail.ecs is not None
    instance_id = detail.ecs.instance_id
    found, rotation, pending = await asyncio.gather(
        _instances(cloud, ref.region, instance_id),
        get_active_rotation(core.db, ref.region, ref.name),
        get_active_pending(core.db, ref.region, ref.name),
    )
    notes: list[str] = []
    name = status = os_type = ""
    public_ips: tuple[str, ...] = ()
    if isinstance(found, CloudError):
        notes.append(f"ECS could not describe instance {instance_id} ({found.code or 'error'}).")
    else:
        instance = next((i for i in found.instances if i.instance_id == instance_id), None)
        if instance is None:
            notes.append(f"Instance {instance_id} was not found in {ref.region}.")
        else:
            name, status, os_type = instance.name, instance.status, instance.os_type
            public_ips = instance.public_ips
    return SecretView(
        region=ref.region,
        name=ref.name,
        short_name=ref.short_name,
        arn=detail.arn or ref.arn,
        description=detail.description,
        instance_id=instance_id,
        instance_name=name,
        instance_status=status,
        instance_os=os_type,
        user_name=detail.ecs.user_name,
        sub_type=detail.ecs.sub_type,
        automatic_rotation=detail.automatic_rotation,
        rotation_interval=detail.rotation_interval,
        last_rotation=detail.last_rotation,
        next_rotation=detail.next_rotation,
        planned_deletion=detail.planned_delete_time,
        created=detail.create_time,
        updated=detail.update_time,
        tags=tuple(sorted(detail.tags.items())),
        active_rotation=_active_rotation(rotation),
        pending=_pending(pending),
        notes=tuple(notes),
        instance_public_ips=public_ips,
    )


async def show_secret(name: str, region: str = "", *, actor: Actor, core: Core) -> SecretView:
    """Describe one dynamic ECS secret: instance, user, rotation, deletion, the bot's records."""
    ref = core.secret(name, region)
    authorize(core, actor, DESCRIBE, ref.arn)
    return await _describe(core, ref, actor)


def _rotate_access(
    core: Core, actor: Actor, ref: SecretRef, sub_type: str | None
) -> tuple[Access, Access]:
    keys: dict[str, object] = {} if sub_type is None else {"kms:SecretSubType": sub_type}
    generated = access_for(
        core,
        actor,
        ROTATE,
        ref.arn,
        request_keys={**keys, "kms:CustomSecretValue": False},
        label="rotate (generated value)",
    )
    custom = access_for(
        core,
        actor,
        PUT_VALUE,
        ref.arn,
        request_keys={**keys, "kms:CustomSecretValue": True},
        label="rotate (custom value)",
    )
    return generated, custom


def _refuse(ref: SecretRef, refused: Access) -> AccessDenied:
    return AccessDenied(
        f"You may not rotate {ref.short_name}, nor ask for it: {refused.reason}.",
        reason=refused.reason,
        next_step=refused.next_step,
    )


async def prepare_rotation(name: str, region: str = "", *, actor: Actor, core: Core) -> SecretView:
    """Return the rotate modal's summary, if the actor may rotate the secret or ask to."""
    ref = core.secret(name, region)
    # Ask the cloud nothing for an actor who could rotate no kind of secret: the kind (and so
    # the final answer, for policies with a kms:SecretSubType condition) is known only after
    # DescribeSecret, whose reading the rotation covers.
    kinds = [_rotate_access(core, actor, ref, sub_type) for sub_type in (None, *_SUB_TYPES)]
    if not any(option.may_ask for options in kinds for option in options):
        raise _refuse(ref, kinds[0][0])
    view = await _describe(core, ref, actor)
    generated, custom = _rotate_access(core, actor, ref, view.sub_type)
    if generated.kind is RouteKind.REFUSE and custom.kind is RouteKind.REFUSE:
        raise _refuse(ref, generated)
    if view.planned_deletion is not None:
        raise Conflict(
            f"{ref.short_name} is scheduled for deletion on "
            f"{view.planned_deletion:%Y-%m-%d %H:%M} UTC, so it cannot be rotated.",
            next_step=NextStep(
                "Restore it first ({command}), then rotate.",
                Subcommand("restore", (ref.short_name,)),
            ),
        )
    return replace(view, rotate_generated=generated, rotate_custom=custom)
