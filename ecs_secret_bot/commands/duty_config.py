"""The ``[duties]`` table: how often the background duties run, and their lease's TTL.

Owns checking it at start-up, each problem a ``ConfigError`` naming the key. Never runs a
duty.

Example::

    [duties]
    interval = "30s"    # how often the lease holder runs the duties
    lease_ttl = "90s"   # a dead holder's duties (and a dead replica's rotation follow-ups)
                        # are taken over within this time
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from ecs_secret_bot.commands.durations import parse_duration
from ecs_secret_bot.commands.settings import DutySettings
from ecs_secret_bot.errors import ConfigError

__all__ = ["DutySettings", "parse_duty_config"]

_KEYS = ("interval", "lease_ttl")


def _duration(table: Mapping[str, Any], key: str, default: timedelta, *, file: str) -> timedelta:
    if key not in table:
        return default
    value = table[key]
    try:
        if not isinstance(value, str):
            raise ValueError(f'must be a duration string like "30s", not {type(value).__name__}')
        parsed = parse_duration(value)
    except ValueError as exc:
        raise ConfigError(str(exc), file=file, key=f"duties.{key}") from None
    if parsed <= timedelta(0):
        raise ConfigError("must be longer than zero", file=file, key=f"duties.{key}")
    return parsed


def parse_duty_config(table: Mapping[str, Any], *, file: str) -> DutySettings:
    """Validate the ``[duties]`` table; raise ConfigError naming what to fix."""
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        raise ConfigError.unknown_key(unknown[0], table="duties", allowed=_KEYS, file=file)
    default = DutySettings()
    interval = _duration(table, "interval", default.interval, file=file)
    ttl = _duration(table, "lease_ttl", default.lease_ttl, file=file)
    if ttl <= interval:
        raise ConfigError(
            f"must be longer than duties.interval ({interval.total_seconds():g}s): a holder "
            "renews its lease at each tick, so a shorter lease lapses between two ticks",
            file=file,
            key="duties.lease_ttl",
        )
    return DutySettings(interval=interval, lease_ttl=ttl)
