"""What people hear of the duties: the ``Notifier`` protocol the Slack layer implements.

Owns the protocol only; never decides when to say anything and never talks Slack.
"""

from __future__ import annotations

from typing import Protocol

from ecs_secret_bot.commands.anchor import AnchorNotifier
from ecs_secret_bot.storage.approvals import ApprovalRow
from ecs_secret_bot.storage.pending import PendingDeletion

__all__ = ["Notifier"]


class Notifier(AnchorNotifier, Protocol):
    """How duties reach people (and the audit anchor). The Slack layer implements it.

    Example (a notifier that only logs)::

        class LogNotifier:
            async def remind(self, row: PendingDeletion, *, label: str) -> None:
                logger.info("%s is deleted in %s", row.secret_name, label)
            ...
    """

    async def remind(self, row: PendingDeletion, *, label: str) -> None:
        """Remind the channel and the scheduler that ``row`` is deleted soon."""
        ...

    async def deletion_closed(self, row: PendingDeletion) -> None:
        """Say that a pending deletion ended (restored elsewhere, or deleted)."""
        ...

    async def deletion_discovered(self, row: PendingDeletion) -> None:
        """Say that a deletion scheduled outside the bot is now tracked."""
        ...

    async def approval_unannounced(self, row: ApprovalRow) -> None:
        """Post the card of a request nobody posted (a terminal, a refusing channel); raise
        if it cannot be posted."""
        ...

    async def approval_undeliverable(self, row: ApprovalRow) -> None:
        """Tell the requester that the request's card could not be posted, and why it stops."""
        ...

    async def approval_expired(self, row: ApprovalRow) -> None:
        """Update the card of an expired request and tell its requester."""
        ...

    async def approval_changed(self, row: ApprovalRow) -> None:
        """Bring a request's card up to date (a vote or an end that came from elsewhere)."""
        ...

    async def approval_stale(self, row: ApprovalRow) -> None:
        """Re-announce a request that has waited too long, to its approvers."""
        ...
