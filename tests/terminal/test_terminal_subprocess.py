"""``ecs-secret`` run as a subprocess, as a person or a script runs it, against the sandbox:
every subcommand at least once, JSON output, and every exit code."""

from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path

from cli_runner import CliResult, run_cli, sandbox_env
from terminal_harness import LOGIN, POLICIES, Terminal

ME = f"local:user:{LOGIN}"
WEB3 = "i-bp1sbxweb3000000001"


def ok(result: CliResult) -> CliResult:
    assert result.code == 0, str(result)
    return result


async def test_help_and_usage_errors(terminal: Terminal) -> None:
    helped, bare, usage = await asyncio.gather(terminal("--help"), terminal(), terminal("delete"))
    for sub in (
        "create rotate rotation delete restore list show pending approvals approve deny "
        "audit whoami"
    ).split():
        assert sub in ok(helped).out
    assert "exit codes:" in helped.out and "4  held for approval" in helped.out
    assert bare.code == 2 and "SUBCOMMAND" in bare.err
    assert usage.code == 2 and "the following arguments are required: name" in usage.err


async def test_read_only_subcommands(terminal: Terminal) -> None:
    who, listing, show, pending, approvals, audit = await asyncio.gather(
        terminal("whoami"),
        terminal("list", "web"),
        terminal("show", "acs/ecs/web-4-ecs-user-key", "--json"),
        terminal("--json", "pending"),
        terminal("approvals", "--json"),
        terminal("audit", "--json"),
    )
    assert f"You are {ME}" in ok(who).out and "AliyunKMSSecretAdminAccess" in who.out
    lines = ok(listing).out.splitlines()
    assert lines[0].split() == ["NAME", "REGION", "STATE", "INSTANCE", "USER", "CREATED", "UPDATED"]
    assert [line.split()[0] for line in lines[1:]] == ["web-3-root", "web-4-ecs-user-key"]
    body = ok(show).json
    assert body["command"] == "show" and body["ok"] is True and body["exit_code"] == 0
    assert body["result_type"] == "SecretView"
    assert body["result"]["sub_type"] == "SSHKey" and body["result"]["user_name"] == "ecs-user"
    assert body["result"]["created"].endswith("+00:00")
    assert ok(pending).json["result"]["rows"] == []
    assert ok(approvals).json["result"] == {"waiting_for_me": [], "mine": []}
    assert ok(audit).json["result"] == []


async def test_rotate_shows_progress_and_completion(terminal: Terminal) -> None:
    rotated = ok(await terminal("rotate", "web-3-root", "--reason", "leaked in a screenshot"))
    assert "with a KMS-generated value triggered on " + WEB3 in rotated.out
    assert f"Rotation completed on {WEB3}: the new version is current." in rotated.out
    assert "waiting for KMS to report the new version of web-3-root as current" in rotated.err
    entries = (await terminal.inproc("audit", "web-3-root", "--json")).json["result"]
    assert (ME, "kms:RotateSecret", "rotation completed") in [
        (e["actor"], e["action"], e["outcome"]) for e in entries
    ]


def _files_contain(folder: Path, needle: bytes) -> list[str]:
    return [p.name for p in folder.rglob("*") if p.is_file() and needle in p.read_bytes()]


async def test_custom_value_on_stdin_never_appears_in_output_or_files(
    terminal: Terminal,
) -> None:
    canary = f"Canary-{uuid.uuid4().hex[:10]}-Pw!"
    rotated = await terminal("rotate", "web-3-root", "--custom", "--json", stdin=canary + "\n")
    body = ok(rotated).json
    assert body["rotation"] == "completed" and body["result"]["custom"] is True
    secret = terminal.sandbox.kms.find("cn-hangzhou", "acs/ecs/web-3-root")
    assert secret is not None and canary in secret.current().data  # it did reach KMS

    created = await terminal(
        "create",
        "web-3-admin",
        "--instance",
        WEB3,
        "--user",
        "admin",
        "--value-stdin",
        stdin=canary.upper(),
    )
    assert "Created acs/ecs/web-3-admin in cn-hangzhou: Password of admin" in ok(created).out

    views = await asyncio.gather(
        terminal.inproc("audit", "--json"),
        terminal.inproc("show", "web-3-admin", "--json"),
        terminal.inproc("approvals", "--json"),
    )
    outputs = [rotated.out, rotated.err, created.out, created.err]
    outputs += [v.out + v.err for v in views]
    for needle in (canary, canary.upper()):
        assert not [text for text in outputs if needle in text]
        assert _files_contain(terminal.cwd, needle.encode()) == []
    assert {p.name for p in terminal.cwd.iterdir()} >= {"bot.db", "bot.db.key"}


async def test_rotation_policy_delete_and_restore(terminal: Terminal) -> None:
    on = ok(await terminal("rotation", "web-4-ecs-user-key", "on", "12h"))
    assert on.out.strip() == "Automatic rotation of web-4-ecs-user-key is now on, every 12h."

    name = "web-4-ecs-user-key"
    scheduled = ok(await terminal("delete", name, "--days", "7", stdin=f"{name}\n"))
    assert "Type the secret's name (web-4-ecs-user-key) to confirm" in scheduled.err
    assert f"{name} is scheduled for deletion on" in scheduled.out
    rows = (await terminal.inproc("pending", "--json")).json["result"]["rows"]
    assert [(r["short_name"], r["days_left"]) for r in rows] == [(name, 6)]

    restored = ok(await terminal("restore", name, "--json")).json
    assert restored["result_type"] == "RestoreResult" and restored["result"]["requested_by"] == ME
    assert (await terminal.inproc("pending", "--json")).json["result"]["rows"] == []


async def test_held_request_then_approve_and_deny(terminal: Terminal) -> None:
    held = await terminal("delete", "web-4-ecs-user-key", "--now", "--yes", "--json")
    assert held.code == 4, str(held)
    body = held.json
    assert body["ok"] is False and body["outcome"] == "held"
    assert body["result"]["rule"] == "immediate-delete"
    approval_id = body["result"]["approval_id"]

    mine = await terminal("approve", approval_id, "--json")
    assert mine.code == 3, str(mine)  # the requester may not approve their own request
    assert mine.json["vote"] == "refused"
    withdrawn = ok(await terminal("deny", approval_id))
    assert "withdrawn" in withdrawn.out.lower()
    assert terminal.sandbox.calls.total("DeleteSecret") == 0


async def test_exit_codes_of_refusals_and_failures(terminal: Terminal) -> None:
    terminal.sandbox.faults.add(action="ListSecrets", kind="server_error", status=503)
    denied, missing, invalid, cloud, unconfigured, dry = await asyncio.gather(
        terminal("rotate", "win-app-1-admin"),
        terminal("show", "no-such-secret", "--json"),
        terminal("delete", "web-3-root", "--days", "3", "--yes", "--json"),
        terminal("list", "--json"),
        terminal("list", "--config", str(terminal.cwd / "nope.toml")),
        terminal("delete", "web-3-root", "--now", "--dry-run"),
    )
    assert denied.code == 3 and "NoWindows" in denied.err, str(denied)
    assert missing.code == 6 and missing.json["error"]["code"] == "Forbidden.ResourceNotFound"
    assert invalid.code == 2 and invalid.json["error"]["field"] == "days"
    assert cloud.code == 5 and {r["status"] for r in cloud.json["result"]["regions"]} == {"failed"}
    assert unconfigured.code == 7 and "nope.toml" in unconfigured.err
    assert dry.code == 4 and dry.out.startswith("Dry run: kms:DeleteSecret")
    assert terminal.sandbox.calls.total("DeleteSecret") == 0


async def test_sandbox_switch_needs_no_configuration(tmp_path: Path) -> None:
    env = sandbox_env()
    del env["ALIBABA_CLOUD_ACCESS_KEY_ID"]  # --sandbox brings its own AccessKey

    async def cli(*args: str) -> CliResult:
        return await run_cli("--sandbox", *args, cwd=tmp_path, env=env)

    who = ok(await cli("whoami"))
    assert "SANDBOX: an emulated KMS + ECS cloud" in who.err
    assert f"You are {ME}" in who.out and "AliyunKMSSecretAdminAccess" in who.out
    ok(await cli("delete", "db-1-root", "--days", "7", "--yes"))
    # the next command's sandbox is new, and learns the deletion from the database
    pending = ok(await cli("pending", "--json")).json["result"]["rows"]
    assert [row["short_name"] for row in pending] == ["db-1-root"]
    ok(await cli("restore", "db-1-root"))
    assert (tmp_path / "ecs-secret-bot-sandbox.db").exists()


async def test_an_unreachable_endpoint_is_named_with_its_cause(terminal: Terminal) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    config = terminal.cwd / "unreachable.toml"
    config.write_text(
        f'[cloud]\nkms_endpoint = "{closed}"\necs_endpoint = "{closed}"\nmax_attempts = 1\n'
        f'[storage]\npath = "other.db"\n{POLICIES}',
        encoding="utf-8",
    )
    listed = await terminal("list", "--config", str(config))
    assert listed.code == 5, str(listed)
    assert "No dynamic ECS secrets" not in listed.out + listed.err
    said = listed.out + listed.err
    assert f"could not be reached at {closed} for ListSecrets" in said
    assert "connection was refused" in said and "kms_endpoint" in said
    assert "logs" not in said
