"""Delete a dynamic ECS secret: schedule it 7 to 30 days ahead, or delete it at once.

Authorized as ``kms:DeleteSecret`` on the secret, with the request keys
``kms:ForceDeleteWithoutRecovery`` (a bool: the configuration's ``Bool`` condition matches
``"true"`` against it) and, for a scheduled deletion, ``kms:RecoveryWindowInDays`` (a
number); ``kms:SecretSubType`` too. A secret already scheduled is refused, naming the date
and the way back (restore).

Crash safety, "the intent first, the outcome after": before DeleteSecret the pending
deletion is recorded as ``unknown`` (planned time estimated); KMS's answer moves it to
``pending`` (with KMS's PlannedDeleteTime) or ``deleted`` (immediate). A definite refusal
(KMS answered with an error) discards the intent. No answer at all (a timeout or a broken
connection: the request may have reached KMS, and may even still be in flight) leaves it
``unknown``, because a DescribeSecret made at that moment cannot tell; so does a crash.
Such a row is settled by reconciliation, or by the next deletion of the same secret once
``SETTLE_AFTER`` has passed and KMS still shows the secret not scheduled. A process that
starts settles those a crash left at once (``settle_unknown_deletions``), before it serves:
a call of the dead process cannot be in flight any more, and one of another live process
that lands after its intent was dropped is recorded again by that process.

Never touches a secret value: a deletion does not change the credential on the instance.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.approval.requests import ActionRequest, when
from ecs_secret_bot.commands.cloud_step import run_cloud_step
from ecs_secret_bot.commands.core import Core, SecretRef
from ecs_secret_bot.commands.gateway import SecretDetail
from ecs_secret_bot.commands.operations.rotate import describe_ecs_secret
from ecs_secret_bot.commands.outcomes import DeleteResult, DryRunReport, HeldForApproval
from ecs_secret_bot.commands.pipeline import (
    Execution,
    Plan,
    audit,
    earlier_answer,
    executor,
    refuse_early,
    run_mutation,
)
from ecs_secret_bot.commands.requests import DeleteRequest
from ecs_secret_bot.commands.unrecorded import CloudDid, audit_settled_deletion, recording
from ecs_secret_bot.errors import (
    BotError,
    CloudError,
    CloudUnavailable,
    Conflict,
    InvalidInput,
    NextStep,
    Subcommand,
)
from ecs_secret_bot.storage import pending
from ecs_secret_bot.storage.pending import PendingDeletion

__all__ = [
    "DEFAULT_DAYS",
    "MAX_DAYS",
    "MIN_DAYS",
    "SETTLE_AFTER",
    "Settled",
    "attach_deletion_message",
    "check_delete",
    "delete_secret",
    "execute_deletion",
    "settle_unknown_deletions",
]

DELETE = "kms:DeleteSecret"
MIN_DAYS, MAX_DAYS, DEFAULT_DAYS = 7, 30, 30
SETTLE_AFTER = timedelta(minutes=2)
"""How long an ``unknown`` intent may still be a call in flight (the default timeouts and
retries of the gateway end well within it)."""


def _days(req: DeleteRequest) -> int | None:
    """Return the recovery window in days, or None for an immediate deletion."""
    if req.immediately:
        if req.days is not None:
            raise InvalidInput(
                "An immediate deletion has no recovery window: give --days or --now, not both.",
                field="days",
                next_step="Leave the days out to delete now, or drop --now to schedule it.",
            )
        return None
    if req.days is None:
        return DEFAULT_DAYS
    if isinstance(req.days, bool) or not isinstance(req.days, int):
        raise InvalidInput(
            "The number of days must be a whole number.",
            field="days",
            next_step=f"Give {MIN_DAYS} to {MAX_DAYS}.",
        )
    if not MIN_DAYS <= req.days <= MAX_DAYS:
        raise InvalidInput(
            f"A deletion can be scheduled {MIN_DAYS} to {MAX_DAYS} days ahead, not {req.days}.",
            field="days",
            next_step=f"Give {MIN_DAYS} to {MAX_DAYS} days, or --now to delete at once.",
        )
    return req.days


def check_delete(req: DeleteRequest, *, core: Core) -> None:
    """Refuse a wrong window, name or region before anyone is asked to confirm the deletion."""
    _days(req)
    core.secret(req.name, req.region)


def _refuse_if_scheduled(ref: SecretRef, detail: SecretDetail) -> None:
    if detail.planned_delete_time is not None:
        raise Conflict(
            f"{ref.short_name} is already scheduled for deletion on "
            f"{when(detail.planned_delete_time)}.",
            next_step=NextStep(
                "Restore it to keep it ({command}), or let the deletion happen.",
                Subcommand("restore", (ref.short_name,)),
            ),
        )


def _already_pending(existing: PendingDeletion) -> Conflict:
    return Conflict(
        f"{existing.secret_name} in {existing.region} is already scheduled for deletion "
        f"(planned for {existing.planned_delete_time:%Y-%m-%d %H:%M} UTC).",
        next_step="Restore it first, or wait for the deletion.",
    )


async def delete_secret(
    req: DeleteRequest, *, actor: Actor, core: Core
) -> DeleteResult | HeldForApproval | DryRunReport:
    """Delete the secret (or hold the request for approval, or report a dry run)."""
    days = _days(req)
    ref = core.secret(req.name, req.region)
    if not req.dry_run and (
        earlier := await earlier_answer(core, actor, req.request_id, execute=execute_deletion)
    ):
        return earlier
    early_keys: dict[str, object] = {"kms:ForceDeleteWithoutRecovery": days is None}
    if days is not None:
        early_keys["kms:RecoveryWindowInDays"] = days
    early = await refuse_early(
        core,
        actor,
        action=DELETE,
        resource=ref.arn,
        request_keys=early_keys,
        dry_run=req.dry_run,
    )
    if early is not None:
        return early
    detail = await describe_ecs_secret(core, ref, identity=core.identity_of(actor))
    _refuse_if_scheduled(ref, detail)
    assert detail.ecs is not None
    keys: dict[str, object] = {
        "kms:ForceDeleteWithoutRecovery": days is None,
        "kms:SecretSubType": detail.ecs.sub_type,
    }
    if days is not None:
        keys["kms:RecoveryWindowInDays"] = days
    request = ActionRequest(
        action=DELETE,
        resource=ref.arn,
        region=ref.region,
        secret_name=ref.name,
        params={
            "immediately": days is None,
            "days": days,
            "instance_id": detail.ecs.instance_id,
            "reason": req.reason,
        },
        request_keys=keys,
    )
    how = "ForceDeleteWithoutRecovery=true" if days is None else f"RecoveryWindowInDays={days}"
    call = f"KMS DeleteSecret SecretName={ref.name} {how} in {ref.region}"
    plan = Plan(request=request, cloud_call=call)
    return await run_mutation(
        core,
        actor,
        plan,
        execute=execute_deletion,
        dry_run=req.dry_run,
        request_id=req.request_id,
    )


async def _clear_stale_row(core: Core, ref: SecretRef, row: PendingDeletion) -> None:
    """Settle an active row that KMS (which shows the secret not scheduled) contradicts."""
    now = core.clock()
    if row.status == "pending":
        # Restored outside the bot (console, API): KMS is the truth.
        await pending.set_pending_status(
            core.db,
            row.id,
            expected=("pending",),
            new="restored",
            now=now,
            note="KMS showed it not scheduled: restored outside the bot",
        )
        return
    if now - row.updated_at < SETTLE_AFTER:
        raise Conflict(
            f"An earlier deletion of {ref.short_name} (by {row.scheduled_by}, at "
            f"{when(row.created_at)}) has no known outcome yet.",
            next_step=NextStep(
                "Try again in a few minutes; {command} says whether KMS has it scheduled.",
                Subcommand("show", (ref.short_name,)),
            ),
        )
    # Long past any call in flight, and KMS shows no deletion: that attempt never took effect.
    await pending.discard_intent(core.db, row.id)


@executor(DeleteResult)
async def execute_deletion(core: Core, ex: Execution) -> DeleteResult:
    """Re-check the secret, record the intent, delete, and record the outcome."""
    request = ex.request
    ref = ex.secret
    immediately = bool(request.params.get("immediately"))
    days = None if immediately else int(request.params.get("days") or DEFAULT_DAYS)
    detail = await describe_ecs_secret(core, ref, identity=ex.identity)
    _refuse_if_scheduled(ref, detail)
    stale = await pending.get_active_pending(core.db, ref.region, ref.name)
    if stale is not None:
        await _clear_stale_row(core, ref, stale)
    now = core.clock()
    try:
        row = await pending.record_pending(
            core.db,
            region=ref.region,
            secret_name=ref.name,
            scheduled_by=ex.requested_by,
            channel_id=ex.channel_id,
            team_id=ex.team_id,
            planned_delete_time=now + timedelta(days=days or 0),
            now=now,
            status="unknown",
            note="immediate deletion requested" if immediately else f"deletion in {days} days",
        )
    except pending.AlreadyPending as exc:
        raise _already_pending(exc.existing) from None

    async def call() -> DeleteResult:
        deleted = await core.cloud(ex.identity).delete_secret(
            ref.region, ref.name, recovery_window_days=days, force=immediately
        )
        return DeleteResult(
            region=ref.region,
            secret_name=ref.name,
            immediately=immediately,
            planned_delete_time=None if immediately else deleted.planned_delete_time,
            pending_id=row.id,
            request_id=deleted.request_id,
            requested_by=ex.requested_by,
            approved_by=ex.approved_by,
        )

    try:
        result = await run_cloud_step(core, ex, call)
    except CloudUnavailable as exc:
        if exc.status_code is not None:  # KMS answered: nothing was done
            await pending.discard_intent(core.db, row.id)
            raise
        await audit(
            core,
            actor=ex.requested_by,
            request=request,
            channel_id=ex.channel_id,
            decision="allow",
            reason=ex.reason,
            outcome=f"outcome unknown: pending deletion {row.id} kept as unknown to reconcile",
            approval_id=ex.approval_id,
            required=False,
            correlation_id=ex.correlation_id,
        )
        raise CloudUnavailable(
            f"KMS did not answer the deletion of {ref.short_name}, so it may or may not have "
            "happened; the bot keeps it as an unknown outcome to check.",
            code=exc.code,
            request_id=exc.request_id,
            action=exc.action,
            next_step=NextStep(
                "In a few minutes, {command} says whether KMS has it scheduled; ask again "
                "only if it does not.",
                Subcommand("show", (ref.short_name,)),
            ),
        ) from None
    except BotError:
        await pending.discard_intent(core.db, row.id)
        raise
    if not immediately and result.planned_delete_time is None:  # unreadable: keep the estimate
        result = replace(result, planned_delete_time=row.planned_delete_time)
    async with recording(core, _deleted(ref, result)):
        settled = await pending.set_pending_status(
            core.db,
            row.id,
            expected=("unknown",),
            new="deleted" if immediately else "pending",
            now=core.clock(),
            planned_delete_time=result.planned_delete_time,
        )
        if not settled and await pending.get_pending(core.db, row.id) is None:
            # Reconciliation dropped the intent while the call ran: record what KMS answered.
            result = replace(result, pending_id=await _record_again(core, ex, result, row))
    return result


def _deleted(ref: SecretRef, result: DeleteResult) -> CloudDid:
    """Say what KMS did with a deletion, for when the bot cannot record it."""
    when = result.planned_delete_time
    return CloudDid(
        done=f"{ref.short_name} was deleted in KMS, immediately and for good"
        if result.immediately or when is None
        else f"{ref.short_name} was scheduled for deletion in KMS on {when:%Y-%m-%d %H:%M} UTC",
        again="do not delete it again",
        then="the bot records the deletion from KMS once its database is back",
        secret=ref.short_name,
    )


async def _record_again(
    core: Core, ex: Execution, result: DeleteResult, intent: PendingDeletion
) -> int:
    """Record the deletion KMS confirmed after its intent row disappeared."""
    now = core.clock()
    try:
        row = await pending.record_pending(
            core.db,
            region=result.region,
            secret_name=result.secret_name,
            scheduled_by=ex.requested_by,
            channel_id=ex.channel_id,
            team_id=ex.team_id,
            planned_delete_time=result.planned_delete_time or intent.planned_delete_time,
            now=now,
            status="deleted" if result.immediately else "pending",
        )
    except pending.AlreadyPending as exc:
        return exc.existing.id
    return row.id


async def attach_deletion_message(pending_id: int, *, channel_id: str, ts: str, core: Core) -> None:
    """Remember the message that announced the deletion, so its Restore button can be updated."""
    await pending.set_pending_message(core.db, pending_id, channel_id=channel_id, ts=ts)


@dataclass(frozen=True)
class Settled:
    """What a start made of the deletions a crash left with no known outcome."""

    scheduled: int = 0
    """KMS had them scheduled: now pending, with KMS's date."""
    deleted: int = 0
    """KMS no longer has the secret."""
    dropped: int = 0
    """KMS shows the secret not scheduled: the deletion never happened."""
    unanswered: int = 0
    """KMS did not answer: left for reconciliation."""


async def settle_unknown_deletions(core: Core) -> Settled:
    """Settle each deletion whose outcome nobody recorded by what KMS says now (at start)."""
    counts = {"scheduled": 0, "deleted": 0, "dropped": 0, "unanswered": 0}
    for row in await pending.list_pending(core.db, statuses=("unknown",), limit=1000):
        now = core.clock()
        try:
            detail = await core.gateway.describe_secret(row.region, row.secret_name)
        except CloudError as exc:
            if exc.code != "Forbidden.ResourceNotFound":
                counts["unanswered"] += 1
                continue
            note = f"deleted (found at start, {now:%Y-%m-%d %H:%M} UTC)"
            if await pending.set_pending_status(
                core.db, row.id, expected=("unknown",), new="deleted", now=now, note=note
            ):
                counts["deleted"] += 1
                await audit_settled_deletion(core, row, "deleted")
            continue
        if detail.planned_delete_time is None:
            if await pending.discard_intent(core.db, row.id):
                counts["dropped"] += 1
        elif await pending.set_pending_status(
            core.db,
            row.id,
            expected=("unknown",),
            new="pending",
            now=now,
            planned_delete_time=detail.planned_delete_time,
        ):
            counts["scheduled"] += 1
            await audit_settled_deletion(
                core, row, f"scheduled to {when(detail.planned_delete_time)}"
            )
    return Settled(**counts)
