"""One function per ``ecs-secret`` subcommand: arguments in, the core's answer out.

Each turns the parsed arguments into the request the Slack app would build, awaits the
same ``commands/`` coroutine with the terminal's actor, and returns an ``Answer``: the
result, its text and the exit code it means. Secret values come from the ``Prompter`` and
go straight into the request; they are never part of an answer. Errors of the core are
not caught here (``main`` maps them to exit codes), except where the terminal has a better
next step than the core's.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from ecs_secret_bot.commands.approval_requests import VoteResult
from ecs_secret_bot.commands.approve import ApprovalStep, approve_request, deny_request
from ecs_secret_bot.commands.create import create_secret
from ecs_secret_bot.commands.delete import delete_secret
from ecs_secret_bot.commands.errors import ApprovalError, Conflict, InvalidInput
from ecs_secret_bot.commands.outcomes import DryRunReport, HeldForApproval, RotateResult
from ecs_secret_bot.commands.requests import (
    CreateRequest,
    DeleteRequest,
    ListRequest,
    RestoreRequest,
    RotateRequest,
    RotationPolicyRequest,
)
from ecs_secret_bot.commands.restore import restore_secret
from ecs_secret_bot.commands.rotate import FollowUp, rotate_secret
from ecs_secret_bot.commands.rotation_policy import set_rotation_policy
from ecs_secret_bot.commands.views import (
    audit_view,
    list_approvals,
    list_pending,
    list_secrets,
    show_secret,
    whoami,
)
from ecs_secret_bot.storage.rotations import RotationActive
from ecs_secret_bot.terminal.directory import LOCAL_PREFIX, LocalDirectory
from ecs_secret_bot.terminal.exit_codes import ExitCode, exit_code_of
from ecs_secret_bot.terminal.progress import follow_with_progress
from ecs_secret_bot.terminal.prompts import Prompter
from ecs_secret_bot.terminal.render import describe_error, short, text_of
from ecs_secret_bot.terminal.session import Session

__all__ = ["OPERATIONS", "Answer", "Context"]


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


Operation = Callable[[argparse.Namespace, Context], Awaitable[Answer]]


def _region(args: argparse.Namespace) -> str:
    return str(args.region or "")


def _mutation_answer(result: Any) -> Answer:
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


# --- mutations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Given:
    """A value the person gave: a password or a PEM private key (never printed)."""

    password: str = field(default="", repr=False)
    private_key: str = field(default="", repr=False)


def _read_value(args: argparse.Namespace, ctx: Context, *, custom: bool) -> _Given:
    """Return the password or private key the person gives (prompt, stdin or key file)."""
    prompter = ctx.prompter
    prefix = "custom_" if custom else ""
    if args.private_key_file is not None:
        text = prompter.secret_text(
            field_name=f"{prefix}private_key", source=args.private_key_file, what="private key"
        )
        return _Given(private_key=text)
    if args.value_stdin or not prompter.interactive:
        text = prompter.stdin.read()
        if text.lstrip().startswith("-----BEGIN"):
            return _Given(private_key=text)
        value = text.removesuffix("\n").removesuffix("\r")
        if not value:
            raise InvalidInput("No value on stdin; nothing was done.", field=f"{prefix}password")
        return _Given(password=value)
    label = "New password" if custom else "Current password of the user"
    return _Given(password=prompter.secret_line(f"{label}: ", field_name=f"{prefix}password"))


async def _create(args: argparse.Namespace, ctx: Context) -> Answer:
    tags: list[tuple[str, str]] = []
    for item in args.tag:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--tag {item!r}: write it as KEY=VALUE.", field="tags")
        tags.append((key, value))
    # A dry run reads the value too: it is checked like the real thing, never sent.
    value = _read_value(args, ctx, custom=False)
    if args.kind == "ssh-key" and value.password:
        raise InvalidInput(
            "An SSH key secret needs the user's current PEM private key, not a password.",
            field="private_key",
            next_step="Pipe the key on stdin, or use --private-key-file.",
        )
    req = CreateRequest(
        name=args.name,
        instance_id=args.instance,
        user_name=args.user,
        kind="SSHKey" if args.kind == "ssh-key" else "Password",
        automatic_rotation=bool(args.rotate_every),
        rotation_interval=args.rotate_every,
        description=args.description,
        tags=tuple(tags),
        password=value.password,
        private_key=value.private_key,
        region=_region(args),
        reason=args.reason,
        request_id=args.request_id,
        dry_run=args.dry_run,
    )
    session = ctx.session
    return _mutation_answer(await create_secret(req, actor=session.actor, core=session.core))


async def _follow(result: RotateResult, ctx: Context) -> Answer:
    follow = await follow_with_progress(
        result.rotation_id,
        core=ctx.session.core,
        out=ctx.progress,
        label=short(result.secret_name),
    )
    return _rotation_answer(result, follow)


def _rotation_answer(result: Any, follow: FollowUp | None) -> Answer:
    where = getattr(result, "instance_id", "") or (follow.rotation.instance_id if follow else "")
    name = short(
        getattr(result, "secret_name", "") or (follow.rotation.secret_name if follow else "")
    )
    lines = []
    if isinstance(result, RotateResult):
        kind = "a custom value" if result.custom else "a KMS-generated value"
        lines.append(
            f"Rotation of {name} with {kind} triggered on {where} "
            f"(version {result.version_id}, KMS request id {result.request_id})."
        )
    if follow is None:
        lines.append(f"Not waiting for it: `ecs-secret rotate {name} --follow` waits for it.")
        return Answer(result, "\n".join(lines), extra={"rotation": "in_progress"})
    state = follow.status.state
    extra = {"rotation": state, "rotation_reason": follow.status.reason}
    if state == "completed":
        lines.append(f"Rotation completed on {where}: the new version is current.")
        return Answer(result, "\n".join(lines), extra=extra)
    lines.append(f"Rotation {state.replace('_', ' ')}: {follow.status.reason}")
    return Answer(result, "\n".join(lines), ExitCode.CLOUD, "failed", extra)


async def _rotate(args: argparse.Namespace, ctx: Context) -> Answer:
    session = ctx.session
    if args.follow:
        view = await show_secret(args.name, _region(args), actor=session.actor, core=session.core)
        if view.active_rotation is None:
            raise Conflict(f"No rotation of {view.short_name} is in flight.")
        follow = await follow_with_progress(
            view.active_rotation.id, core=session.core, out=ctx.progress, label=view.short_name
        )
        return _rotation_answer(None, follow)
    gives_value = args.value_stdin or args.private_key_file is not None
    if gives_value and not args.custom:
        raise InvalidInput("A value goes with --custom only.", field="custom")
    value = _read_value(args, ctx, custom=True) if args.custom else _Given()
    req = RotateRequest(
        name=args.name,
        custom_password=value.password,
        custom_private_key=value.private_key,
        region=_region(args),
        reason=args.reason,
        request_id=args.request_id,
        dry_run=args.dry_run,
    )
    try:
        result = await rotate_secret(req, actor=session.actor, core=session.core)
    except RotationActive as exc:
        exc.next_step = f"`ecs-secret rotate {args.name} --follow` waits for it to finish."
        raise
    if not isinstance(result, RotateResult):
        return _mutation_answer(result)
    if args.no_wait:
        return _rotation_answer(result, None)
    return await _follow(result, ctx)


async def _rotation(args: argparse.Namespace, ctx: Context) -> Answer:
    req = RotationPolicyRequest(
        name=args.name,
        enabled=args.state == "on",
        interval=args.interval,
        region=_region(args),
        reason=args.reason,
        request_id=args.request_id,
        dry_run=args.dry_run,
    )
    session = ctx.session
    return _mutation_answer(await set_rotation_policy(req, actor=session.actor, core=session.core))


async def _delete(args: argparse.Namespace, ctx: Context) -> Answer:
    req = DeleteRequest(
        name=args.name,
        days=args.days,
        immediately=args.now,
        region=_region(args),
        reason=args.reason,
        request_id=args.request_id,
        dry_run=args.dry_run,
    )
    if not args.dry_run and not args.yes:
        name = short(args.name)
        what = (
            f"Delete {name} IMMEDIATELY? It cannot be restored."
            if args.now
            else f"Schedule {name} for deletion in {args.days or 30} days?"
        )
        if not ctx.prompter.confirm_name(name, what=what):
            raise InvalidInput(
                "Not confirmed; nothing was done.",
                field="confirm",
                next_step="Type the name exactly, or pass --yes in scripts.",
            )
    session = ctx.session
    return _mutation_answer(await delete_secret(req, actor=session.actor, core=session.core))


async def _restore(args: argparse.Namespace, ctx: Context) -> Answer:
    req = RestoreRequest(
        name=args.name,
        region=_region(args),
        reason=args.reason,
        request_id=args.request_id,
        dry_run=args.dry_run,
    )
    session = ctx.session
    return _mutation_answer(await restore_secret(req, actor=session.actor, core=session.core))


# --- approvals ------------------------------------------------------------------------------

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


async def _vote(args: argparse.Namespace, ctx: Context) -> Answer:
    session = ctx.session
    vote = approve_request if args.command == "approve" else deny_request
    if args.command == "approve":
        await _refuse_unverifiable(args.approval_id, session)
    step: ApprovalStep = await vote(args.approval_id, actor=session.actor, core=session.core)
    row = step.approval
    lines = [
        step.vote.message,
        f"Request {row.id}: {row.action} on {short(row.secret_name)}, {row.status} "
        f"({step.progress}).",
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
    if step.result is None:
        return Answer(None, "\n".join(lines), code, outcome, extra)
    answer = Answer(step.result, text_of(step.result), code, outcome, extra)
    if isinstance(step.result, RotateResult):
        if args.no_wait:
            answer = _rotation_answer(step.result, None)
        else:
            answer = await _follow(step.result, ctx)
        answer.extra.update(extra)
    answer.text = "\n".join([*lines, answer.text])
    return answer


# --- views ----------------------------------------------------------------------------------


def _view(result: Any) -> Answer:
    return Answer(result, text_of(result), outcome="done")


async def _list(args: argparse.Namespace, ctx: Context) -> Answer:
    s = ctx.session
    req = ListRequest(name_filter=args.filter, region=_region(args))
    listing = await list_secrets(req, actor=s.actor, core=s.core)
    answer = _view(listing)
    if listing.failed:
        answer.code = ExitCode.CLOUD
    return answer


async def _show(args: argparse.Namespace, ctx: Context) -> Answer:
    s = ctx.session
    return _view(await show_secret(args.name, _region(args), actor=s.actor, core=s.core))


async def _pending(args: argparse.Namespace, ctx: Context) -> Answer:
    s = ctx.session
    return _view(await list_pending(actor=s.actor, core=s.core, region=_region(args)))


async def _approvals(args: argparse.Namespace, ctx: Context) -> Answer:
    s = ctx.session
    return _view(await list_approvals(actor=s.actor, core=s.core))


async def _audit(args: argparse.Namespace, ctx: Context) -> Answer:
    s = ctx.session
    rows = await audit_view(
        args.name or None, _region(args), actor=s.actor, core=s.core, limit=args.limit
    )
    return _view(rows)


async def _whoami(args: argparse.Namespace, ctx: Context) -> Answer:
    s = ctx.session
    return _view(await whoami(actor=s.actor, core=s.core))


OPERATIONS: dict[str, Operation] = {
    "create": _create,
    "rotate": _rotate,
    "rotation": _rotation,
    "delete": _delete,
    "restore": _restore,
    "list": _list,
    "show": _show,
    "pending": _pending,
    "approvals": _approvals,
    "approve": _vote,
    "deny": _vote,
    "audit": _audit,
    "whoami": _whoami,
}
