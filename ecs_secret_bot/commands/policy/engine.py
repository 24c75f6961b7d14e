"""The RAM-style policy engine: who may do what, from where, and why.

Owns ``AccessConfig`` (policies with the built-ins, bindings of policies to principals,
channel guardrails) and ``AccessConfig.decide``, which evaluates one request as RAM does:
an explicit Deny anywhere wins; otherwise an Allow from a policy bound to the actor is
needed, and, when the request comes from a guarded channel, an Allow from each guardrail
that covers it; otherwise the request is denied. Nothing is allowed by default: an actor
bound to nothing may do nothing. Every ``Decision`` says why, in words the actor can act on.

Pure: documents, an actor, a request and a clock reading in; a decision out. No I/O, no
global state beyond caches of compiled lookups. Parsing of the ``[access]`` table lives in
``policy_config.py``; the language itself in ``policy_documents.py`` and
``policy_conditions.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.policy.documents import PolicyDocument, Statement
from ecs_secret_bot.commands.policy.patterns import PatternSet, has_wildcard
from ecs_secret_bot.errors import AccessDenied

__all__ = [
    "AccessConfig",
    "Binding",
    "Decision",
    "Guardrail",
    "channel_label",
    "request_context",
]

_CACHE_LIMIT = 8192


@dataclass(frozen=True)
class Binding:
    """Policies bound to principals (``slack:user:*`` wildcards allowed)."""

    principals: tuple[str, ...]
    policies: tuple[str, ...]
    number: int = 1
    """Its position among ``[[access.bindings]]``, from 1."""
    role_arn: str | None = None
    """The RAM role its principals' cloud calls run as (STS AssumeRole), if any."""


@dataclass(frozen=True)
class Guardrail:
    """The most that can be done from some channels, whoever asks."""

    channels: tuple[str, ...]
    policies: tuple[str, ...]
    number: int = 1
    """Its position among ``[[access.guardrails]]``, from 1."""


@dataclass(frozen=True)
class Decision:
    """The answer to one request, with the reason a person can act on."""

    allowed: bool
    reason: str
    action: str
    resource: str
    explicit_deny: bool = False
    policy: str | None = None
    """The deciding policy (the allowing or denying one), if one decided."""
    statement: int | None = None
    """The deciding statement's position in ``policy``, counted from 1."""
    guardrail: str | None = None
    """The channel (``#name`` or id) whose guardrail refuses the request, if one does."""
    bound: bool = True
    """False when no policy at all is bound to the actor."""
    policies_allow: bool = False
    """True when the actor's own policies allow it (a guardrail may still refuse)."""

    @property
    def next_step(self) -> str:
        """Say what the refused person can do about it."""
        if self.allowed:
            return ""
        if self.explicit_deny:
            return "An explicit Deny cannot be lifted, not even by an approval."
        if not self.bound:
            return "Ask an admin to bind you to a policy in [[access.bindings]]."
        if self.guardrail and self.policies_allow:
            return "Ask from another channel, or ask an admin to widen the guardrail."
        return "Ask an admin for a policy that allows it, or for an approval rule you may use."

    def raise_if_denied(self) -> None:
        """Raise AccessDenied carrying the reason when the decision is a refusal."""
        if not self.allowed:
            raise AccessDenied(
                f"Not allowed: {self.reason}.", reason=self.reason, next_step=self.next_step
            )


def channel_label(actor: Actor) -> str:
    """Return ``#name`` when the channel's name is known, else its id."""
    if actor.channel_name:
        return f"#{actor.channel_name}"
    return actor.channel_id or "this conversation"


def request_context(
    actor: Actor, *, now: datetime, request_keys: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Return the condition keys of one request, named in lower case."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    context: dict[str, Any] = {}
    for key, value in (request_keys or {}).items():
        if value is not None:
            context[key.lower()] = value
    # The actor's facts come last so that a request key can never impersonate them.
    context["acs:currenttime"] = now
    for key, value in (
        ("slack:channelid", actor.channel_id),
        ("slack:channelname", actor.channel_name),
        ("slack:teamid", actor.team_id),
        ("acs:sourceip", actor.source_ip),
    ):
        if value:
            context[key] = value
        else:
            context.pop(key, None)
    if actor.principal.startswith("slack:user:"):
        context["slack:userid"] = actor.user_id
    else:
        context.pop("slack:userid", None)
    return context


_Verdict = tuple[Literal["allow", "deny", "none"], str | None, Statement | None]
_Split = tuple[tuple[tuple[str, Statement], ...], tuple[tuple[str, Statement], ...]]


class _Index:
    """Principal patterns to binding numbers: exact ids in a dict, wildcards in a list."""

    def __init__(self, entries: Iterable[tuple[Sequence[str], int]]) -> None:
        self.exact: dict[str, list[int]] = {}
        self.wild: list[tuple[PatternSet, int]] = []
        for patterns, number in entries:
            exact = [p for p in patterns if not has_wildcard(p)]
            wild = [p for p in patterns if has_wildcard(p)]
            for pattern in exact:
                self.exact.setdefault(pattern, []).append(number)
            if wild:
                self.wild.append((PatternSet(wild), number))

    def lookup(self, keys: Iterable[str]) -> list[int]:
        found: set[int] = set()
        keys = tuple(keys)
        for key in keys:
            found.update(self.exact.get(key, ()))
        for patterns, number in self.wild:
            if number not in found and patterns.matches_any(keys):
                found.add(number)
        return sorted(found)


class AccessConfig:
    """Policies, bindings and guardrails, indexed for fast decisions."""

    def __init__(
        self,
        *,
        policies: Mapping[str, PolicyDocument],
        bindings: Sequence[Binding] = (),
        guardrails: Sequence[Guardrail] = (),
    ) -> None:
        self.policies: Mapping[str, PolicyDocument] = dict(policies)
        self.bindings: tuple[Binding, ...] = tuple(bindings)
        self.guardrails: tuple[Guardrail, ...] = tuple(guardrails)
        for names in [b.policies for b in self.bindings] + [g.policies for g in self.guardrails]:
            for name in names:
                if name not in self.policies:
                    raise ValueError(f"policy {name!r} is bound but not defined")
        self._by_number = {b.number: b for b in self.bindings}
        self._principals = _Index((b.principals, b.number) for b in self.bindings)
        self._rails_by_number = {g.number: g for g in self.guardrails}
        self._channels = _Index((g.channels, g.number) for g in self.guardrails)
        self._bound_cache: dict[frozenset[str], tuple[str, ...]] = {}
        self._candidates: dict[tuple[tuple[str, ...], str], tuple[tuple[str, Statement], ...]] = {}
        self._per_policy: dict[tuple[str, str], _Split] = {}

    @classmethod
    def empty(cls) -> AccessConfig:
        """Return a configuration with the built-ins and no bindings: everyone is denied."""
        from ecs_secret_bot.commands.policy.builtins import builtin_policies

        return cls(policies=builtin_policies())

    def bound_policies(self, actor: Actor) -> tuple[str, ...]:
        """Return the names of the policies bound to the actor or its groups, in binding order."""
        keys = actor.principals
        cached = self._bound_cache.get(keys)
        if cached is None:
            names: dict[str, None] = {}
            for number in self._principals.lookup(keys):
                names.update(dict.fromkeys(self._by_number[number].policies))
            cached = tuple(names)
            if len(self._bound_cache) >= _CACHE_LIMIT:
                self._bound_cache.clear()
            self._bound_cache[keys] = cached
        return cached

    def role_for(self, actor: Actor) -> str | None:
        """Return the RAM role the actor's calls run as: that of its first binding with one."""
        for number in sorted(self._principals.lookup(actor.principals)):
            role = self._by_number[number].role_arn
            if role:
                return role
        return None

    def is_bound(self, actor: Actor) -> bool:
        """Say whether any policy is bound to the actor (else it may use nothing but help)."""
        return bool(self.bound_policies(actor))

    def guardrails_for(self, actor: Actor) -> tuple[Guardrail, ...]:
        """Return the guardrails that bound the actor's channel."""
        if not self.guardrails:
            return ()
        numbers = self._channels.lookup((actor.channel_id,))
        return tuple(self._rails_by_number[n] for n in numbers)

    def decide(
        self,
        actor: Actor,
        action: str,
        resource: str,
        *,
        now: datetime,
        request_keys: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Decide whether ``actor`` may do ``action`` on ``resource`` now, and say why."""
        context = request_context(actor, now=now, request_keys=request_keys)
        names = self.bound_policies(actor)
        user = self._evaluate(names, action, resource, context)
        if user[0] == "deny":
            return self._decision(False, action, resource, user, explicit=True)
        rails = [
            (rail, self._evaluate(rail.policies, action, resource, context))
            for rail in self.guardrails_for(actor)
        ]
        label = channel_label(actor)
        for _rail, verdict in rails:
            if verdict[0] == "deny":
                return self._decision(False, action, resource, verdict, explicit=True, rail=label)
        if not names:
            return Decision(
                False,
                "no policy is bound to you, so you may use nothing but help",
                action,
                resource,
                bound=False,
            )
        refused_by_rail = any(verdict[0] == "none" for _rail, verdict in rails)
        if user[0] == "none":
            reason = f"no policy bound to you allows {action} on {resource}"
            if refused_by_rail:
                reason += f", and the guardrail of {label} does not allow it either"
            return Decision(
                False, reason, action, resource, guardrail=label if refused_by_rail else None
            )
        if refused_by_rail:
            return Decision(
                False,
                f"the guardrail of {label} does not allow {action}",
                action,
                resource,
                guardrail=label,
                policies_allow=True,
            )
        return self._decision(True, action, resource, user)

    def _decision(
        self,
        allowed: bool,
        action: str,
        resource: str,
        verdict: _Verdict,
        *,
        explicit: bool = False,
        rail: str | None = None,
    ) -> Decision:
        _, policy, statement = verdict
        assert policy is not None and statement is not None
        where = f"{policy}, {statement.label}"
        if allowed:
            reason = f"allowed by {where}"
        elif rail:
            reason = f"the guardrail of {rail} denies {action}: {where} (explicit deny)"
        else:
            reason = f"denied by {where} (explicit deny)"
        return Decision(
            allowed,
            reason,
            action,
            resource,
            explicit_deny=explicit,
            policy=policy,
            statement=statement.number,
            guardrail=rail,
            policies_allow=allowed,
        )

    def _evaluate(
        self, names: tuple[str, ...], action: str, resource: str, context: Mapping[str, Any]
    ) -> _Verdict:
        for policy, statement in self._statements_for(names, action):
            if statement.matches_resource(resource) and statement.condition.holds(context):
                return ("deny" if statement.effect == "Deny" else "allow", policy, statement)
        return ("none", None, None)

    def _statements_for(
        self, names: tuple[str, ...], action: str
    ) -> tuple[tuple[str, Statement], ...]:
        """Return the statements of ``names`` that cover ``action``: Denies first, in order."""
        folded = action.lower()
        key = (names, folded)
        found = self._candidates.get(key)
        if found is None:
            denies: list[tuple[str, Statement]] = []
            allows: list[tuple[str, Statement]] = []
            for name in names:
                policy_denies, policy_allows = self._policy_statements(name, folded)
                denies.extend(policy_denies)
                allows.extend(policy_allows)
            found = tuple(denies + allows)
            if len(self._candidates) >= _CACHE_LIMIT:
                self._candidates.clear()
            self._candidates[key] = found
        return found

    def _policy_statements(self, name: str, action: str) -> _Split:
        """Return one policy's Deny and Allow statements that cover ``action``."""
        key = (name, action)
        found = self._per_policy.get(key)
        if found is None:
            denies: list[tuple[str, Statement]] = []
            allows: list[tuple[str, Statement]] = []
            for statement in self.policies[name].statements:
                if statement.matches_action(action):
                    (denies if statement.effect == "Deny" else allows).append((name, statement))
            found = (tuple(denies), tuple(allows))
            if len(self._per_policy) >= _CACHE_LIMIT:
                self._per_policy.clear()
            self._per_policy[key] = found
        return found
