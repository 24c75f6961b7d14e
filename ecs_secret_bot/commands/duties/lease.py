"""Who holds the duties: the lease every replica competes for, as a query.

Owns the lease's name and ``duty_lease``, what an operator (``/metrics``' lease-holder gauge,
a health check, a test) reads of it: the holder's replica id, its fencing token, since when
it holds it and until when. Never takes or renews the lease (``runner`` does).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.storage import leases

__all__ = ["LEASE", "DutyLease", "duty_lease"]

LEASE = "duties"


@dataclass(frozen=True)
class DutyLease:
    """The duties' lease as the database holds it now."""

    owner: str
    """The holder's replica id (``host:pid:random``)."""
    token: int
    """The fencing token: one higher at each new holder."""
    acquired_at: datetime
    expires_at: datetime
    held: bool
    """Whether it had not lapsed at the time of the query (a lapsed one is free to take)."""


async def duty_lease(core: Core) -> DutyLease | None:
    """Return who holds the duties' lease, or None if nobody ever took it or it was given back."""
    lease = await leases.get_lease(core.db, LEASE)
    if lease is None:
        return None
    return DutyLease(
        owner=lease.owner,
        token=lease.token,
        acquired_at=lease.acquired_at,
        expires_at=lease.expires_at,
        held=lease.expires_at > core.clock(),
    )
