"""What the Slack benchmarks run the bot beside, each in a process of its own.

A benchmark's own process plays Slack (``SlackSide``: fake Slack's Web API and
``response_url``s, and a route that mints trigger ids, since fake Slack only honours
those minted in its own process, as Slack only honours its own). The bot runs as in
production, ``ecs-secret-bot serve`` in a process of its own (``start_bot``; under
cProfile when ``BENCH_PROFILE`` names the file to write), with
its cloud calls going to ``ecs-secret-bot sandbox`` in another (``start_cloud``, with an
optional latency on every call); the reference, a bare bolt app, in a third
(``start_bare``). Each process owns its CPU share, as the real Slack and the real cloud
are elsewhere.

Run as a script it serves the bare app: ``python bench/harness.py bare PORT SLACK_URL
[--open-modal]`` (ack ``/ecs-secret``; with ``--open-modal`` then open a fixed modal).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from fakes import FakeSlackAPI  # noqa: E402
from fakes import workspace as ws  # noqa: E402
from fakes.bot import SEC, SRE, bot_policies  # noqa: E402
from fakes.signing import SIGNING_SECRET  # noqa: E402
from fakes.triggers import TRIGGERS  # noqa: E402

__all__ = ["SlackSide", "free_port", "start_bare", "start_bot", "start_cloud", "stop"]

Process = asyncio.subprocess.Process


REGIONS = ("cn-hangzhou", "cn-shanghai")


def free_port(count: int = 1) -> int:
    """Return a TCP port free on 127.0.0.1 right now, and so are the ``count - 1`` after it."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        try:
            for after in range(1, count):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port + after))
        except OSError:
            continue
        return port


async def _wait_listening(port: int, process: Process, what: str, *, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return
    process.kill()
    raise RuntimeError(f"{what} did not start")


async def stop(process: Process, *, grace: float = 10) -> None:
    """Ask ``process`` to stop (SIGTERM), and kill it after ``grace`` seconds."""
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), grace)
    except TimeoutError:
        process.kill()
        await process.wait()


async def start_cloud(*, latency: float = 0.0) -> tuple[Process, dict[str, str]]:
    """Run the sandbox cloud, each region on its own port as Alibaba Cloud routes calls;
    return the endpoint of each region. With ``latency``, every KMS/ECS call takes that long."""
    port = free_port(len(REGIONS))
    regions = [arg for region in REGIONS for arg in ("--region", region)]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "ecs_secret_bot.cli", "sandbox", "--port", str(port), *regions),
        *("--rotation-delay", "0.5"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=ROOT,
    )
    await _wait_listening(port + len(REGIONS) - 1, process, "the sandbox")
    endpoints = {region: f"http://127.0.0.1:{port + n}" for n, region in enumerate(REGIONS)}
    if latency:  # one world behind every region's port: its faults apply to them all
        async with aiohttp.ClientSession() as session:
            fault = {"action": "*", "kind": "latency", "latency": latency}
            control = f"{endpoints[REGIONS[0]]}/_sandbox/faults"
            async with session.post(control, json=fault) as reply:
                reply.raise_for_status()
    return process, endpoints


async def start_bot(slack_url: str, endpoints: dict[str, str], folder: Path) -> tuple[Process, int]:
    """Run ``ecs-secret-bot serve`` on a free port, its cloud the sandbox at ``endpoints``."""
    routes = "\n".join(
        f'region_defaults.{region}.{service}_endpoint = "{endpoints[region]}"'
        for region in REGIONS
        for service in ("kms", "ecs")
    )
    config = folder / "bot.toml"
    config.write_text(
        f"""
[cloud]
default_region = "cn-hangzhou"
regions = {list(REGIONS)!r}
{routes}
sts_endpoint = "{endpoints[REGIONS[0]]}"

[storage]
path = "bot.db"

[rotation]
follow_up_timeout = "1m"
{bot_policies()}
""",
        encoding="utf-8",
    )
    port = free_port()
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": ws.BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_url,
        "ECS_SECRET_BOT_CONFIG": str(config),
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "sandbox",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "sandbox-secret",
    }
    env.pop("SLACK_APP_TOKEN", None)
    # BENCH_PROFILE=out.prof: the bot runs under cProfile, its figures written at its exit
    profile = os.environ.get("BENCH_PROFILE")
    profiler = ("-m", "cProfile", "-o", str(Path(profile).resolve())) if profile else ()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *profiler,
        *("-m", "ecs_secret_bot.cli", "serve", "--port", str(port)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=folder,
        env=env,
    )
    await _wait_listening(port, process, "the bot")
    return process, port


async def start_bare(slack_url: str, *, open_modal: bool = False) -> tuple[Process, int]:
    """Run the bare bolt app (the reference) on a free port."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        *("bare", str(port), slack_url, *(["--open-modal"] if open_modal else [])),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=ROOT,
    )
    await _wait_listening(port, process, "the bare app")
    return process, port


class SlackSide:
    """Fake Slack in this process, and a route that mints trigger ids for other processes."""

    def __init__(self) -> None:
        self.api = FakeSlackAPI()
        self._runner: web.AppRunner | None = None
        self.mint_url = ""

    @asynccontextmanager
    async def running(self) -> AsyncIterator[SlackSide]:
        """Serve fake Slack (with the bot tests' user groups) and the mint route."""
        async with self.api:
            # a benchmark sends in seconds what Slack allows in minutes (views.open: 100+
            # a minute): its figures are about the bot, not about Slack's rate limits
            self.api.rate_limiter.enabled = False
            self.api.set_usergroup(SRE, [ws.ALICE_ID], handle="sre")
            self.api.set_usergroup(SEC, [ws.ADMIN_ID], handle="security")
            app = web.Application()
            app.router.add_get("/triggers", self._mint)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.mint_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/triggers"
            try:
                yield self
            finally:
                await self._runner.cleanup()

    def response_url(self, number: int) -> str:
        """Return a ``response_url`` fake Slack accepts."""
        return f"{self.api.url.removesuffix('/api/')}/hooks/commands/{ws.TEAM_ID}/{number}/x"

    async def _mint(self, request: web.Request) -> web.Response:
        count = min(int(request.query.get("n", "1")), 500)
        user = request.query.get("user", ws.ALICE_ID)
        return web.json_response([TRIGGERS.mint(user_id=user) for _ in range(count)])


def _serve_bare(port: int, slack_url: str, *, open_modal: bool) -> None:
    """Serve a bolt app that only acks ``/ecs-secret`` (and opens a fixed modal)."""
    from slack_bolt.async_app import AsyncAck, AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    client = AsyncWebClient(token=ws.BOT_TOKEN, base_url=slack_url)
    app = AsyncApp(client=client, signing_secret=SIGNING_SECRET)
    modal = {
        "type": "modal",
        "callback_id": "bare",
        "title": {"type": "plain_text", "text": "Bare"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hello"}}],
    }

    @app.command("/ecs-secret")
    async def only_ack(ack: AsyncAck, body: dict[str, str]) -> None:
        await ack()
        if open_modal:
            await client.views_open(trigger_id=body["trigger_id"], view=modal)

    app.start(port=port, path="/slack/events")


if __name__ == "__main__" and sys.argv[1:2] == ["bare"]:
    _serve_bare(int(sys.argv[2]), sys.argv[3], open_modal="--open-modal" in sys.argv)
