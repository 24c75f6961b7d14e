"""How long the programs take to start: ``ecs-secret`` commands, and ``serve --sandbox``.

Starts ``ecs-secret-bot sandbox`` as a subprocess, writes a configuration aimed at it (the
README's "Try it in two minutes": the sandbox's public AccessKey in the credential chain's
variables, the signed-in user bound to ``AliyunKMSSecretAdminAccess``) and times, in the
same run and interleaved so that the machine's load touches each alike, the median of 10
cold runs (each a new process, as a person at a terminal starts it) of:

* ``python -c pass``: the interpreter's own start, the floor (``python_s``);
* ``ecs-secret whoami``: no cloud call (``whoami_s``; target < 0.35 s);
* ``ecs-secret list``: KMS ListSecrets (``list_s``; target < 0.7 s);
* ``ecs-secret show web-3-root``: KMS DescribeSecret and GetSecretValue, ECS
  DescribeInstances (``show_s``; target < 0.7 s).

Each command runs once, untimed, before the timed runs: it compiles the bytecode (kept in
a folder of the run, ``PYTHONPYCACHEPREFIX``, as an installed package has it, even where
``PYTHONDONTWRITEBYTECODE`` is set), creates the database and its key file, and wakes the
sandbox. On a machine so loaded that 10 rounds would take more than ~30 s, fewer are run
(3 at least; ``runs`` says how many). ``cpu_s`` is the median CPU time (user + system) of
each, which the load of other processes changes less than the wall time.

Then ``ecs-secret-bot serve --sandbox`` (HTTP mode, with made-up Slack tokens and a Slack
API URL nobody answers; nothing is sent to Slack before a request arrives) starts 3 times
in a folder of its own: ``serve_ready_s`` is the median time from the start of the process
until ``GET /healthz`` answers (target < 1.0 s), ``serve_rss_mb`` its resident memory then,
from ``/proc`` (target < 80 MB), and ``serve_rss_after_first_call_mb`` once its first cloud
call (the duties' ListSecrets, which loads the KMS client) has been answered.

Run from the repository root: ``python bench/cli_start.py`` (20-60 s). The last line
printed is one JSON object: ``{"bench": "cli_start", "whoami_s": ..., ..., "ratio": ...}``,
``ratio`` being ``whoami_s / python_s``: what starting ``ecs-secret`` costs over Python's own
start.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

RUNS = 10
CLI_BUDGET_S = 30.0
"""Fewer runs (3 at least) when the machine is so loaded that 10 would take longer."""
SERVE_RUNS = 3
SANDBOX_URL = re.compile(r"http://127\.0\.0\.1:\d+")
TARGETS = {
    "whoami_s": 0.35,
    "list_s": 0.7,
    "show_s": 0.7,
    "serve_ready_s": 1.0,
    "serve_rss_mb": 80.0,
}


def program(name: str) -> list[str]:
    """Return the argv prefix that runs the console script ``name`` of this interpreter."""
    script = Path(sys.executable).parent / name
    if script.exists():
        return [str(script)]
    found = shutil.which(name)
    if found:
        return [found]
    entry = "terminal_main" if name == "ecs-secret" else "main"
    code = f"import sys; from ecs_secret_bot.cli import {entry}; sys.exit({entry}())"
    return [sys.executable, "-c", code]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(ready: Callable[[], bool], *, process: subprocess.Popen[bytes], what: str) -> None:
    """Poll ``ready`` every 5 ms until it says yes; fail if ``process`` ends first."""
    deadline = time.monotonic() + 30
    while not ready():
        if process.poll() is not None:
            out = process.stdout.read().decode() if process.stdout else ""
            raise SystemExit(f"{what} exited with {process.returncode}:\n{out}")
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not start within 30 s")
        time.sleep(0.005)


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def configuration(url: str) -> str:
    login = pwd.getpwuid(os.getuid()).pw_name
    return f"""
[cloud]
default_region = "cn-hangzhou"
account_id = "1234567890123456"
kms_endpoint = "{url}"
ecs_endpoint = "{url}"
sts_endpoint = "{url}"

[storage]
path = "ecs-secret-bot.db"

[[access.bindings]]
principals = ["local:user:{login}"]
policies = ["AliyunKMSSecretAdminAccess"]
"""


def environment(config: Path, bytecode: Path, **extra: str) -> dict[str, str]:
    """Return this process's environment with the sandbox's AccessKey and nothing of ours.

    Python writes the bytecode it compiles under ``bytecode`` (and reads it there), as an
    installed package has it, even where ``PYTHONDONTWRITEBYTECODE`` is set.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ALIBABA_CLOUD_", "SLACK_", "ECS_SECRET_BOT_"))
        and k not in ("PYTHONWARNINGS", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
    }
    env.update(
        PYTHONPYCACHEPREFIX=str(bytecode),
        ALIBABA_CLOUD_ACCESS_KEY_ID="sandbox",
        ALIBABA_CLOUD_ACCESS_KEY_SECRET="sandbox-secret",
        ALIBABA_CLOUD_CLI_PROFILE_DISABLED="true",
        ALIBABA_CLOUD_ECS_METADATA_DISABLED="true",
        ECS_SECRET_BOT_CONFIG=str(config),
    )
    env.update(extra)
    return env


def cpu_of_children() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def timed(argv: list[str], *, cwd: Path, env: Mapping[str, str]) -> tuple[float, float]:
    """Run ``argv`` to its end; return its wall and CPU time, failing if it did not exit 0."""
    started, cpu = time.perf_counter(), cpu_of_children()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=False)
    elapsed, cpu = time.perf_counter() - started, cpu_of_children() - cpu
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv)} exited with {done.returncode}:\n"
            f"{done.stdout.decode()}\n{done.stderr.decode()}"
        )
    return elapsed, cpu


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cloud_called(url: str) -> bool:
    """Say whether the sandbox at ``url`` has answered a call yet."""
    try:
        with urllib.request.urlopen(f"{url}/_sandbox/calls", timeout=1) as answer:
            return int(json.load(answer).get("total", 0)) > 0
    except (OSError, ValueError):
        return False


def serve_once(folder: Path, env: Mapping[str, str]) -> tuple[float, float, float | None]:
    """Start ``serve --sandbox``; return seconds until /healthz answered and its RSS then,
    and its RSS once its first cloud call (the duties' ListSecrets) has been answered."""
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [*program("ecs-secret-bot"), "serve", "--sandbox", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    lines: list[str] = []
    output = process.stdout
    assert output is not None
    reader = threading.Thread(
        target=lambda: lines.extend(line.decode() for line in iter(output.readline, b"")),
        daemon=True,
    )
    reader.start()
    try:
        wait_until(lambda: healthy(port), process=process, what="ecs-secret-bot serve --sandbox")
        ready = time.perf_counter() - started
        memory = rss_mb(process.pid)
        found = SANDBOX_URL.search("".join(line for line in lines if "SANDBOX" in line))
        settled = None
        if found:
            wait_until(lambda: cloud_called(found[0]), process=process, what="the first call")
            time.sleep(0.2)  # its answer read
            settled = rss_mb(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout=5)
    return ready, memory, settled


def main() -> int:
    begun = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-cli-start-") as tmp:
        root = Path(tmp)
        bytecode = root / "bytecode"
        port = free_port()
        sandbox = subprocess.Popen(
            [*program("ecs-secret-bot"), "sandbox", "--port", str(port)],
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until(lambda: listening(port), process=sandbox, what="ecs-secret-bot sandbox")
            config = root / "ecs-secret-bot.toml"
            config.write_text(configuration(f"http://127.0.0.1:{port}"), encoding="utf-8")
            env = environment(config, bytecode)
            cli = program("ecs-secret")
            commands = {
                "python_s": [sys.executable, "-c", "pass"],
                "whoami_s": [*cli, "whoami"],
                "list_s": [*cli, "list"],
                "show_s": [*cli, "show", "web-3-root"],
            }
            # Untimed: the bytecode, the database and its key file, a woken sandbox.
            for argv in commands.values():
                timed(argv, cwd=root, env=env)
            times: dict[str, list[float]] = {key: [] for key in commands}
            cpu: dict[str, list[float]] = {key: [] for key in commands}
            for _ in range(RUNS):
                for key, argv in commands.items():
                    wall, used = timed(argv, cwd=root, env=env)
                    times[key].append(wall)
                    cpu[key].append(used)
                if time.perf_counter() - begun > CLI_BUDGET_S and len(times["python_s"]) >= 3:
                    break  # a loaded machine: fewer runs, within the minute
        finally:
            sandbox.send_signal(signal.SIGTERM)
            sandbox.wait(timeout=20)

        serving = root / "serve"
        serving.mkdir()
        served_config = serving / "ecs-secret-bot.toml"
        served_config.write_text(configuration("http://127.0.0.1:9"), encoding="utf-8")
        serve_env = environment(
            served_config,
            bytecode,
            SLACK_BOT_TOKEN="xoxb-bench-not-a-token",
            SLACK_SIGNING_SECRET="bench-signing-secret",
            SLACK_API_URL="http://127.0.0.1:9/api/",
        )
        warm = "import ecs_secret_bot.bot.server, ecs_secret_bot.sandbox, ecs_secret_bot.runtime"
        timed([sys.executable, "-c", warm], cwd=serving, env=serve_env)  # untimed: bytecode
        serves = [serve_once(serving, serve_env) for _ in range(SERVE_RUNS)]

    runs = len(times["python_s"])
    figures: dict[str, object] = {"bench": "cli_start"}
    for key, values in times.items():
        figures[key] = round(statistics.median(values), 3)
    figures["serve_ready_s"] = round(statistics.median(ready for ready, _, _ in serves), 3)
    figures["serve_rss_mb"] = round(statistics.median(memory for _, memory, _ in serves), 1)
    settled = [memory for _, _, memory in serves if memory is not None]
    figures["serve_rss_after_first_call_mb"] = (
        round(statistics.median(settled), 1) if settled else None
    )
    figures["cpu_s"] = {key[:-2]: round(statistics.median(cpu[key]), 3) for key in cpu}
    figures["runs"] = runs
    figures["total_s"] = round(time.perf_counter() - begun, 1)
    figures["ratio"] = round(
        statistics.median(times["whoami_s"]) / statistics.median(times["python_s"]), 1
    )
    lines = [f"median of {runs} cold runs (each a new process), beside the interpreter's start:"]
    for key in ("python_s", "whoami_s", "list_s", "show_s"):
        spread = f"{min(times[key]):.3f}-{max(times[key]):.3f}"
        lines.append(
            f"  {key:<9} {figures[key]:.3f} s  (range {spread}; CPU "
            f"{statistics.median(cpu[key]):.3f} s){verdict(figures, key)}"
        )
    lines.append(
        f"serve --sandbox, median of {SERVE_RUNS} starts: /healthz answers after "
        f"{figures['serve_ready_s']:.3f} s{verdict(figures, 'serve_ready_s')}\n"
        f"  RSS then {figures['serve_rss_mb']:.1f} MB{verdict(figures, 'serve_rss_mb')}; "
        f"after its first cloud call (the SDK loaded): "
        f"{figures['serve_rss_after_first_call_mb']} MB"
    )
    print("\n".join(lines), flush=True)
    print(json.dumps(figures), flush=True)
    return 0


def verdict(figures: Mapping[str, object], key: str) -> str:
    target = TARGETS.get(key)
    if target is None:
        return ""
    value = figures[key]
    assert isinstance(value, float)
    return f"   target < {target:g}: {'ok' if value < target else 'MISSED'}"


if __name__ == "__main__":
    sys.exit(main())
