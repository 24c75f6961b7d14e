"""The records the core hands to front ends: what it keeps, as frozen rows to render.

Owns the names front ends use for them: ``ApprovalRow`` (an approval request, its votes in
``Vote``s, its status), ``PendingDeletion`` (a deletion the bot scheduled and follows) and
``RotationRow`` (a rotation it triggered). ``bot/`` and ``terminal/`` import them from here,
never from ``storage``, which keeps them. Never adds behaviour and never reads or writes:
the operations and queries of ``commands/`` do, and return these.
"""

from __future__ import annotations

from ecs_secret_bot.storage.approvals import ApprovalRow, Vote
from ecs_secret_bot.storage.pending import PendingDeletion
from ecs_secret_bot.storage.rotations import RotationRow

__all__ = ["ApprovalRow", "PendingDeletion", "RotationRow", "Vote"]
