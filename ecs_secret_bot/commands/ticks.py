"""How the duties' ticks went: what one did, and how late and by whom they ran.

Owns ``TickReport`` (what one tick did), the ``DutyObserver`` protocol (told of every tick:
whether this replica held the lease, and the tick's lag; the metrics implement it, outside
the core) and ``TickSchedule``, which measures the lag: a tick is due ``interval`` after the
previous one started, so a tick that overran its interval, or a loop too busy to wake up
in time, shows as lag. Never runs a duty and never takes the lease.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

__all__ = ["DutyObserver", "TickReport", "TickSchedule"]


@dataclass
class TickReport:
    """What one tick did (for logs, tests and the benchmark)."""

    ran: bool = True
    reminders: int = 0
    expired: int = 0
    reannounced: int = 0
    announced: int = 0
    refreshed: int = 0
    closed: int = 0
    discovered: int = 0
    followed: int = 0
    token: int = 0
    """The fencing token the tick ran under (0: it did not run)."""
    lease_lost: bool = False
    """Another replica took the lease over during the tick: the rest was left to it."""
    errors: list[str] = field(default_factory=list)


class DutyObserver(Protocol):
    """Hears of every tick of the duties (the metrics implement it).

    Example (an observer that only logs)::

        class LogObserver:
            def duty_tick(self, *, owner: str, held: bool, lag: float) -> None:
                logger.info("%s ticked %.1fs late, lease %s", owner, lag, held)
    """

    def duty_tick(self, *, owner: str, held: bool, lag: float) -> None:
        """Note a tick by ``owner``: whether it held the lease (and ran), seconds late."""
        ...


class TickSchedule:
    """When the next tick is due, and how late each one starts."""

    def __init__(self, interval: timedelta, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval.total_seconds()
        self._clock = clock
        self._due: float | None = None

    def start(self) -> float:
        """Mark a tick starting now; return how many seconds after it was due (0: the first)."""
        now = self._clock()
        lag = 0.0 if self._due is None else max(now - self._due, 0.0)
        self._due = now + self._interval
        return lag
