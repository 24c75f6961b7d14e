"""How ``ecs-secret`` reports an error: the one place that words it and picks the exit code.

Owns ``spell`` (a next step's subcommand as an ``ecs-secret`` command line), the words of a
known error (message, cloud code, next step) as text and as JSON, and ``report_error``:
a known error (a ``BotError``, or a storage fault such as a database that cannot be
opened) prints its words, on stderr or as one JSON object on stdout with ``--json``, and
exits with the code ``exit_codes`` gives it; anything else prints a reference and its
type, never a traceback or a value. Imports nothing of the core, so reporting stays fast.
"""

from __future__ import annotations

import json
import shlex
import uuid
from typing import Any, TextIO

from ecs_secret_bot.errors import (
    BotError,
    CloudError,
    InvalidInput,
    NextStep,
    Subcommand,
    known_error,
)
from ecs_secret_bot.terminal.exit_codes import ExitCode, exit_code_of

__all__ = ["PROGRAM", "describe_error", "error_json", "next_step_text", "report_error", "spell"]

PROGRAM = "ecs-secret"


def spell(command: Subcommand) -> str:
    """Spell a subcommand as the command line that runs it: ``ecs-secret list``."""
    return f"`{shlex.join((PROGRAM, *command.words))}`"


def next_step_text(step: NextStep) -> str:
    """Return a next step in the terminal's words."""
    return step.worded(spell)


def _command_json(step: NextStep) -> dict[str, Any] | None:
    if step.command is None:
        return None
    return {"subcommand": step.command.name, "args": list(step.command.args)}


def error_json(error: BotError) -> dict[str, Any]:
    """Return a known error as JSON: its kind, message, next step and identifiers.

    ``next_step`` is worded for a terminal; ``next_command`` is its subcommand as data
    (``{"subcommand": "list", "args": []}``), or null when the next step runs none.
    """
    body: dict[str, Any] = {
        "type": type(error).__name__,
        "message": error.user_message,
        "next_step": next_step_text(error.next_step),
        "next_command": _command_json(error.next_step),
    }
    if isinstance(error, CloudError):
        body.update(code=error.code, request_id=error.request_id, action=error.action)
    if isinstance(error, InvalidInput):
        body["field"] = error.field
    return body


def describe_error(error: BotError) -> str:
    """Return what to tell the person about a known error, with the next step."""
    text = error.user_message
    if isinstance(error, CloudError) and error.code and error.code not in text:
        text += f" (cloud error {error.code}"
        text += f", request id {error.request_id})" if error.request_id else ")"
    if error.next_step:
        text += f"\n{next_step_text(error.next_step)}"
    return text


def report_error(
    error: BaseException, *, command: str, as_json: bool, out: TextIO, err: TextIO
) -> int:
    """Tell the person what went wrong with ``command``; return the exit code it means."""
    known = known_error(error)
    if known is None:
        reference = uuid.uuid4().hex[:12]
        print(
            f"{PROGRAM} {command}: unexpected error {type(error).__name__} "
            f"(reference {reference}); nothing was changed unless a message said so.",
            file=err,
        )
        return int(ExitCode.UNEXPECTED)
    code = exit_code_of(known)
    if as_json:
        body = {
            "command": command,
            "ok": False,
            "exit_code": int(code),
            "outcome": "error",
            "error": error_json(known),
        }
        print(json.dumps(body, ensure_ascii=False), file=out)
    else:
        print(f"{PROGRAM} {command}: {describe_error(known)}", file=err)
    return int(code)
