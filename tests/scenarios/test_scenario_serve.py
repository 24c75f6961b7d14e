"""``ecs-secret-bot serve`` from outside, as the contract says: a process configured only by
its environment and TOML file, serving /healthz and signed Slack requests, stopping cleanly
on SIGTERM, with its background duties running."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
from fakes import FakeSlackAPI
from fakes import workspace as ws
from fakes.payloads import slash_command_body
from fakes.signing import SIGNING_SECRET, SlackClientDriver

from ecs_secret_bot.storage import open_database

SANDBOX_DB = "ecs-secret-bot-sandbox.db"

CONFIG = """
[cloud]
default_region = "cn-hangzhou"

[storage]
path = "bot.db"

[[access.bindings]]
principals = ["slack:user:{admin}"]
policies = ["AliyunKMSSecretAdminAccess"]

[reminders]
before = ["31d"]
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_healthy(port: int, proc: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            if proc.returncode is not None:
                raise AssertionError("serve exited early")
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("serve never answered /healthz")


async def test_serve_with_the_sandbox_answers_and_stops_cleanly(
    tmp_path: Path, slack_api: FakeSlackAPI
) -> None:
    config = tmp_path / "bot.toml"
    config.write_text(CONFIG.format(admin=ws.ADMIN_ID), encoding="utf-8")
    # The bot's real database, as a previous serve left it: --sandbox must not touch it.
    async with await open_database(tmp_path / "bot.db"):
        pass
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    port = free_port()
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": ws.BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api.url,
        "ECS_SECRET_BOT_CONFIG": str(config),
    }
    env.pop("SLACK_APP_TOKEN", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ecs_secret_bot.cli",
        "serve",
        "--sandbox",
        "--port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await _wait_healthy(port, proc)
        async with SlackClientDriver(port) as driver:
            status, body, _ = await driver.post(
                slash_command_body("whoami", user_id=ws.ADMIN_ID, channel_id=ws.INCIDENT_CHANNEL_ID)
            )
            assert status == 200
            assert "AliyunKMSSecretAdminAccess" in body
            forged, _, _ = await driver.post(
                slash_command_body("whoami", user_id=ws.ADMIN_ID), secret="not-the-secret"
            )
            assert forged == 401
        # the duties run in serve: the seeded sandbox has nothing scheduled, so they only tick
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    text = out.decode()
    first_line = text.splitlines()[0]
    assert first_line.startswith("SANDBOX") and str(tmp_path / SANDBOX_DB) in first_line
    assert "stopped cleanly" in text
    assert "Traceback" not in err.decode()
    # Its records (the duties' lease among them) went to its own file, beside the config.
    assert (tmp_path / SANDBOX_DB).exists()
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert {name: data for name, data in after.items() if SANDBOX_DB not in name} == before


async def _serve(
    *args: str, env: dict[str, str], cwd: Path
) -> tuple[asyncio.subprocess.Process, str]:
    """Run ``ecs-secret-bot serve args...`` to its end; return it and its stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ecs_secret_bot.cli",
        "serve",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    return proc, err.decode()


async def test_serve_says_everything_that_is_missing_at_once(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ECS_SECRET"))}
    proc, err = await _serve(env=env, cwd=tmp_path)
    assert proc.returncode == 2
    assert "3 things to fix first" in err
    assert "SLACK_BOT_TOKEN is not set" in err and "OAuth & Permissions" in err
    assert "SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode)" in err
    assert "ecs-secret-bot.toml: no configuration file here" in err
    assert "serve --sandbox` needs no configuration" in err
    # HTTP mode versus Socket Mode, said once, with where each token is found
    assert err.count("HTTP mode (Slack calls POST /slack/events") == 1
    assert "App Credentials > Signing Secret" in err and "connections:write" in err
    assert "Traceback" not in err

    # --sandbox needs no configuration file: only the tokens are missing
    proc, err = await _serve("--sandbox", env=env, cwd=tmp_path)
    assert proc.returncode == 2
    assert "2 things to fix first" in err and "configuration" not in err

    # a configuration someone named must exist, sandbox or not
    env["ECS_SECRET_BOT_CONFIG"] = str(tmp_path / "missing.toml")
    env["SLACK_BOT_TOKEN"] = "xoxb-1"
    env["SLACK_SIGNING_SECRET"] = "s"
    proc, err = await _serve("--sandbox", "--port", "0", env=env, cwd=tmp_path)
    assert proc.returncode == 2
    assert "2 things to fix first" in err
    assert "missing.toml: no configuration file here" in err and "not a TCP port" in err
    assert "HTTP mode (Slack" not in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


async def test_serve_sandbox_runs_without_a_configuration_file(
    tmp_path: Path, slack_api: FakeSlackAPI
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ECS_SECRET"))}
    env.update(
        SLACK_BOT_TOKEN=ws.BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack_api.url,
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ecs_secret_bot.cli",
        "serve",
        "--sandbox",
        "--port",
        str(port),
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await _wait_healthy(port, proc)
        async with SlackClientDriver(port) as driver:
            # the built-in sandbox configuration lets anyone do everything in the emulated cloud
            status, body, _ = await driver.post(slash_command_body("whoami", user_id="U0ANYONE"))
            assert status == 200
            assert "AliyunKMSSecretAdminAccess" in body
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert str(tmp_path / SANDBOX_DB) in out.decode().splitlines()[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [SANDBOX_DB, f"{SANDBOX_DB}.key"]


async def test_serve_refuses_a_database_that_vanished_until_told_to_start_over(
    tmp_path: Path, slack_api: FakeSlackAPI
) -> None:
    config = tmp_path / "bot.toml"
    config.write_text(CONFIG.format(admin=ws.ADMIN_ID), encoding="utf-8")
    async with await open_database(tmp_path / "bot.db"):
        pass
    (tmp_path / "bot.db").write_bytes(b"")  # truncated; its key file is still there
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ECS_SECRET"))}
    env.update(
        SLACK_BOT_TOKEN=ws.BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack_api.url,
        ECS_SECRET_BOT_CONFIG=str(config),
    )
    proc, err = await _serve("--port", str(free_port()), env=env, cwd=tmp_path)
    assert proc.returncode == 2, err
    assert "bot.db is missing or empty, but its data key file" in err
    assert "start an empty one with --init" in err
    assert "Traceback" not in err
    assert (tmp_path / "bot.db").read_bytes() == b""

    port = free_port()
    started = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ecs_secret_bot.cli",
        "serve",
        "--init",
        "--port",
        str(port),
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await _wait_healthy(port, started)
        started.send_signal(signal.SIGTERM)
        _, err_bytes = await asyncio.wait_for(started.communicate(), 30)
    finally:
        if started.returncode is None:
            started.kill()
            await started.wait()
    assert started.returncode == 0, err_bytes.decode()
    assert (tmp_path / "bot.db").stat().st_size > 0
