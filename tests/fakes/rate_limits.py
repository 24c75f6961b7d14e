"""Rate limits of fake Slack: per method (and per channel for posting), as documented.

Owns `Limit`, the documented tiers, `DEFAULT_LIMITS` (the tier of each method the
bot and bolt call) and `RateLimiter`, a token bucket per method per app (and per
channel for `chat.postMessage`) that `FakeSlackAPI` consults before answering; a
call over the limit gets HTTP 429 with `Retry-After` (whole seconds until a call
would pass), `{"ok": false, "error": "ratelimited"}`.

What Slack documents (https://docs.slack.dev/apis/web-api/rate-limits):
"Tier 1: 1+ per minute [...] a small amount of burst behavior is tolerated",
"Tier 2: 20+ per minute", "Tier 3: 50+ per minute", "Tier 4: 100+ per minute",
"chat.postMessage generally allows posting one message per second per channel",
"Short bursts >1 allowed"; a throttled call gets "HTTP 429 Too Many Requests" with
a `Retry-After` header. The tier of each method is on its page
(https://docs.slack.dev/reference/methods/<method>). The bursts below are ours (Slack
gives no number): a minute's worth for tiers 2-4, 5 calls for tier 1 and 30 posts per
channel, so that only a test about rate limits meets them.

Never speaks HTTP and never decides anything else about a call.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = [
    "DEFAULT_LIMITS",
    "POSTING",
    "TIER_1",
    "TIER_2",
    "TIER_3",
    "TIER_4",
    "Limit",
    "RateLimiter",
]


@dataclass(frozen=True)
class Limit:
    """`per_minute` calls a minute on average, up to `burst` at once.

    With `per_channel`, each channel (the call's `channel` argument) has its own budget.
    """

    per_minute: float
    burst: int
    per_channel: bool = False

    def __post_init__(self) -> None:
        if self.per_minute <= 0 or self.burst < 1:
            raise ValueError("a limit needs per_minute > 0 and burst >= 1")


TIER_1 = Limit(per_minute=1, burst=5)
TIER_2 = Limit(per_minute=20, burst=20)
TIER_3 = Limit(per_minute=50, burst=50)
TIER_4 = Limit(per_minute=100, burst=100)
#: chat.postMessage: one message per second per channel, short bursts allowed.
POSTING = Limit(per_minute=60, burst=30, per_channel=True)

#: The documented tier of each method fake Slack answers. "Special" methods other than
#: chat.postMessage (auth.test, chat.getPermalink) have no published number: unlimited.
DEFAULT_LIMITS: Mapping[str, Limit] = {
    "apps.connections.open": TIER_1,
    "usergroups.list": TIER_2,
    "usergroups.users.list": TIER_2,
    "chat.update": TIER_3,
    "chat.delete": TIER_3,
    "conversations.info": TIER_3,
    "conversations.open": TIER_3,
    "chat.postEphemeral": TIER_4,
    "users.info": TIER_4,
    "views.open": TIER_4,
    "views.push": TIER_4,
    "views.update": TIER_4,
    "views.publish": TIER_4,
    "chat.postMessage": POSTING,
}


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per method (and channel), refilled at each limit's pace."""

    def __init__(
        self,
        limits: Mapping[str, Limit] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits: dict[str, Limit] = dict(DEFAULT_LIMITS if limits is None else limits)
        self.enabled = True
        self._clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def set_limit(self, method: str, limit: Limit | None) -> None:
        """Limit `method` to `limit` from now on (None: no limit); its budget starts full."""
        if limit is None:
            self.limits.pop(method, None)
        else:
            self.limits[method] = limit
        self._buckets = {key: b for key, b in self._buckets.items() if key[0] != method}

    def take(self, method: str, *, channel: str = "") -> int | None:
        """Count one call of `method`: None if it may pass, else the seconds to wait."""
        limit = self.limits.get(method)
        if not self.enabled or limit is None:
            return None
        key = (method, channel if limit.per_channel else "")
        now = self._clock()
        bucket = self._buckets.setdefault(key, _Bucket(float(limit.burst), now))
        per_second = limit.per_minute / 60.0
        bucket.tokens = min(float(limit.burst), bucket.tokens + (now - bucket.updated) * per_second)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - bucket.tokens) / per_second))
