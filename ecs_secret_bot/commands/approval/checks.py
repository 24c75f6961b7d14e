"""Who may vote on an approval request, and whether an approved one may still run.

Owns the eligibility of one approver (not the requester; a full member of the workspace; in
one of the rule's approver sets; allowed the action by policy now, with the request's own
parameters and the approver's own identity and channel; for a sweep, every secret in it),
the count of approvals recorded on
a request, and the checks made again at execution time: the frozen request's fingerprint,
the rule, the requester's standing, each approver's eligibility from fresh facts. Never
writes: the workflow (``approval.py``) decides what to do with the answers.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.approval.requests import (
    ActionRequest,
    ActorDirectory,
    members_of,
    request_of,
)
from ecs_secret_bot.commands.approval.rules import (
    ApprovalConfig,
    ApprovalRule,
    RouteKind,
    Tally,
    tally,
)
from ecs_secret_bot.commands.policy.engine import AccessConfig
from ecs_secret_bot.storage.approvals import ApprovalRow

__all__ = ["approver_problem", "execution_problem", "progress"]


def progress(row: ApprovalRow, rule: ApprovalRule | None) -> Tally:
    """Count the approvals recorded on the request against its requirements."""
    needed = dict(row.requirements)
    if rule is not None:  # show the sets in the order the rule lists them
        order = [s.name for s in rule.approver_sets if s.name in needed]
        needed = {name: needed[name] for name in order + sorted(set(needed) - set(order))}
    return tally(
        needed,
        (
            (v.voter, v.approver_set.split(","))
            for v in row.votes
            if v.decision == "approve" and v.voter != row.requester
        ),
    )


def approver_problem(
    access: AccessConfig, rule: ApprovalRule, row: ApprovalRow, actor: Actor, *, now: datetime
) -> tuple[str | None, tuple[str, ...]]:
    """Say why the actor may not vote on the request now (or None), and the sets they are in."""
    if actor.principal == row.requester:
        return "you asked for it, and someone else must approve it", ()
    if not actor.is_full_member:
        return "guests, bots and deactivated accounts cannot approve", ()
    sets = rule.sets_of(actor)
    if not sets:
        return f"it needs {rule.describe()}", ()
    request = request_of(row)
    for member in members_of(request) or (request,):  # a sweep: every secret in it
        decision = access.decide(
            actor, member.action, member.resource, now=now, request_keys=member.request_keys
        )
        if not decision.allowed:
            return f"an approver must be allowed to do it themselves, and {decision.reason}", ()
    return None, sets


async def execution_problem(
    row: ApprovalRow,
    request: ActionRequest | None,
    *,
    access: AccessConfig,
    rules: ApprovalConfig,
    directory: ActorDirectory,
    now: datetime,
) -> str | None:
    """Say why an approved request may no longer run (or None): checked again at execution."""
    frozen = request_of(row)
    if frozen.fingerprint() != row.params_hash:
        return "the stored request does not match its fingerprint"
    if request is not None and request.fingerprint() != row.params_hash:
        return "what was about to run differs from what was approved"
    rule = rules.rule(row.rule)
    if rule is None:
        return f"its approval rule {row.rule} is no longer in the configuration"
    asked_in = row.params.get("asked_in", {})
    requester = await directory.lookup(row.requester)
    if requester is None or requester.is_deleted:
        return f"{row.requester} is no longer a member of the workspace"
    requester = replace(
        requester,
        channel_id=row.channel_id,
        channel_name=asked_in.get("channel_name", ""),
        team_id=asked_in.get("team_id", "") or requester.team_id,
    )
    members = members_of(frozen) or (frozen,)  # a sweep: every secret in it
    route = rules.route_all(
        access, requester, ((m.action, m.resource, m.request_keys) for m in members), now=now
    )
    if route.kind is RouteKind.REFUSE:
        return f"the requester may no longer ask for it: {route.decision.reason}"
    if route.rule is not None and route.rule.name != rule.name:
        return f"approval rule {route.rule.name} holds it now; ask again"
    voters: list[tuple[str, tuple[str, ...]]] = []
    dropped: list[str] = []
    for voter in row.approved_by:
        fresh = await directory.lookup(voter)
        if fresh is None:
            dropped.append(f"{voter} is no longer a member of the workspace")
            continue
        fresh = replace(fresh, channel_id=row.message_channel or row.channel_id, channel_name="")
        problem, sets = approver_problem(access, rule, row, fresh, now=now)
        if problem:
            dropped.append(f"{voter} may no longer approve it ({problem})")
        else:
            voters.append((voter, sets))
    if not tally(row.requirements, voters).complete:
        return "its approvals no longer suffice: " + "; ".join(dropped)
    return None
