"""How ``ecs-secret`` reports what went wrong: hints name terminal commands, ``--json`` gives
the next command as data, storage faults are worded at start-up, and a bug is a reference."""

from __future__ import annotations

import io

from terminal_harness import Terminal

from ecs_secret_bot.terminal.report import report_error


async def test_a_missing_secret_points_to_the_terminals_list(terminal: Terminal) -> None:
    shown = await terminal.inproc("show", "nope")
    assert shown.code == 6, str(shown)
    assert "`ecs-secret list` shows what exists" in shown.err
    assert "/ecs-secret" not in shown.err


async def test_restoring_what_is_not_scheduled_points_to_the_terminals_pending(
    terminal: Terminal,
) -> None:
    restored = await terminal.inproc("restore", "web-3-root")
    assert restored.code == 6, str(restored)
    assert "`ecs-secret pending` lists the secrets scheduled for deletion." in restored.err


async def test_json_gives_the_next_command_as_data_beside_its_words(terminal: Terminal) -> None:
    shown = await terminal.inproc("show", "nope", "--json")
    error = shown.json["error"]
    assert shown.code == 6 and error["code"] == "Forbidden.ResourceNotFound"
    assert error["next_step"] == (
        "Check the name and the region (--region); `ecs-secret list` shows what exists."
    )
    assert error["next_command"] == {"subcommand": "list", "args": []}
    invalid = await terminal.inproc("show", "web 3", "--json")
    assert invalid.code == 2 and invalid.json["error"]["next_command"] is None


async def test_a_rotation_in_flight_names_the_terminals_way_to_follow_it(
    terminal: Terminal,
) -> None:
    terminal.sandbox.rotation_delay = 1.0
    assert (await terminal.inproc("rotate", "web-3-root", "--no-wait")).code == 0
    again = await terminal.inproc("rotate", "web-3-root", "--json")
    assert again.code == 6
    assert again.json["error"]["type"] == "RotationInProgress"
    assert again.json["error"]["next_command"] == {
        "subcommand": "rotate",
        "args": ["web-3-root", "--follow"],
    }


async def test_an_unusable_database_is_worded_with_what_to_do_and_exits_7(
    terminal: Terminal,
) -> None:
    terminal.db.write_bytes(b"not a database at all" * 100)
    damaged = await terminal.inproc("whoami", "--json")
    error = damaged.json["error"]
    assert damaged.code == 7 and error["type"] == "StorageError"
    assert "the file is not an SQLite database" in error["message"]
    assert error["next_step"] == (
        "Point [storage] path at the bot's database file, or move this file away."
    )


def test_a_bug_is_reported_as_a_reference_and_exits_1() -> None:
    out, err = io.StringIO(), io.StringIO()
    code = report_error(
        KeyError("acs/ecs/web-3-root"), command="show", as_json=True, out=out, err=err
    )
    assert code == 1 and out.getvalue() == ""
    line = err.getvalue()
    assert line.startswith("ecs-secret show: unexpected error KeyError (reference ")
    assert "acs/ecs/web-3-root" not in line and "Traceback" not in line
