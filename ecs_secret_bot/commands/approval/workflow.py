"""The approval workflow: a held request, its votes, and the one execution it may lead to.

Owns the state machine, persisted through ``storage/approvals`` so a restart loses nothing::

    pending ──► approved ──► executed ──► (outcome recorded)
       │            │            └──────► failed
       │            └──► failed            (a re-check at execution failed; nothing ran)
       ├──► denied                          (one denial, or the requester withdrew)
       └──► expired                         (past expires_after)

Every move is a compare-and-set, so of two racing clicks one wins and the other is told
what happened ("It was already approved by ..."). An approver must be a full member of
the workspace, in one of the rule's approver sets, allowed the action by policy *at the
moment of approving* (with the request's own parameters and the approver's own identity and
channel), and never the requester. Claiming the execution moves ``approved`` to
``executed`` exactly once (within ``CLAIM_WINDOW`` of the approval, or before the
expiry if later), after checking again the policy, the approvers' eligibility
(through an ``ActorDirectory``), the frozen parameters' fingerprint and, through a callback,
the secret's state; if any no longer holds, the request fails and says why. Its outcome
reads "started at ..." until the result is recorded, so a crash in between stays visible
(``interrupted``).

Never talks to Slack or to the cloud: the caller runs the operation and reports back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.approval.checks import approver_problem, execution_problem, progress
from ecs_secret_bot.commands.approval.requests import (
    INTERRUPTED,
    ActionRequest,
    ActorDirectory,
    ExecutionClaim,
    VoteOutcome,
    VoteResult,
    closed_message,
    members_of,
    request_of,
    stored_params,
    when,
)
from ecs_secret_bot.commands.approval.rules import (
    ApprovalConfig,
    Route,
    RouteKind,
    Tally,
)
from ecs_secret_bot.commands.policy.engine import AccessConfig
from ecs_secret_bot.errors import (
    ApprovalError,
    NextStep,
    NotFound,
    StorageFault,
    Subcommand,
    storage_error,
)
from ecs_secret_bot.storage.approvals import (
    ApprovalRow,
    NewApproval,
    add_vote,
    get_approval,
    insert_approval,
    list_approvals,
    pending_expired,
    set_status,
)
from ecs_secret_bot.storage.db import Database
from ecs_secret_bot.storage.leases import Fence
from ecs_secret_bot.storage.payloads import put_payload, read_payload

__all__ = ["CLAIM_WINDOW", "ApprovalWorkflow", "StateCheck"]

CLAIM_WINDOW = timedelta(minutes=15)
"""How long after its approval (or its expiry, if later) an approved request may start."""

StateCheck = Callable[[ApprovalRow], Awaitable[str | None]]
"""Checks the secret's state before a claimed execution: a reason to refuse, or None."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ApprovalWorkflow:
    """Requests held for approval, over one database, one policy set and one rule set."""

    def __init__(
        self,
        db: Database,
        *,
        access: AccessConfig,
        rules: ApprovalConfig,
        directory: ActorDirectory,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.db = db
        self.access = access
        self.rules = rules
        self.directory = directory
        self.clock = clock

    def route(self, actor: Actor, request: ActionRequest) -> Route:
        """Decide whether the request runs now, waits for approval, or is refused."""
        members = members_of(request)
        if members:  # a sweep: each secret as a single rotation, held by the strictest rule
            return self.rules.route_all(
                self.access,
                actor,
                ((m.action, m.resource, m.request_keys) for m in members),
                now=self.clock(),
            )
        return self.rules.route(
            self.access,
            actor,
            request.action,
            request.resource,
            now=self.clock(),
            request_keys=request.request_keys,
        )

    async def open_request(
        self,
        actor: Actor,
        request: ActionRequest,
        *,
        payload: bytes | None = None,
    ) -> ApprovalRow:
        """Hold the request for approval; raise AccessDenied if it may not even be asked."""
        route = self.route(actor, request)
        if route.kind is RouteKind.REFUSE:
            route.decision.raise_if_denied()
        if route.kind is RouteKind.RUN or route.rule is None:
            raise ValueError("this request needs no approval; run it")
        if self.rules.announce_channel(actor) is None:
            raise ApprovalError(
                "This request needs an approval, but it was made outside a channel and no "
                "[approval] channel is configured for approval requests.",
                next_step="Ask again from a channel, or ask an admin to set [approval] channel.",
            )
        now = self.clock()
        row = await insert_approval(
            self.db,
            NewApproval(
                action=request.action,
                resource=request.resource,
                region=request.region,
                secret_name=request.secret_name,
                requester=actor.principal,
                channel_id=actor.channel_id,
                rule=route.rule.name,
                params=stored_params(request, actor),
                requirements=route.rule.requirements,
                reason=route.reason,
                expires_at=now + route.rule.expires_after,
                params_hash=request.fingerprint(),
                team_id=actor.team_id,
            ),
            now=now,
        )
        if payload is not None:
            try:
                await put_payload(self.db, row.id, payload)
            except BaseException:
                await set_status(
                    self.db,
                    row.id,
                    expected="pending",
                    new="failed",
                    at=now,
                    outcome="its custom value could not be stored",
                )
                raise
        return row

    async def get(self, approval_id: str) -> ApprovalRow:
        """Return the request, or raise NotFound."""
        row = await get_approval(self.db, approval_id)
        if row is None:
            raise NotFound(
                f"There is no approval request {approval_id}.",
                next_step=NextStep("Use {command} to see the open ones.", Subcommand("approvals")),
            )
        return row

    def progress(self, row: ApprovalRow) -> Tally:
        """Count the approvals recorded so far against the request's requirements."""
        return progress(row, self.rules.rule(row.rule))

    def why_not_approver(self, row: ApprovalRow, actor: Actor) -> str | None:
        """Say why the actor may not vote on the request now, or None if they may."""
        rule = self.rules.rule(row.rule)
        if rule is None:
            return f"its approval rule {row.rule} is no longer in the configuration"
        return approver_problem(self.access, rule, row, actor, now=self.clock())[0]

    async def waiting_for(self, actor: Actor) -> list[ApprovalRow]:
        """Return the pending requests the actor may approve and has not voted on yet."""
        now = self.clock()
        rows = await list_approvals(self.db, statuses=("pending",), limit=1000)
        return [
            row
            for row in rows
            if (row.expires_at is None or row.expires_at > now)
            and all(v.voter != actor.principal for v in row.votes)
            and self.why_not_approver(row, actor) is None
        ]

    async def approve(self, approval_id: str, approver: Actor) -> VoteOutcome:
        """Record an approval; complete the request when every approver set has its count."""
        return await self._vote(approval_id, approver, "approve")

    async def deny(self, approval_id: str, actor: Actor) -> VoteOutcome:
        """End the request: denied by an eligible approver, or withdrawn by its requester."""
        return await self._vote(approval_id, actor, "deny")

    async def _vote(self, approval_id: str, actor: Actor, decision: str) -> VoteOutcome:
        row = await self.get(approval_id)
        now = self.clock()
        if row.status != "pending":
            return VoteOutcome(VoteResult.CLOSED, closed_message(row), row)
        if row.expires_at is not None and row.expires_at <= now:
            return await self._expire(row, now=now)
        rule = self.rules.rule(row.rule)
        if rule is None:
            reason = f"its approval rule {row.rule} is no longer in the configuration"
            await self._close(row, "failed", reason, now=now)
            return await self._outcome(VoteResult.CLOSED, f"It cannot go on: {reason}.", row.id)
        withdraw = decision == "deny" and actor.principal == row.requester
        sets: tuple[str, ...] = ("requester",)
        if not withdraw:
            problem, sets = approver_problem(self.access, rule, row, actor, now=now)
            if problem:
                return VoteOutcome(
                    VoteResult.REFUSED, f"You cannot {decision} this request: {problem}.", row
                )
        voted = await add_vote(
            self.db,
            row.id,
            voter=actor.principal,
            decision=decision,
            approver_set=",".join(sets),
            at=now,
        )
        if not voted:
            latest = await self.get(row.id)
            mine = next((v for v in latest.votes if v.voter == actor.principal), None)
            if mine is not None:
                verb = "approved" if mine.decision == "approve" else "denied"
                return VoteOutcome(
                    VoteResult.DUPLICATE, f"You already {verb} this request.", latest
                )
            if latest.status == "pending":  # expired between our check and the vote
                return await self._expire(latest, now=now)
            return VoteOutcome(VoteResult.CLOSED, closed_message(latest), latest)
        if decision == "deny":
            what = "withdrawn by its requester" if withdraw else f"denied by {actor.principal}"
            won = await self._close(row, "denied", what, now=now)
            result = VoteResult.WITHDRAWN if withdraw else VoteResult.DENIED
            if won:
                return await self._outcome(result, f"The request was {what}.", row.id)
            latest = await self.get(row.id)
            return VoteOutcome(VoteResult.CLOSED, closed_message(latest), latest)
        latest = await self.get(row.id)
        counted = self.progress(latest)
        if not counted.complete:
            return VoteOutcome(
                VoteResult.RECORDED,
                f"Your approval is recorded; still waiting ({counted.progress()}).",
                latest,
                counted,
            )
        approvers = ", ".join(counted.assignment)
        won = await set_status(
            self.db,
            row.id,
            expected="pending",
            new="approved",
            at=now,
            outcome=f"approved by {approvers}",
        )
        latest = await self.get(row.id)
        if not won:
            return VoteOutcome(VoteResult.CLOSED, closed_message(latest), latest, counted)
        return VoteOutcome(
            VoteResult.APPROVED, f"Approved by {approvers}; it runs now.", latest, counted
        )

    async def expire_due(self, *, fence: Fence | None = None) -> list[ApprovalRow]:
        """Expire every pending request past its expiry (under ``fence``); return those closed."""
        now = self.clock()
        closed = []
        for row in await pending_expired(self.db, now=now):
            if await self._close(row, "expired", self._expiry_note(row), now=now, fence=fence):
                closed.append(await self.get(row.id))
        return closed

    async def claim_execution(
        self,
        approval_id: str,
        request: ActionRequest | None = None,
        *,
        check_state: StateCheck | None = None,
    ) -> ExecutionClaim:
        """Win the one right to run an approved request, after checking it still holds."""
        row = await self.get(approval_id)
        if row.status != "approved":
            return ExecutionClaim(False, closed_message(row), row)
        now = self.clock()
        deadline = max(row.expires_at or row.updated_at, row.updated_at + CLAIM_WINDOW)
        problem = None
        if now > deadline:
            approved_at = when(row.updated_at)
            problem = f"it was approved at {approved_at} but had not started by {when(deadline)}"
        if problem is None:
            problem = await execution_problem(
                row,
                request,
                access=self.access,
                rules=self.rules,
                directory=self.directory,
                now=now,
            )
        if problem is None and check_state is not None:
            problem = await check_state(row)
        if problem is not None:
            await self._close(row, "failed", f"not run: {problem}", now=now, expected="approved")
            latest = await self.get(row.id)
            if latest.status == "failed" and latest.outcome == f"not run: {problem}":
                return ExecutionClaim(False, f"Nothing ran: {problem}.", latest)
            return ExecutionClaim(False, closed_message(latest), latest)
        # The payload is read before the claim: closing the request erases it.
        try:
            payload = await read_payload(self.db, row.id)
        except StorageFault as exc:
            raise storage_error(exc) from None
        won = await set_status(
            self.db,
            row.id,
            expected="approved",
            new="executed",
            at=now,
            outcome=f"{INTERRUPTED}{when(now)}; no result was recorded (the bot may have "
            "stopped while it ran: check the secret)",
        )
        latest = await self.get(row.id)
        if not won:
            return ExecutionClaim(False, closed_message(latest), latest)
        return ExecutionClaim(True, "Running it now.", latest, request_of(latest), payload)

    async def finish(self, approval_id: str, *, ok: bool, outcome: str) -> bool:
        """Record how a claimed execution ended; False if it was not a running claim."""
        return await set_status(
            self.db,
            approval_id,
            expected="executed",
            new="executed" if ok else "failed",
            at=self.clock(),
            outcome=outcome or ("done" if ok else "failed"),
        )

    async def interrupted(self) -> list[ApprovalRow]:
        """Return executions that were claimed but never recorded a result."""
        rows = await list_approvals(self.db, statuses=("executed",), limit=1000)
        return [r for r in rows if r.outcome.startswith(INTERRUPTED)]

    async def _close(
        self,
        row: ApprovalRow,
        status: str,
        outcome: str,
        *,
        now: datetime,
        expected: str = "pending",
        fence: Fence | None = None,
    ) -> bool:
        return await set_status(
            self.db, row.id, expected=expected, new=status, at=now, outcome=outcome, fence=fence
        )

    def _expiry_note(self, row: ApprovalRow) -> str:
        return f"expired at {when(row.expires_at)} ({self.progress(row).progress()})"

    async def _expire(self, row: ApprovalRow, *, now: datetime) -> VoteOutcome:
        await self._close(row, "expired", self._expiry_note(row), now=now)
        latest = await self.get(row.id)
        if latest.status == "expired":
            return VoteOutcome(
                VoteResult.EXPIRED, f"It expired at {when(latest.expires_at)}.", latest
            )
        return VoteOutcome(VoteResult.CLOSED, closed_message(latest), latest)

    async def _outcome(self, result: VoteResult, message: str, approval_id: str) -> VoteOutcome:
        return VoteOutcome(result, message, await self.get(approval_id))
