"""Every field ``ecs-secret --json`` prints is documented in the README, and every field the
README documents is printed: the real output of each subcommand, object by object, against
the table of the README's "What --json prints" section (a row: the object's path, the
subcommands that print it, its keys; values and glosses in parentheses)."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from terminal_harness import Terminal

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "### What `--json` prints"

Fields = dict[str, set[str]]
"""The keys of each object, by its path: ``""`` (the whole answer), ``result``,
``result.rows[]`` (the items of a list), ``error``..."""


def printed(body: Any, path: str = "", into: Fields | None = None) -> Fields:
    """Return the keys of every object in ``body``, by path."""
    found: Fields = defaultdict(set) if into is None else into
    if isinstance(body, dict):
        found[path].update(body)
        for key, value in body.items():
            printed(value, f"{path}.{key}" if path else key, found)
    elif isinstance(body, list):
        for item in body:
            printed(item, f"{path}[]", found)
    return found


Row = tuple[frozenset[str], frozenset[str], frozenset[str] | None]
"""One row of the README's table: the paths, the subcommands (``*``: every one), the keys
(None: "any", an object whose keys are free-form, such as an audit entry's ``detail``)."""


def _backticked(cell: str) -> frozenset[str]:
    """Return what ``cell`` names in backticks, outside parentheses (values and glosses)."""
    while "(" in cell:
        cell = re.sub(r"\([^()]*\)", "", cell)
    return frozenset(re.findall(r"`([^`]+)`", cell))


def documented() -> list[Row]:
    """Return the rows of the README's table of ``--json`` fields."""
    text = README.read_text(encoding="utf-8")
    assert SECTION in text, f"the README has no {SECTION!r} section"
    section = text.split(SECTION, 1)[1].split("\n#", 1)[0]
    rows: list[Row] = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if len(cells) != 3 or cells[0] in ("object", "---"):
            continue
        paths = frozenset({""}) if cells[0] == "the answer" else _backticked(cells[0])
        every = cells[1].startswith("every subcommand")
        commands = frozenset({"*"}) if every else _backticked(cells[1])
        keys = None if cells[2].startswith("any") else _backticked(cells[2])
        rows.append((paths, commands, keys))
    return rows


async def run_every_subcommand(terminal: Terminal) -> list[dict[str, Any]]:
    """Run each subcommand with --json, so that its lists and nested objects are not empty."""
    sandbox = terminal.sandbox
    answers = []

    async def run(*args: str, stdin: str = "") -> None:
        answers.append((await terminal.inproc(*args, "--json", stdin=stdin)).json)

    await run("whoami")
    await run("create", "web-9-root", "--instance", "i-bp1sbxweb4000000002", stdin="Curr3nt!\n")
    sandbox.rotation_delay = 30.0
    await run("rotate", "web-3-root", "--no-wait")
    await run("show", "web-3-root")  # a rotation in flight
    sandbox.rotation_delay = 0.3
    await run("rotate", "web-3-root", "--follow")
    await run("rotate", "web-4-ecs-user-key")
    await run("sweep", "--tag", "env=demo", "--dry-run")
    await run("sweep", "--match", "web-4-*", "--reason", "INC-1", "--yes")
    await run("rotation", "web-3-root", "on", "14d")
    await run("delete", "db-1-root", "--days", "7", "--yes")
    await run("show", "db-1-root")  # a deletion scheduled
    await run("list")
    await run("pending")
    await run("restore", "db-1-root")
    await run("delete", "web-9-root", "--now", "--yes")  # held for approval
    held = answers[-1]["result"]["approval_id"]
    await run("approvals")
    await run("approve", held)  # the requester may not: refused
    await run("deny", held)  # withdrawn
    await run("delete", "web-3-root", "--dry-run")
    await run("audit", "--limit", "5")
    await run("audit", "--verify")
    await run("show", "no-such-secret")  # a cloud error
    await run("delete", "web-3-root", "--days", "3")  # invalid input
    return answers


async def test_every_json_field_is_documented_and_every_documented_one_printed(
    terminal: Terminal,
) -> None:
    rows = documented()
    assert len(rows) > 20, "the README's table of --json fields is not in the expected form"
    seen: dict[str, Fields] = defaultdict(lambda: defaultdict(set))
    for body in await run_every_subcommand(terminal):
        for path, keys in printed(body).items():
            seen[body["command"]][path] |= keys

    def documented_for(command: str, path: str) -> set[str] | None:
        """Return the keys the README gives ``path``; None where they are free-form."""
        found: set[str] = set()
        for paths, commands, keys in rows:
            if not ("*" in commands or command in commands):
                continue
            for documented_path in paths:
                inside = path.startswith((f"{documented_path}.", f"{documented_path}[]"))
                if keys is None and (path == documented_path or inside):
                    return None
                if keys is not None and path == documented_path:
                    found |= keys
        return found

    missing = [
        f"{command}: {path or '(the answer)'}.{key}"
        for command, fields in seen.items()
        for path, keys in fields.items()
        if (known := documented_for(command, path)) is not None
        for key in sorted(keys - known)
    ]
    assert not missing, "printed but not in the README's --json table: " + ", ".join(missing)

    # And nothing documented is stale: each key of a row is printed by one of its
    # subcommands, wherever the test made them print that object at all.
    stale = []
    for paths, commands, keys in rows:
        for path in paths:
            if keys is None:
                continue
            runs = [seen[c][path] for c in seen if ("*" in commands or c in commands)]
            shown = set().union(*(keys_ for keys_ in runs if keys_))
            if shown:
                stale += [f"{path or '(the answer)'}.{key}" for key in sorted(keys - shown)]
    assert not stale, "in the README's --json table but never printed: " + ", ".join(stale)
