"""Ack latency of ``/ecs-secret``: the bot beside a bare bolt ``AsyncApp`` that only acks.

Both serve HTTP on loopback in this run, each in a process of its own (the bot as
``ecs-secret-bot serve``, as in production); 500 signed slash commands go to each in
bursts of 50 (a mix of what SREs type: rotate, delete, list, help, whoami), the two apps
taking turns burst by burst, from a load process of their own. The bot's Web API calls
go to fake Slack in this process (``harness``), its cloud calls to the sandbox in
another. The bot acks first and does the rest after the ack, so its ack time should stay
near the bare app's. Prints p50, p99 and max for each and their ratios (targets: p99
ratio <= 1.2, p50 ratio <= 1.3); the last line is one JSON object.

Run from the repository root: ``python bench/ack_latency.py``.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import aiohttp  # noqa: E402
from fakes import SlackClientDriver, slash_command_body  # noqa: E402
from fakes import workspace as ws  # noqa: E402
from harness import SlackSide, start_bare, start_bot, start_cloud, stop  # noqa: E402

TOTAL = 500
CONCURRENCY = 50
WARM_UP = 25
SETTLE = 0.5
WARM_SETTLE = 3.0
MIX = (
    "rotate web-3-root",
    "help",
    "list web",
    "whoami",
    "delete web-4-ecs-user-key --days 10",
    "show web-3-root",
    "pending",
)


async def _batch(
    driver: SlackClientDriver, texts: list[str], out: list[float], side: tuple[str, str]
) -> int:
    """Send ``texts`` at once; append each ack time (ms); return how many failed."""
    mint_url, hooks = side
    async with aiohttp.ClientSession() as session:
        async with session.get(mint_url, params={"n": str(len(texts))}) as reply:
            triggers = await reply.json()

    async def one(number: int, text: str) -> bool:
        body = slash_command_body(
            text,
            user_id=ws.ALICE_ID,
            trigger_id=triggers[number],
            response_url=f"{hooks}{number}/{time.time_ns()}",
        )
        response = await driver.post(body)
        out.append(response.elapsed * 1000)
        return response.status == 200

    results = await asyncio.gather(*(one(n, t) for n, t in enumerate(texts)))
    return sum(1 for ok in results if not ok)


async def _load(
    bot_port: int, bare_port: int, side: tuple[str, str]
) -> tuple[list[float], list[float], int]:
    """Send the warm-up, then the measured bursts, one to the bare app, one to the bot, ...

    The two take turns, burst by burst, so that a machine whose load drifts over seconds
    (other work on it) weighs on both alike; each burst meets a quiet app (``SETTLE``
    after the one before): it measures acks, not the work the burst before left running.
    """
    bot_times: list[float] = []
    bare_times: list[float] = []
    errors = 0
    async with SlackClientDriver(bot_port) as bot, SlackClientDriver(bare_port) as bare:
        warm = [MIX[i % len(MIX)] for i in range(WARM_UP)]
        await _batch(bot, warm, [], side)
        await _batch(bare, warm, [], side)
        # what the warm-up started once for all (the SDK's clients of each region) ends
        await asyncio.sleep(WARM_SETTLE)
        for start in range(0, TOTAL, CONCURRENCY):
            texts = [MIX[(start + i) % len(MIX)] for i in range(CONCURRENCY)]
            for driver, times in ((bare, bare_times), (bot, bot_times)):
                await asyncio.sleep(SETTLE)
                errors += await _batch(driver, texts, times, side)
    return bot_times, bare_times, errors


def _client_process(
    bot_port: int, bare_port: int, side: tuple[str, str]
) -> tuple[list[float], list[float], int]:
    """Run the load in its own process, so neither Slack's side nor the bot shares its CPU."""
    return asyncio.run(_load(bot_port, bare_port, side))


def _figures(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered), p99, ordered[-1]


async def main() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        async with SlackSide().running() as slack:
            cloud, endpoints = await start_cloud()
            bot, bot_port = await start_bot(slack.api.url, endpoints, Path(tmp))
            bare, bare_port = await start_bare(slack.api.url)
            try:
                side = (slack.mint_url, slack.response_url(0).removesuffix("0/x"))
                loop = asyncio.get_running_loop()
                context = multiprocessing.get_context("spawn")
                with ProcessPoolExecutor(1, mp_context=context) as pool:
                    bot_times, bare_times, errors = await loop.run_in_executor(
                        pool, _client_process, bot_port, bare_port, side
                    )
            finally:
                for process in (bare, bot, cloud):
                    await stop(process)
    return _result(bot_times, bare_times, errors)


def _result(bot_times: list[float], bare_times: list[float], errors: int) -> dict[str, object]:
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
        "p50_ratio": round(bot_p50 / bare_p50, 3) if bare_p50 else None,
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
        f"p99 ratio {result['ratio']} (target <= 1.2), p50 ratio {result['p50_ratio']} "
        f"(target <= 1.3), errors {result['errors']}, {time.perf_counter() - started:.1f} s"
    )
    print(json.dumps(result))
