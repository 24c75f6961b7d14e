"""``ecs-secret-bot serve`` as a process of its own, for tests and benchmarks that stop it.

``ServeProcess.start(folder, slack=..., cloud_url=...)`` writes a configuration aimed at a
sandbox that runs elsewhere (so the cloud outlives the bot's restarts), starts
``python -m ecs_secret_bot.cli serve`` with the sandbox's public AccessKey in the standard
variables of the default credential chain, and waits for ``/healthz``. Its helpers send
signed, Slack-shaped requests as a person would (``command``, ``click``, ``submit``), and
``terminate`` sends SIGTERM and times the exit. Nothing is mocked: the process is the
real program, configured only by its environment and its TOML file.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from ecs_secret_bot.storage import generate_data_key

from . import workspace as ws
from .payloads import block_actions_payload, slash_command_body, view_submission_payload
from .signing import SIGNING_SECRET, DriverResponse, SlackClientDriver
from .slack_api import FakeSlackAPI
from .slack_messages import Message

__all__ = ["ServeProcess", "Stopped", "free_port", "serve_config"]

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_config(
    folder: Path, *, cloud_url: str, policies: str, extra: str = "", database_url: str = ""
) -> Path:
    """Write the configuration of a bot aimed at the sandbox at ``cloud_url``; return it.

    With ``database_url`` (the ``database_url`` fixture) the bot keeps its records in that
    PostgreSQL database, with a data key file ``bot.key`` shared by every process started
    on this configuration (made once).
    """
    storage = 'path = "bot.db"'
    if database_url:
        key_file = folder / "bot.key"
        if not key_file.exists():
            key_file.write_text(generate_data_key() + "\n", encoding="ascii")
            key_file.chmod(0o600)
        storage = f'url = "{database_url}"\nkey_file = "bot.key"'
    config = folder / "bot.toml"
    config.write_text(
        f"""
[cloud]
default_region = "cn-hangzhou"
regions = ["cn-hangzhou"]
kms_endpoint = "{cloud_url}"
ecs_endpoint = "{cloud_url}"

[storage]
{storage}
{extra}
{policies}
""",
        encoding="utf-8",
    )
    return config


@dataclass(frozen=True)
class Stopped:
    """How the process ended: its exit code, how long after SIGTERM, what it printed."""

    returncode: int
    seconds: float
    stdout: str
    stderr: str


class ServeProcess:
    """A running ``ecs-secret-bot serve``; ``terminate()`` or ``kill()`` it."""

    def __init__(self, proc: asyncio.subprocess.Process, *, port: int, slack: FakeSlackAPI) -> None:
        self.proc = proc
        self.port = port
        self.slack = slack
        self.driver = SlackClientDriver(port, timeout=30)

    @classmethod
    async def start(
        cls,
        config: Path,
        *,
        slack: FakeSlackAPI,
        args: Sequence[str] = (),
        port: int | None = None,
        ready: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> ServeProcess:
        """Start serve with ``config`` (and ``args``, and ``env`` over the usual variables);
        wait until it answers /healthz."""
        port = port or free_port()
        extra = dict(env or {})
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("ALIBABA_CLOUD_", "SLACK_", "ECS_SECRET_BOT_"))
        }
        env.update(
            SLACK_BOT_TOKEN=ws.BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=slack.url,
            ECS_SECRET_BOT_CONFIG=str(config),
            ALIBABA_CLOUD_ACCESS_KEY_ID="sandbox",
            ALIBABA_CLOUD_ACCESS_KEY_SECRET="sandbox-secret",
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")])),
        )
        env.update(extra)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ecs_secret_bot.cli",
            "serve",
            "--port",
            str(port),
            *args,
            env=env,
            cwd=config.parent,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        serving = cls(proc, port=port, slack=slack)
        if ready:
            await serving.wait_healthy()
        return serving

    async def wait_healthy(self, *, host: str = "127.0.0.1", timeout: float = 30.0) -> None:
        """Wait until ``GET /healthz`` answers 200."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.proc.returncode is not None:
                    err = await self.proc.stderr.read() if self.proc.stderr else b""
                    raise AssertionError(f"serve exited early: {err.decode()}")
                try:
                    async with session.get(f"http://{host}:{self.port}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError("serve never answered /healthz")

    async def command(
        self, text: str, *, user: str = ws.ALICE_ID, channel: str = ws.INCIDENT_CHANNEL_ID
    ) -> DriverResponse:
        """Type ``/ecs-secret text`` as ``user`` in ``channel``."""
        body = slash_command_body(
            text,
            user_id=user,
            channel_id=channel,
            response_url=self.slack.response_url(channel_id=channel, user_id=user),
        )
        return await self.driver.post(body)

    async def click(
        self,
        action_id: str,
        *,
        value: str | None = None,
        user: str = ws.ALICE_ID,
        message: Message | None = None,
        view: Mapping[str, Any] | None = None,
        block_id: str = "actions",
    ) -> DriverResponse:
        """Click a button on a message or in a view."""
        channel = message.channel if message is not None else ws.INCIDENT_CHANNEL_ID
        body = block_actions_payload(
            action_id,
            value=value,
            user_id=user,
            message=message,
            view=view,
            block_id=block_id,
            channel_id=channel,
            response_url=self.slack.response_url(channel_id=channel, user_id=user),
        )
        return await self.driver.post(body)

    async def submit(
        self, view: Mapping[str, Any], values: Mapping[str, Any], *, user: str = ws.ALICE_ID
    ) -> DriverResponse:
        """Submit a modal as it was opened, with ``values`` as its state."""
        return await self.driver.post(
            view_submission_payload(view=view, values=values, user_id=user)
        )

    def modal(self) -> dict[str, Any]:
        """Return the modal opened last, as last updated."""
        views = self.slack.workspace.views
        ids = [view_id for view_id, view in views.items() if view.get("type") == "modal"]
        if not ids:
            raise AssertionError("no modal was opened")
        return self.slack.view(ids[-1])

    async def terminate(self, *, timeout: float = 60.0) -> Stopped:
        """Send SIGTERM; wait for the exit (kill it past ``timeout``); say how it went.

        Requests sent before and still in flight get their answers meanwhile."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            out, err = await asyncio.wait_for(self.proc.communicate(), timeout)
        except TimeoutError:
            self.proc.kill()
            out, err = await self.proc.communicate()
        seconds = time.monotonic() - started
        await self.driver.close()
        assert self.proc.returncode is not None
        return Stopped(self.proc.returncode, seconds, out.decode(), err.decode())

    async def kill(self) -> None:
        """End it with SIGKILL, as a crash would."""
        await self.driver.close()
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.communicate()
