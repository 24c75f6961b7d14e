"""The one error tree: storage states facts, and the tree words them."""

from __future__ import annotations

import pytest

from ecs_secret_bot.errors import (
    AlreadyRecorded,
    BotError,
    Conflict,
    StorageError,
    StorageFault,
    StorageProblem,
    known_error,
    storage_error,
)


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
    assert worded.next_step == ("Create the folder, or change [storage] path in the configuration.")
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
        assert worded.next_step.endswith(".")
    if problem is StorageProblem.KEY_FILE_EXPOSED:
        assert worded.next_step == "Run `chmod 600 /x/bot.key`."
