"""Run ``ecs-secret`` as a subprocess, the way a person or a script does, and read its answer.

The console script of the installed package when there is one (else ``python -m``), with
the sandbox's public AccessKey in the standard environment variables of the credential
chain, the other providers of the chain switched off, and the test's configuration.
Started with asyncio, so an in-process sandbox or bot keeps serving while it runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CliResult", "cli_command", "run_cli", "sandbox_env"]


def cli_command() -> list[str]:
    """Return the argv prefix that runs ``ecs-secret``."""
    script = Path(sys.executable).parent / "ecs-secret"
    if script.exists():
        return [str(script)]
    found = shutil.which("ecs-secret")
    if found:
        return [found]
    entry = "import sys; from ecs_secret_bot.cli import terminal_main; sys.exit(terminal_main())"
    return [sys.executable, "-c", entry]


def sandbox_env(**extra: str) -> dict[str, str]:
    """Return an environment with the sandbox AccessKey and nothing else of the chain."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ALIBABA_CLOUD_", "SLACK_", "ECS_SECRET_BOT_"))
    }
    env.update(
        ALIBABA_CLOUD_ACCESS_KEY_ID="sandbox",
        ALIBABA_CLOUD_ACCESS_KEY_SECRET="sandbox-secret",
        ALIBABA_CLOUD_CLI_PROFILE_DISABLED="true",
        ALIBABA_CLOUD_ECS_METADATA_DISABLED="true",
        PYTHONWARNINGS="error",
    )
    env.update(extra)
    return env


@dataclass(frozen=True)
class CliResult:
    """How one run ended."""

    code: int
    out: str
    err: str

    @property
    def json(self) -> dict[str, Any]:
        """Return stdout as the one JSON object it must be."""
        lines = [line for line in self.out.splitlines() if line.strip()]
        assert len(lines) == 1, f"expected one JSON line, got {self.out!r} (stderr {self.err!r})"
        body = json.loads(lines[0])
        assert isinstance(body, dict)
        return body

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


async def run_cli(
    *args: str,
    cwd: Path,
    env: Mapping[str, str],
    stdin: str | None = None,
    timeout: float = 60.0,
) -> CliResult:
    """Run ``ecs-secret args...``; return its exit code and output."""
    process = await asyncio.create_subprocess_exec(
        *cli_command(),
        *args,
        cwd=cwd,
        env=dict(env),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    data = stdin.encode("utf-8") if stdin is not None else b""
    out, err = await asyncio.wait_for(process.communicate(data), timeout)
    assert process.returncode is not None
    return CliResult(process.returncode, out.decode("utf-8"), err.decode("utf-8"))
