"""KMS's request quota, as a sandbox setting: too many calls of one action in one second
of one region are refused with 429 ``Rejected.Throttling`` ("QPS Limit Exceeded").

KMS documents the refusal (its code, status and message, and that a retry fixes it) and
that its quotas are per account, per region and per kind of operation; the numbers for
the secret operations are not in the fact sheet, so the sandbox invents none: ``qps`` is
off (None) until a test, a benchmark or an operator sets it (``World.kms_qps``, or
``POST /_sandbox/settings {"kms_qps": n}``). With it set, each (region, action) may take
``qps`` calls in any sliding second; a refused call does not count (KMS refused it before
doing anything). ``docs/alibaba-cloud.md`` says where each fact comes from.

Owns the counting only; ``server`` asks it before running a KMS action.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

__all__ = ["QpsLimit"]

_WINDOW = 1.0


class QpsLimit:
    """Calls of each (region, action) in the last second, against an optional limit."""

    def __init__(self, *, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._qps: int | None = None
        self._calls: dict[tuple[str, str], deque[float]] = {}
        self.refused = 0
        """How many calls were refused so far (for tests and benchmarks)."""

    @property
    def qps(self) -> int | None:
        """Return the calls each action may take per second in a region (None: no limit)."""
        return self._qps

    @qps.setter
    def qps(self, value: int | None) -> None:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError("kms_qps must be a whole number of calls per second, or null")
        if value is not None and value < 1:
            raise ValueError("kms_qps must be at least 1 (or null for no limit)")
        self._qps = value
        self._calls.clear()

    def admit(self, region: str, action: str) -> bool:
        """Count one call of ``action`` in ``region``; return False if it is over the limit."""
        if self._qps is None:
            return True
        now = self._clock()
        calls = self._calls.setdefault((region, action), deque())
        while calls and now - calls[0] >= _WINDOW:
            calls.popleft()
        if len(calls) >= self._qps:
            self.refused += 1
            return False
        calls.append(now)
        return True
