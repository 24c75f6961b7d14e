"""Policy documents in the RAM JSON language, parsed and checked.

Owns ``PolicyDocument`` and ``Statement`` and the parser that turns a RAM document (a TOML
table or a decoded JSON object) into them, or raises ``PolicyError`` naming the policy, the
statement (numbered from 1) and the problem. Never reads files and never binds a policy to
anyone: that is ``policy.py``'s job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ecs_secret_bot.commands.policy.conditions import Condition, parse_condition
from ecs_secret_bot.commands.policy.patterns import (
    PatternSet,
    check_action_pattern,
    check_resource_pattern,
)

__all__ = ["PolicyDocument", "PolicyError", "Statement", "parse_policy_document"]

Effect = Literal["Allow", "Deny"]
_STATEMENT_KEYS = (
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
)


class PolicyError(ValueError):
    """A policy document says something invalid: which policy, which statement, what."""

    def __init__(self, policy: str, problem: str, *, statement: int | None = None) -> None:
        self.policy = policy
        self.statement = statement
        self.problem = problem
        where = f"policy {policy!r}"
        if statement is not None:
            where += f", statement {statement}"
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True, eq=False)
class Statement:
    """One statement: an effect on actions and resources, under a condition."""

    effect: Effect
    actions: PatternSet
    resources: PatternSet
    not_action: bool = False
    not_resource: bool = False
    condition: Condition = Condition()
    sid: str = ""
    number: int = 1
    """Its position in the policy, counted from 1 as messages show it."""

    def matches_action(self, action: str) -> bool:
        """Say whether the statement covers ``action`` (case-insensitive, as RAM does)."""
        return self.actions.matches(action) != self.not_action

    def matches_resource(self, resource: str) -> bool:
        """Say whether the statement covers ``resource``."""
        return self.resources.matches(resource) != self.not_resource

    def applies(self, action: str, resource: str, context: Mapping[str, Any]) -> bool:
        """Say whether the statement covers this request, its condition included."""
        return (
            self.matches_action(action)
            and self.matches_resource(resource)
            and self.condition.holds(context)
        )

    @property
    def label(self) -> str:
        """``statement 2`` or ``statement 2 (Sid)``, as reasons show it."""
        return f"statement {self.number} ({self.sid})" if self.sid else f"statement {self.number}"


@dataclass(frozen=True, eq=False)
class PolicyDocument:
    """A named, validated policy document."""

    name: str
    statements: tuple[Statement, ...]
    source: str = "configuration"
    """``built-in``, ``configuration`` or the JSON file it was read from."""


def parse_policy_document(name: str, data: Any, *, source: str = "configuration") -> PolicyDocument:
    """Parse a RAM policy document; raise PolicyError naming the statement and the problem."""
    if not isinstance(data, Mapping):
        raise PolicyError(name, "must be a table with Version and Statement")
    unknown = sorted(set(data) - {"Version", "Statement"})
    if unknown:
        raise PolicyError(
            name, f"unknown key {unknown[0]!r}; a policy document has Version and Statement"
        )
    version = data.get("Version", "1")
    if str(version) != "1":
        raise PolicyError(name, f'Version must be "1", not {version!r}')
    raw_statements = data.get("Statement")
    if isinstance(raw_statements, Mapping):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list) or not raw_statements:
        raise PolicyError(name, "needs a Statement list with at least one statement")
    statements = tuple(
        _parse_statement(name, number, raw) for number, raw in enumerate(raw_statements, start=1)
    )
    return PolicyDocument(name=name, statements=statements, source=source)


def _parse_statement(policy: str, number: int, raw: Any) -> Statement:
    def fail(problem: str) -> PolicyError:
        return PolicyError(policy, problem, statement=number)

    if not isinstance(raw, Mapping):
        raise fail("must be a table with Effect, Action and Resource")
    if "Principal" in raw or "NotPrincipal" in raw:
        raise fail(
            "Principal belongs to resource policies; bind this policy to principals with "
            "[[access.bindings]] instead"
        )
    unknown = sorted(set(raw) - set(_STATEMENT_KEYS))
    if unknown:
        raise fail(f"unknown key {unknown[0]!r}; a statement has {', '.join(_STATEMENT_KEYS)}")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise fail(f'Effect {effect!r} is not "Allow" or "Deny"')
    sid = raw.get("Sid", "")
    if not isinstance(sid, str):
        raise fail(f"Sid must be a string, not {sid!r}")
    actions, not_action = _one_of(raw, "Action", "NotAction", fail)
    for action in actions:
        problem = check_action_pattern(action)
        if problem:
            raise fail(problem)
    resources, not_resource = _one_of(raw, "Resource", "NotResource", fail)
    for resource in resources:
        problem = check_resource_pattern(resource)
        if problem:
            raise fail(problem)
    condition = Condition()
    if "Condition" in raw:
        try:
            condition = parse_condition(raw["Condition"])
        except ValueError as exc:
            raise fail(str(exc)) from None
    return Statement(
        effect=effect,
        actions=PatternSet(actions, ignore_case=True),
        resources=PatternSet(resources),
        not_action=not_action,
        not_resource=not_resource,
        condition=condition,
        sid=sid,
        number=number,
    )


def _one_of(
    raw: Mapping[str, Any], key: str, negated: str, fail: Callable[[str], PolicyError]
) -> tuple[tuple[str, ...], bool]:
    if key in raw and negated in raw:
        raise fail(f"has both {key} and {negated}; keep one")
    if key not in raw and negated not in raw:
        raise fail(f"needs {key} (or {negated})")
    name = key if key in raw else negated
    value = raw[name]
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise fail(f"{name} must be a string or a list of strings, not {value!r}")
    if not items:
        raise fail(f"{name} is an empty list; name at least one")
    return tuple(items), name == negated
