"""The one error tree: next steps are data, storage states facts, and no front end's syntax
is written below the front ends."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ecs_secret_bot.errors import (
    AlreadyRecorded,
    BotError,
    Conflict,
    NextStep,
    NotFound,
    StorageError,
    StorageFault,
    StorageProblem,
    Subcommand,
    known_error,
    storage_error,
)

PACKAGE = Path(__file__).resolve().parents[1] / "ecs_secret_bot"
BELOW_THE_FRONT_ENDS = [
    PACKAGE / "errors.py",
    *sorted((PACKAGE / "commands").rglob("*.py")),
    *sorted((PACKAGE / "storage").rglob("*.py")),
    *sorted((PACKAGE / "cloud").rglob("*.py")),
]
SUBCOMMANDS = "help|create|rotate|rotation|delete|restore|list|show|pending|approvals|audit|whoami"
FRONT_END_SYNTAX = re.compile(rf"/ecs-secret\b|\becs-secret (?:{SUBCOMMANDS}|approve|deny)\b")


@pytest.mark.parametrize("path", BELOW_THE_FRONT_ENDS, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_front_end_syntax_below_the_front_ends(path: Path) -> None:
    found = FRONT_END_SYNTAX.findall(path.read_text(encoding="utf-8"))
    assert not found, f"{path.name} spells a command as one front end does: {found}"


def test_a_next_step_words_its_command_the_way_it_is_told() -> None:
    step = NextStep("Restore it first ({command}).", Subcommand("restore", ("web-3-root",)))
    assert (
        step.worded(lambda c: f"<{' '.join(c.words)}>")
        == "Restore it first (<restore web-3-root>)."
    )
    assert NextStep("Wait a minute.").worded(lambda c: "never used") == "Wait a minute."
    assert step and not NextStep()


def test_a_command_needs_a_place_in_the_prose() -> None:
    with pytest.raises(ValueError, match="{command}"):
        NextStep("Restore it first.", Subcommand("restore"))


def test_an_error_keeps_prose_as_a_next_step_and_logs_commands_in_no_front_ends_syntax() -> None:
    prose = NotFound("No such thing.", next_step="Look elsewhere.")
    assert prose.next_step == NextStep("Look elsewhere.")
    assert str(prose) == "No such thing. Look elsewhere."
    data = NotFound("No such thing.", next_step=NextStep("{command} shows it.", Subcommand("list")))
    assert str(data) == "No such thing. `list` shows it."


def test_a_storage_fault_is_not_a_known_error_until_it_is_worded() -> None:
    fault = StorageFault(
        "Cannot open the database /x/bot.db: the folder /x does not exist.",
        problem=StorageProblem.FOLDER_MISSING,
        path="/x/bot.db",
    )
    assert not isinstance(fault, BotError)
    worded = storage_error(fault)
    assert isinstance(worded, StorageError) and worded.path == "/x/bot.db"
    assert worded.user_message == fault.detail
    assert worded.next_step.text == (
        "Create the folder, or change [storage] path in the configuration."
    )
    assert isinstance(known_error(fault), StorageError)
    assert known_error(RuntimeError("a bug")) is None
    error = Conflict("Already.")
    assert known_error(error) is error


@pytest.mark.parametrize("problem", list(StorageProblem), ids=str)
def test_every_storage_problem_has_words(problem: StorageProblem) -> None:
    fault = (
        AlreadyRecorded("row 1 is still active")
        if problem is StorageProblem.ALREADY_RECORDED
        else StorageFault("Something about /x/bot.key.", problem=problem, path="/x/bot.key")
    )
    worded = storage_error(fault)
    assert worded.user_message == fault.detail
    if problem in (StorageProblem.NO_WAL, StorageProblem.KEY_FILE_UNREADABLE):
        assert not worded.next_step  # what went wrong says it all
    elif problem is StorageProblem.ALREADY_RECORDED:
        assert isinstance(worded, Conflict)
    else:
        assert worded.next_step.text.endswith(".")
    if problem is StorageProblem.KEY_FILE_EXPOSED:
        assert worded.next_step.text == "Run `chmod 600 /x/bot.key`."
