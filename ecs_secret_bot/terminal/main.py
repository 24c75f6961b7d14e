"""``ecs-secret``: the terminal front end over the same ``commands/`` core as the Slack app.

The entry point, and the only module of the terminal that reads the process environment
(``ECS_SECRET_BOT_CONFIG``, ``ECS_SECRET_BOT_DATA_KEY``, ``SLACK_BOT_TOKEN``,
``SLACK_API_URL``) and the login. It opens a session, runs one subcommand, prints its
answer (text on stdout, or one JSON object with ``--json``; errors and progress on
stderr) and returns the exit code the answer means (see ``exit_codes``). Every failure goes
to ``report.report_error``: known ones in their words, an unexpected one as a reference and
its type, never a traceback or a value.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ecs_secret_bot.terminal.environment import (
    DEFAULT_SLACK_API_URL,
    Environment,
    check_login,
    login_name,
)
from ecs_secret_bot.terminal.exit_codes import ExitCode
from ecs_secret_bot.terminal.parser import build_parser
from ecs_secret_bot.terminal.prompts import Prompter
from ecs_secret_bot.terminal.report import report_error

if TYPE_CHECKING:
    from alibabacloud_credentials.client import Client as CredentialClient

    from ecs_secret_bot.terminal.answers import Answer

__all__ = ["main", "run"]


def _environment() -> Environment:
    config = os.environ.get("ECS_SECRET_BOT_CONFIG", "")
    return Environment(
        login=login_name(),
        cwd=Path.cwd(),
        config_path=Path(config) if config else None,
        data_key=os.environ.get("ECS_SECRET_BOT_DATA_KEY", ""),
        slack_bot_token=os.environ.get("SLACK_BOT_TOKEN", ""),
        slack_api_url=os.environ.get("SLACK_API_URL", "") or DEFAULT_SLACK_API_URL,
    )


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
    prompter: Prompter,
    out: TextIO,
    err: TextIO,
    credential: CredentialClient | None = None,
) -> int:
    """Run one parsed command line; return its exit code.

    ``credential`` replaces the default credential chain (tests aim it at a sandbox).
    """
    # Imported here: the core and the cloud SDKs are what make start-up slow, and --help,
    # --version and usage errors never need them.
    from ecs_secret_bot.terminal.answers import Context
    from ecs_secret_bot.terminal.operations import OPERATIONS
    from ecs_secret_bot.terminal.session import open_session

    def report(error: Exception) -> int:
        return report_error(error, command=args.command, as_json=args.json, out=out, err=err)

    try:
        check_login(env.login)
        session = await open_session(
            env, config=args.config, sandbox=args.sandbox, banner=err, credential=credential
        )
    except Exception as exc:  # noqa: BLE001 - known: its words; else a reference, no trace
        return report(exc)
    try:
        answer = await OPERATIONS[args.command](args, Context(session, prompter, err))
    except Exception as exc:  # noqa: BLE001 - known: its words; else a reference, no trace
        return report(exc)
    finally:
        await session.close()
    _print_answer(args, answer, out)
    return int(answer.code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ecs-secret``; return its exit code."""
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
            run(args, _environment(), prompter=Prompter(), out=sys.stdout, err=sys.stderr)
        )
    except KeyboardInterrupt:
        print(
            "\ninterrupted; what was already sent to KMS still happens "
            "(`ecs-secret rotate NAME --follow` waits for a rotation).",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
