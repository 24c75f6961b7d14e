"""Approve or deny a held request; when the last approval lands, run exactly what was asked.

A vote goes through the approval workflow (eligibility, compare-and-set); the vote that
completes the request claims its execution (once, after re-checking the policy, the
approvers and the secret's state) and runs the operation's own executor with the frozen
request, the requester recorded as the actor and the approvers beside them. Every vote
and its consequence is audited.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.approval.requests import (
    ActionRequest,
    VoteOutcome,
    VoteResult,
    sweep_of,
)
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.outcomes import OperationResult
from ecs_secret_bot.commands.pipeline import Execution, Executor, audit
from ecs_secret_bot.commands.unrecorded import ChangeNotRecorded
from ecs_secret_bot.commands.values import from_payload
from ecs_secret_bot.errors import BotError, CloudError
from ecs_secret_bot.storage import approvals as approval_store
from ecs_secret_bot.storage.approvals import ApprovalRow, set_message

__all__ = [
    "ApprovalStep",
    "approve_request",
    "attach_approval_message",
    "count_card_failure",
    "deny_request",
    "executors",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApprovalStep:
    """What one click did: the vote, and, if it completed the request, what ran."""

    vote: VoteOutcome
    approval: ApprovalRow
    progress: str
    """``security 1/1, sre 0/1``."""
    result: OperationResult | None = None
    error: BotError | None = None
    sweep_id: str = ""
    """Set when the approval that completed holds a sweep: the front end hands it to
    ``SweepRunner.approved`` (a sweep runs for minutes, under the runner, not in the click)."""

    @property
    def changed(self) -> bool:
        """Say whether the click changed the request (so its card needs an update)."""
        return self.vote.result not in (VoteResult.REFUSED, VoteResult.DUPLICATE)


def executors() -> Mapping[str, Executor[OperationResult]]:
    """Return the executor of each action that can be held for approval."""
    from ecs_secret_bot.commands.operations import create, delete, restore, rotate, rotation_policy

    return {
        "kms:createsecret": create.execute_create,
        "kms:rotatesecret": rotate.execute_rotation,
        "kms:putsecretvalue": rotate.execute_rotation,
        "kms:updatesecretrotationpolicy": rotation_policy.execute_rotation_policy,
        "kms:deletesecret": delete.execute_deletion,
        "kms:restoresecret": restore.execute_restore,
    }


async def _state_problem(core: Core, row: ApprovalRow) -> str | None:
    """Say why the secret's state no longer allows the approved request, or None."""
    action = row.action.lower()
    if action == "kms:createsecret":
        return None  # CreateSecret itself refuses an existing name, plainly
    try:
        detail = await core.gateway.describe_secret(row.region, row.secret_name)
    except CloudError as exc:
        if exc.code == "Forbidden.ResourceNotFound":
            return f"{row.secret_name} no longer exists in {row.region}"
        return f"its state could not be checked ({exc.code or exc.user_message})"
    if action == "kms:restoresecret" and detail.planned_delete_time is None:
        return f"{row.secret_name} is no longer scheduled for deletion"
    if action != "kms:restoresecret" and detail.planned_delete_time is not None:
        return f"{row.secret_name} is now scheduled for deletion"
    return None


async def _vote_audit(core: Core, actor: Actor, outcome: VoteOutcome, decision: str) -> None:
    row = outcome.approval
    await audit(
        core,
        actor=actor.principal,
        request=ActionRequest(action=row.action, resource=row.resource),
        channel_id=actor.channel_id,
        decision=decision,
        reason=outcome.message,
        outcome=str(outcome.result),
        approval_id=row.id,
        required=False,
    )


async def approve_request(approval_id: str, *, actor: Actor, core: Core) -> ApprovalStep:
    """Record ``actor``'s approval; if it completes the request, run the request."""
    vote = await core.workflow.approve(approval_id, actor)
    await _vote_audit(core, actor, vote, "approve")
    step = ApprovalStep(
        vote=vote,
        approval=vote.approval,
        progress=core.workflow.progress(vote.approval).progress(),
    )
    if vote.result is not VoteResult.APPROVED:
        return step
    sweep_id = sweep_of(vote.approval)
    if sweep_id:
        return replace(step, sweep_id=sweep_id)
    return await _execute(core, approval_id, step)


async def _execute(core: Core, approval_id: str, step: ApprovalStep) -> ApprovalStep:
    async def check_state(row: ApprovalRow) -> str | None:
        return await _state_problem(core, row)

    claim = await core.workflow.claim_execution(approval_id, check_state=check_state)
    if not claim.won or claim.request is None:
        row = await core.workflow.get(approval_id)
        return ApprovalStep(
            vote=step.vote,
            approval=row,
            progress=step.progress,
            error=BotError(claim.message),
        )
    row = claim.approval
    execute = executors().get(row.action.lower())
    if execute is None:  # pragma: no cover - rules only hold actions we can run
        await core.workflow.finish(approval_id, ok=False, outcome="no executor for this action")
        raise BotError(f"The bot cannot run {row.action} after approval.")
    # It runs as the requester's role, as it would have without the approval.
    requester = await core.workflow.directory.lookup(row.requester)
    execution = Execution(
        identity=core.identity_of(requester or Actor(principal=row.requester)),
        request=claim.request,
        requested_by=row.requester,
        channel_id=row.channel_id,
        team_id=row.team_id,
        approved_by=row.approved_by,
        approval_id=row.id,
        reason=f"approved under rule {row.rule} by {', '.join(row.approved_by)}",
        value=from_payload(claim.payload) if claim.payload is not None else None,
    )
    try:
        result = await execute.run(core, execution)
    except ChangeNotRecorded as exc:  # the cloud changed: the approval ran, whatever is recorded
        await _finish(core, approval_id, ok=True, outcome=f"done, not recorded: {exc.user_message}")
        return ApprovalStep(
            vote=step.vote,
            approval=await _latest(core, approval_id, row),
            progress=step.progress,
            error=exc,
        )
    except BotError as exc:
        await core.workflow.finish(approval_id, ok=False, outcome=f"failed: {exc.user_message}")
        return ApprovalStep(
            vote=step.vote,
            approval=await core.workflow.get(approval_id),
            progress=step.progress,
            error=exc,
        )
    except Exception:
        await core.workflow.finish(approval_id, ok=False, outcome="failed: an internal error")
        raise
    await _finish(core, approval_id, ok=True, outcome="done")
    return ApprovalStep(
        vote=step.vote,
        approval=await _latest(core, approval_id, row),
        progress=step.progress,
        result=result,
    )


async def _finish(core: Core, approval_id: str, *, ok: bool, outcome: str) -> None:
    """Record how a request that reached the cloud ended, if the database takes it now.

    If it does not, the request stays claimed with the outcome "no result was recorded
    (...): check the secret", which is true; the answer to the person is not lost for it.
    """
    try:
        await core.workflow.finish(approval_id, ok=ok, outcome=outcome)
    except Exception:
        logger.warning("could not record the outcome of approval %s", approval_id, exc_info=True)


async def _latest(core: Core, approval_id: str, claimed: ApprovalRow) -> ApprovalRow:
    """Return the request as recorded now, or as claimed when the database cannot say."""
    try:
        return await core.workflow.get(approval_id)
    except Exception:
        return claimed


async def deny_request(approval_id: str, *, actor: Actor, core: Core) -> ApprovalStep:
    """Record ``actor``'s denial (or the requester's withdrawal): it ends the request."""
    vote = await core.workflow.deny(approval_id, actor)
    await _vote_audit(core, actor, vote, "deny")
    return ApprovalStep(
        vote=vote,
        approval=vote.approval,
        progress=core.workflow.progress(vote.approval).progress(),
    )


async def attach_approval_message(
    approval_id: str, *, channel_id: str, ts: str, core: Core
) -> None:
    """Remember the message that shows the request, so it can be updated in place."""
    await set_message(core.db, approval_id, channel=channel_id, ts=ts)


async def count_card_failure(approval_id: str, *, core: Core) -> int:
    """Count a failed try to post the request's card; return how many tries failed so far."""
    return await approval_store.count_card_failure(core.db, approval_id)
