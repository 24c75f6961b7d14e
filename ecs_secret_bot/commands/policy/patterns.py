"""Wildcard patterns of the RAM language: actions, resources (ARNs) and principals.

Owns the ``*`` / ``?`` glob (``*`` any run of characters, the empty one included; ``?``
exactly one character), compiled once to a regular expression and cached, and the shape
checks that turn a malformed pattern into a sentence naming what to write instead. Never
decides anything: it only says whether a text matches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

__all__ = [
    "PatternSet",
    "check_action_pattern",
    "check_principal_pattern",
    "check_resource_pattern",
    "compile_glob",
    "has_wildcard",
]

_ACTION = re.compile(r"^(\*|[A-Za-z0-9*?-]+:[A-Za-z0-9*?_-]+)$")
_PRINCIPAL = re.compile(r"^(slack:user|slack:usergroup|local:user):([^/]*/)?[A-Za-z0-9*?_.@-]+$")
_TEAM = re.compile(r"^T[A-Z0-9]{2,}$")
_ARN_SERVICE = re.compile(r"^[a-z0-9*?-]+$")
_NO_SPACE = re.compile(r"^\S+$")


def has_wildcard(text: str) -> bool:
    """Say whether ``text`` holds a ``*`` or ``?``."""
    return "*" in text or "?" in text


def _glob_body(pattern: str) -> str:
    return "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)


@lru_cache(maxsize=4096)
def compile_glob(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """Compile a RAM wildcard pattern to an anchored regular expression (cached)."""
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile(_glob_body(pattern) + r"\Z", flags)


class PatternSet:
    """Several patterns matched as one: exact texts in a set, wildcards in one regex."""

    __slots__ = ("_anything", "_exact", "_regex", "ignore_case", "patterns")

    def __init__(self, patterns: Iterable[str], *, ignore_case: bool = False) -> None:
        self.patterns: tuple[str, ...] = tuple(patterns)
        self.ignore_case = ignore_case
        fold = str.lower if ignore_case else str
        self._exact = frozenset(fold(p) for p in self.patterns if not has_wildcard(p))
        self._anything = "*" in self.patterns
        wild = [p for p in self.patterns if has_wildcard(p)]
        self._regex: re.Pattern[str] | None = None
        if wild:
            body = "|".join(_glob_body(p) for p in wild)
            flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
            self._regex = re.compile(f"(?:{body})\\Z", flags)

    def __repr__(self) -> str:
        return f"PatternSet({list(self.patterns)!r})"

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, text: str) -> bool:
        """Say whether any pattern matches the whole of ``text``."""
        if self._anything:
            return True
        if (text.lower() if self.ignore_case else text) in self._exact:
            return True
        return self._regex is not None and self._regex.match(text) is not None

    def matches_any(self, texts: Iterable[str]) -> bool:
        """Say whether any pattern matches any of ``texts``."""
        return any(self.matches(text) for text in texts)


def check_action_pattern(value: str) -> str | None:
    """Return what is wrong with an Action pattern, or None when it is well formed."""
    if not _ACTION.match(value):
        return (
            f"{value!r} is not an action; write <service>:<ApiName>, wildcards allowed, "
            'like "kms:RotateSecret", "kms:Describe*" or "*"'
        )
    return None


def check_resource_pattern(value: str) -> str | None:
    """Return what is wrong with a Resource (ARN) pattern, or None when it is well formed."""
    example = "like acs:kms:*:*:secret/acs/ecs/* or *"
    if value == "*":
        return None
    if not _NO_SPACE.match(value):
        return f"{value!r} is not an ARN pattern: it holds a space; write one {example}"
    parts = value.split(":", 4)
    if parts[0] != "acs" or len(parts) < 5:
        return (
            f"{value!r} is not an ARN pattern; write acs:<service>:<region>:<account>:<resource>, "
            f"{example}"
        )
    if not parts[1] or not _ARN_SERVICE.match(parts[1]):
        return f"{value!r} is not an ARN pattern: {parts[1]!r} is not a service name, {example}"
    if not parts[4]:
        return f"{value!r} is not an ARN pattern: the resource part is empty, {example}"
    return None


def check_principal_pattern(value: str) -> str | None:
    """Return what is wrong with a principal pattern, or None when it is well formed."""
    match = _PRINCIPAL.match(value)
    if not match:
        return (
            f"{value!r} is not a principal; write slack:user:<user id> or "
            "slack:usergroup:<subteam id> (wildcards * and ? in the id part), "
            'like "slack:user:U01ADMIN" or "slack:user:*", optionally naming the workspace: '
            '"slack:user:T0123ABCD/U01ADMIN"'
        )
    if match[2] is None:
        return None
    team = match[2].removesuffix("/")
    if match[1] == "local:user":
        return f"{value!r}: a local user belongs to no Slack workspace; drop {team + '/'!r}"
    if not _TEAM.match(team):
        return (
            f"{value!r}: {team!r} is not a Slack team id (T followed by capital letters and "
            'digits, no wildcards); write it as "slack:user:T0123ABCD/U01ADMIN", with the '
            "id of the workspace (from auth.test, or its URL in a browser)"
        )
    return None
