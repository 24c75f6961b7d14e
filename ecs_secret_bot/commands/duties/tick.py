"""One tick of the duties: what every duty is handed, and what it reports.

Owns ``Tick`` (the core, the notifier, the lease's fence, the report: ``ticks.TickReport``).
Every write a duty makes on behalf of the lease passes ``tick.fence`` to storage, which
refuses it with ``LeaseLost`` once another replica holds the lease. Never runs a duty.
"""

from __future__ import annotations

from dataclasses import dataclass

from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.duties.notifier import Notifier
from ecs_secret_bot.commands.ticks import TickReport
from ecs_secret_bot.storage.leases import Fence

__all__ = ["Tick", "TickReport"]


@dataclass(frozen=True)
class Tick:
    """What each duty of one tick works with."""

    core: Core
    notifier: Notifier
    fence: Fence
    report: TickReport
