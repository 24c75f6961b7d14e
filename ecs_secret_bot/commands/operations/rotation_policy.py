"""Turn the automatic rotation of a dynamic ECS secret on (with an interval) or off.

Authorized as ``kms:UpdateSecretRotationPolicy`` on the secret, with ``kms:SecretSubType``.
``on`` without an interval keeps the secret's current interval (DescribeSecret reports one
only while automatic rotation is on) or takes 7 days; ``off`` takes no interval. Intervals
are written with a unit (``7d``, ``168h`` and ``604800s`` are the same) and lie between 6
hours and 365 days, as KMS requires; ``parse_interval`` is shared with ``create``.

Never touches a secret value, and never decides anything about approvals or audit: the
pipeline does.
"""

from __future__ import annotations

from datetime import timedelta

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.approval.requests import ActionRequest, when
from ecs_secret_bot.commands.cloud_step import run_cloud_step
from ecs_secret_bot.commands.core import Core, SecretRef
from ecs_secret_bot.commands.durations import format_duration, parse_duration
from ecs_secret_bot.commands.gateway import SecretDetail
from ecs_secret_bot.commands.operations.rotate import describe_ecs_secret
from ecs_secret_bot.commands.outcomes import DryRunReport, HeldForApproval, RotationPolicyResult
from ecs_secret_bot.commands.pipeline import (
    Execution,
    Plan,
    executor,
    refuse_early,
    run_mutation,
)
from ecs_secret_bot.commands.requests import RotationPolicyRequest
from ecs_secret_bot.errors import Conflict, InvalidInput, NextStep, Subcommand

__all__ = [
    "DEFAULT_INTERVAL",
    "MAX_INTERVAL",
    "MIN_INTERVAL",
    "execute_rotation_policy",
    "parse_interval",
    "set_rotation_policy",
]

UPDATE_POLICY = "kms:UpdateSecretRotationPolicy"
MIN_INTERVAL = timedelta(hours=6)
MAX_INTERVAL = timedelta(days=365)
DEFAULT_INTERVAL = timedelta(days=7)


def parse_interval(text: str, *, field: str = "interval") -> timedelta:
    """Parse a rotation interval (``7d``, ``168h``, ``604800s``) within 6h..365d."""
    try:
        interval = parse_duration(text)
    except ValueError:
        raise InvalidInput(
            f"{text.strip()[:40]!r} is not a rotation interval.",
            field=field,
            next_step="Write a whole number and a unit: s, m, h or d (for example 12h or 30d).",
        ) from None
    if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
        raise InvalidInput(
            f"A rotation interval of {format_duration(interval)} is out of range: KMS rotates "
            "every 6h to 365d.",
            field=field,
            next_step="Choose an interval from 6h to 365d (8760h), for example 7d.",
        )
    return interval


def _refuse_if_deleting(ref: SecretRef, detail: SecretDetail) -> None:
    if detail.planned_delete_time is not None:
        raise Conflict(
            f"{ref.short_name} is scheduled for deletion on {when(detail.planned_delete_time)}, "
            "so its rotation policy cannot change.",
            next_step=NextStep(
                "Restore it first ({command}).", Subcommand("restore", (ref.short_name,))
            ),
        )


def _wanted_interval(req: RotationPolicyRequest, detail: SecretDetail) -> timedelta | None:
    """Return the interval to send: the given one, the current one, or 7 days (None if off)."""
    if not req.enabled:
        return None
    if req.interval.strip():
        return parse_interval(req.interval)
    return detail.rotation_interval or DEFAULT_INTERVAL


async def set_rotation_policy(
    req: RotationPolicyRequest, *, actor: Actor, core: Core
) -> RotationPolicyResult | HeldForApproval | DryRunReport:
    """Turn automatic rotation on or off (or hold the request, or report a dry run)."""
    if not req.enabled and req.interval.strip():
        raise InvalidInput(
            "An interval goes with `on` only: `off` turns automatic rotation off.",
            field="interval",
            next_step="Leave the interval out, or use `on <interval>` to change it.",
        )
    if req.enabled and req.interval.strip():
        parse_interval(req.interval)  # refuse a bad interval before any call
    ref = core.secret(req.name, req.region)
    early = await refuse_early(
        core, actor, action=UPDATE_POLICY, resource=ref.arn, dry_run=req.dry_run
    )
    if early is not None:
        return early
    detail = await describe_ecs_secret(core, ref, identity=core.identity_of(actor))
    _refuse_if_deleting(ref, detail)
    assert detail.ecs is not None
    interval = _wanted_interval(req, detail)
    shown = format_duration(interval) if interval is not None else ""
    request = ActionRequest(
        action=UPDATE_POLICY,
        resource=ref.arn,
        region=ref.region,
        secret_name=ref.name,
        params={"enabled": req.enabled, "interval": shown, "reason": req.reason},
        request_keys={"kms:SecretSubType": detail.ecs.sub_type},
    )
    call = (
        f"KMS UpdateSecretRotationPolicy SecretName={ref.name} "
        f"EnableAutomaticRotation={'true' if req.enabled else 'false'}"
        + (f" RotationInterval={shown}" if interval is not None else "")
        + f" in {ref.region}"
    )
    plan = Plan(request=request, cloud_call=call)
    return await run_mutation(
        core,
        actor,
        plan,
        execute=execute_rotation_policy,
        dry_run=req.dry_run,
        request_id=req.request_id,
    )


@executor(RotationPolicyResult)
async def execute_rotation_policy(core: Core, ex: Execution) -> RotationPolicyResult:
    """Re-check the secret and update its rotation policy, as cleared."""
    request = ex.request
    ref = ex.secret
    enabled = bool(request.params.get("enabled"))
    shown = str(request.params.get("interval") or "")
    interval = parse_interval(shown) if enabled else None
    detail = await describe_ecs_secret(core, ref, identity=ex.identity)
    _refuse_if_deleting(ref, detail)

    async def call() -> RotationPolicyResult:
        receipt = await core.cloud(ex.identity).update_rotation_policy(
            ref.region, ref.name, enabled=enabled, interval=interval
        )
        return RotationPolicyResult(
            region=ref.region,
            secret_name=ref.name,
            enabled=enabled,
            interval=shown if enabled else "",
            request_id=receipt.request_id,
            requested_by=ex.requested_by,
            approved_by=ex.approved_by,
        )

    return await run_cloud_step(core, ex, call)
