"""The ack path's own machinery: acks first, a gate a slow cloud cannot hold, a lean parse."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from slack_bolt.response import BoltResponse

from ecs_secret_bot.bot.directory import TTLCache
from ecs_secret_bot.bot.middleware import CountedAck
from ecs_secret_bot.bot.parse import UsageError, parse_command
from ecs_secret_bot.bot.services import BackgroundTasks


def parsed(text: str) -> object:
    try:
        return parse_command(text)
    except UsageError as exc:
        return exc.user_message


@pytest.mark.parametrize("seed", range(4))
def test_commands_without_quotes_parse_as_through_shlex(seed: int) -> None:
    # '' before the subcommand changes nothing to shlex, but takes parse_command its long way
    chars = "ab-=_./:*?# \t\r\n0\u2003\x0b"
    pick = random.Random(seed)
    for _ in range(500):
        words = "".join(pick.choice(chars) for _ in range(pick.randint(0, 30)))
        for sub in ("list ", "rotate ", "delete web-3 --days ", "audit "):
            assert parsed(sub + words) == parsed("''" + sub + words), repr(sub + words)


async def test_work_after_an_ack_waits_for_the_acks_in_flight() -> None:
    tasks = BackgroundTasks()
    acked = tasks.acking()
    started = time.monotonic()

    later = asyncio.ensure_future(tasks.after_acks(at_most=2.0))
    await asyncio.sleep(0.1)
    assert not later.done()
    acked()
    acked()  # once only
    await asyncio.wait_for(later, 1.0)

    assert 0.1 <= time.monotonic() - started < 1.0
    await tasks.after_acks(at_most=2.0)  # nothing in flight: no wait


async def test_work_after_an_ack_waits_a_bounded_time_under_a_steady_stream() -> None:
    tasks = BackgroundTasks()
    tasks.acking()  # never acked
    started = time.monotonic()

    await tasks.after_acks(at_most=0.2)

    assert 0.2 <= time.monotonic() - started < 1.0


async def test_slow_cloud_work_gives_its_place_in_the_gate() -> None:
    tasks = BackgroundTasks(limit=2, hold=0.1)
    started: list[float] = []
    t0 = time.monotonic()

    async def slow() -> None:
        started.append(time.monotonic() - t0)
        await asyncio.sleep(2.0)

    for _ in range(6):
        tasks.spawn(slow(), gated=True)
    await asyncio.sleep(0.6)

    assert len(started) == 6 and max(started) < 0.5
    assert await tasks.drain(0.01) == 6


async def test_a_ttl_cache_keeps_at_most_its_limit() -> None:
    cache: TTLCache[int, int] = TTLCache(60.0, limit=3)

    async def value_of(n: int) -> int:
        return n * n

    for n in range(5):
        assert await cache.get(n, lambda n=n: value_of(n)) == n * n

    assert [n for n in range(5) if cache.fresh(n)] == [2, 3, 4]


async def test_a_request_stops_counting_once_bolt_has_its_response() -> None:
    tasks = BackgroundTasks()
    acked, failed = CountedAck(tasks.acking()), CountedAck(tasks.acking())

    await acked(text="hello")  # a listener's ack
    failed.response = BoltResponse(status=200, body="")  # bolt's error handler, no ack()
    started = time.monotonic()
    await tasks.after_acks(at_most=2.0)

    assert acked.response is not None and acked.response.body == "hello"
    assert time.monotonic() - started < 0.5  # one runner poll after the responses
