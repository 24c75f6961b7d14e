"""Rotate a dynamic ECS secret now, with a KMS-generated value or a custom one.

A generated value goes through RotateSecret (authorized as ``kms:RotateSecret``); a custom
value through PutSecretValue, the only call that carries a value (authorized as
``kms:PutSecretValue`` with ``kms:CustomSecretValue`` = true). The KMS documentation lists
PutSecretValue for generic secrets only: when KMS refuses it, the user is told so plainly,
with the ways forward, and nothing falls back to a generated rotation.

A rotation is done only when KMS reports its version as ACSCurrent: this module records it
in storage as in flight, and ``commands.tracker`` follows it to completed, failed or timed
out. The custom value leaves this module only towards the cloud call and, encrypted,
towards storage while an approval is pending.
"""

from __future__ import annotations

import uuid

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.approval.requests import ActionRequest
from ecs_secret_bot.commands.cloud_step import run_cloud_step
from ecs_secret_bot.commands.core import Core, SecretRef
from ecs_secret_bot.commands.gateway import CloudIdentity, SecretDetail
from ecs_secret_bot.commands.outcomes import DryRunReport, HeldForApproval, RotateResult
from ecs_secret_bot.commands.pipeline import (
    Execution,
    Plan,
    executor,
    refuse_early,
    run_mutation,
)
from ecs_secret_bot.commands.preflight import run_preflight
from ecs_secret_bot.commands.requests import RotateRequest
from ecs_secret_bot.commands.unrecorded import CloudDid, recording
from ecs_secret_bot.commands.values import (
    PasswordValue,
    SecretValue,
    check_custom_password,
    check_user_name,
    ssh_key_value,
)
from ecs_secret_bot.errors import (
    BotError,
    CloudClientError,
    CloudPermissionDenied,
    Conflict,
    InvalidInput,
    NextStep,
    RotationInProgress,
    Subcommand,
)
from ecs_secret_bot.storage import rotations
from ecs_secret_bot.storage.leases import replica_id
from ecs_secret_bot.storage.rotations import RotationRow

__all__ = [
    "CustomValueRefused",
    "attach_rotation_message",
    "describe_ecs_secret",
    "execute_rotation",
    "rotate_secret",
]

ROTATE = "kms:RotateSecret"
PUT_VALUE = "kms:PutSecretValue"


class CustomValueRefused(CloudClientError):
    """KMS did not take a custom value for an ECS secret through the API."""


async def describe_ecs_secret(
    core: Core, ref: SecretRef, *, identity: CloudIdentity | None = None
) -> SecretDetail:
    """Describe the secret (as ``identity``); raise unless it is a dynamic ECS secret."""
    detail = await core.cloud(identity).describe_secret(ref.region, ref.name)
    if detail.secret_type.upper() != "ECS" or detail.ecs is None:
        raise InvalidInput(
            f"{ref.short_name} is a {detail.secret_type or 'non-ECS'} secret, not a dynamic "
            "ECS secret.",
            field="name",
            next_step="This bot manages dynamic ECS secrets (names starting acs/ecs/).",
        )
    return detail


def _refuse_if_deleting(ref: SecretRef, detail: SecretDetail) -> None:
    if detail.planned_delete_time is not None:
        raise Conflict(
            f"{ref.short_name} is scheduled for deletion on "
            f"{detail.planned_delete_time:%Y-%m-%d %H:%M} UTC, so it cannot be rotated.",
            next_step=NextStep(
                "Restore it first ({command}).", Subcommand("restore", (ref.short_name,))
            ),
        )


def _in_progress(existing: RotationRow) -> RotationInProgress:
    return RotationInProgress(
        f"A rotation of {existing.secret_name} is still in progress "
        f"(started {existing.started_at:%Y-%m-%d %H:%M} UTC by {existing.requested_by}).",
        secret_name=existing.secret_name,
        next_step="Wait for it to finish; its message in the channel says when it has.",
    )


def _custom_user(req: RotateRequest, ref: SecretRef, detail: SecretDetail) -> str:
    """Return the OS user of a custom value: the one KMS records, or the person's answer."""
    assert detail.ecs is not None
    recorded = detail.ecs.user_name
    given = check_user_name(req.user_name, field="user_name") if req.user_name.strip() else ""
    if recorded and given and given != recorded:
        raise InvalidInput(
            f"KMS records {recorded} as the user of {ref.short_name}; a custom value keeps "
            "the secret's user.",
            field="user_name",
            next_step=f"Give the value of {recorded}, or leave the user as it is.",
        )
    if not (recorded or given):
        raise InvalidInput(
            f"KMS does not record which OS user {ref.short_name} belongs to (it was created "
            "without CustomData.UserName), and the bot never decrypts the secret to read it.",
            field="user_name",
            next_step="Give the user whose credential this is (root, ecs-user, Administrator).",
        )
    return recorded or given


async def _custom_value(
    core: Core,
    req: RotateRequest,
    ref: SecretRef,
    detail: SecretDetail,
    *,
    identity: CloudIdentity | None,
) -> SecretValue:
    """Check the custom value against the secret's kind and the instance's OS."""
    assert detail.ecs is not None
    cloud = core.cloud(identity)
    sub_type = detail.ecs.sub_type
    if req.custom_password and req.custom_private_key:
        raise InvalidInput(
            "Give either a password or a private key, not both.", field="custom_password"
        )
    user = _custom_user(req, ref, detail)
    if sub_type == "Password":
        if not req.custom_password:
            raise InvalidInput(
                f"{ref.short_name} holds a password: give a password, not a key.",
                field="custom_password",
            )
        page = await cloud.describe_instances(
            ref.region, instance_ids=[detail.ecs.instance_id], max_results=10
        )
        os_type = next((i.os_type for i in page.instances), "linux")
        check_custom_password(req.custom_password, os_type=os_type, field="custom_password")
        return PasswordValue(user_name=user, password=req.custom_password)
    if not req.custom_private_key:
        raise InvalidInput(
            f"{ref.short_name} holds an SSH key pair: give a PEM private key, not a password.",
            field="custom_private_key",
        )
    return ssh_key_value(
        user,
        req.custom_private_key,
        public_key=req.custom_public_key or None,
        field="custom_private_key",
        public_key_field="custom_public_key",
    )


async def rotate_secret(
    req: RotateRequest, *, actor: Actor, core: Core
) -> RotateResult | HeldForApproval | DryRunReport:
    """Rotate the secret now (or hold the request for approval, or report a dry run)."""
    ref = core.secret(req.name, req.region)
    custom = req.custom
    early = await refuse_early(
        core,
        actor,
        action=PUT_VALUE if custom else ROTATE,
        resource=ref.arn,
        request_keys={"kms:CustomSecretValue": custom},
        dry_run=req.dry_run,
    )
    if early is not None:
        return early
    identity = core.identity_of(actor)
    detail = await describe_ecs_secret(core, ref, identity=identity)
    _refuse_if_deleting(ref, detail)
    assert detail.ecs is not None
    value = await _custom_value(core, req, ref, detail, identity=identity) if req.custom else None
    action = PUT_VALUE if value is not None else ROTATE
    request = ActionRequest(
        action=action,
        resource=ref.arn,
        region=ref.region,
        secret_name=ref.name,
        params={
            "instance_id": detail.ecs.instance_id,
            "custom": value is not None,
            "reason": req.reason,
        },
        request_keys={
            "kms:CustomSecretValue": value is not None,
            "kms:SecretSubType": detail.ecs.sub_type,
        },
    )
    api = "PutSecretValue" if value is not None else "RotateSecret"
    call = f"KMS {api} SecretName={ref.name} VersionId=<new> in {ref.region}"
    if value is not None:
        call += " SecretData=<the custom value, not shown>"
    plan = Plan(request=request, cloud_call=call, instance_id=detail.ecs.instance_id, value=value)
    return await run_mutation(
        core,
        actor,
        plan,
        execute=execute_rotation,
        dry_run=req.dry_run,
        request_id=req.request_id,
    )


@executor(RotateResult)
async def execute_rotation(core: Core, ex: Execution) -> RotateResult:
    """Pre-flight, record, and trigger the rotation of a cleared request."""
    request = ex.request
    ref = ex.secret
    custom = bool(request.params.get("custom"))
    if custom and ex.value is None:
        raise Conflict(
            "The custom value of this request is no longer stored, so it cannot run.",
            next_step="Ask again with the value.",
        )
    cloud = core.cloud(ex.identity)
    detail = await describe_ecs_secret(core, ref, identity=ex.identity)
    _refuse_if_deleting(ref, detail)
    assert detail.ecs is not None
    instance_id = detail.ecs.instance_id
    report = await run_preflight(cloud, ref.region, instance_id)
    report.raise_if_failed()
    now = core.clock()
    version_id = f"bot-{uuid.uuid4().hex[:20]}"
    try:
        row = await rotations.start_rotation(
            core.db,
            region=ref.region,
            secret_name=ref.name,
            version_id=version_id,
            instance_id=instance_id,
            custom=custom,
            requested_by=ex.requested_by,
            approved_by=ex.approved_by,
            # A sweep's secret ends in the sweep's own message, never in one of its own.
            channel_id="" if "sweep_id" in ex.request.params else ex.channel_id,
            team_id=ex.team_id,
            was_invalid=detail.automatic_rotation == "Invalid",
            now=now,
            deadline=now + core.settings.rotation.follow_up_timeout,
            # This replica follows it: it announces it first, then its tracker takes it on.
            follower=replica_id(),
            follow_until=now + core.settings.duties.lease_ttl,
        )
    except rotations.RotationActive as exc:
        raise _in_progress(exc.existing) from None

    async def call() -> RotateResult:
        if ex.value is not None:
            try:
                receipt = await cloud.put_secret_value(
                    ref.region, ref.name, version_id=version_id, value=ex.value
                )
            except CloudPermissionDenied:
                raise  # the bot's identity lacks the permission: not KMS refusing the value
            except CloudClientError as exc:
                if exc.code.startswith(("InvalidParameter", "Forbidden.", "UnsupportedOperation")):
                    raise CustomValueRefused(
                        f"KMS did not accept a custom value for {ref.short_name} through the "
                        f"API ({exc.code}); nothing was changed.",
                        code=exc.code,
                        request_id=exc.request_id,
                        status_code=exc.status_code,
                        action="PutSecretValue",
                        next_step=NextStep(
                            "Rotate with a KMS-generated value ({command}, without a custom "
                            "value), or set the custom value in the KMS console (Rotate "
                            "Immediately, Use Custom Secret).",
                            Subcommand("rotate", (ref.short_name,)),
                        ),
                    ) from None
                raise
        else:
            receipt = await cloud.rotate_secret(ref.region, ref.name, version_id=version_id)
        return RotateResult(
            region=ref.region,
            secret_name=ref.name,
            instance_id=instance_id,
            instance_name=report.instance.name if report.instance else "",
            version_id=version_id,
            custom=custom,
            request_id=receipt.request_id,
            requested_by=ex.requested_by,
            rotation_id=row.id,
            deadline=row.deadline,
            approved_by=ex.approved_by,
        )

    try:
        result = await run_cloud_step(core, ex, call)
    except BotError as exc:
        await rotations.set_rotation_status(
            core.db,
            row.id,
            expected=("starting",),
            new="failed",
            now=core.clock(),
            reason=exc.user_message,
        )
        raise
    did = CloudDid(
        done=f"Rotation of {ref.short_name} was triggered in KMS",
        again="do not rotate it again",
        then="the bot follows the rotation once its database is back and reports its end",
        secret=ref.short_name,
        record_id=row.id,
    )
    async with recording(core, did):
        await rotations.set_rotation_status(
            core.db,
            row.id,
            expected=("starting",),
            new="in_progress",
            now=core.clock(),
            request_id=result.request_id,
        )
    return result


async def attach_rotation_message(
    rotation_id: int, *, channel_id: str, ts: str, core: Core
) -> None:
    """Remember the "rotation triggered" message, so its end can edit it in place."""
    await rotations.set_rotation_message(core.db, rotation_id, channel_id=channel_id, ts=ts)
