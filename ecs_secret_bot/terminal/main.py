"""``ecs-secret``: one command line run over the same ``commands/`` core as the Slack app.

Owns ``main`` (parse; ``--help``, ``--version`` and usage errors answered before anything
heavy is imported) and ``run`` (load the configuration, open the session, run one
subcommand, print its answer: text on stdout, or one JSON object with ``--json``; errors
and progress on stderr; and return the exit code the answer means, see ``exit_codes``).
Every failure goes to ``report.report_error``: known ones in their words, an unexpected
one as a reference and its type, never a traceback or a value. The entry point
(``cli.terminal_main``) gives it what it never takes itself: the environment, read once,
and ``open_session`` (``runtime.open_terminal``, which composes the core).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, TextIO

from ecs_secret_bot.terminal.environment import Environment, check_login
from ecs_secret_bot.terminal.exit_codes import ExitCode
from ecs_secret_bot.terminal.parser import build_parser
from ecs_secret_bot.terminal.prompts import Prompter
from ecs_secret_bot.terminal.report import report_error

if TYPE_CHECKING:
    from ecs_secret_bot.terminal.answers import Answer
    from ecs_secret_bot.terminal.session import OpenSession

__all__ = ["main", "run"]


def _print_answer(args: argparse.Namespace, answer: Answer, out: TextIO) -> None:
    from ecs_secret_bot.terminal.render import jsonable

    if not args.json:
        print(answer.text, file=out)
        return
    body: dict[str, Any] = {
        "command": args.command,
        "ok": answer.code is ExitCode.OK,
        "exit_code": int(answer.code),
        "outcome": answer.outcome,
        "result_type": type(answer.result).__name__ if answer.result is not None else None,
        "result": jsonable(answer.result),
    }
    body.update(jsonable(answer.extra))
    print(json.dumps(body, ensure_ascii=False), file=out)


async def run(
    args: argparse.Namespace,
    env: Environment,
    *,
    open_session: OpenSession,
    prompter: Prompter,
    out: TextIO,
    err: TextIO,
) -> int:
    """Run one parsed command line on a session ``open_session`` opens; return its exit code."""
    # Imported here: the core and the cloud SDKs are what make start-up slow, and --help,
    # --version and usage errors never need them.
    from ecs_secret_bot.terminal.answers import Context
    from ecs_secret_bot.terminal.operations import OPERATIONS
    from ecs_secret_bot.terminal.session import terminal_settings

    def report(error: Exception) -> int:
        return report_error(error, command=args.command, as_json=args.json, out=out, err=err)

    async with AsyncExitStack() as stack:
        try:
            check_login(env.login)
            settings = terminal_settings(env, config=args.config, sandbox=args.sandbox)
            session = await stack.enter_async_context(
                open_session(settings, env, sandbox=args.sandbox, banner=err, init=args.init)
            )
        except Exception as exc:  # noqa: BLE001 - known: its words; else a reference, no trace
            return report(exc)
        try:
            context = Context(session, prompter, err, live=None if args.json else out)
            answer = await OPERATIONS[args.command](args, context)
        except Exception as exc:  # noqa: BLE001 - known: its words; else a reference, no trace
            return report(exc)
    _print_answer(args, answer, out)
    return int(answer.code)


def main(
    argv: Sequence[str] | None = None,
    *,
    environment: Callable[[], Environment],
    open_session: OpenSession,
) -> int:
    """Run ``ecs-secret``; return its exit code. ``environment`` is read after parsing."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (argparse says which)
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return int(ExitCode.INVALID)
    try:
        return asyncio.run(
            run(
                args,
                environment(),
                open_session=open_session,
                prompter=Prompter(),
                out=sys.stdout,
                err=sys.stderr,
            )
        )
    except KeyboardInterrupt:
        print(
            "\ninterrupted; what was already sent to KMS still happens "
            "(`ecs-secret rotate NAME --follow` waits for a rotation).",
            file=sys.stderr,
        )
        return 130
