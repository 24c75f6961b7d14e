"""The path every mutating operation takes, in one place.

    validate -> idempotency -> authorize -> hold for approval? -> claim the secret (inflight)
        -> pre-flight -> audit the intent -> cloud call -> record -> audit the outcome

Operations build a ``Plan`` (the frozen ``ActionRequest`` that policies and approvals see,
plus the pre-flight target and any custom value) and an ``Executor[R]`` (the part after the
gate, shared with the approval path, answering an ``R``). ``run_mutation`` does the rest.
The audit fails closed: if the intent cannot be written, nothing is called. Dry runs decide
and report, and change nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.approval.requests import ActionRequest
from ecs_secret_bot.commands.approval.rules import RouteKind
from ecs_secret_bot.commands.auditing import audit, new_correlation_id
from ecs_secret_bot.commands.core import Core, SecretRef
from ecs_secret_bot.commands.gateway import CloudIdentity
from ecs_secret_bot.commands.inflight import one_at_a_time
from ecs_secret_bot.commands.outcomes import (
    DryRunReport,
    HeldForApproval,
    OperationResult,
    decode,
    encode,
)
from ecs_secret_bot.commands.preflight import preflight_lines
from ecs_secret_bot.commands.unrecorded import ChangeNotRecorded
from ecs_secret_bot.commands.values import SecretValue, to_payload
from ecs_secret_bot.errors import Conflict
from ecs_secret_bot.storage import idempotency
from ecs_secret_bot.storage.approvals import ApprovalRow

__all__ = [
    "Execution",
    "Executor",
    "Plan",
    "audit",
    "refuse_early",
    "earlier_answer",
    "executor",
    "held_for_approval",
    "new_correlation_id",
    "run_mutation",
]

logger = logging.getLogger(__name__)

R = TypeVar("R", bound=OperationResult)
R_co = TypeVar("R_co", bound=OperationResult, covariant=True)


@dataclass(frozen=True)
class Execution:
    """A request cleared to run: directly, or after its approval."""

    request: ActionRequest
    requested_by: str
    channel_id: str
    approved_by: tuple[str, ...] = ()
    approval_id: str = ""
    reason: str = ""
    """Why it may run: the deciding statement, or the approval rule and approvers."""
    value: SecretValue | None = field(default=None, repr=False)
    identity: CloudIdentity | None = None  # the requester's role; None: the bot's identity
    correlation_id: str = ""
    """Ties its audit entries to the request's earlier ones (after an approval, its id does)."""
    team_id: str = ""
    """The workspace it was asked in: its records keep it, for the messages posted later."""

    @property
    def secret(self) -> SecretRef:
        """Return the secret the cleared request is about."""
        return SecretRef(self.request.region, self.request.secret_name, self.request.resource)


@dataclass(frozen=True)
class Executor(Generic[R_co]):
    """The part of an operation after the gate: run a cleared request, answer an ``R_co``.

    ``result`` is the answer's type, which a stored answer given again to a repeat is
    checked against. Made by ``@executor(RotateResult)`` on an ``execute_*`` coroutine.
    """

    result: type[R_co]
    run: Callable[[Core, Execution], Awaitable[R_co]]


def executor(result: type[R]) -> Callable[[Callable[[Core, Execution], Awaitable[R]]], Executor[R]]:
    """Make the decorated coroutine the executor of ``result`` answers, under the secret's claim."""
    return lambda run: Executor(result=result, run=one_at_a_time(run))


@dataclass(frozen=True)
class Plan:
    """A validated mutating request."""

    request: ActionRequest
    cloud_call: str
    """The call it makes, for dry runs, e.g. ``KMS RotateSecret SecretName=...``."""
    instance_id: str = ""
    """The instance to pre-flight (create, rotate), if any."""
    value: SecretValue | None = field(default=None, repr=False)


def held_for_approval(core: Core, row: ApprovalRow, *, actor: Actor) -> HeldForApproval:
    """Describe a request waiting for approval, for the requester and the approval card."""
    rule = core.rules.rule(row.rule)
    return HeldForApproval(
        approval_id=row.id,
        action=row.action,
        resource=row.resource,
        region=row.region,
        secret_name=row.secret_name,
        rule=row.rule,
        needs=rule.describe() if rule else "",
        expires_at=row.expires_at,
        announce_channel=core.rules.announce_channel(actor) or row.channel_id,
        approvers=tuple(p for s in rule.approver_sets for p in s.approvers) if rule else (),
        notify_dm=bool(rule and rule.notify_dm),
        requested_by=row.requester,
        reason=str(row.params.get("params", {}).get("reason", "")),
    )


async def _dry_run(core: Core, actor: Actor, plan: Plan) -> DryRunReport:
    route = core.workflow.route(actor, plan.request)
    lines: list[str] = []
    if plan.instance_id:
        cloud = core.cloud_for(actor)  # the calls the request would make as its requester
        lines = await preflight_lines(cloud, plan.request.region, plan.instance_id)
    allowed = route.kind is not RouteKind.REFUSE
    rule = route.rule.name if route.kind is RouteKind.HOLD and route.rule else ""
    if not allowed:
        summary = f"It would be refused: {route.decision.reason}."
    elif rule:
        summary = f"It would wait for approval ({route.reason}), then call {plan.cloud_call}."
    elif any(line.startswith("failed") for line in lines):
        summary = "It would stop at the pre-flight, before any KMS call."
    else:
        summary = f"It would call {plan.cloud_call}."
    return DryRunReport(
        action=plan.request.action,
        resource=plan.request.resource,
        region=plan.request.region,
        secret_name=plan.request.secret_name,
        allowed=allowed,
        decision=route.decision.reason,
        approval_rule=rule,
        preflight=tuple(lines),
        cloud_call=plan.cloud_call,
        summary=summary + " Nothing was done.",
    )


def _idempotency_key(actor: Actor, request_id: str) -> str:
    return f"{actor.principal}|{request_id}" if request_id else ""


SUB_TYPES = ("Password", "SSHKey")


async def refuse_early(
    core: Core,
    actor: Actor,
    *,
    action: str,
    resource: str,
    request_keys: Mapping[str, Any] | None = None,
    dry_run: bool = False,
) -> DryRunReport | None:
    """Refuse before any cloud read when no kind of secret could make the request pass.

    The final decision needs the secret's kind (``kms:SecretSubType``), which only a
    DescribeSecret tells; asking the cloud on behalf of someone who may do nothing with any
    kind would let them learn which secrets exist. So: try every kind; if each is refused
    (and not requestable), refuse now, with the reason.
    """
    keys = dict(request_keys or {})
    routes = [
        core.workflow.route(
            actor,
            ActionRequest(
                action=action, resource=resource, request_keys={**keys, "kms:SecretSubType": kind}
            ),
        )
        for kind in SUB_TYPES
    ]
    if any(route.kind is not RouteKind.REFUSE for route in routes):
        return None
    decision = routes[0].decision
    if dry_run:
        return DryRunReport(
            action=action,
            resource=resource,
            region=resource.split(":")[2],
            secret_name=resource.partition(":secret/")[2],
            allowed=False,
            decision=decision.reason,
            approval_rule="",
            preflight=(),
            cloud_call="",
            summary=f"It would be refused: {decision.reason}. Nothing was done.",
        )
    await audit(
        core,
        actor=actor.principal,
        request=ActionRequest(action=action, resource=resource),
        channel_id=actor.channel_id,
        decision="deny",
        reason=decision.reason,
        outcome="refused",
        correlation_id=new_correlation_id(),
    )
    decision.raise_if_denied()
    return None  # pragma: no cover - raise_if_denied raised


def _stored_answer(stored: Mapping[str, Any], execute: Executor[R]) -> R | HeldForApproval:
    """Return the stored first answer, refusing one that another kind of request gave."""
    answer = decode(dict(stored))
    if isinstance(answer, (execute.result, HeldForApproval)):
        return answer
    raise Conflict(
        "This request id was already used by another kind of request.",
        next_step="Send the request again with a new request id.",
    )


async def earlier_answer(
    core: Core, actor: Actor, request_id: str, *, execute: Executor[R]
) -> R | HeldForApproval | None:
    """Return the stored answer of a request id that already ran, or None.

    An operation whose checks depend on the secret's state (delete refuses a secret already
    scheduled, restore one that is not) asks this first, so a repeat gets the first answer
    rather than a refusal caused by the first request itself.
    """
    key = _idempotency_key(actor, request_id)
    stored = await idempotency.get_result(core.db, key, now=core.clock()) if key else None
    return _stored_answer(stored, execute) if stored is not None else None


async def run_mutation(
    core: Core,
    actor: Actor,
    plan: Plan,
    *,
    execute: Executor[R],
    dry_run: bool = False,
    request_id: str = "",
) -> R | HeldForApproval | DryRunReport:
    """Authorize ``plan`` for ``actor``, hold it, or run it; the same request id runs once."""
    if dry_run:
        return await _dry_run(core, actor, plan)
    key = _idempotency_key(actor, request_id)
    if key:
        first = await idempotency.claim_key(
            core.db, key, now=core.clock(), ttl=core.idempotency_ttl
        )
        if not first:
            stored = await idempotency.get_result(core.db, key)
            if stored is not None:
                return _stored_answer(stored, execute)
            raise Conflict(
                "This request is already being carried out.",
                next_step="Wait for its answer instead of sending it again.",
            )
    try:
        outcome = await _route_and_run(core, actor, plan, execute)
    except ChangeNotRecorded:
        raise  # the cloud changed: the claim stays, so a repeat does not change it again
    except BaseException:
        if key:
            await _forget(core, key)
        raise
    if key:
        try:
            await idempotency.store_result(core.db, key, encode(outcome))
        except Exception:
            # What was done is recorded in its own rows: the answer is true without its copy
            # for repeats (a repeat is told "already being carried out" until the claim ends).
            logger.warning("could not store the answer of request %s", key, exc_info=True)
    return outcome


async def _forget(core: Core, key: str) -> None:
    """Release a request id whose request failed; a failure here hides not the first one."""
    try:
        await idempotency.release_key(core.db, key)
    except Exception:
        logger.warning("could not release request %s", key, exc_info=True)


async def _route_and_run(
    core: Core, actor: Actor, plan: Plan, execute: Executor[R]
) -> R | HeldForApproval:
    request = plan.request
    route = core.workflow.route(actor, request)
    correlation_id = new_correlation_id()

    async def note(
        decision: str, outcome: str, *, approval_id: str = "", required: bool = True
    ) -> None:
        await audit(
            core,
            actor=actor.principal,
            request=request,
            channel_id=actor.channel_id,
            decision=decision,
            reason=route.reason,
            outcome=outcome,
            approval_id=approval_id,
            required=required,
            correlation_id=correlation_id,
        )

    if route.kind is RouteKind.REFUSE:
        await note("deny", "refused")
        route.decision.raise_if_denied()
    if route.kind is RouteKind.HOLD:
        await note("held", "requested")
        payload = to_payload(plan.value) if plan.value is not None else None
        row = await core.workflow.open_request(actor, request, payload=payload)
        await note("held", "pending approval", approval_id=row.id, required=False)
        return held_for_approval(core, row, actor=actor)
    return await execute.run(
        core,
        Execution(
            request=request,
            requested_by=actor.principal,
            channel_id=actor.channel_id,
            team_id=actor.team_id,
            reason=route.decision.reason,
            value=plan.value,
            identity=core.identity_of(actor),
            correlation_id=correlation_id,
        ),
    )
