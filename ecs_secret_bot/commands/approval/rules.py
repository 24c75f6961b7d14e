"""Approval rules: which requests wait for whom, parsed from ``[approval]`` and applied.

Owns ``ApprovalConfig`` and ``ApprovalRule`` (with one or several approver sets), the
parser of the ``[approval]`` table, ``ApprovalConfig.route`` (run now, hold for approval,
or refuse) and ``route_all`` (the same for requests that go as one, a sweep, held by the
``strictest`` rule of its members), the eligibility test of one approver, and ``tally``,
which counts approvals per approver set. Pure like the policy engine: no storage, no
clock, no Slack.

A rule without ``requesters`` *gates*: it holds a request the policy allows. A rule with
``requesters`` *opens*: it lets those principals ask for what the policy does not allow
them, and holds their request; it never holds a request the policy allows. An explicit
Deny, and a refusal by a channel's guardrail (the most that may be done from there, whoever
asks), are never requestable; nor is anything for an actor bound to no policy. The first
rule (in file order) that covers a request decides.

TOML, extending design.md (its example stays valid)::

    [approval]
    channel = "C0SECOPS"      # cards for requests made in a DM or App Home, or refused there
    stale_after = "4h"        # re-announce a pending request this old (optional)
    dm_limit = 10             # approvers sent a direct message per request (optional)

    [[approval.rules]]
    name = "immediate-delete"
    actions = ["kms:DeleteSecret"]
    resources = ["acs:kms:*:*:secret/acs/ecs/prod-*"]   # optional; default: all
    condition = { Bool = { "kms:ForceDeleteWithoutRecovery" = "true" } }
    expires_after = "2h"      # optional; default 24h
    notify_dm = true          # accepted, no longer needed: approvers always get a DM
    # either one set ...
    approvers = ["slack:usergroup:S01SEC"]
    min_approvals = 1
    # ... or several, each with its own count (one SRE *and* one security engineer):
    # [[approval.rules.approver_sets]]
    # name = "sre"
    # approvers = ["slack:usergroup:S01SRE"]
    # min_approvals = 1
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property
from typing import Any

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.policy.conditions import Condition
from ecs_secret_bot.commands.policy.engine import AccessConfig, Decision, request_context
from ecs_secret_bot.commands.policy.patterns import PatternSet

__all__ = [
    "DEFAULT_DM_LIMIT",
    "DEFAULT_EXPIRES_AFTER",
    "SINGLE_SET",
    "ApprovalConfig",
    "ApprovalRule",
    "ApproverSet",
    "Route",
    "RouteKind",
    "Tally",
    "strictest",
    "tally",
]

DEFAULT_EXPIRES_AFTER = timedelta(hours=24)
DEFAULT_DM_LIMIT = 10
"""How many eligible approvers get a direct message per request, unless configured."""
SINGLE_SET = "approvers"
"""The name of the one approver set of a rule written with ``approvers = [...]``."""


@dataclass(frozen=True)
class ApproverSet:
    """Who may approve, and how many distinct approvals of theirs are needed."""

    name: str
    approvers: tuple[str, ...]
    min_approvals: int = 1

    @cached_property
    def _patterns(self) -> PatternSet:
        return PatternSet(self.approvers)

    def matches(self, actor: Actor) -> bool:
        """Say whether the actor (or one of its groups) is in this set."""
        return self._patterns.matches_any(actor.principals)


@dataclass(frozen=True)
class ApprovalRule:
    """One ``[[approval.rules]]`` entry."""

    name: str
    actions: tuple[str, ...]
    approver_sets: tuple[ApproverSet, ...]
    resources: tuple[str, ...] = ("*",)
    condition: Condition = Condition()
    requesters: tuple[str, ...] | None = None
    expires_after: timedelta = DEFAULT_EXPIRES_AFTER
    notify_dm: bool = False
    number: int = 1

    @cached_property
    def _compiled(self) -> tuple[PatternSet, PatternSet, PatternSet]:
        return (
            PatternSet(self.actions, ignore_case=True),
            PatternSet(self.resources),
            PatternSet(self.requesters or ()),
        )

    @property
    def opens(self) -> bool:
        """True for a rule with ``requesters``: it lets the unauthorized ask."""
        return self.requesters is not None

    @property
    def requirements(self) -> dict[str, int]:
        """Return the approvals needed per approver set."""
        return {s.name: s.min_approvals for s in self.approver_sets}

    def covers(self, action: str, resource: str, context: Mapping[str, Any]) -> bool:
        """Say whether the rule's actions, resources and condition match the request."""
        actions, resources, _ = self._compiled
        return (
            actions.matches(action)
            and resources.matches(resource)
            and self.condition.holds(context)
        )

    def may_request(self, actor: Actor) -> bool:
        """Say whether the actor is among this (opening) rule's requesters."""
        return self.opens and self._compiled[2].matches_any(actor.principals)

    def sets_of(self, actor: Actor) -> tuple[str, ...]:
        """Return the names of the approver sets the actor belongs to."""
        return tuple(s.name for s in self.approver_sets if s.matches(actor))

    def describe(self) -> str:
        """Say in words what it needs: ``1 approval from slack:usergroup:S01SEC``."""
        parts = []
        for s in self.approver_sets:
            noun = "approval" if s.min_approvals == 1 else "approvals"
            label = "" if s.name == SINGLE_SET else f"{s.name}: "
            parts.append(f"{label}{s.min_approvals} {noun} from {' or '.join(s.approvers)}")
        return " and ".join(parts)


class RouteKind(StrEnum):
    """What happens to a request."""

    RUN = "run"
    HOLD = "hold"
    REFUSE = "refuse"


@dataclass(frozen=True)
class Route:
    """Where a request goes, with the policy decision and the rule that holds it."""

    kind: RouteKind
    decision: Decision
    rule: ApprovalRule | None = None

    @property
    def reason(self) -> str:
        """Say why, in a sentence for the requester."""
        if self.kind is RouteKind.HOLD and self.rule is not None:
            return f"held by approval rule {self.rule.name}: it needs {self.rule.describe()}"
        return self.decision.reason


@dataclass(frozen=True)
class Tally:
    """Approvals counted against a rule's requirements."""

    counts: Mapping[str, int]
    """Approvals assigned to each set (never above what the set needs)."""
    needed: Mapping[str, int]
    assignment: Mapping[str, str]
    """Which set each counted approver fills."""

    @property
    def complete(self) -> bool:
        """Say whether every set has its approvals."""
        return all(self.counts.get(name, 0) >= n for name, n in self.needed.items())

    def progress(self) -> str:
        """Say how far it got: ``sre 1/1, security 0/1``."""
        return ", ".join(
            f"{name} {self.counts.get(name, 0)}/{n}" for name, n in self.needed.items()
        )


def strictest(rules: Iterable[ApprovalRule]) -> ApprovalRule | None:
    """Return the strictest rule: the most approvals in all, then the soonest expiry, then first.

    "Most approvals" sums ``min_approvals`` over the rule's approver sets.
    """
    best: ApprovalRule | None = None
    for rule in rules:
        if best is None or _weight(rule) > _weight(best):
            best = rule
    return best


def _weight(rule: ApprovalRule) -> tuple[int, timedelta]:
    return sum(s.min_approvals for s in rule.approver_sets), -rule.expires_after


def tally(needed: Mapping[str, int], voters: Iterable[tuple[str, Iterable[str]]]) -> Tally:
    """Count distinct approvers against ``needed``, each filling at most one slot.

    ``voters`` gives each approver with the sets they belong to. An approver in two sets
    is placed where they help most (a maximum bipartite matching), so the order of the
    votes never decides whether a request is complete.
    """
    slots = [(name, i) for name, n in needed.items() for i in range(n)]
    holder: dict[tuple[str, int], str] = {}
    eligible = {voter: set(sets) for voter, sets in voters}

    def place(voter: str, seen: set[tuple[str, int]]) -> bool:
        for slot in slots:
            if slot[0] in eligible[voter] and slot not in seen:
                seen.add(slot)
                if slot not in holder or place(holder[slot], seen):
                    holder[slot] = voter
                    return True
        return False

    for voter in eligible:
        place(voter, set())
    counts = {name: 0 for name in needed}
    assignment: dict[str, str] = {}
    for (name, _), voter in holder.items():
        counts[name] += 1
        assignment[voter] = name
    return Tally(counts=counts, needed=dict(needed), assignment=assignment)


@dataclass(frozen=True)
class ApprovalConfig:
    """The ``[approval]`` table: rules, the fallback channel, the re-announce delay."""

    rules: tuple[ApprovalRule, ...] = ()
    channel: str | None = None
    stale_after: timedelta | None = None
    dm_limit: int = DEFAULT_DM_LIMIT
    """At most this many eligible approvers get a direct message per request."""

    def rule(self, name: str) -> ApprovalRule | None:
        """Return the rule called ``name``, if the configuration still has it."""
        return next((r for r in self.rules if r.name == name), None)

    def route(
        self,
        access: AccessConfig,
        actor: Actor,
        action: str,
        resource: str,
        *,
        now: datetime,
        request_keys: Mapping[str, Any] | None = None,
    ) -> Route:
        """Decide whether a request runs now, waits for approval, or is refused."""
        decision = access.decide(actor, action, resource, now=now, request_keys=request_keys)
        context = request_context(actor, now=now, request_keys=request_keys)
        if decision.allowed:
            for rule in self.rules:
                if not rule.opens and rule.covers(action, resource, context):
                    return Route(RouteKind.HOLD, decision, rule)
            return Route(RouteKind.RUN, decision)
        if decision.explicit_deny or decision.guardrail or not decision.bound:
            return Route(RouteKind.REFUSE, decision)
        for rule in self.rules:
            if rule.opens and rule.may_request(actor) and rule.covers(action, resource, context):
                return Route(RouteKind.HOLD, decision, rule)
        return Route(RouteKind.REFUSE, decision)

    def route_all(
        self,
        access: AccessConfig,
        actor: Actor,
        requests: Iterable[tuple[str, str, Mapping[str, Any]]],
        *,
        now: datetime,
    ) -> Route:
        """Route requests that go as one (a sweep): each ``(action, resource, request_keys)``.

        Refused if any member is; else held by the strictest rule holding any member
        (``strictest``); else run. Each member is routed exactly as it would be alone.
        """
        routes = [
            self.route(access, actor, action, resource, now=now, request_keys=keys)
            for action, resource, keys in requests
        ]
        if not routes:
            raise ValueError("route_all needs at least one request")
        refused = next((r for r in routes if r.kind is RouteKind.REFUSE), None)
        if refused is not None:
            return refused
        rule = strictest(r.rule for r in routes if r.kind is RouteKind.HOLD and r.rule)
        if rule is not None:
            held = next(r for r in routes if r.rule is rule)
            return Route(RouteKind.HOLD, held.decision, rule)
        return routes[0]

    def announce_channel(self, actor: Actor) -> str | None:
        """Return where the card of the actor's request goes: its channel, else ``channel``."""
        if actor.channel_id and actor.channel_name:
            return actor.channel_id
        return self.channel

    def is_stale(self, announced_at: datetime, *, now: datetime) -> bool:
        """Say whether a pending request last announced at ``announced_at`` is due again."""
        return self.stale_after is not None and now - announced_at >= self.stale_after
