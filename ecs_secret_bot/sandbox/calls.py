"""The call log: how many API calls the sandbox received, per action and region.

Benchmarks and tests count cloud calls with it. Every request that names a known
action is counted, whatever its outcome (signature refused, fault injected, error or
success): each is a call the client made.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping

__all__ = ["CallLog"]


class CallLog(Mapping[tuple[str, str], int]):
    """Counts of calls keyed by ``(action, region)``; read it like a dict."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()

    def record(self, action: str, region: str) -> None:
        """Count one call of ``action`` in ``region``."""
        self._counts[(action, region)] += 1

    def total(self, action: str | None = None, *, region: str | None = None) -> int:
        """Return the number of calls, optionally of one action and/or in one region."""
        return sum(
            count
            for (one_action, one_region), count in self._counts.items()
            if (action is None or one_action == action) and (region is None or one_region == region)
        )

    def clear(self) -> None:
        """Forget every call counted so far."""
        self._counts.clear()

    def as_list(self) -> list[dict[str, str | int]]:
        """Return the counts as JSON-ready rows, sorted by action then region."""
        return [
            {"action": action, "region": region, "count": count}
            for (action, region), count in sorted(self._counts.items())
        ]

    def __getitem__(self, key: tuple[str, str]) -> int:
        return self._counts.get(key, 0)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._counts)

    def __len__(self) -> int:
        return len(self._counts)
