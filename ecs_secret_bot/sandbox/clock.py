"""Time in the sandbox: an injectable clock and the two timestamp spellings KMS uses.

The clock governs resource time only (CreateTime, rotation dates, planned deletions).
The gateway's ``x-acs-date`` skew check always uses the host's real clock, because
the SDK stamps requests with real time; moving the sandbox clock therefore never
makes requests stale.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

__all__ = ["Clock", "OffsetClock", "format_beijing", "format_utc"]

Clock = Callable[[], datetime]
"""A callable returning the current time as an aware UTC datetime."""

_BEIJING = timezone(timedelta(hours=8))


class OffsetClock:
    """Real UTC time plus an offset that ``advance`` moves forward (or back)."""

    def __init__(self, *, start: datetime | None = None) -> None:
        self._offset = timedelta(0)
        if start is not None:
            self.set(start)

    def __call__(self) -> datetime:
        """Return the current sandbox time."""
        return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock by ``delta``; return the new time."""
        self._offset += delta
        return self()

    def set(self, when: datetime) -> None:
        """Make the clock read ``when`` now (it keeps ticking from there)."""
        if when.tzinfo is None:
            raise ValueError("the sandbox clock needs an aware datetime (tzinfo=UTC)")
        self._offset = when - datetime.now(UTC)


def format_utc(when: datetime) -> str:
    """Write a time as DescribeSecret does: ``2024-05-01T08:00:00Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_beijing(when: datetime) -> str:
    """Write a time as DeleteSecret does: ``2020-02-21T23:36:07.713703651+08:00``."""
    local = when.astimezone(_BEIJING)
    # KMS prints nanoseconds; Python has microseconds, so pad with zeros.
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond:06d}000+08:00"
