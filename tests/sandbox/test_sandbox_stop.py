"""`ecs-secret-bot sandbox` stops as `serve` does: SIGTERM, calls in progress get the grace
period, no client holds it open, exit 0. Times are generous bounds, not targets."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GRACE = 2.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(process: subprocess.Popen[str], host: str, port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=0.2).close()
            return
        except OSError:
            if process.poll() is not None:
                raise AssertionError(process.communicate()[0]) from None
            time.sleep(0.05)
    raise AssertionError("the sandbox did not start listening")


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ecs_secret_bot.cli", "sandbox", "--no-seed", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_sigterm_with_a_stalled_call_and_an_idle_connection_exits_within_grace() -> None:
    port = free_port()
    process = start("--port", str(port), "--grace", str(GRACE))
    try:
        wait_listening(process, "127.0.0.1", port)
        stalled = socket.create_connection(("127.0.0.1", port))
        stalled.sendall(b"POST / HTTP/1.1\r\nHost: kms\r\nContent-Length: 500\r\n\r\n")
        idle = socket.create_connection(("127.0.0.1", port))
        idle.sendall(b"GET /_sandbox HTTP/1.1\r\nHost: kms\r\n\r\n")
        assert idle.recv(4096).startswith(b"HTTP/1.1 200 ")
        time.sleep(0.2)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=GRACE + 30)
        took = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    stalled.close()
    idle.close()
    assert process.returncode == 0, output
    assert took < GRACE + 6
    assert "sandbox stopped" in output


def test_host_chooses_the_address_and_the_banner_names_it() -> None:
    port = free_port()
    process = start("--port", str(port), "--host", "127.0.0.3")
    try:
        wait_listening(process, "127.0.0.3", port)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            reached_loopback_one = True
        except OSError:
            reached_loopback_one = False
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert not reached_loopback_one
    assert process.returncode == 0, output
    assert f"listening on http://127.0.0.3:{port}" in output
