"""The audit log's daily anchor: the chain's head, said where the database cannot unsay it.

Owns ``AuditAnchor`` (the last entry's number and MAC, and the day it stands for),
``take_anchor``, ``AnchorNotifier`` (the part of the duties' ``Notifier`` that says it) and
``anchor_duty``, the duty ``duties.DutyRunner`` runs at every tick: once a UTC day, across
processes, it logs the head and hands it to the notifier. The chain proves that no entry up
to its head was changed; it cannot show that its newest entries were cut off, since the
shorter chain is whole too. A head written down elsewhere (the approval channel, the log, a
ticket) can: verifying against it (``queries.verify_audit``) fails when the log no longer
holds that entry as it was. Never talks Slack, and never words a command for a front end.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.storage import idempotency
from ecs_secret_bot.storage.audit import audit_head
from ecs_secret_bot.storage.leases import Fence

__all__ = ["ANCHOR_MEMORY", "AnchorNotifier", "AuditAnchor", "anchor_duty", "take_anchor"]

logger = logging.getLogger(__name__)

ANCHOR_MEMORY = timedelta(days=3)
"""How long a day's anchor is remembered as said (it is said once that day)."""


@dataclass(frozen=True)
class AuditAnchor:
    """The audit log's head at ``taken``: entry ``seq`` (also the count) has MAC ``hash``."""

    day: date
    """The UTC day it stands for: one anchor a day."""
    seq: int
    hash: str
    taken: datetime

    @property
    def text(self) -> str:
        """Return it as a verification takes it: ``SEQ:HASH``."""
        return f"{self.seq}:{self.hash}"

    @property
    def key(self) -> str:
        """Return the key that makes it once a day, whichever process takes it."""
        return f"audit-anchor|{self.day.isoformat()}"


class AnchorNotifier(Protocol):
    """Says the audit log's head to people; part of the duties' ``Notifier``.

    Example (the log says it already; a notifier may do nothing more)::

        class LogOnly:
            async def audit_anchor(self, anchor: AuditAnchor) -> None:
                pass
    """

    async def audit_anchor(self, anchor: AuditAnchor) -> None:
        """Say the audit log's head where the database cannot unsay it (daily)."""
        ...


async def take_anchor(core: Core) -> AuditAnchor:
    """Read the audit log's head now."""
    now = core.clock()
    seq, digest = await audit_head(core.db)
    return AuditAnchor(day=now.date(), seq=seq, hash=digest, taken=now)


def anchor_duty(
    core: Core, notifier: AnchorNotifier, *, fence: Fence | None = None
) -> Callable[[object], Awaitable[None]]:
    """Return the duty that says the head once a UTC day (retried if the notifier fails),
    its claims made under the duties' lease ``fence``."""

    async def audit_anchor(report: object) -> None:
        anchor = await take_anchor(core)
        if not await idempotency.claim_key(
            core.db, anchor.key, now=core.clock(), ttl=ANCHOR_MEMORY, fence=fence
        ):
            return  # said today already, here or by another process
        logger.info("audit anchor %s: head %s", anchor.day.isoformat(), anchor.text)
        try:
            await notifier.audit_anchor(anchor)
        except Exception:
            await idempotency.release_key(core.db, anchor.key, fence=fence)
            raise

    return audit_anchor
