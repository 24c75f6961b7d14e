"""What ``list`` and ``rotate`` show at a terminal: a STATE, an INSTANCE and a USER column
filled with what the bot knows, and the "triggered" line as soon as KMS took the rotation,
not when the wait ends."""

from __future__ import annotations

import asyncio
import re

from cli_runner import cli_command, sandbox_env
from terminal_harness import Terminal

WEB3 = "i-bp1sbxweb3000000001"


async def test_list_shows_state_instance_and_user(terminal: Terminal) -> None:
    terminal.sandbox.rotation_delay = 30.0
    assert (await terminal.inproc("rotate", "web-3-root", "--no-wait")).code == 0
    assert (await terminal.inproc("delete", "db-1-root", "--days", "7", "--yes")).code == 0

    listing = await terminal.inproc("list")
    assert listing.code == 0, str(listing)
    lines = listing.out.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == [
        "NAME",
        "REGION",
        "STATE",
        "INSTANCE",
        "USER",
        "CREATED",
        "UPDATED",
    ]
    rows = {cells[0]: cells for cells in (re.split(r"\s{2,}", line) for line in lines[1:])}
    assert rows["web-3-root"][2:5] == ["rotating", WEB3, "?"]
    assert rows["db-1-root"][2].startswith("deletes ")
    assert rows["batch-7-root"][2:5] == ["active", "?", "?"]

    body = (await terminal.inproc("list", "--json")).json
    by_name = {row["short_name"]: row for row in body["result"]["rows"]}
    assert by_name["web-3-root"]["state"] == "rotating"
    assert by_name["web-3-root"]["instance_id"] == WEB3
    assert by_name["db-1-root"]["state"] == "pending deletion"
    assert by_name["batch-7-root"]["instance_id"] == ""


async def test_the_triggered_line_comes_before_the_wait(terminal: Terminal) -> None:
    terminal.sandbox.rotation_delay = 3.0
    process = await asyncio.create_subprocess_exec(
        *cli_command(),
        "rotate",
        "web-3-root",
        cwd=terminal.cwd,
        env=sandbox_env(ECS_SECRET_BOT_CONFIG=str(terminal.config)),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        first = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        # said while KMS is still rotating: the process is still waiting for the end
        assert first.startswith("Rotation of web-3-root with a KMS-generated value triggered")
        assert process.returncode is None
        secret = terminal.sandbox.kms.find("cn-hangzhou", "acs/ecs/web-3-root")
        assert secret is not None and secret.pending_version is not None
        rest, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    assert rest.decode().splitlines() == [
        f"Rotation completed on {WEB3}: the new version is current."
    ]

    # --json keeps its one object, at the end
    terminal.sandbox.rotation_delay = 0.3
    body = (await terminal("rotate", "web-3-root", "--json")).json
    assert body["rotation"] == "completed"
