"""Condition blocks of the RAM language: operators, condition keys, and their evaluation.

Owns the operators (``StringEquals`` ... ``NotIpAddress``), the condition keys the bot
knows (``acs:CurrentTime``, ``slack:ChannelId``, ``kms:ForceDeleteWithoutRecovery``...) and
their types, the parsing of a ``Condition`` block with a sentence for each mistake, and the
test of a parsed block against a request context. Never reads a clock or the network: the
context is handed in.

Semantics, as RAM states them: several values under one key OR; several keys under one
operator AND; several operators in a block AND. A negated operator (``StringNotEquals``,
``StringNotLike``, ``Numeric``/``DateNotEquals``, ``NotIpAddress``) holds when the value
matches *none* of the listed values. A key absent from the request fails its test, whatever
the operator (Slack gives no ``acs:SourceIp``, so a test on it never holds here).
Condition key names are case-insensitive, as in RAM.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from ecs_secret_bot.commands.policy.patterns import compile_glob

__all__ = [
    "CONDITION_KEYS",
    "OPERATORS",
    "Condition",
    "ConditionTest",
    "KeyType",
    "parse_condition",
]

KeyType = Literal["string", "number", "date", "bool", "ip"]

CONDITION_KEYS: Mapping[str, KeyType] = {
    "acs:CurrentTime": "date",
    "acs:SourceIp": "ip",
    "acs:SecureTransport": "bool",
    "acs:MFAPresent": "bool",
    "slack:ChannelId": "string",
    "slack:ChannelName": "string",
    "slack:UserId": "string",
    "slack:TeamId": "string",
    "kms:ForceDeleteWithoutRecovery": "bool",
    "kms:RecoveryWindowInDays": "number",
    "kms:CustomSecretValue": "bool",
    "kms:SecretSubType": "string",
}
"""The condition keys a policy or an approval rule may test, with their types."""

_CANONICAL = {name.lower(): name for name in CONDITION_KEYS}

# family, comparison, negated
_OPS: dict[str, tuple[KeyType, str, bool]] = {
    "StringEquals": ("string", "eq", False),
    "StringNotEquals": ("string", "eq", True),
    "StringEqualsIgnoreCase": ("string", "eq_ic", False),
    "StringNotEqualsIgnoreCase": ("string", "eq_ic", True),
    "StringLike": ("string", "like", False),
    "StringNotLike": ("string", "like", True),
    "NumericEquals": ("number", "eq", False),
    "NumericNotEquals": ("number", "eq", True),
    "NumericLessThan": ("number", "lt", False),
    "NumericLessThanEquals": ("number", "le", False),
    "NumericGreaterThan": ("number", "gt", False),
    "NumericGreaterThanEquals": ("number", "ge", False),
    "DateEquals": ("date", "eq", False),
    "DateNotEquals": ("date", "eq", True),
    "DateLessThan": ("date", "lt", False),
    "DateLessThanEquals": ("date", "le", False),
    "DateGreaterThan": ("date", "gt", False),
    "DateGreaterThanEquals": ("date", "ge", False),
    "Bool": ("bool", "eq", False),
    "IpAddress": ("ip", "in", False),
    "NotIpAddress": ("ip", "in", True),
}
OPERATORS: tuple[str, ...] = tuple(_OPS)
"""The condition operators of the RAM language, in the order RAM documents them."""

_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _date(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else None
    if isinstance(value, date):
        return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        return parsed if parsed.tzinfo else None
    return None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _ip(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(str(value).strip())
    except ValueError:
        return None


@dataclass(frozen=True)
class ConditionTest:
    """One operator applied to one key, with its (parsed) values OR'ed."""

    operator: str
    key: str
    values: tuple[Any, ...]

    def holds(self, context: Mapping[str, Any]) -> bool:
        """Say whether this test holds for ``context`` (keys in lower case)."""
        actual = context.get(self.key.lower())
        if actual is None:
            return False
        family, compare, negated = _OPS[self.operator]
        hit = _any_value(family, compare, actual, self.values)
        if hit is None:  # the request's value has the wrong type: the test cannot hold
            return False
        return not hit if negated else hit


def _any_value(family: KeyType, compare: str, actual: Any, values: tuple[Any, ...]) -> bool | None:
    if family == "string":
        text = _text(actual)
        if compare == "eq":
            return text in values
        if compare == "eq_ic":
            return text.casefold() in values
        return any(pattern.match(text) for pattern in values)
    if family == "number":
        number = _number(actual)
        if number is None:
            return None
        return any(_ORDER[compare](number, v) for v in values)
    if family == "date":
        moment = _date(actual)
        if moment is None:
            return None
        return any(_ORDER[compare](moment, v) for v in values)
    if family == "bool":
        flag = _bool(actual)
        return None if flag is None else flag in values
    address = _ip(actual)
    if address is None:
        return None
    return any(address in network for network in values)


@dataclass(frozen=True)
class Condition:
    """A parsed ``Condition`` block: every test must hold."""

    tests: tuple[ConditionTest, ...] = ()

    def holds(self, context: Mapping[str, Any]) -> bool:
        """Say whether every test holds for ``context`` (an empty block always holds)."""
        return all(test.holds(context) for test in self.tests)

    def __bool__(self) -> bool:
        return bool(self.tests)


def parse_condition(block: Any) -> Condition:
    """Parse a ``Condition`` block; raise ValueError with a sentence saying what to fix."""
    if not isinstance(block, Mapping):
        raise ValueError(
            "Condition must be a table of operators, like "
            '{ Bool = { "kms:ForceDeleteWithoutRecovery" = "true" } }'
        )
    tests: list[ConditionTest] = []
    for operator, keys in block.items():
        if operator not in _OPS:
            raise ValueError(_unknown("condition operator", operator, OPERATORS))
        if not isinstance(keys, Mapping) or not keys:
            raise ValueError(
                f"{operator} must be a table of condition keys and values, like "
                f'{operator} = {{ "slack:ChannelId" = ["C0123"] }}'
            )
        family = _OPS[operator][0]
        for key, raw in keys.items():
            canonical = _CANONICAL.get(str(key).lower())
            if canonical is None:
                raise ValueError(_unknown("condition key", str(key), tuple(CONDITION_KEYS)))
            key_type = CONDITION_KEYS[canonical]
            if family != "string" and family != key_type:
                raise ValueError(
                    f"{operator} cannot test {canonical!r}, which is a {key_type}; "
                    f"use {_family_hint(key_type)}"
                )
            items = raw if isinstance(raw, list) else [raw]
            if not items:
                raise ValueError(f"{operator} {canonical!r} has an empty list of values")
            values = tuple(_parse_value(operator, canonical, item) for item in items)
            tests.append(ConditionTest(operator, canonical, values))
    return Condition(tuple(tests))


def _family_hint(key_type: KeyType) -> str:
    return {
        "string": "a String operator",
        "number": "a Numeric operator (NumericEquals, NumericLessThan...)",
        "date": "a Date operator (DateLessThan, DateGreaterThan...)",
        "bool": "Bool",
        "ip": "IpAddress or NotIpAddress",
    }[key_type]


def _parse_value(operator: str, key: str, item: Any) -> Any:
    family, compare, _ = _OPS[operator]
    where = f"{operator} {key!r}"
    if isinstance(item, list | dict | Mapping):
        raise ValueError(f"{where}: {item!r} is not a value; write a string or a list of strings")
    if family == "string":
        text = _text(item)
        if compare == "eq_ic":
            return text.casefold()
        if compare == "like":
            return compile_glob(text)
        return text
    if family == "number":
        number = _number(item)
        if number is None:
            raise ValueError(f"{where}: {item!r} is not a number")
        return number
    if family == "date":
        moment = _date(item)
        if moment is None:
            raise ValueError(
                f"{where}: {item!r} is not a date and time with a time zone; "
                'write ISO-8601 like "2025-01-31T23:59:59Z"'
            )
        return moment
    if family == "bool":
        flag = _bool(item)
        if flag is None:
            raise ValueError(f'{where}: {item!r} is not "true" or "false"')
        return flag
    try:
        return ipaddress.ip_network(str(item).strip(), strict=False)
    except ValueError:
        raise ValueError(
            f'{where}: {item!r} is not an IP address or CIDR block, like "192.168.0.0/16"'
        ) from None


def _unknown(what: str, name: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f' (did you mean "{close[0]}"?)' if close else ""
    return f"unknown {what} {name!r}{hint}; the known ones are {', '.join(known)}"
