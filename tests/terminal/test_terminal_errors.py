"""How ``ecs-secret`` reports what went wrong: storage faults are worded at start-up, and a
bug is a reference, never a traceback."""

from __future__ import annotations

import io

from terminal_harness import Terminal

from ecs_secret_bot.terminal.report import report_error


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
