"""The cloud call of a cleared request: its intent audited first, its outcome after.

Owns ``run_cloud_step`` (audit the intent, failing closed; make the call; audit its
outcome, which a failure to write does not undo: see ``commands.unrecorded`` for the writes
that follow a cloud call). Never writes SQL, never words anything in a front end's syntax.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from ecs_secret_bot.commands.auditing import audit
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.outcomes import OperationResult
from ecs_secret_bot.commands.pipeline import Execution
from ecs_secret_bot.errors import BotError, CloudError

__all__ = ["run_cloud_step"]

R = TypeVar("R", bound=OperationResult)


async def run_cloud_step(
    core: Core,
    execution: Execution,
    call: Callable[[], Awaitable[R]],
) -> R:
    """Audit the intent (fail closed), run ``call``, and audit its outcome.

    The outcome's entry is not required: a change the cloud made is not undone because the
    audit log cannot take its entry (it is logged; a rotation's follow-up audits its end).
    """
    approvers = ", ".join(execution.approved_by)
    who = execution.requested_by + (f" (approved by {approvers})" if approvers else "")

    async def note(outcome: str, *, required: bool, request_id: str = "") -> None:
        await audit(
            core,
            actor=execution.requested_by,
            request=execution.request,
            channel_id=execution.channel_id,
            decision="allow",
            reason=execution.reason,
            outcome=outcome,
            request_id=request_id,
            approval_id=execution.approval_id,
            detail={
                "by": who,
                "params": dict(execution.request.params),
                **({"approved_by": list(execution.approved_by)} if execution.approved_by else {}),
            },
            required=required,
            correlation_id=execution.correlation_id,
        )

    await note("started", required=True)
    try:
        result = await call()
    except BotError as exc:
        cloud = exc if isinstance(exc, CloudError) else None
        code = cloud.code if cloud else type(exc).__name__
        await note(
            f"failed: {code}: {exc.user_message}",
            required=False,
            request_id=cloud.request_id if cloud else "",
        )
        raise
    await note("executed", required=False, request_id=result.request_id)
    return result
