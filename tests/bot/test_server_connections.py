"""What one client may hold of ``serve``'s HTTP listener, from raw sockets on loopback.

The real server (``bot.server.run`` over the real app, fake Slack, the sandbox cloud and
SQLite) with small limits so that time-outs show in a second: a request head that never
ends, a body that never comes, idle keep-alive connections, more connections than the
bound, and a stop that none of them holds open. Times are generous bounds of "it ended at
all", never speed targets.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fakes import FakeSlackAPI, slash_command_body
from fakes import workspace as ws
from fakes.bot import wired_bot
from fakes.serve_process import free_port
from fakes.signing import SIGNING_SECRET, SlackClientDriver

from ecs_secret_bot.bot.server import Limits, ServeOptions, run
from ecs_secret_bot.bot.services import SlackSettings
from ecs_secret_bot.sandbox import Sandbox

LIMITS = Limits(header_timeout=0.5, body_timeout=0.5, max_connections=20)


def head() -> bytes:
    """Return the head of a Slack request announcing 100 bytes: its signature headers are
    well-formed and fresh (the server checks them before it waits for a body, and the
    signature itself once the body is in)."""
    return (
        "POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Length: 100\r\n"
        f"X-Slack-Request-Timestamp: {int(time.time())}\r\nX-Slack-Signature: v0={'0' * 64}"
        "\r\n\r\n"
    ).encode()


HEALTH = b"GET /healthz HTTP/1.1\r\nHost: bot\r\n\r\n"


@dataclass
class Served:
    port: int
    stop: asyncio.Event
    task: asyncio.Task[None]
    sandbox: Sandbox

    async def stopped(self) -> float:
        """Set stop; return how long ``run`` took to return."""
        started = time.monotonic()
        self.stop.set()
        await asyncio.wait_for(self.task, 30)
        return time.monotonic() - started


@asynccontextmanager
async def served(
    tmp_path: Path, slack: FakeSlackAPI, *, limits: Limits = LIMITS, grace: float = 5.0
) -> AsyncIterator[Served]:
    async with wired_bot(tmp_path, slack) as wired:
        settings = SlackSettings(
            bot_token=ws.BOT_TOKEN, signing_secret=SIGNING_SECRET, api_url=slack.url
        )
        port = free_port()
        options = ServeOptions(host="127.0.0.1", port=port, grace=grace, limits=limits)
        stop = asyncio.Event()
        task = asyncio.create_task(run(wired.services, settings, options, stop=stop, say=str))
        for _ in range(200):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.02)
        assert wired.sandbox is not None
        serving = Served(port, stop, task, wired.sandbox)
        try:
            yield serving
        finally:
            if not task.done():
                await serving.stopped()


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Read until the server closes the connection; fail if it is still open after that."""
    return await asyncio.wait_for(reader.read(), seconds)


async def closed_or_reset_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """As ``closed_within``, but a reset reads as closed (b""): a server that closes a socket
    before reading what the client sent makes the kernel answer with RST, not FIN, and under
    load the refusal's 503 may be lost to it. Still open after ``seconds`` still fails."""
    try:
        return await closed_within(reader, seconds)
    except ConnectionResetError:
        return b""


async def test_a_request_head_that_never_ends_is_closed(
    tmp_path: Path, slack_api: FakeSlackAPI
) -> None:
    async with served(tmp_path, slack_api) as server:
        reader, writer = await connect(server.port)
        writer.write(b"POST /slack/events HTTP/1.1\r\nHost: b")  # and nothing more
        assert await closed_within(reader, 5) == b""
        writer.close()


async def test_a_body_that_never_comes_is_answered_408(
    tmp_path: Path, slack_api: FakeSlackAPI
) -> None:
    async with served(tmp_path, slack_api) as server:
        reader, writer = await connect(server.port)
        writer.write(head() + b"payload=")  # 8 of the 100 bytes announced
        answer = await closed_within(reader, 5)
        assert answer.startswith(b"HTTP/1.1 408 ")
        writer.close()


async def test_an_idle_keep_alive_connection_is_closed(
    tmp_path: Path, slack_api: FakeSlackAPI
) -> None:
    async with served(tmp_path, slack_api) as server:
        reader, writer = await connect(server.port)
        writer.write(HEALTH)
        first = await asyncio.wait_for(reader.readuntil(b'{"ok": true}'), 5)
        assert first.startswith(b"HTTP/1.1 200 ")
        assert await closed_within(reader, 5) == b""  # idle past header_timeout
        writer.close()


async def test_past_the_bound_a_connection_is_answered_503_and_slow_ones_time_out(
    tmp_path: Path, slack_api: FakeSlackAPI
) -> None:
    limits = Limits(header_timeout=1.0, body_timeout=1.0, max_connections=20)
    async with served(tmp_path, slack_api, limits=limits) as server:
        slow = [await connect(server.port) for _ in range(20)]
        for _, writer in slow:
            writer.write(b"POST /slack/events HTTP/1.1\r\n")  # slowly, never finished
        await asyncio.sleep(0.2)
        reader, writer = await connect(server.port)
        busy = await closed_within(reader, 5)
        assert busy.startswith(b"HTTP/1.1 503 "), busy
        writer.close()
        # Each slow one is timed out, which frees its place.
        for reader, writer in slow:
            assert await closed_within(reader, 5) == b""
            writer.close()
        reader, writer = await connect(server.port)
        writer.write(HEALTH)
        assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"HTTP/1.1 200 ")
        writer.close()


async def test_three_hundred_slow_connections_are_all_timed_out(
    tmp_path: Path, slack_api: FakeSlackAPI
) -> None:
    limits = Limits(header_timeout=1.0, body_timeout=1.0, max_connections=256)
    async with served(tmp_path, slack_api, limits=limits) as server:
        slow = await asyncio.gather(*(connect(server.port) for _ in range(300)))
        try:
            for _, writer in slow:
                writer.write(b"GET /healthz HTTP/1.1\r\nHo")  # and never the rest
            # Each one is closed: timed out, or refused past the bound.
            answers = await asyncio.gather(
                *(closed_or_reset_within(reader, 20) for reader, _ in slow)
            )
            assert all(a == b"" or a.startswith(b"HTTP/1.1 503 ") for a in answers)
        finally:
            for _, writer in slow:
                writer.close()


async def test_no_client_holds_a_stop_open(tmp_path: Path, slack_api: FakeSlackAPI) -> None:
    # Generous time-outs: only the stop may end these connections.
    limits = Limits(header_timeout=60, body_timeout=60, max_connections=256)
    async with served(tmp_path, slack_api, limits=limits, grace=5.0) as server:
        stalled_reader, stalled = await connect(server.port)
        stalled.write(head())  # the head, then no body
        idle_reader, idle = await connect(server.port)
        idle.write(HEALTH)
        await asyncio.wait_for(idle_reader.readuntil(b'{"ok": true}'), 5)
        half_reader, half = await connect(server.port)
        half.write(b"POST /slack/events HT")
        await asyncio.sleep(0.2)

        took = await server.stopped()

        assert took < 4.0  # none of them waited for the 5 s grace period
        assert (await closed_within(stalled_reader, 1)).startswith(b"HTTP/1.1 503 ")
        assert await closed_within(idle_reader, 1) == b""
        assert await closed_within(half_reader, 1) == b""
        for writer in (stalled, idle, half):
            writer.close()


async def test_work_in_progress_is_finished_before_the_stop(
    tmp_path: Path, slack_api: FakeSlackAPI
) -> None:
    async with served(tmp_path, slack_api, grace=10.0) as server:
        server.sandbox.faults.add(action="DescribeSecret", kind="latency", latency=1.5)
        async with SlackClientDriver(server.port) as driver:
            body = slash_command_body(
                "show web-3-root",
                user_id=ws.ALICE_ID,
                response_url=slack_api.response_url(
                    channel_id=ws.INCIDENT_CHANNEL_ID, user_id=ws.ALICE_ID
                ),
            )
            assert (await driver.post(body)).status == 200  # acked; the answer comes later
        took = await server.stopped()
        (answer,) = slack_api.calls_to("response_url")
        assert "web-3-root" in str(answer.payload)
        assert took < 10.0


async def test_work_past_the_grace_period_is_cut_short(
    tmp_path: Path, slack_api: FakeSlackAPI
) -> None:
    async with served(tmp_path, slack_api, grace=1.0) as server:
        server.sandbox.faults.add(action="DescribeSecret", kind="latency", latency=6)
        async with SlackClientDriver(server.port) as driver:
            body = slash_command_body("show web-3-root", user_id=ws.ALICE_ID)
            assert (await driver.post(body)).status == 200
        took = await server.stopped()
        assert took < 4.5  # 1 s of grace, then cancelled: not the 6 s the cloud takes
