"""What waits on the bot, for the operator's gauges: approvals, pending deletions.

Owns ``Backlog`` and ``read_backlog``: how many approval requests wait for a decision, how
many deletions the bot tracks, and when the nearest one happens, read from storage (never
the cloud) for the metrics a scrape shows. It is the operator's view, not a person's: no
actor, no authorization, nothing named. Never words anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.storage import pending
from ecs_secret_bot.storage.approvals import list_approvals

__all__ = ["COUNT_LIMIT", "Backlog", "read_backlog"]

COUNT_LIMIT = 10_000
"""Rows counted at most in each gauge: a backlog that large is a problem either way."""


@dataclass(frozen=True)
class Backlog:
    """What waits: approval requests, tracked deletions and the nearest planned one."""

    approvals_waiting: int
    pending_deletions: int
    next_deletion: datetime | None


async def read_backlog(core: Core) -> Backlog:
    """Return what waits on the bot now, from storage."""
    waiting = await list_approvals(core.db, statuses=("pending",), limit=COUNT_LIMIT)
    deletions = await pending.list_pending(core.db, statuses=("pending",), limit=COUNT_LIMIT)
    return Backlog(
        approvals_waiting=len(waiting),
        pending_deletions=len(deletions),
        # soonest first (list_pending's order)
        next_deletion=deletions[0].planned_delete_time if deletions else None,
    )
