"""Constants the storage tests share: the fixed clock and a (test-only) data key."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["KEY", "NOW"]

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
KEY = bytes(range(32))
