"""``ecs-secret sweep`` against the seeded sandbox: the demo instances are tagged env=demo.

web-3 and web-4 are Running with their agent online; win-app-1's secret is denied by the
test's NoWindows policy; db-1 is Stopped; batch-7's Cloud Assistant is offline.
"""

from __future__ import annotations

import sqlite3

import pytest
from terminal_harness import Terminal

from ecs_secret_bot.terminal.parser import build_parser

MUTATING = {"RotateSecret", "PutSecretValue", "CreateSecret", "DeleteSecret", "RestoreSecret"}
DEMO = ("--tag", "env=demo")


def rows(terminal: Terminal, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(terminal.db) as db:
        return db.execute(sql).fetchall()


async def test_a_dry_run_lists_the_set_and_changes_nothing(terminal: Terminal) -> None:
    await terminal.inproc("whoami")  # the database exists before the dry run
    audit_before = rows(terminal, "SELECT count(*) FROM audit_log")
    terminal.sandbox.calls.clear()
    result = await terminal.inproc("sweep", *DEMO, "--dry-run", "--json")
    assert result.code == 0, result.err
    body = result.json
    assert body["outcome"] == "dry_run" and body["result_type"] == "SweepPlan"
    states = {i["name"]: (i["state"], i["reason"]) for i in body["result"]["items"]}
    assert states["acs/ecs/web-3-root"] == ("ready", "")
    assert states["acs/ecs/web-4-ecs-user-key"] == ("ready", "")
    assert states["acs/ecs/win-app-1-admin"][0] == "refused"
    assert "Stopped" in states["acs/ecs/db-1-root"][1]
    assert "Cloud Assistant" in states["acs/ecs/batch-7-root"][1]
    assert body["result"]["approval_rule"] is None
    # nothing written, nothing changed in the cloud
    assert rows(terminal, "SELECT count(*) FROM audit_log") == audit_before
    assert rows(terminal, "SELECT count(*) FROM sweeps") == [(0,)]
    assert rows(terminal, "SELECT count(*) FROM rotations") == [(0,)]
    called = {action for action, _ in terminal.sandbox.calls}
    assert called and not called & MUTATING

    text = await terminal.inproc("sweep", *DEMO, "--dry-run")
    assert "5 secrets, 2 to rotate" in text.out and "Dry run: nothing was done." in text.out


async def test_a_sweep_rotates_what_it_may_and_says_why_not_the_rest(terminal: Terminal) -> None:
    result = await terminal.inproc("sweep", *DEMO, "--reason", "INC-9", "--yes", "--json")
    assert result.code == 0, result.err
    body = result.json
    assert body["result_type"] == "SweepSnapshot" and body["result"]["status"] == "finished"
    states = {i["name"].removeprefix("acs/ecs/"): i["state"] for i in body["result"]["items"]}
    assert states == {
        "batch-7-root": "skipped",
        "db-1-root": "skipped",
        "web-3-root": "completed",
        "web-4-ecs-user-key": "completed",
        "win-app-1-admin": "refused",
    }
    assert body["result"]["counts"] == {"done": 2, "failed": 0, "skipped": 3, "waiting": 0}
    assert terminal.sandbox.calls.total("RotateSecret") == 2
    assert "web-3-root (cn-hangzhou): completed" in result.err  # progress on stderr

    sweep_id = body["result"]["sweep_id"]
    audit = await terminal.inproc("audit", "--sweep", sweep_id, "--json")
    assert audit.code == 0, audit.err
    assert len(audit.json["requests"]) == 1 and audit.json["requests"][0]["id"] == sweep_id
    outcomes = [e["outcome"] for e in audit.json["result"] if e["correlation_id"] == sweep_id]
    assert sum(o.startswith("rotation completed") for o in outcomes) == 2
    assert sum(o.startswith("skipped") for o in outcomes) == 2
    assert sum(o.startswith("refused") for o in outcomes) == 1
    text = await terminal.inproc("audit", "--sweep", sweep_id)
    assert sweep_id in text.out


async def test_it_asks_first_and_refuses_a_pipe_without_yes(terminal: Terminal) -> None:
    piped = await terminal.inproc("sweep", *DEMO, "--reason", "INC-9")
    assert piped.code == 2 and "not a terminal" in piped.err and "--yes" in piped.err
    declined = await terminal.inproc("sweep", *DEMO, "--reason", "INC-9", stdin="n\n", tty=True)
    assert declined.code == 2 and "Not confirmed" in declined.err
    assert "Rotate these 2 secrets now? [y/N]" in declined.err
    assert terminal.sandbox.calls.total("RotateSecret") == 0
    confirmed = await terminal.inproc("sweep", "--match", "web-3-*", stdin="INC-9\ny\n", tty=True)
    assert confirmed.code == 0, confirmed.err
    assert terminal.sandbox.calls.total("RotateSecret") == 1


async def test_wrong_input_is_exit_2_with_a_clear_message(terminal: Terminal) -> None:
    cases = {
        ("sweep", "--dry-run"): "at least one selector",
        ("sweep", "--tag", "env", "--dry-run"): "not a tag selector",
        ("sweep", "--match", "web-*", "--region", "eu-west-9", "--dry-run"): "eu-west-9",
        ("sweep", "--match", "web 3", "--dry-run"): "not a name pattern",
        ("sweep", "--instance", "web-3", "--dry-run"): "not an ECS instance id",
    }
    for args, words in cases.items():
        result = await terminal.inproc(*args)
        assert result.code == 2, (args, result.err)
        assert words in result.err, (args, result.err)


def test_concurrency_is_1_to_20(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["sweep", *DEMO, "--concurrency", "21", "--yes"])
    assert exited.value.code == 2 and "21 is not 1 to 20" in capsys.readouterr().err
