"""A sweep's one approval: the request it holds, and the claim of its execution.

Owns the ``ActionRequest`` a sweep's approval freezes (``kms:RotateSecret`` over every
runnable secret, each as a single rotation with its own resource and condition keys, plus
the sweep id and the digest of the set) and the claim of an approved sweep through the
approval workflow itself (``ApprovalWorkflow.claim_execution``: the policies, the rule and
the approvers checked again), whose state check re-plans the sweep and refuses when the
runnable set's digest is not the approved one; and the requester's withdrawal of a sweep
that waits. Never runs a rotation.
"""

from __future__ import annotations

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.approval.requests import ActionRequest, VoteResult
from ecs_secret_bot.commands.approval.workflow import StateCheck
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.sweeps.items import SUB_TYPE
from ecs_secret_bot.commands.sweeps.model import SweepPlan, SweepStatus
from ecs_secret_bot.commands.sweeps.plan import ROTATE, plan_sweep
from ecs_secret_bot.commands.sweeps.records import actor_of, close_unrun, selector_of
from ecs_secret_bot.errors import AccessDenied, BotError, Conflict
from ecs_secret_bot.storage import sweeps as store
from ecs_secret_bot.storage.approvals import ApprovalRow
from ecs_secret_bot.storage.sweeps import SweepItemRow, SweepRow

__all__ = ["CLOSED_BY_APPROVAL", "claim_approved", "difference", "sweep_request", "withdraw"]

CLOSED_BY_APPROVAL = {
    "denied": SweepStatus.DENIED,
    "expired": SweepStatus.EXPIRED,
    "failed": SweepStatus.CHANGED,
}
"""The sweep's status when its approval request ends without running."""


def sweep_request(sweep_id: str, plan: SweepPlan, reason: str, core: Core) -> ActionRequest:
    """Return the one request an approval of the sweep holds: every runnable secret in it."""
    region = plan.selector.region
    return ActionRequest(
        action=ROTATE,
        resource=f"acs:kms:{region or '*'}:{core.settings.cloud.account_id}:secret",
        region=region or "",
        params={
            "sweep_id": sweep_id,
            "digest": plan.digest,
            "reason": reason,
            "count": len(plan.runnable),
            "members": [
                {
                    "resource": i.arn,
                    "region": i.region,
                    "secret_name": i.name,
                    "request_keys": {
                        "kms:CustomSecretValue": False,
                        "kms:SecretSubType": SUB_TYPE.get(i.kind, ""),
                    },
                }
                for i in plan.runnable
            ],
        },
    )


def difference(before: list[SweepItemRow], after: SweepPlan) -> str:
    """Say how the runnable set changed: which secrets came in, which went out and why."""
    was = {f"{r.region}|{r.secret_name}": r for r in before if r.state == "ready"}
    now = {i.key: i for i in after.runnable}
    parts = [f"{now[k].short_name} in {now[k].region} is new" for k in sorted(set(now) - set(was))]
    planned = {i.key: i for i in after.items}
    for key in sorted(set(was) - set(now)):
        why = planned[key].reason if key in planned else "it is no longer selected"
        short = was[key].secret_name.removeprefix("acs/ecs/")
        parts.append(f"{short} in {was[key].region}: {why}")
    return "; ".join(parts) or "a secret's instance or user changed"


async def claim_approved(core: Core, row: SweepRow) -> tuple[SweepStatus, str] | None:
    """Claim the approved sweep's one execution; None when won (or already claimed).

    Otherwise return the status the sweep ends in and why: ``changed`` when the runnable
    set is not the approved one any more (or anything else checked again fails).
    """
    before = await store.get_sweep_items(core.db, row.id)

    async def same_set(_: ApprovalRow) -> str | None:
        try:
            plan = await plan_sweep(selector_of(row.selector), actor=actor_of(row), core=core)
        except BotError as exc:
            return f"the set of secrets could not be checked again ({exc.user_message})"
        if plan.digest != row.digest:
            return (
                f"the set of secrets changed since it was approved ({difference(before, plan)}); "
                "sweep again to ask for the new set"
            )
        return None

    check: StateCheck = same_set
    claim = await core.workflow.claim_execution(row.approval_id, check_state=check)
    if claim.won:
        return None
    latest = await core.workflow.get(row.approval_id)
    if latest.status in CLOSED_BY_APPROVAL:
        return CLOSED_BY_APPROVAL[latest.status], claim.message
    return None


async def withdraw(core: Core, row: SweepRow, actor: Actor) -> None:
    """Stop a sweep that waits for its approval: only its requester withdraws the request."""
    if actor.principal != row.requester:
        raise AccessDenied(
            f"Only {row.requester} may withdraw this sweep while it waits for approval; "
            "an approver denies it on its approval request.",
            reason="only the requester may withdraw a request",
        )
    if row.approval_id:
        vote = await core.workflow.deny(row.approval_id, actor)
        if vote.result is not VoteResult.WITHDRAWN:
            raise Conflict(vote.message)
    await close_unrun(core, row, status=SweepStatus.STOPPED, note=f"withdrawn by {actor.principal}")
