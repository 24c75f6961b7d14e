"""How values are spelled in the database: timestamps as fixed-width UTC text, JSON canonically.

Owns the conversions only; never touches a connection. Timestamps are written as
``YYYY-MM-DDTHH:MM:SS.ffffffZ``, always that width, so that text order is time order and
range queries on an index work; a naive datetime is a programming error and is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

__all__ = ["canonical_json", "frozen_mapping", "from_text", "to_text"]


def to_text(moment: datetime) -> str:
    """Spell an aware datetime as fixed-width UTC text that sorts in time order."""
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError(f"naive datetime {moment!r}: storage takes aware UTC datetimes only")
    # isoformat, not strftime: it zero-pads the year and is several times faster.
    return (moment - offset).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def from_text(text: str) -> datetime:
    """Read a timestamp written by ``to_text`` back as an aware UTC datetime."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:  # written by hand without the Z: it is UTC all the same
        return moment.replace(tzinfo=UTC)
    return moment


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} cannot be stored as JSON")


def canonical_json(value: Any) -> str:
    """Serialise to JSON with sorted keys and no spaces, so equal data hashes equally."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain
    )


def frozen_mapping(text: str) -> Mapping[str, Any]:
    """Parse a JSON object into a read-only mapping."""
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return MappingProxyType(value)
