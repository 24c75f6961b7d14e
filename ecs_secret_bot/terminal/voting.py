"""``ecs-secret approve ID`` and ``deny ID``: a vote through the core, and what it did.

Owns the exit code of each vote result, the refusal (before voting) of an approval this
terminal could not carry out, and following a rotation that an approval set off.
"""

from __future__ import annotations

import argparse
from typing import Any

from ecs_secret_bot.commands.approval.requests import VoteResult, sweep_of
from ecs_secret_bot.commands.approval.votes import ApprovalStep, approve_request, deny_request
from ecs_secret_bot.commands.directory import LOCAL_PREFIX, LocalDirectory
from ecs_secret_bot.commands.outcomes import RotateResult
from ecs_secret_bot.errors import ApprovalError
from ecs_secret_bot.terminal.answers import Answer, Context, follow, rotation_answer
from ecs_secret_bot.terminal.exit_codes import ExitCode, exit_code_of
from ecs_secret_bot.terminal.render import short, text_of
from ecs_secret_bot.terminal.report import describe_error
from ecs_secret_bot.terminal.session import Session
from ecs_secret_bot.terminal.sweep import run_approved_sweep

__all__ = ["vote"]


_VOTE_CODES = {
    VoteResult.RECORDED: ExitCode.PENDING,
    VoteResult.APPROVED: ExitCode.OK,
    VoteResult.DENIED: ExitCode.OK,
    VoteResult.WITHDRAWN: ExitCode.OK,
    VoteResult.REFUSED: ExitCode.DENIED,
    VoteResult.DUPLICATE: ExitCode.STATE,
    VoteResult.CLOSED: ExitCode.STATE,
    VoteResult.EXPIRED: ExitCode.STATE,
}


async def _refuse_unverifiable(approval_id: str, session: Session) -> None:
    """Refuse, before voting, an approval that this terminal could not carry out."""
    directory = session.core.workflow.directory
    if not isinstance(directory, LocalDirectory) or directory.fallback is not None:
        return
    row = await session.core.workflow.get(approval_id)
    if row.status != "pending":
        return  # the vote itself says what happened to it
    others = [p for p in (row.requester, *row.approved_by) if not p.startswith(LOCAL_PREFIX)]
    if others:
        raise ApprovalError(
            f"Request {row.id} involves {', '.join(others)}: before it runs, the bot checks "
            "with Slack that they are still members, and this terminal has no Slack token.",
            next_step="Approve it in Slack, or set SLACK_BOT_TOKEN (and SLACK_API_URL if "
            "needed) here and try again. Nothing was recorded.",
        )


async def vote(args: argparse.Namespace, ctx: Context) -> Answer:
    session = ctx.session
    vote = approve_request if args.command == "approve" else deny_request
    if args.command == "approve":
        await _refuse_unverifiable(args.approval_id, session)
    step: ApprovalStep = await vote(args.approval_id, actor=session.actor, core=session.core)
    row = step.approval
    sweep = sweep_of(row)
    what = f"sweep {sweep}" if sweep else short(row.secret_name)
    lines = [
        step.vote.message,
        f"Request {row.id}: {row.action} on {what}, {row.status} ({step.progress}).",
    ]
    code = _VOTE_CODES[step.vote.result]
    outcome = str(step.vote.result)
    extra: dict[str, Any] = {
        "vote": outcome,
        "approval": {
            "id": row.id,
            "status": row.status,
            "action": row.action,
            "secret_name": row.secret_name,
            "requester": row.requester,
            "approved_by": list(row.approved_by),
            "progress": step.progress,
        },
    }
    if step.error is not None:
        lines.append(f"It did not run: {describe_error(step.error)}")
        return Answer(None, "\n".join(lines), exit_code_of(step.error), "failed", extra)
    if step.sweep_id:
        answer = await run_approved_sweep(step.sweep_id, ctx)
        answer.extra.update(extra)
        answer.text = "\n".join([*lines, answer.text])
        return answer
    if step.result is None:
        return Answer(None, "\n".join(lines), code, outcome, extra)
    answer = Answer(step.result, text_of(step.result), code, outcome, extra)
    if isinstance(step.result, RotateResult):
        if args.no_wait:
            answer = rotation_answer(step.result, None)
        else:
            answer = await follow(step.result, ctx)
        answer.extra.update(extra)
    answer.text = "\n".join([*lines, answer.text])
    return answer
