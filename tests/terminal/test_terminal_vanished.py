"""A database that vanished (emptied or removed, its key file still there) stops ``ecs-secret``
and ``ecs-secret-bot check`` with the fact and the way out; ``--init`` starts over."""

from __future__ import annotations

import io
from pathlib import Path

from fakes.cloud import sandbox_credential
from terminal_harness import Terminal

from ecs_secret_bot.launch import check_command


def empty_the_database(db: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.write_bytes(b"")


async def test_the_terminal_refuses_a_database_that_vanished(terminal: Terminal) -> None:
    scheduled = await terminal("delete", "web-4-ecs-user-key", "--days", "7", "--yes")
    assert scheduled.code == 0, str(scheduled)
    empty_the_database(terminal.db)

    refused = await terminal("pending")
    assert refused.code == 7, str(refused)
    assert "bot.db is missing or empty, but its data key file" in refused.err
    assert "start an empty one with --init" in refused.err
    assert terminal.db.read_bytes() == b""
    as_json = (await terminal("pending", "--json")).json
    assert as_json["error"]["type"] == "StorageError"
    assert "--init" in as_json["error"]["next_step"]

    removed = terminal.db
    removed.unlink()
    assert (await terminal("audit")).code == 7
    assert not removed.exists()

    again = await terminal("--init", "pending")
    assert again.code == 0, str(again)
    assert again.out.strip() == "No deletions are scheduled."
    assert (await terminal("pending")).code == 0


async def test_check_says_the_database_vanished(terminal: Terminal) -> None:
    assert (await terminal("whoami")).code == 0
    empty_the_database(terminal.db)
    out = io.StringIO()
    code = await check_command(terminal.config, env={}, out=out, credential=sandbox_credential())
    assert code == 1
    assert "FAIL  storage" in out.getvalue() and "is missing or empty" in out.getvalue()
    assert "start an empty one with --init" in out.getvalue()
    out = io.StringIO()
    code = await check_command(
        terminal.config, env={}, out=out, credential=sandbox_credential(), init=True
    )
    assert code == 0, out.getvalue()
