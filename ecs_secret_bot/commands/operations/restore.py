"""Restore a dynamic ECS secret that is scheduled for deletion, before the date passes.

Authorized as ``kms:RestoreSecret`` on the secret, with ``kms:SecretSubType``. With an
opening approval rule (``teammate-restore``) a teammate who may not restore asks, and an
approver's click restores it. A secret that is not scheduled for deletion gets a plain
answer from DescribeSecret before any RestoreSecret call. After KMS restored it, the
active pending-deletion row (``pending`` or ``unknown``) is closed as ``restored``, by
compare-and-set, and the result names it so the front end can update its message.

Never touches a secret value.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.approval.requests import ActionRequest
from ecs_secret_bot.commands.cloud_step import run_cloud_step
from ecs_secret_bot.commands.core import Core, SecretRef
from ecs_secret_bot.commands.gateway import SecretDetail
from ecs_secret_bot.commands.operations.rotate import describe_ecs_secret
from ecs_secret_bot.commands.outcomes import DryRunReport, HeldForApproval, RestoreResult
from ecs_secret_bot.commands.pipeline import (
    Execution,
    Plan,
    earlier_answer,
    executor,
    refuse_early,
    run_mutation,
)
from ecs_secret_bot.commands.requests import RestoreRequest
from ecs_secret_bot.commands.unrecorded import CloudDid, recording
from ecs_secret_bot.errors import Conflict, NextStep, Subcommand
from ecs_secret_bot.storage import pending

__all__ = ["execute_restore", "restore_secret"]

logger = logging.getLogger(__name__)

RESTORE = "kms:RestoreSecret"


def _refuse_unless_scheduled(ref: SecretRef, detail: SecretDetail) -> None:
    if detail.planned_delete_time is None:
        raise Conflict(
            f"{ref.short_name} is not scheduled for deletion; nothing to restore.",
            next_step=NextStep(
                "{command} lists the secrets scheduled for deletion.", Subcommand("pending")
            ),
        )


async def restore_secret(
    req: RestoreRequest, *, actor: Actor, core: Core
) -> RestoreResult | HeldForApproval | DryRunReport:
    """Restore the secret (or hold the request for approval, or report a dry run)."""
    ref = core.secret(req.name, req.region)
    if not req.dry_run and (
        earlier := await earlier_answer(core, actor, req.request_id, execute=execute_restore)
    ):
        return earlier
    early = await refuse_early(core, actor, action=RESTORE, resource=ref.arn, dry_run=req.dry_run)
    if early is not None:
        return early
    detail = await describe_ecs_secret(core, ref, identity=core.identity_of(actor))
    _refuse_unless_scheduled(ref, detail)
    assert detail.ecs is not None
    request = ActionRequest(
        action=RESTORE,
        resource=ref.arn,
        region=ref.region,
        secret_name=ref.name,
        params={"instance_id": detail.ecs.instance_id, "reason": req.reason},
        request_keys={"kms:SecretSubType": detail.ecs.sub_type},
    )
    plan = Plan(
        request=request, cloud_call=f"KMS RestoreSecret SecretName={ref.name} in {ref.region}"
    )
    return await run_mutation(
        core,
        actor,
        plan,
        execute=execute_restore,
        dry_run=req.dry_run,
        request_id=req.request_id,
    )


@executor(RestoreResult)
async def execute_restore(core: Core, ex: Execution) -> RestoreResult:
    """Re-check the secret, restore it, and close its pending deletion."""
    ref = ex.secret
    detail = await describe_ecs_secret(core, ref, identity=ex.identity)
    _refuse_unless_scheduled(ref, detail)

    async def call() -> RestoreResult:
        receipt = await core.cloud(ex.identity).restore_secret(ref.region, ref.name)
        return RestoreResult(
            region=ref.region,
            secret_name=ref.name,
            request_id=receipt.request_id,
            requested_by=ex.requested_by,
            pending_id=None,
            approved_by=ex.approved_by,
        )

    result = await run_cloud_step(core, ex, call)
    did = CloudDid(
        done=f"{ref.short_name} was restored in KMS (its deletion is cancelled)",
        again="do not restore it again",
        then="the bot closes its pending deletion once its database is back",
        secret=ref.short_name,
    )
    async with recording(core, did):
        row = await pending.get_active_pending(core.db, ref.region, ref.name)
        if row is None:
            return result
        approvers = f" (approved by {', '.join(ex.approved_by)})" if ex.approved_by else ""
        closed = await pending.set_pending_status(
            core.db,
            row.id,
            expected=("pending", "unknown"),
            new="restored",
            now=core.clock(),
            note=f"restored by {ex.requested_by}{approvers}",
        )
    if not closed:
        logger.info("pending deletion %s was closed by someone else meanwhile", row.id)
    return replace(result, pending_id=row.id)
