"""RAM policies as the sandbox enforces them: documents, and Allow or Deny of one action.

Owns ``RamPolicy``: a RAM policy document (``Version`` "1"; ``Statement``s with ``Effect``,
``Action`` or ``NotAction``, ``Resource`` or ``NotResource``; ``*`` and ``?`` wildcards;
actions matched without regard to case, resources with it) and its evaluation as RAM does
it: an explicit Deny wins, else an Allow is needed, else the request is implicitly denied.
Conditions are not evaluated: a document with one is refused when it is loaded, so the
sandbox never grants what a condition would have withheld.

The default document is the one the product ships for the bot's own identity,
``ecs_secret_bot/cloud/bot-ram-policy.json``, read as a file (the sandbox imports nothing of
the product). Never decides who is calling, or how a refusal is worded (``access`` does).
"""

from __future__ import annotations

import enum
import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ADMINISTRATOR_ACCESS",
    "DEFAULT_POLICY_FILE",
    "RamDecision",
    "RamPolicy",
    "as_policy",
    "default_policy",
]

DEFAULT_POLICY_FILE = Path(__file__).resolve().parents[1] / "cloud" / "bot-ram-policy.json"
"""The RAM policy the product ships for the bot's identity: the sandbox's default."""

ADMINISTRATOR_ACCESS: Mapping[str, Any] = {
    "Version": "1",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
"""Everything on everything, like the system policy AdministratorAccess."""


class RamDecision(enum.Enum):
    """What RAM answers for one action on one resource."""

    ALLOW = "Allow"
    IMPLICIT_DENY = "ImplicitDeny"
    EXPLICIT_DENY = "ExplicitDeny"


@functools.lru_cache(maxsize=4096)
def _pattern(text: str, ignore_case: bool) -> re.Pattern[str]:
    body = re.escape(text).replace(r"\*", ".*").replace(r"\?", ".")
    return re.compile(f"^{body}$", re.IGNORECASE if ignore_case else 0)


def _matches(patterns: Iterable[str], value: str, *, ignore_case: bool) -> bool:
    return any(_pattern(p, ignore_case).match(value) for p in patterns)


@dataclass(frozen=True)
class _Statement:
    allow: bool
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_resources: tuple[str, ...]

    def covers(self, action: str, resource: str) -> bool:
        if self.actions:
            acts = _matches(self.actions, action, ignore_case=True)
        else:
            acts = not _matches(self.not_actions, action, ignore_case=True)
        if self.resources:
            on = _matches(self.resources, resource, ignore_case=False)
        else:
            on = not _matches(self.not_resources, resource, ignore_case=False)
        return acts and on


def _strings(statement: Mapping[str, Any], key: str, number: int) -> tuple[str, ...]:
    value = statement.get(key)
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise ValueError(f"statement {number}: {key} must be a string or a list of strings")
    return tuple(items)


def _statement(raw: Any, number: int) -> _Statement:
    if not isinstance(raw, Mapping):
        raise ValueError(f"statement {number} is not an object")
    if "Condition" in raw:
        raise ValueError(f"statement {number}: the sandbox does not evaluate Condition")
    if raw.get("Effect") not in ("Allow", "Deny"):
        raise ValueError(f"statement {number}: Effect must be Allow or Deny")
    actions, not_actions = _strings(raw, "Action", number), _strings(raw, "NotAction", number)
    resources = _strings(raw, "Resource", number)
    not_resources = _strings(raw, "NotResource", number)
    if bool(actions) == bool(not_actions):
        raise ValueError(f"statement {number}: give exactly one of Action and NotAction")
    if bool(resources) == bool(not_resources):
        raise ValueError(f"statement {number}: give exactly one of Resource and NotResource")
    return _Statement(raw["Effect"] == "Allow", actions, not_actions, resources, not_resources)


@dataclass(frozen=True)
class RamPolicy:
    """A RAM policy document, ready to answer "may this action touch this resource"."""

    document: Mapping[str, Any]
    statements: tuple[_Statement, ...]
    source: str = ""

    @classmethod
    def parse(cls, document: Mapping[str, Any], *, source: str = "") -> RamPolicy:
        """Read a policy document; raise ValueError saying what is wrong with it."""
        if not isinstance(document, Mapping) or str(document.get("Version")) != "1":
            raise ValueError(f'{source or "the policy"}: Version must be "1"')
        raw = document.get("Statement")
        if not isinstance(raw, list):
            raise ValueError(f"{source or 'the policy'}: Statement must be a list")
        statements = tuple(_statement(s, n) for n, s in enumerate(raw, start=1))
        return cls(document=document, statements=statements, source=source)

    @classmethod
    def load(cls, path: Path) -> RamPolicy:
        """Read a RAM policy JSON file."""
        return cls.parse(json.loads(path.read_text(encoding="utf-8")), source=str(path))

    def decide(self, action: str, resource: str) -> RamDecision:
        """Return RAM's answer for ``action`` on ``resource``."""
        allowed = False
        for statement in self.statements:
            if statement.covers(action, resource):
                if not statement.allow:
                    return RamDecision.EXPLICIT_DENY
                allowed = True
        return RamDecision.ALLOW if allowed else RamDecision.IMPLICIT_DENY


@functools.cache
def default_policy() -> RamPolicy:
    """Return the bot's shipped policy (``DEFAULT_POLICY_FILE``)."""
    return RamPolicy.load(DEFAULT_POLICY_FILE)


def as_policy(policy: RamPolicy | Mapping[str, Any] | None) -> RamPolicy:
    """Return ``policy`` as a ``RamPolicy``: a document is parsed, None is the default."""
    if policy is None:
        return default_policy()
    if isinstance(policy, RamPolicy):
        return policy
    return RamPolicy.parse(policy)
