"""Ack latency of ``/ecs-secret``: the bot beside a bare bolt ``AsyncApp`` that only acks.

Both serve HTTP on loopback in this run; 500 signed slash commands go to each, 50 at a
time (a mix of what SREs type: rotate, delete, list, help, whoami), with the bot's Web API
calls going to a loopback fake Slack and its cloud calls to the in-process sandbox. The
bot acks first and does the rest after the ack, so its ack time should stay near the bare
app's. Prints p50, p99 and max for each and the p99 ratio (target: p99 < 150 ms, ratio <=
1.5); the last line is one JSON object.

Run from the repository root: ``python bench/ack_latency.py``.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import socket
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from aiohttp import web  # noqa: E402
from fakes import FakeSlackAPI, SlackClientDriver, slash_command_body  # noqa: E402
from fakes import workspace as ws  # noqa: E402
from fakes.bot import serve_web_app, wired_bot  # noqa: E402
from fakes.signing import SIGNING_SECRET  # noqa: E402
from slack_bolt.async_app import AsyncAck, AsyncApp  # noqa: E402
from slack_sdk.web.async_client import AsyncWebClient  # noqa: E402

TOTAL = 500
CONCURRENCY = 50
WARM_UP = 25
MIX = (
    "rotate web-3-root",
    "help",
    "list web",
    "whoami",
    "delete web-4-ecs-user-key --days 10",
    "show web-3-root",
    "pending",
)


def bare_app(slack_url: str) -> AsyncApp:
    """Return a bolt app that only acks ``/ecs-secret``: the reference."""
    app = AsyncApp(
        client=AsyncWebClient(token=ws.BOT_TOKEN, base_url=slack_url),
        signing_secret=SIGNING_SECRET,
    )

    @app.command("/ecs-secret")
    async def only_ack(ack: AsyncAck) -> None:
        await ack()

    return app


async def _serve_bolt(app: AsyncApp) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app.web_app(path="/slack/events"), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, int(runner.addresses[0][1])


async def _batch(driver: SlackClientDriver, texts: list[str], out: list[float], hooks: str) -> int:
    """Send ``texts`` at once; append each ack time (ms); return how many failed."""

    async def one(number: int, text: str) -> bool:
        body = slash_command_body(
            text, user_id=ws.ALICE_ID, response_url=f"{hooks}{number}/{time.time_ns()}"
        )
        response = await driver.post(body)
        out.append(response.elapsed * 1000)
        return response.status == 200

    results = await asyncio.gather(*(one(n, t) for n, t in enumerate(texts)))
    return sum(1 for ok in results if not ok)


async def _load(bot_port: int, bare_port: int, hooks: str) -> tuple[list[float], list[float], int]:
    """Send the warm-up, then the measured batches: all to the bare app, then to the bot."""
    bot_times: list[float] = []
    bare_times: list[float] = []
    errors = 0
    async with SlackClientDriver(bot_port) as bot, SlackClientDriver(bare_port) as bare:
        warm = [MIX[i % len(MIX)] for i in range(WARM_UP)]
        await _batch(bot, warm, [], hooks)
        await _batch(bare, warm, [], hooks)
        # the reference first: the bot's after-ack work must not slow the bare app down
        for driver, times in ((bare, bare_times), (bot, bot_times)):
            for start in range(0, TOTAL, CONCURRENCY):
                texts = [MIX[(start + i) % len(MIX)] for i in range(CONCURRENCY)]
                errors += await _batch(driver, texts, times, hooks)
    return bot_times, bare_times, errors


def _client_process(
    bot_port: int, bare_port: int, hooks: str
) -> tuple[list[float], list[float], int]:
    """Run the load in its own process, so Slack's side does not share the bot's CPU."""
    return asyncio.run(_load(bot_port, bare_port, hooks))


def _figures(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered), p99, ordered[-1]


def _free_ports() -> int:
    """Return a port that is free, and so is the next one (the sandbox's two regions)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port


async def _start_cloud() -> tuple[asyncio.subprocess.Process, dict[str, str]]:
    """Run the sandbox cloud in its own process, as the real cloud is elsewhere: one
    endpoint per region, as Alibaba Cloud routes calls by endpoint."""
    port = _free_ports()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ecs_secret_bot.cli",
        "sandbox",
        "--port",
        str(port),
        "--region",
        "cn-hangzhou",
        "--region",
        "cn-shanghai",
        "--rotation-delay",
        "0.5",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=ROOT,
    )
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port + 1)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return process, {
            "cn-hangzhou": f"http://127.0.0.1:{port}",
            "cn-shanghai": f"http://127.0.0.1:{port + 1}",
        }
    process.kill()
    raise RuntimeError("the sandbox did not start")


async def main() -> dict[str, object]:
    cloud, endpoints = await _start_cloud()
    try:
        return await _measure(endpoints)
    finally:
        cloud.terminate()
        await cloud.wait()


async def _measure(endpoints: dict[str, str]) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeSlackAPI() as slack:
            async with wired_bot(Path(tmp), slack, cloud_endpoints=endpoints) as wired:
                reference, bare_port = await _serve_bolt(bare_app(slack.url))
                try:
                    async with serve_web_app(wired.app, signing_secret=SIGNING_SECRET) as port:
                        hooks = f"http://127.0.0.1:{slack.port}/hooks/commands/{ws.TEAM_ID}/"
                        loop = asyncio.get_running_loop()
                        context = multiprocessing.get_context("spawn")
                        with ProcessPoolExecutor(1, mp_context=context) as pool:
                            bot_times, bare_times, errors = await loop.run_in_executor(
                                pool, _client_process, port, bare_port, hooks
                            )
                        await wired.services.tasks.drain(20.0)
                finally:
                    await reference.cleanup()
    bot_p50, bot_p99, bot_max = _figures(bot_times)
    bare_p50, bare_p99, bare_max = _figures(bare_times)
    return {
        "bench": "ack_latency",
        "requests": TOTAL,
        "concurrency": CONCURRENCY,
        "bot_p50_ms": round(bot_p50, 2),
        "bot_p99_ms": round(bot_p99, 2),
        "bot_max_ms": round(bot_max, 2),
        "bare_p50_ms": round(bare_p50, 2),
        "bare_p99_ms": round(bare_p99, 2),
        "bare_max_ms": round(bare_max, 2),
        "errors": errors,
        "ratio": round(bot_p99 / bare_p99, 3) if bare_p99 else None,
    }


if __name__ == "__main__":
    started = time.perf_counter()
    result = asyncio.run(main())
    print(
        f"bot : p50 {result['bot_p50_ms']} ms, p99 {result['bot_p99_ms']} ms, "
        f"max {result['bot_max_ms']} ms"
    )
    print(
        f"bare: p50 {result['bare_p50_ms']} ms, p99 {result['bare_p99_ms']} ms, "
        f"max {result['bare_max_ms']} ms"
    )
    print(
        f"p99 ratio {result['ratio']} (target <= 1.5; bot p99 target < 150 ms), "
        f"errors {result['errors']}, {time.perf_counter() - started:.1f} s"
    )
    print(json.dumps(result))
