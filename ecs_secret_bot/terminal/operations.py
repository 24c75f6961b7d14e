"""One function per ``ecs-secret`` subcommand: arguments in, the core's answer out.

Each turns the parsed arguments into the request the Slack app would build, awaits the
same ``commands/`` coroutine with the terminal's actor, and returns an ``Answer``: the
result, its text and the exit code it means. The arguments are checked before anything is
asked (a value, a typed confirmation), so nobody types a password for a request that a
wrong argument would refuse. Secret values come from the ``Prompter`` and go straight into
the request; they are never part of an answer. Errors of the core are
not caught here (``main`` maps them to exit codes), except where the terminal has a better
next step than the core's.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from ecs_secret_bot.commands.durations import parse_duration
from ecs_secret_bot.commands.operations.create import check_create, create_secret
from ecs_secret_bot.commands.operations.delete import check_delete, delete_secret
from ecs_secret_bot.commands.operations.restore import restore_secret
from ecs_secret_bot.commands.operations.rotate import rotate_secret
from ecs_secret_bot.commands.operations.rotation_policy import set_rotation_policy
from ecs_secret_bot.commands.outcomes import RotateResult
from ecs_secret_bot.commands.queries import (
    audit_view,
    list_approvals,
    list_pending,
    list_secrets,
    show_secret,
    sweep_audit,
    verify_audit,
    whoami,
)
from ecs_secret_bot.commands.requests import (
    CreateRequest,
    DeleteRequest,
    ListRequest,
    RestoreRequest,
    RotateRequest,
    RotationPolicyRequest,
)
from ecs_secret_bot.errors import (
    Conflict,
    InvalidInput,
    NextStep,
    RotationInProgress,
    Subcommand,
)
from ecs_secret_bot.terminal.answers import (
    Answer,
    Context,
    Operation,
    follow,
    mutation_answer,
    rotation_answer,
)
from ecs_secret_bot.terminal.exit_codes import ExitCode
from ecs_secret_bot.terminal.progress import follow_with_progress
from ecs_secret_bot.terminal.render import short, text_of
from ecs_secret_bot.terminal.render_audit import audit_json, audit_text, proof_text
from ecs_secret_bot.terminal.sweep import sweep
from ecs_secret_bot.terminal.voting import vote

__all__ = ["OPERATIONS"]


def _region(args: argparse.Namespace) -> str:
    return str(args.region or "")


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
    req = CreateRequest(
        name=args.name,
        instance_id=args.instance,
        user_name=args.user,
        kind="SSHKey" if args.kind == "ssh-key" else "Password",
        automatic_rotation=bool(args.rotate_every),
        rotation_interval=args.rotate_every,
        description=args.description,
        tags=tuple(tags),
        region=_region(args),
        reason=args.reason,
        request_id=args.request_id,
        dry_run=args.dry_run,
    )
    check_create(req, core=ctx.session.core)
    # A dry run reads the value too: it is checked like the real thing, never sent.
    value = _read_value(args, ctx, custom=False)
    if args.kind == "ssh-key" and value.password:
        raise InvalidInput(
            "An SSH key secret needs the user's current PEM private key, not a password.",
            field="private_key",
            next_step="Pipe the key on stdin, or use --private-key-file.",
        )
    req = replace(req, password=value.password, private_key=value.private_key)
    session = ctx.session
    return mutation_answer(await create_secret(req, actor=session.actor, core=session.core))


async def _rotate(args: argparse.Namespace, ctx: Context) -> Answer:
    session = ctx.session
    if args.follow:
        view = await show_secret(args.name, _region(args), actor=session.actor, core=session.core)
        if view.active_rotation is None:
            raise Conflict(f"No rotation of {view.short_name} is in flight.")
        followed = await follow_with_progress(
            view.active_rotation.id, core=session.core, out=ctx.progress, label=view.short_name
        )
        return rotation_answer(None, followed)
    gives_value = args.value_stdin or args.private_key_file is not None
    if gives_value and not args.custom:
        raise InvalidInput("A value goes with --custom only.", field="custom")
    if args.user and not args.custom:
        raise InvalidInput("--user goes with --custom only.", field="user_name")
    session.core.secret(args.name, _region(args))  # a wrong name or region: before the prompt
    value = _read_value(args, ctx, custom=True) if args.custom else _Given()
    req = RotateRequest(
        name=args.name,
        custom_password=value.password,
        custom_private_key=value.private_key,
        user_name=args.user,
        region=_region(args),
        reason=args.reason,
        request_id=args.request_id,
        dry_run=args.dry_run,
    )
    try:
        result = await _rotate_asking_user(req, ctx)
    except RotationInProgress as exc:
        follow_it = Subcommand("rotate", (args.name, "--follow"))
        raise RotationInProgress(
            exc.user_message,
            secret_name=exc.secret_name,
            next_step=NextStep("{command} waits for it to finish.", follow_it),
        ) from None
    if not isinstance(result, RotateResult):
        return mutation_answer(result)
    if args.no_wait:
        return rotation_answer(result, None)
    return await follow(result, ctx)


async def _rotate_asking_user(req: RotateRequest, ctx: Context) -> Any:
    """Rotate; where KMS does not record the user of a custom value, ask for it once."""
    session = ctx.session
    try:
        return await rotate_secret(req, actor=session.actor, core=session.core)
    except InvalidInput as exc:
        if exc.field != "user_name" or req.user_name:
            raise
        if not ctx.prompter.interactive:
            raise InvalidInput(
                exc.user_message,
                field="user_name",
                next_step=NextStep("Name the user with --user (root, ecs-user, Administrator)."),
            ) from None
        print(exc.user_message, file=ctx.prompter.stderr)
        user = ctx.prompter.line("OS user of the custom value: ", field_name="user_name")
    return await rotate_secret(replace(req, user_name=user), actor=session.actor, core=session.core)


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
    return mutation_answer(await set_rotation_policy(req, actor=session.actor, core=session.core))


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
    check_delete(req, core=ctx.session.core)
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
    return mutation_answer(await delete_secret(req, actor=session.actor, core=session.core))


async def _restore(args: argparse.Namespace, ctx: Context) -> Answer:
    req = RestoreRequest(
        name=args.name,
        region=_region(args),
        reason=args.reason,
        request_id=args.request_id,
        dry_run=args.dry_run,
    )
    session = ctx.session
    return mutation_answer(await restore_secret(req, actor=session.actor, core=session.core))


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


def since_moment(text: str, *, now: datetime) -> datetime:
    """Read ``--since``: a duration back from now (``36h``, ``7d``) or a UTC date or time."""
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"--since {text!r} is neither a duration nor a date.",
            field="since",
            next_step="Write a duration back from now (36h, 7d) or a UTC date (2025-03-01).",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _audit(args: argparse.Namespace, ctx: Context) -> Answer:
    s = ctx.session
    if args.verify or args.anchor:
        proof = await verify_audit(actor=s.actor, core=s.core, anchor=args.anchor or "")
        code = ExitCode.OK if proof.ok else ExitCode.SETUP
        return Answer(proof, proof_text(proof), code, "done" if proof.ok else "failed")
    if args.name and args.name_option and args.name != args.name_option:
        raise InvalidInput("Give the secret once: NAME or --secret NAME.", field="name")
    if args.sweep:
        if args.name or args.name_option:
            raise InvalidInput("Give a secret or --sweep ID, not both.", field="sweep")
        trail = await sweep_audit(args.sweep, actor=s.actor, core=s.core)
        text = audit_text(trail, verbose=True, fmt=args.format)
        return Answer(trail.entries, text, outcome="done", extra=audit_json(trail))
    trail = await audit_view(
        args.name or args.name_option or None,
        _region(args),
        actor=s.actor,
        core=s.core,
        limit=args.limit,
        since=since_moment(args.since, now=s.core.clock()) if args.since else None,
        by=args.actor or "",
        channel=args.channel or "",
    )
    text = audit_text(trail, verbose=args.verbose, fmt=args.format)
    # --json: the raw entries are the result; the requests they make come beside them.
    return Answer(trail.entries, text, outcome="done", extra=audit_json(trail))


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
    "approve": vote,
    "deny": vote,
    "audit": _audit,
    "whoami": _whoami,
    "sweep": sweep,
}
