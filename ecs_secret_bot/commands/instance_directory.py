"""The instance directory: a short-lived, per-region cache of the ECS instances.

Owns ``InstanceDirectory``, which ``Core`` holds (one per running bot) so that the create
modal's instance picker, asked again at every keystroke, answers from memory: a region's
instances are read once (DescribeInstances, 100 a page, NextToken paging) and kept for
``ttl`` seconds. One load per region runs at a time, however many pickers ask. A caller
never waits longer than ``budget`` seconds: past it, it gets what is known so far (the
previous, stale list, else the pages read yet) while the load finishes in the background
for the next keystroke. That keeps a cold picker inside Slack's 3-second options window
even for a large fleet.

Holds instance metadata only (ids, names, states), never anything about secrets, and
never decides who may see it: ``views_instances.search_instances`` authorizes first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ecs_secret_bot.commands.gateway import CloudGateway, Instance

__all__ = ["InstanceDirectory", "Snapshot"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """The instances of one region as far as they are known, and whether that is all."""

    instances: tuple[Instance, ...]
    complete: bool
    """False when the load was still running at the caller's budget."""


@dataclass
class _Load:
    task: asyncio.Task[None] | None = None
    partial: list[Instance] = field(default_factory=list)


class InstanceDirectory:
    """Per-region lists of ECS instances, kept ``ttl`` seconds; one load per region at a time."""

    def __init__(
        self,
        *,
        ttl: float = 30.0,
        budget: float = 2.0,
        max_pages: int = 50,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.budget = budget
        self.max_pages = max_pages
        self.clock = clock
        self._fresh: dict[str, tuple[float, tuple[Instance, ...]]] = {}
        self._loads: dict[str, _Load] = {}

    def forget(self, region: str | None = None) -> None:
        """Drop the cached list of one region (or all), so the next lookup reads ECS."""
        if region is None:
            self._fresh.clear()
        else:
            self._fresh.pop(region, None)

    async def lookup(self, gateway: CloudGateway, region: str) -> Snapshot:
        """Return the region's instances: cached, freshly loaded, or what is known in time."""
        cached = self._fresh.get(region)
        if cached is not None and self.clock() - cached[0] < self.ttl:
            return Snapshot(cached[1], complete=True)
        load = self._loads.get(region)
        if load is None:
            load = _Load()
            load.task = asyncio.create_task(self._load(gateway, region, load))
            self._loads[region] = load
            load.task.add_done_callback(lambda _task: self._settled(region, load))
        assert load.task is not None
        done, _ = await asyncio.wait({load.task}, timeout=self.budget)
        if done:
            load.task.result()  # a failed load raises its CloudError to every waiter
            return Snapshot(self._fresh[region][1], complete=True)
        if cached is not None:
            return Snapshot(cached[1], complete=False)
        return Snapshot(tuple(load.partial), complete=False)

    async def _load(self, gateway: CloudGateway, region: str, load: _Load) -> None:
        token: str | None = None
        for _ in range(self.max_pages):
            page = await gateway.describe_instances(region, max_results=100, next_token=token)
            load.partial.extend(page.instances)
            token = page.next_token
            if not token:
                break
        self._fresh[region] = (self.clock(), tuple(load.partial))

    def _settled(self, region: str, load: _Load) -> None:
        if self._loads.get(region) is load:
            del self._loads[region]
        task = load.task
        if task is not None and not task.cancelled():
            # Retrieved here, so that a failure nobody waited for is said once, plainly.
            failure = task.exception()
            if failure is not None:
                logger.info("listing the ECS instances of %s failed: %s", region, failure)
