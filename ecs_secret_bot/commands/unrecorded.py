"""A change the cloud made that the bot could not record: the honest answer after a cloud call.

Owns ``CloudDid`` (what a successful cloud call changed, in words), ``ChangeNotRecorded``
and ``recording``: the writes an operation makes after a cloud call that succeeded (a
rotation's ``in_progress``, a deletion's ``pending``, a restore's closed row) run inside it.
If one of them fails (the database went away, is locked or refuses), the cloud has still
changed, so the person is told so: what the cloud did, that the bot could not record it and
why, what the bot does once its database is back, and not to do it again (the rows left
behind, ``starting``, ``unknown`` or ``pending``, are settled by the duties; a rotation's
follow-up audits its end, and ``audit_settled_deletion`` is how what settles an ``unknown``
deletion audits it). Never calls the cloud, never writes SQL, never words anything in a
front end's syntax.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from ecs_secret_bot.commands.approval.requests import ActionRequest
from ecs_secret_bot.commands.auditing import audit
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.names import secret_arn
from ecs_secret_bot.errors import (
    NextStep,
    StorageError,
    StorageFault,
    StorageProblem,
    Subcommand,
)
from ecs_secret_bot.storage.pending import PendingDeletion

__all__ = ["ChangeNotRecorded", "CloudDid", "audit_settled_deletion", "recording"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CloudDid:
    """What a cloud call that succeeded changed, for the words of an unrecorded change.

    Example::

        CloudDid(
            done="Rotation of web-3-root was triggered in KMS",
            again="do not rotate it again",
            then="the bot follows the rotation once its database is back",
            secret="web-3-root",
        )
    """

    done: str
    again: str
    then: str
    secret: str
    record_id: int | None = None
    """The row the operation wrote before the call (a rotation's), for who follows it."""


class ChangeNotRecorded(StorageError):
    """The cloud made the change, but the bot could not record it afterwards."""

    def __init__(self, did: CloudDid, *, why: str, path: str = "") -> None:
        super().__init__(
            f"{did.done}, but the bot could not record it because {why}.",
            path=path,
            next_step=NextStep(
                f"{did.again[:1].upper()}{did.again[1:]}: {did.then}. {{command}} shows "
                "what KMS has now.",
                Subcommand("show", (did.secret,)),
            ),
        )
        self.did = did


def _why(exc: Exception) -> str:
    if isinstance(exc, StorageFault) and exc.problem is StorageProblem.UNREACHABLE:
        return "its database is unreachable"
    return "it could not write to its database"


@asynccontextmanager
async def recording(core: Core, did: CloudDid) -> AsyncIterator[None]:
    """Run the writes after a successful cloud call; a failure says what the cloud did."""
    try:
        yield
    except ChangeNotRecorded:
        raise
    except Exception as exc:
        logger.warning("%s, but recording it failed", did.done, exc_info=True)
        raise ChangeNotRecorded(did, why=_why(exc), path=core.db.where) from None


async def audit_settled_deletion(core: Core, row: PendingDeletion, outcome: str) -> None:
    """Audit the end of a deletion nobody recorded (``unknown``), as KMS showed it when settled.

    A deletion's outcome entry is written right after its call; when the database refused
    it then (or the bot stopped), what settles the row from KMS writes it, so the audit log
    is complete once the database is back.
    """
    await audit(
        core,
        actor=row.scheduled_by or "bot",
        request=ActionRequest(
            action="kms:DeleteSecret",
            resource=secret_arn(row.region, core.settings.cloud.account_id, row.secret_name),
            region=row.region,
            secret_name=row.secret_name,
        ),
        channel_id=row.channel_id,
        decision="allow",
        reason="deletion settled from KMS",
        outcome=f"{outcome} (pending deletion {row.id}, settled from KMS)",
        required=False,
    )
