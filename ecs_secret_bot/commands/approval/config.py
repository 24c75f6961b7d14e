"""The ``[approval]`` table of the configuration, turned into an ``ApprovalConfig``.

Owns the checks that stop a bad approval rule at start-up, each a ``ConfigError`` naming
the file, the rule and the problem: a missing name, a duplicate, an action or resource that
is not a pattern, a condition the policy language does not know, approvers written both as
one set and as several, a count below one, an expiry that is not a duration. Never reads
files or the clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from ecs_secret_bot.commands.approval.rules import (
    DEFAULT_DM_LIMIT,
    DEFAULT_EXPIRES_AFTER,
    SINGLE_SET,
    ApprovalConfig,
    ApprovalRule,
    ApproverSet,
)
from ecs_secret_bot.commands.durations import parse_duration
from ecs_secret_bot.commands.policy.conditions import Condition, parse_condition
from ecs_secret_bot.commands.policy.config import read_principals
from ecs_secret_bot.commands.policy.patterns import check_action_pattern, check_resource_pattern
from ecs_secret_bot.errors import ConfigError

__all__ = ["parse_approval_config"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_CHANNEL = re.compile(r"^[A-Z0-9]+$")
_RULE_KEYS = (
    "name",
    "actions",
    "resources",
    "condition",
    "requesters",
    "approvers",
    "min_approvals",
    "approver_sets",
    "expires_after",
    "notify_dm",
)
_SET_KEYS = ("name", "approvers", "min_approvals")
_MAX_EXPIRY = timedelta(days=30)
_Fail = Callable[..., ConfigError]


def parse_approval_config(
    data: Mapping[str, Any], *, file: str = "configuration"
) -> ApprovalConfig:
    """Validate the ``[approval]`` table; raise ConfigError naming what to fix."""
    allowed = ("channel", "stale_after", "dm_limit", "rules")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ConfigError.unknown_key(unknown[0], table="approval", allowed=allowed, file=file)
    channel = data.get("channel")
    if channel is not None and (not isinstance(channel, str) or not _CHANNEL.match(channel)):
        raise ConfigError(
            f"{channel!r} is not a channel id",
            file=file,
            key="approval.channel",
            next_step='Give the id of the channel for approval cards, like "C0SECOPS".',
        )
    stale_after = None
    if "stale_after" in data:
        stale_after = _duration(data["stale_after"], file=file, key="approval.stale_after")
    dm_limit = data.get("dm_limit", DEFAULT_DM_LIMIT)
    if isinstance(dm_limit, bool) or not isinstance(dm_limit, int) or not 0 <= dm_limit <= 100:
        raise ConfigError(
            f"must be a whole number from 0 to 100, not {dm_limit!r}",
            file=file,
            key="approval.dm_limit",
            next_step="Give how many approvers get a direct message per request, like 10.",
        )
    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, list):
        raise ConfigError(
            "must be a list of tables: write [[approval.rules]]", file=file, key="approval.rules"
        )
    rules: list[ApprovalRule] = []
    for number, raw in enumerate(raw_rules, start=1):
        rule = _parse_rule(number, raw, file=file)
        if any(r.name == rule.name for r in rules):
            raise ConfigError(
                f"rule {number}: the name {rule.name!r} is already used by another rule",
                file=file,
                key="approval.rules",
                next_step="Give each rule its own name: requests refer to their rule by it.",
            )
        rules.append(rule)
    return ApprovalConfig(
        rules=tuple(rules), channel=channel, stale_after=stale_after, dm_limit=dm_limit
    )


def _duration(value: Any, *, file: str, key: str) -> timedelta:
    try:
        parsed = parse_duration(value)
    except ValueError as exc:
        raise ConfigError(str(exc), file=file, key=key) from None
    if parsed <= timedelta(0):
        raise ConfigError("must be longer than zero", file=file, key=key)
    return parsed


def _parse_rule(number: int, raw: Any, *, file: str) -> ApprovalRule:
    key = "approval.rules"
    name = raw.get("name") if isinstance(raw, Mapping) else None
    what = f"rule {name!r}" if isinstance(name, str) and name else f"rule {number}"

    def fail(problem: str, next_step: str = "") -> ConfigError:
        return ConfigError(f"{what}: {problem}", file=file, key=key, next_step=next_step)

    if not isinstance(raw, Mapping):
        raise fail("must be a table")
    for k in raw:
        if k not in _RULE_KEYS:
            raise fail(f"unknown key {k!r}; the keys allowed are {', '.join(_RULE_KEYS)}")
    if not isinstance(name, str) or not _NAME.match(name):
        raise fail('needs a name of letters, digits, ".", "_" and "-", like "immediate-delete"')
    actions = _patterns(raw, "actions", fail, check_action_pattern, required=True)
    resources = _patterns(raw, "resources", fail, check_resource_pattern, required=False)
    condition = Condition()
    if "condition" in raw:
        try:
            condition = parse_condition(raw["condition"])
        except ValueError as exc:
            raise fail(f"condition: {exc}") from None
    requesters = None
    if "requesters" in raw:
        requesters = read_principals(raw, "requesters", file=file, key=key, number=number)
    sets = _approver_sets(raw, fail, file=file, number=number)
    expires_after = DEFAULT_EXPIRES_AFTER
    if "expires_after" in raw:
        expires_after = _duration(raw["expires_after"], file=file, key=key)
        if expires_after > _MAX_EXPIRY:
            raise fail("expires_after is longer than 30d; an approval should not wait that long")
    notify_dm = raw.get("notify_dm", False)
    if not isinstance(notify_dm, bool):
        raise fail("notify_dm must be true or false")
    return ApprovalRule(
        name=name,
        actions=actions or (),
        approver_sets=sets,
        resources=resources or ("*",),
        condition=condition,
        requesters=requesters,
        expires_after=expires_after,
        notify_dm=notify_dm,
        number=number,
    )


def _patterns(
    raw: Mapping[str, Any],
    name: str,
    fail: _Fail,
    check: Callable[[str], str | None],
    *,
    required: bool,
) -> tuple[str, ...] | None:
    if name not in raw:
        if required:
            raise fail(f'needs {name}, like {name} = ["kms:DeleteSecret"]')
        return None
    value = raw[name]
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise fail(f"{name} must be a non-empty list of strings")
    for item in items:
        problem = check(item)
        if problem:
            raise fail(f"{name}: {problem}")
    return tuple(items)


def _count(value: Any, fail: _Fail, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise fail(f"{where} must be a whole number of at least 1, not {value!r}")
    return value


def _approver_sets(
    raw: Mapping[str, Any], fail: _Fail, *, file: str, number: int
) -> tuple[ApproverSet, ...]:
    key = "approval.rules"
    if "approver_sets" in raw:
        if "approvers" in raw or "min_approvals" in raw:
            raise fail(
                "has both approvers and approver_sets",
                "Write approvers and min_approvals for one set, or [[approval.rules.approver_sets]]"
                " for several, not both.",
            )
        entries = raw["approver_sets"]
        if not isinstance(entries, list) or not entries:
            raise fail("approver_sets must be a list of tables: [[approval.rules.approver_sets]]")
        sets: list[ApproverSet] = []
        for index, entry in enumerate(entries, start=1):
            if not isinstance(entry, Mapping):
                raise fail(f"approver set {index} must be a table")
            for k in entry:
                if k not in _SET_KEYS:
                    raise fail(
                        f"approver set {index}: unknown key {k!r}; use name, approvers and "
                        "min_approvals"
                    )
            set_name = entry.get("name")
            if not isinstance(set_name, str) or not _NAME.match(set_name):
                raise fail(f'approver set {index} needs a name like "sre" or "security"')
            if any(s.name == set_name for s in sets):
                raise fail(f"two approver sets are named {set_name!r}")
            approvers = read_principals(entry, "approvers", file=file, key=key, number=number)
            count = _count(entry.get("min_approvals", 1), fail, f"{set_name}.min_approvals")
            sets.append(ApproverSet(set_name, approvers, count))
        return tuple(sets)
    if "approvers" not in raw:
        raise fail(
            "needs approvers",
            'Write approvers = ["slack:usergroup:S01SEC"] (and min_approvals), or '
            "[[approval.rules.approver_sets]] for several sets.",
        )
    approvers = read_principals(raw, "approvers", file=file, key=key, number=number)
    count = _count(raw.get("min_approvals", 1), fail, "min_approvals")
    return (ApproverSet(SINGLE_SET, approvers, count),)
