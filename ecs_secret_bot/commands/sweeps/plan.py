"""Plan a sweep: select the secrets, pre-flight each, authorize each, bind the set.

Owns the plan: each selected secret's state (refused, skipped, or ready) with why; the
per-secret authorization, ``kms:RotateSecret`` routed exactly as a single generated rotation
of that secret is (guardrails, explicit Deny, gating and opening approval rules: a sweep
never does what a single rotation could not); the checks a single rotation would make
before its cloud call (instance Running, Cloud Assistant online, no rotation in flight)
plus two of its own (the OS user is known; the secret is under KMS's limit of
``KMS_HOURLY_LIMIT`` rotations an hour, counted from the rotations the bot recorded); the
strictest rule holding any runnable secret; and the digest of the runnable set. Changes
nothing: a dry run is a plan. Never runs a rotation.

The strictest rule (``approval.rules.strictest``) is the one needing the most approvals in
all (``min_approvals`` summed over its approver sets), then the one expiring soonest, then
the first in the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.approval.requests import ActionRequest
from ecs_secret_bot.commands.approval.rules import ApprovalRule, Route, RouteKind, strictest
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.inflight import holder
from ecs_secret_bot.commands.pipeline import SUB_TYPES
from ecs_secret_bot.commands.sweeps.model import (
    ItemState,
    SweepItem,
    SweepPlan,
    SweepSelector,
    set_digest,
)
from ecs_secret_bot.commands.sweeps.select import (
    Candidate,
    InstanceFacts,
    check_selector,
    find_candidates,
    instance_facts,
)
from ecs_secret_bot.errors import AccessDenied, CloudError, InvalidInput
from ecs_secret_bot.storage import rotations

__all__ = [
    "KMS_HOURLY_LIMIT",
    "ROTATE",
    "SUB_TYPE",
    "check_may_stop",
    "member_request",
    "parse_tag",
    "plan_sweep",
    "route_member",
]

ROTATE = "kms:RotateSecret"
KMS_HOURLY_LIMIT = 50
"""Rotations KMS takes per secret per hour (fact sheet, RotateSecret)."""
KINDS = {"Password": "password", "SSHKey": "ssh_key"}
SUB_TYPE = {kind: sub for sub, kind in KINDS.items()}
"""KMS's ``SecretSubType`` of each kind of item."""


def parse_tag(text: str) -> tuple[str, str]:
    """Parse ``key=value`` into a tag selector; raise InvalidInput when it is not one."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise InvalidInput(
            f"{text[:60]!r} is not a tag selector: write it key=value (env=prod).",
            field="tag",
            next_step="Give the tag as --tag key=value, e.g. --tag env=prod.",
        )
    return key.strip(), value.strip()


def member_request(item: SweepItem, *, sub_type: str) -> ActionRequest:
    """Return the single generated rotation ``item`` stands for, as policies see it."""
    return ActionRequest(
        action=ROTATE,
        resource=item.arn,
        region=item.region,
        secret_name=item.name,
        request_keys={"kms:CustomSecretValue": False, "kms:SecretSubType": sub_type},
    )


def route_member(core: Core, actor: Actor, *, item: SweepItem | Candidate, sub: str) -> Route:
    """Route the generated rotation of one secret for ``actor`` (every kind if ``sub`` is "")."""
    item = SweepItem(item.name, item.region, "", "", "", ItemState.READY, arn=item.arn)
    routes = [
        core.workflow.route(actor, member_request(item, sub_type=kind))
        for kind in ((sub,) if sub else SUB_TYPES)
    ]
    return next((r for r in routes if r.kind is not RouteKind.REFUSE), routes[0])


def check_may_stop(core: Core, *, requester: str, items: Iterable[SweepItem], actor: Actor) -> None:
    """Raise AccessDenied unless ``actor`` asked for the sweep or may rotate all it has left."""
    if actor.principal == requester:
        return
    for item in items:
        if item.state not in (ItemState.READY, ItemState.QUEUED):
            continue
        sub = SUB_TYPE.get(item.kind, "")
        route = route_member(core, actor, item=item, sub=sub)
        if route.kind is RouteKind.REFUSE:
            raise AccessDenied(
                f"Only {requester}, or someone allowed to rotate every secret it has left, "
                f"may stop this sweep; {route.decision.reason}.",
                reason=route.decision.reason,
            )


def _item(
    c: Candidate, state: ItemState, reason: str = "", *, instance_name: str = "", rule: str = ""
) -> SweepItem:
    return SweepItem(
        name=c.name,
        region=c.region,
        instance_id=c.instance_id,
        user=c.user,
        kind=KINDS.get(c.sub_type, c.sub_type.lower()),
        state=state,
        reason=reason,
        arn=c.arn,
        instance_name=instance_name,
        approval_rule=rule,
    )


async def _facts(
    core: Core, actor: Actor, candidates: Iterable[Candidate]
) -> dict[tuple[str, str], InstanceFacts]:
    cloud = core.cloud_for(actor)
    by_region: dict[str, set[str]] = {}
    for c in candidates:
        by_region.setdefault(c.region, set()).add(c.instance_id)
    facts: dict[tuple[str, str], InstanceFacts] = {}
    for region, ids in by_region.items():
        try:
            found = await instance_facts(cloud, region, ids)
        except CloudError as exc:
            problem = f"the pre-flight could not ask ECS ({exc.code or exc.user_message})"
            found = {i: InstanceFacts(None, problem) for i in ids}
        facts.update({(region, i): f for i, f in found.items()})
    return facts


async def plan_sweep(selector: SweepSelector, *, actor: Actor, core: Core) -> SweepPlan:
    """Work out the exact set a sweep would rotate for ``actor``, with each secret's state."""
    regions = check_selector(selector, core)
    listed = await find_candidates(selector, regions, actor=actor, core=core)
    now = core.clock()
    recent = await rotations.rotations_since(core.db, since=now - timedelta(hours=1))
    active = {(r.region, r.secret_name) for r in await rotations.active_rotations(core.db)}
    routes = {c: route_member(core, actor, item=c, sub=c.sub_type) for c in listed.candidates}
    allowed = [c for c in listed.candidates if routes[c].kind is not RouteKind.REFUSE]
    facts = await _facts(core, actor, [c for c in allowed if c.instance_id and not c.problem])
    items: list[SweepItem] = []
    held: list[ApprovalRule] = []
    for c in listed.candidates:
        route = routes[c]
        if route.kind is RouteKind.REFUSE:
            items.append(_item(c, ItemState.REFUSED, f"not allowed: {route.decision.reason}"))
            continue
        fact = facts.get((c.region, c.instance_id), InstanceFacts(None))
        name = fact.instance.name if fact.instance else ""
        problem = c.problem or fact.problem
        if not problem and not c.user:
            problem = (
                "KMS records no OS user for it (no CustomData.UserName), so a sweep cannot "
                "say whose credential it changes; rotate it on its own"
            )
        if not problem and ((c.region, c.name) in active or await holder(core, c.region, c.name)):
            problem = "a rotation or another change of it is already in flight"
        if not problem and recent.get((c.region, c.name), 0) >= KMS_HOURLY_LIMIT:
            problem = (
                f"it was rotated {recent[(c.region, c.name)]} times in the last hour; KMS "
                f"takes at most {KMS_HOURLY_LIMIT} rotations of a secret an hour"
            )
        if problem:
            items.append(_item(c, ItemState.SKIPPED, problem, instance_name=name))
            continue
        holds = route.rule if route.kind is RouteKind.HOLD else None
        if holds is not None:
            held.append(holds)
        items.append(
            _item(c, ItemState.READY, instance_name=name, rule=holds.name if holds else "")
        )
    order = {region: n for n, region in enumerate(regions)}
    items.sort(key=lambda i: (order.get(i.region, 0), i.name))
    rule = strictest(held)
    return SweepPlan(
        selector=selector,
        items=tuple(items),
        digest=set_digest(items),
        approval_rule=rule.name if rule else None,
        approval_needs=rule.describe() if rule else "",
        regions=listed.regions,
        region_problems=listed.region_problems,
    )
