"""What a subcommand hands back to ``main``, and the answers several subcommands share.

Owns ``Answer`` (the result, its text, the exit code it means, and extra JSON fields),
``Context`` (what every subcommand gets besides its arguments), ``mutation_answer`` (ran,
held for approval, or a dry run) and the rotation answers (``follow`` waits with progress).
Prints nothing but the one line a person should not wait for: in text mode, ``follow``
says the rotation was triggered as soon as it was, on ``Context.live``; ``main`` prints
the rest.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from ecs_secret_bot.commands.outcomes import DryRunReport, HeldForApproval, RotateResult
from ecs_secret_bot.commands.tracker import RotationOutcome
from ecs_secret_bot.errors import Subcommand
from ecs_secret_bot.terminal.exit_codes import ExitCode
from ecs_secret_bot.terminal.progress import follow_with_progress
from ecs_secret_bot.terminal.prompts import Prompter
from ecs_secret_bot.terminal.render import short, text_of
from ecs_secret_bot.terminal.report import spell
from ecs_secret_bot.terminal.session import Session

__all__ = ["Answer", "Context", "Operation", "follow", "mutation_answer", "rotation_answer"]


@dataclass
class Answer:
    """What a subcommand produced: printed as text or JSON by ``main``."""

    result: Any
    text: str
    code: ExitCode = ExitCode.OK
    outcome: str = "done"
    """``done``, ``held``, ``dry_run``, ``failed``, ``refused``."""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    """What every subcommand gets besides its arguments."""

    session: Session
    prompter: Prompter
    progress: TextIO
    """Where waiting is shown (stderr)."""
    live: TextIO | None = None
    """Where a line of the answer is printed as soon as it is known (stdout in text mode);
    None with ``--json``, whose one object comes at the end."""


Operation = Callable[[argparse.Namespace, Context], Awaitable[Answer]]


def mutation_answer(result: Any) -> Answer:
    """Return the answer of a mutating request that ran, was held, or was a dry run."""
    if isinstance(result, HeldForApproval):
        return Answer(result, text_of(result), ExitCode.PENDING, "held")
    if isinstance(result, DryRunReport):
        code = ExitCode.OK
        if any(line.startswith("failed") for line in result.preflight):
            code = ExitCode.STATE
        if result.approval_rule:
            code = ExitCode.PENDING
        if not result.allowed and not result.approval_rule:
            code = ExitCode.DENIED
        return Answer(result, text_of(result), code, "dry_run")
    return Answer(result, text_of(result))


async def follow(result: RotateResult, ctx: Context) -> Answer:
    """Say the rotation was triggered (in text mode), wait for its end; return the answer."""
    if ctx.live is not None:
        print(_triggered(result), file=ctx.live, flush=True)
    follow = await follow_with_progress(
        result.rotation_id,
        core=ctx.session.core,
        out=ctx.progress,
        label=short(result.secret_name),
    )
    return rotation_answer(result, follow, said_triggered=ctx.live is not None)


def _triggered(result: RotateResult) -> str:
    """Say what KMS took: a generated rotation triggered, or a custom value accepted."""
    name, where = short(result.secret_name), result.instance_id
    if result.custom:
        return (
            f"KMS accepted the custom value for {name} (PutSecretValue, version "
            f"{result.version_id}, KMS request id {result.request_id}); KMS cannot confirm "
            f"that {where} receives it."
        )
    return (
        f"Rotation of {name} with a KMS-generated value triggered on {where} "
        f"(version {result.version_id}, KMS request id {result.request_id})."
    )


def rotation_answer(
    result: Any, follow: RotationOutcome | None, *, said_triggered: bool = False
) -> Answer:
    """Say what the rotation did: what KMS confirmed (unless already said), and what it cannot."""
    where = getattr(result, "instance_id", "") or (follow.instance_id if follow else "")
    name = short(getattr(result, "secret_name", "") or (follow.secret_name if follow else ""))
    lines = []
    if isinstance(result, RotateResult) and not said_triggered:
        lines.append(_triggered(result))
    if follow is None:
        lines.append(f"Not waiting for it: `ecs-secret rotate {name} --follow` waits for it.")
        return Answer(result, "\n".join(lines), extra={"rotation": "in_progress"})
    state = follow.state
    extra = {
        "rotation": state,
        "rotation_reason": follow.reason,
        "instance_confirmed": follow.instance_confirmed,
    }
    checks = f"Check {'; '.join(follow.checks)}." if follow.checks else ""
    if follow.instance_confirmed:
        lines.append(f"Rotation completed on {where}: the new version is current.")
        return Answer(result, "\n".join(lines), extra=extra)
    if state == "completed":
        lines += [
            "KMS holds the custom value as the current version (ACSCurrent). Whether the "
            f"credential on {where} changed can't be confirmed by KMS.",
            f"{checks} If it did not change: {spell(Subcommand('rotate', (name,)))}".strip(),
        ]
        return Answer(result, "\n".join(lines), extra=extra)
    if state == "timed_out":
        lines += [
            f"Rotation not confirmed: {follow.reason}",
            f"{checks} Its state now: {spell(Subcommand('show', (name,)))}".strip(),
        ]
    else:
        lines += [
            f"Rotation failed: {follow.reason}",
            f"{checks} Then: {spell(Subcommand('rotate', (name,)))}".strip(),
        ]
    return Answer(result, "\n".join(lines), ExitCode.CLOUD, "failed", extra)
