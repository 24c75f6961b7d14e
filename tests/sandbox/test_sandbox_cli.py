"""`ecs-secret-bot sandbox` as a newcomer runs it, with the SDK-only demo script against it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "sandbox_sdk_demo.py"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def sandbox_process() -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ecs_secret_bot.cli",
            "sandbox",
            "--port",
            str(port),
            "--rotation-delay",
            "0.3",
            "--access-key",
            "ops:ops-secret",
            "--custom-values",
            "accept",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None:
                    raise AssertionError(process.communicate()[0]) from None
                time.sleep(0.05)
        else:
            raise AssertionError("the sandbox did not start listening")
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_demo_script_against_the_cli_sandbox(
    sandbox_process: tuple[subprocess.Popen[str], int],
) -> None:
    process, port = sandbox_process
    demo = subprocess.run(
        [sys.executable, str(DEMO), "--endpoint", f"127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    lines = demo.stdout.splitlines()
    assert lines[0].startswith("instance: i-bp1sbx")
    assert any(line.startswith("created: acs:kms:cn-hangzhou:") for line in lines)
    assert "rotation triggered" in demo.stdout
    assert "rotation completed: rotation-1 is ACSCurrent" in demo.stdout
    assert "deletion scheduled for" in demo.stdout and "+08:00" in demo.stdout
    assert "restored: planned deletion time is now None" in demo.stdout
    assert "Password" not in demo.stdout

    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=20)
    assert process.returncode == 0
    assert f"listening on http://127.0.0.1:{port}" in output
    assert "sandbox / sandbox-secret" in output
    assert "also accepted AccessKey IDs: ops" in output
    assert "custom values made current without reaching the instance" in output
    assert "ops-secret" not in output
    assert 'endpoint="127.0.0.1:' in output
    assert "acs/ecs/web-3-root" in output
    assert '"Password"' not in output and "PRIVATE KEY" not in output
    assert "sandbox stopped" in output


def test_bad_access_key_option() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ecs_secret_bot.cli", "sandbox", "--access-key", "no-colon"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "ID:SECRET" in result.stderr


def test_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "ecs_secret_bot.cli",
                "sandbox",
                "--port",
                str(port),
                "--no-seed",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
