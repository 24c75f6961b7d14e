"""Durations written with a unit (``6h``, ``7d``, ``604800s``), as KMS and our config use them."""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["format_duration", "parse_duration"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PATTERN = re.compile(r"^\s*(\d{1,9})\s*([smhd])\s*$", re.ASCII)  # 7d, never a ٧


def parse_duration(text: str) -> timedelta:
    """Parse ``<integer><unit>`` (unit s, m, h or d); raise ValueError saying what is expected."""
    match = _PATTERN.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"{text!r} is not a duration; write a whole number and a unit: "
            "s, m, h or d (for example 30m, 6h, 7d)"
        )
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def format_duration(value: timedelta) -> str:
    """Write a duration in the largest unit that divides it exactly (``7d``, ``36h``, ``90m``)."""
    seconds = int(value.total_seconds())
    for unit in ("d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"
