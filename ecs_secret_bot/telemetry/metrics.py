"""The process's Prometheus metrics, on a registry of its own, and their text exposition.

Owns ``Metrics``: every metric the bot exports (names in ``README.md``, "Metrics and
logs"), made on a ``CollectorRegistry`` created with it (never prometheus_client's global
one: tests and several cores in one process do not collide), and ``render`` for ``GET
/metrics``. It implements, by their shape, the observer protocols of the layers that
report: ``request`` and ``acked`` (``bot.observe.RequestObserver``), ``cloud_call``
(``cloud.retry.CallObserver``), ``duty_tick`` (``commands.ticks.DutyObserver``).

The backlog gauges (approvals waiting, pending deletions, the nearest planned deletion)
are read from storage at scrape time: ``render`` awaits ``refresh`` (the ``watch_backlog`` call
``runtime`` gives: local queries, never the cloud), at most once per ``backlog_ttl``
seconds and within ``backlog_timeout``, and a collector hands the snapshot to the
(synchronous) exposition. A failed or slow read keeps the last snapshot, whose age
``ecs_secret_bot_backlog_timestamp_seconds`` shows. Label values are bounded: the layers
pass known names only (a subcommand, an action id, an API name, an error code).

Never decides anything and never imports another layer of ours.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ecs_secret_bot import __version__

__all__ = ["CONTENT_TYPE", "PREFIX", "Backlog", "BacklogFacts", "Metrics"]

logger = logging.getLogger(__name__)

PREFIX = "ecs_secret_bot"
CONTENT_TYPE = CONTENT_TYPE_LATEST
ACK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0)
"""Around Slack's 3 s: past the last bucket Slack has given up on the request."""
CLOUD_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0)
LAG_BUCKETS = (0.01, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0)


class BacklogFacts(Protocol):
    """What the backlog gauges show (``commands.queries.backlog.Backlog`` has this shape)."""

    @property
    def approvals_waiting(self) -> int: ...
    @property
    def pending_deletions(self) -> int: ...
    @property
    def next_deletion(self) -> datetime | None: ...


@dataclass(frozen=True)
class Backlog:
    """A backlog snapshot (the one before the first read: nothing known)."""

    approvals_waiting: int = 0
    pending_deletions: int = 0
    next_deletion: datetime | None = None


class _BacklogCollector(Collector):
    """Hands the last backlog snapshot to the exposition (collectors are synchronous)."""

    def __init__(self) -> None:
        self.snapshot: BacklogFacts | None = None
        self.read_at = 0.0

    def collect(self) -> Iterator[Metric]:
        """Yield the backlog gauges of the last snapshot; nothing before the first read."""
        snapshot = self.snapshot
        if snapshot is None:
            return
        yield GaugeMetricFamily(
            f"{PREFIX}_approvals_waiting",
            "Approval requests waiting for a decision.",
            value=snapshot.approvals_waiting,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_pending_deletions",
            "Secrets scheduled for deletion that the bot tracks.",
            value=snapshot.pending_deletions,
        )
        if snapshot.next_deletion is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}_next_deletion_timestamp_seconds",
                "When the nearest scheduled deletion happens (unix time).",
                value=snapshot.next_deletion.timestamp(),
            )
        yield GaugeMetricFamily(
            f"{PREFIX}_backlog_timestamp_seconds",
            "When the backlog gauges were read from storage (unix time).",
            value=self.read_at,
        )


class Metrics:
    """Every metric of one bot process, on its own registry.

    Example::

        metrics = Metrics(version="1.0")
        metrics.watch_backlog(lambda: read_backlog(core))
        metrics.request(kind="command", name="rotate", outcome="ok")
        body = await metrics.render()
    """

    def __init__(
        self,
        *,
        backlog_ttl: float = 5.0,
        backlog_timeout: float = 1.0,
        version: str = __version__,
    ) -> None:
        self.content_type = CONTENT_TYPE
        self.registry = CollectorRegistry()
        registry = self.registry
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        self._requests = Counter(
            f"{PREFIX}_requests",
            "Slack requests served, by kind, name and outcome.",
            ("kind", "name", "outcome"),
            registry=registry,
        )
        self._ack = Histogram(
            f"{PREFIX}_ack_seconds",
            "Seconds from a Slack request's arrival to its ack.",
            ("kind",),
            buckets=ACK_BUCKETS,
            registry=registry,
        )
        self._cloud_calls = Counter(
            f"{PREFIX}_cloud_calls",
            "Attempts of Alibaba Cloud API calls, retries included, by API and error code.",
            ("service", "action", "code", "retry"),
            registry=registry,
        )
        self._cloud_seconds = Histogram(
            f"{PREFIX}_cloud_call_seconds",
            "Seconds each attempt of an Alibaba Cloud API call took.",
            ("service", "action"),
            buckets=CLOUD_BUCKETS,
            registry=registry,
        )
        self._lag = Histogram(
            f"{PREFIX}_duty_lag_seconds",
            "Seconds between when a duty tick was due and when it ran.",
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self._ticks = Counter(
            f"{PREFIX}_duty_ticks",
            "Duty ticks, by whether this replica held the lease (and so ran the duties).",
            ("held",),
            registry=registry,
        )
        self._holder = Gauge(
            f"{PREFIX}_duty_lease_holder",
            "1 while this replica holds the duties' lease, else 0.",
            ("owner",),
            registry=registry,
        )
        self._replica = Info(
            f"{PREFIX}_replica", "This replica: its lease owner id and version.", registry=registry
        )
        self._replica_facts = {"replica": "", "version": version}
        self._replica.info(self._replica_facts)
        self._backlog_call: Callable[[], Awaitable[BacklogFacts]] | None = None
        self._backlog = _BacklogCollector()
        registry.register(self._backlog)
        self._backlog_ttl = backlog_ttl
        self._backlog_timeout = backlog_timeout
        self._refreshing: asyncio.Lock | None = None

    # bot.observe.RequestObserver

    def request(self, *, kind: str, name: str, outcome: str) -> None:
        """Count one Slack request that ended with ``outcome``."""
        self._requests.labels(kind, name, outcome).inc()

    def acked(self, *, kind: str, seconds: float) -> None:
        """Observe how long a request of ``kind`` waited for its ack."""
        self._ack.labels(kind).observe(seconds)

    # cloud.retry.CallObserver

    def cloud_call(
        self, *, service: str, action: str, code: str, seconds: float, retry: bool
    ) -> None:
        """Count one attempt of a cloud call (``code`` "ok" for success) and its duration."""
        self._cloud_calls.labels(service, action, code, "true" if retry else "false").inc()
        self._cloud_seconds.labels(service, action).observe(seconds)

    # commands.ticks.DutyObserver

    def duty_tick(self, *, owner: str, held: bool, lag: float) -> None:
        """Record a duty tick: whether ``owner`` (this replica) held the lease, its lag."""
        if self._replica_facts["replica"] != owner:
            self._replica_facts["replica"] = owner
            self._replica.info(self._replica_facts)
        self._holder.labels(owner).set(1 if held else 0)
        self._ticks.labels("true" if held else "false").inc()
        if held:
            self._lag.observe(max(lag, 0.0))

    # the scrape

    def watch_backlog(self, read: Callable[[], Awaitable[BacklogFacts]]) -> None:
        """Read the backlog gauges with ``read`` (storage, never the cloud) at scrape time."""
        self._backlog_call = read

    async def refresh(self) -> None:
        """Read the backlog from storage unless the snapshot is younger than the TTL."""
        if self._backlog_call is None:
            return
        if time.time() - self._backlog.read_at < self._backlog_ttl:
            return
        if self._refreshing is None:
            self._refreshing = asyncio.Lock()
        async with self._refreshing:  # scrapes at once share one read
            if time.time() - self._backlog.read_at < self._backlog_ttl:
                return
            try:
                async with asyncio.timeout(self._backlog_timeout):
                    snapshot = await self._backlog_call()
            except Exception as exc:  # noqa: BLE001 - a scrape must answer anyway
                logger.warning("metrics: the backlog could not be read: %s", type(exc).__name__)
                return
            self._backlog.snapshot = snapshot
            self._backlog.read_at = time.time()

    async def render(self) -> bytes:
        """Return the text exposition, the backlog refreshed first where it is due."""
        await self.refresh()
        return generate_latest(self.registry)
