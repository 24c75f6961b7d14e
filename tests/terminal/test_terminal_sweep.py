"""``ecs-secret sweep`` against the seeded sandbox: the demo instances are tagged env=demo.

web-3 and web-4 are Running with their agent online; win-app-1's secret is denied by the
test's NoWindows policy; db-1 is Stopped; batch-7's Cloud Assistant is offline.
"""

from __future__ import annotations

import sqlite3

import pytest
from fakes.cloud import sandbox_credential
from terminal_harness import LOGIN, POLICIES, Terminal, config_text

from ecs_secret_bot.commands.directory import LocalDirectory, local_actor
from ecs_secret_bot.commands.sweeps import SweepRunner, SweepSelector, plan_sweep
from ecs_secret_bot.commands.tracker import RotationTracker
from ecs_secret_bot.config import load_settings
from ecs_secret_bot.runtime import open_core
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
    assert audit.json["requests"][0]["secret_name"] == "5 secrets"
    text = await terminal.inproc("audit", "--sweep", sweep_id)
    assert sweep_id in text.out and "5 secrets" in text.out


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


async def test_an_approver_runs_a_held_sweep_at_the_terminal(terminal: Terminal) -> None:
    other = local_actor("oncall-2")
    gate = f"""
[[access.bindings]]
principals = ["{other.principal}"]
policies = ["AliyunKMSSecretAdminAccess"]

[[approval.rules]]
name = "sweep-gate"
actions = ["kms:RotateSecret"]
approvers = ["local:user:{LOGIN}"]
min_approvals = 1
"""
    terminal.config.write_text(
        config_text(terminal.sandbox, policies=POLICIES + gate), encoding="utf-8"
    )
    settings = load_settings(terminal.config)
    async with open_core(
        settings, directory=LocalDirectory(), credential=sandbox_credential()
    ) as core:
        plan = await plan_sweep(SweepSelector(match="web-*"), actor=other, core=core)
        runner = SweepRunner(core, tracker=RotationTracker(core, _Quiet()), notifier=_Quiet())
        held = await runner.start(plan, actor=other, reason="INC-5")
    assert held.approval_id and terminal.sandbox.calls.total("RotateSecret") == 0

    dry = await terminal.inproc("sweep", "--match", "web-*", "--dry-run")
    assert dry.code == 4 and "held by rule sweep-gate" in dry.out
    approved = await terminal.inproc("approve", held.approval_id, "--json")
    assert approved.code == 0, approved.err
    body = approved.json
    assert body["vote"] == "approved" and body["result_type"] == "SweepSnapshot"
    assert body["result"]["status"] == "finished" and body["result"]["counts"]["done"] == 2
    assert terminal.sandbox.calls.total("RotateSecret") == 2


class _Quiet:
    async def rotation_finished(self, outcome: object) -> None:
        del outcome

    async def sweep_changed(self, snapshot: object) -> None:
        del snapshot


async def test_a_sweep_with_nothing_to_rotate_is_exit_6(terminal: Terminal) -> None:
    result = await terminal.inproc("sweep", "--match", "db-*", "--reason", "INC", "--yes")
    assert result.code == 6 and "Nothing to rotate" in result.err
    assert "instance i-bp1sbxdb10000000004 is Stopped" in result.out
    dry = await terminal.inproc("sweep", "--match", "nothing-*", "--dry-run")
    assert dry.code == 6 and "0 secrets, 0 to rotate" in dry.out
