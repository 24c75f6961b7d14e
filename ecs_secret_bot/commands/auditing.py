"""The audit entries of requests: who asked what, decided how, with what end, tied together.

Owns ``audit`` (append one entry for a request: the secret it is about, even where the
resource is the collection, as for CreateSecret; and the correlation id that ties together
every entry one request writes: refused, held, started, executed...) and
``new_correlation_id``. Failing closed is the caller's choice (``required``): an intent
that cannot be recorded must stop the request. Never words anything for a front end.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any

from ecs_secret_bot.commands.approval.requests import ActionRequest
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.names import secret_arn
from ecs_secret_bot.errors import StorageError
from ecs_secret_bot.storage.audit import AuditEntry, append_audit

__all__ = ["audit", "new_correlation_id"]

logger = logging.getLogger(__name__)


def new_correlation_id() -> str:
    """Return a fresh id for the audit entries of one request."""
    return f"req-{secrets.token_hex(8)}"


async def audit(
    core: Core,
    *,
    actor: str,
    request: ActionRequest,
    channel_id: str,
    decision: str,
    reason: str,
    outcome: str,
    request_id: str = "",
    approval_id: str = "",
    detail: Mapping[str, Any] | None = None,
    required: bool = True,
    correlation_id: str = "",
) -> None:
    """Append one audit entry; if ``required`` and it fails, raise so nothing goes ahead."""
    subject = request.resource if ":secret/" in request.resource else ""
    if not subject and request.secret_name and request.region:  # CreateSecret: the new one
        subject = secret_arn(request.region, core.settings.cloud.account_id, request.secret_name)
    entry = AuditEntry(
        actor=actor,
        action=request.action,
        resource=request.resource,
        channel_id=channel_id,
        decision=decision,
        reason=reason,
        outcome=outcome,
        request_id=request_id,
        approval_id=approval_id,
        detail=dict(detail or {}),
        correlation_id=correlation_id,
        subject=subject,
    )
    try:
        await append_audit(core.db, entry, at=core.clock())
    except Exception:
        logger.exception("could not append to the audit log (%s %s)", request.action, outcome)
        if required:
            raise StorageError(
                "The audit log could not be written, so nothing was done.",
                path=core.db.where,
                next_step="Ask an admin to check the bot's database; then try again.",
            ) from None
