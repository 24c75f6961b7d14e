"""Modal open latency of ``/ecs-secret`` while the cloud is slow: the bot beside a bare app.

Every KMS and ECS call of the sandbox takes 2 seconds (its latency fault). 50 slash
commands that open a modal (rotate, whose modal fills in once the secret is described,
delete and create) go to the bot, 10 at a time, each burst as soon as the one before has
its modals; the same to a bare bolt app that acks and opens a fixed modal, the two taking
turns burst by burst. Each app serves HTTP in a process of its own (the bot as
``ecs-secret-bot serve``), the sandbox in another; this process plays Slack (``harness``):
it mints each ``trigger_id`` right before its command and notes when ``views.open`` comes
with it, refusing it past 3 seconds as Slack does.

Prints ``open_p50_ms``, ``open_p99_ms`` (command sent to ``views.open`` received) and
``expired_triggers`` for the bot (targets: p99 < 1,000 ms, 0 expired), how many rotate
modals then filled in (all of them, once their secret is described), the same figures for
the bare app, and the p99 ratio; the last line is one JSON object.

Run from the repository root: ``python bench/modal_open.py``.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from fakes import SlackClientDriver, slash_command_body  # noqa: E402
from fakes import workspace as ws  # noqa: E402
from fakes.triggers import TRIGGERS  # noqa: E402
from harness import SlackSide, start_bare, start_bot, start_cloud, stop  # noqa: E402

TOTAL = 50
CONCURRENCY = 10
LATENCY = 2.0
WARM_UP = 3
MIX = (
    "rotate web-3-root",
    "delete win-app-1-admin --days 10",
    "rotate web-4-ecs-user-key",
    "create",
    "rotate batch-7-root",
)
ROTATE = "ecs_rotate"
ROTATES = sum(1 for n in range(TOTAL) if MIX[n % len(MIX)].startswith("rotate"))
WARM_UP_ROTATES = sum(1 for text in MIX[:WARM_UP] if text.startswith("rotate"))


class Opens:
    """The open latencies of one app's commands, and how many triggers expired."""

    def __init__(self) -> None:
        self.ms: list[float] = []
        self.expired = 0
        self.errors = 0


async def _burst(slack: SlackSide, driver: SlackClientDriver, texts: list[str], out: Opens) -> None:
    """Send ``texts`` at once; note when each one's ``views.open`` arrives."""

    async def one(number: int, text: str) -> None:
        trigger_id = TRIGGERS.mint(user_id=ws.ALICE_ID)
        hook = slack.response_url(number)
        body = slash_command_body(text, trigger_id=trigger_id, response_url=hook)
        sent = time.monotonic()
        response = await driver.post(body)
        if response.status != 200:
            out.errors += 1
        try:
            await slack.api.wait_for(
                "views.open", lambda c: c.payload.get("trigger_id") == trigger_id, timeout=5
            )
        except AssertionError:  # never came
            out.expired += 1
            return
        out.ms.append((time.monotonic() - sent) * 1000)
        trigger = TRIGGERS.get(trigger_id)
        if trigger is None or not trigger.exchanged:
            out.expired += 1

    await asyncio.gather(*(one(number, text) for number, text in enumerate(texts)))


async def _load(slack: SlackSide, bot_port: int, bare_port: int) -> tuple[Opens, Opens]:
    bot, bare = Opens(), Opens()
    async with SlackClientDriver(bot_port) as to_bot, SlackClientDriver(bare_port) as to_bare:
        await _burst(slack, to_bot, list(MIX[:WARM_UP]), Opens())
        await _burst(slack, to_bare, list(MIX[:WARM_UP]), Opens())
        for start in range(0, TOTAL, CONCURRENCY):
            texts = [MIX[(start + i) % len(MIX)] for i in range(CONCURRENCY)]
            await _burst(slack, to_bare, texts, bare)
            await _burst(slack, to_bot, texts, bot)
    return bot, bare


async def _filled(slack: SlackSide, expected: int, *, within: float) -> int:
    """Wait for the rotate modals to fill in (a sanity check); return how many did."""

    def count() -> int:
        updates = slack.api.calls_to("views.update")
        return sum(1 for c in updates if c.payload.get("view", {}).get("callback_id") == ROTATE)

    deadline = time.monotonic() + within
    while count() < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    return count()


def _percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples) or [float("nan")]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered), p99, ordered[-1]


async def main() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        async with SlackSide().running() as slack:
            cloud, endpoints = await start_cloud(latency=LATENCY)
            processes = [cloud]
            try:
                bot_process, bot_port = await start_bot(slack.api.url, endpoints, Path(tmp))
                processes.append(bot_process)
                bare_process, bare_port = await start_bare(slack.api.url, open_modal=True)
                processes.append(bare_process)
                bot, bare = await _load(slack, bot_port, bare_port)
                filled = await _filled(slack, ROTATES + WARM_UP_ROTATES, within=10 * LATENCY)
            finally:
                for process in reversed(processes):
                    await stop(process, grace=5)
    p50, p99, worst = _percentiles(bot.ms)
    bare_p50, bare_p99, bare_worst = _percentiles(bare.ms)
    return {
        "bench": "modal_open",
        "commands": TOTAL,
        "concurrency": CONCURRENCY,
        "cloud_latency_s": LATENCY,
        "open_p50_ms": round(p50, 1),
        "open_p99_ms": round(p99, 1),
        "open_max_ms": round(worst, 1),
        "expired_triggers": bot.expired,
        "rotate_modals_filled": filled,
        "bare_open_p50_ms": round(bare_p50, 1),
        "bare_open_p99_ms": round(bare_p99, 1),
        "bare_expired_triggers": bare.expired,
        "errors": bot.errors + bare.errors,
        "ratio": round(p99 / bare_p99, 3) if bare_p99 else None,
    }


if __name__ == "__main__":
    started = time.perf_counter()
    result = asyncio.run(main())
    print(
        f"bot : open p50 {result['open_p50_ms']} ms, p99 {result['open_p99_ms']} ms, "
        f"max {result['open_max_ms']} ms, expired triggers {result['expired_triggers']}, "
        f"rotate modals filled {result['rotate_modals_filled']} of {ROTATES + WARM_UP_ROTATES}"
    )
    print(
        f"bare: open p50 {result['bare_open_p50_ms']} ms, p99 {result['bare_open_p99_ms']} ms, "
        f"expired triggers {result['bare_expired_triggers']}"
    )
    print(
        f"p99 ratio {result['ratio']} (targets: bot p99 < 1000 ms, 0 expired), "
        f"errors {result['errors']}, {time.perf_counter() - started:.1f} s"
    )
    print(json.dumps(result))
