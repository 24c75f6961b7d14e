"""Transcripts across a stop: ``ecs-secret-bot serve`` gets SIGTERM mid-work, then starts again.

The bot runs as a process of its own (``fakes.serve_process``) against a sandbox cloud that
outlives it, so the second start meets the cloud the first one left. Each test reads like
an operator's evening: requests in flight, SIGTERM from the orchestrator, exit 0 within the
grace period, and what the next start makes of what was left. Times are generous bounds of
"it ended within the grace period", never speed targets.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeSlackAPI
from fakes import workspace as ws
from fakes.bot import SEC, SRE, bot_policies
from fakes.replicas import ask_to_delete, ask_to_rotate, button_value, card, delete_values
from fakes.serve_process import ServeProcess, free_port, serve_config

from ecs_secret_bot.bot.ids import Action
from ecs_secret_bot.config import load_settings
from ecs_secret_bot.runtime import open_storage
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.storage import leases, pending

GRACE = 2.0
MARGIN = 6.0
"""Seconds past the grace period a loaded test machine may need to exit (not a target)."""


@pytest.fixture
async def cloud() -> AsyncIterator[Sandbox]:
    """A seeded sandbox whose rotations take 4 s, running beside (not inside) the bot."""
    sandbox = Sandbox(seed=True, rotation_delay=4.0)
    await sandbox.start(port=0, grace=0.5)
    try:
        yield sandbox
    finally:
        await sandbox.stop()


@pytest.fixture
def config(tmp_path: Path, cloud: Sandbox, slack_api: FakeSlackAPI) -> Path:
    slack_api.set_usergroup(SRE, [ws.ALICE_ID], handle="sre")
    slack_api.set_usergroup(SEC, [ws.ADMIN_ID], handle="security")
    return serve_config(
        tmp_path,
        cloud_url=cloud.url,
        policies=bot_policies(),
        extra='[rotation]\nfollow_up_timeout = "1m"\n',
    )


def deletion_status(db: Path, name: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT status FROM pending_deletions WHERE secret_name = ? ORDER BY id",
            (f"acs/ecs/{name}",),
        ).fetchall()
    return [row[0] for row in rows]


async def until(check: Any, *, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "waited in vain"
        await asyncio.sleep(0.05)


async def test_sigterm_with_clients_holding_connections_exits_within_the_grace_period(
    config: Path, slack_api: FakeSlackAPI
) -> None:
    bot = await ServeProcess.start(config, slack=slack_api, args=["--grace", str(GRACE)])
    stalled_reader, stalled = await asyncio.open_connection("127.0.0.1", bot.port)
    stalled.write(
        b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Length: 100\r\n"
        + f"X-Slack-Request-Timestamp: {int(time.time())}\r\n".encode()
        + b"X-Slack-Signature: v0="
        + b"0" * 64
        + b"\r\n\r\n"  # well-formed; no body yet
    )
    idle_reader, idle = await asyncio.open_connection("127.0.0.1", bot.port)
    idle.write(b"GET /healthz HTTP/1.1\r\nHost: bot\r\n\r\n")
    await asyncio.wait_for(idle_reader.readuntil(b'{"ok": true}'), 5)
    slow = [await asyncio.open_connection("127.0.0.1", bot.port) for _ in range(50)]
    for _, writer in slow:
        writer.write(b"POST /slack/events HTTP/1.1\r\nHo")
    await asyncio.sleep(0.3)
    try:
        stopped = await bot.terminate(timeout=GRACE + 30)
    finally:
        for writer in [stalled, idle, *(w for _, w in slow)]:
            writer.close()
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.seconds < GRACE + MARGIN
    assert "stopped cleanly" in stopped.stdout
    assert "Traceback" not in stopped.stderr
    assert (await stalled_reader.read()).startswith(b"HTTP/1.1 503 ")


async def test_serve_listens_where_host_says(config: Path, slack_api: FakeSlackAPI) -> None:
    bot = await ServeProcess.start(
        config, slack=slack_api, args=["--host", "127.0.0.2"], ready=False
    )
    try:
        await bot.wait_healthy(host="127.0.0.2")
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", bot.port)
    finally:
        stopped = await bot.terminate()
    assert stopped.returncode == 0, stopped.stderr
    assert f"on 127.0.0.2:{bot.port}" in stopped.stdout


async def test_sigterm_mid_rotation_deletion_and_approval_then_the_next_start(
    config: Path, cloud: Sandbox, slack_api: FakeSlackAPI
) -> None:
    db = config.parent / "bot.db"
    port = free_port()
    first = await ServeProcess.start(
        config, slack=slack_api, port=port, args=["--grace", str(GRACE)]
    )
    try:
        # An immediate deletion waits for the security team's approval.
        await ask_to_delete(
            first, "delete batch-7-root --now", delete_values("now", name="batch-7-root")
        )
        await slack_api.wait_for(
            "chat.postMessage", lambda c: "Approval request" in c.payload.get("text", "")
        )
        # A rotation is triggered; the instance takes 4 s, the bot follows it.
        await ask_to_rotate(first, "web-3-root")
        await slack_api.wait_for(
            "chat.postMessage",
            lambda c: "Rotation triggered" in c.payload.get("text", ""),
            timeout=15,
        )
        # A scheduled deletion is in flight: KMS takes 6 s to answer, longer than the grace.
        cloud.faults.add(action="DeleteSecret", kind="latency", latency=6.0, times=1)
        await ask_to_delete(
            first, "delete web-4-ecs-user-key --days 10", delete_values("schedule", days="10")
        )
        await until(lambda: cloud.calls.total("DeleteSecret") == 1)
    except BaseException:
        await first.kill()
        raise

    stopped = await first.terminate(timeout=GRACE + 30)

    assert stopped.returncode == 0, stopped.stderr
    assert stopped.seconds < GRACE + MARGIN  # neither the follow-up nor the call held it
    assert "stopped cleanly" in stopped.stdout
    assert not slack_api.calls_to("chat.update")  # the rotation is not over yet
    assert deletion_status(db, "web-4-ecs-user-key") == ["unknown"]  # the call was cut
    assert deletion_status(db, "batch-7-root") == []  # still waiting for approval
    # KMS carried the deletion out all the same, after the bot had gone.
    await until(lambda: cloud.kms.find("cn-hangzhou", "acs/ecs/web-4-ecs-user-key").planned_delete)

    second = await ServeProcess.start(config, slack=slack_api, port=port)
    try:
        # The deletion cut short is settled at start, by what KMS says.
        assert deletion_status(db, "web-4-ecs-user-key") == ["pending"]
        # The rotation is followed to its end, and its message says so.
        await slack_api.wait_for(
            "chat.update", lambda c: "Rotation completed" in c.payload.get("text", ""), timeout=20
        )
        (message,) = [m for m in slack_api.messages(ws.INCIDENT_CHANNEL_ID) if "Rotation" in m.text]
        assert message.text.startswith("Rotation completed")  # the first message, edited
        # The approval survived: the security admin approves, and it runs.
        request = card(slack_api)
        await second.click(
            Action.APPROVE,
            value=button_value(request, Action.APPROVE),
            message=request,
            user=ws.ADMIN_ID,
        )
        await slack_api.wait_for(
            "chat.postMessage",
            lambda c: "deleted immediately" in c.payload.get("text", ""),
            timeout=15,
        )
        assert cloud.kms.find("cn-hangzhou", "acs/ecs/batch-7-root") is None
    finally:
        again = await second.terminate()
    assert again.returncode == 0, again.stderr


async def test_the_next_start_settles_deletions_a_crash_left_before_any_lease(
    config: Path, cloud: Sandbox, slack_api: FakeSlackAPI
) -> None:
    # What a kill -9 between the intent and the answer leaves: two `unknown` intents (one
    # whose call never left, one that KMS carried out) and the duties' lease, still held.
    now = datetime.now(UTC)
    cloud.delete_out_of_band(
        "cn-hangzhou", "acs/ecs/web-4-ecs-user-key", planned=now + timedelta(days=10)
    )
    settings = load_settings(config)
    db = await open_storage(settings)
    try:
        for name in ("acs/ecs/web-3-root", "acs/ecs/web-4-ecs-user-key"):
            await pending.record_pending(
                db,
                region="cn-hangzhou",
                secret_name=name,
                scheduled_by=f"slack:user:{ws.ALICE_ID}",
                channel_id=ws.INCIDENT_CHANNEL_ID,
                planned_delete_time=now + timedelta(days=10),
                now=now,
                status="unknown",
            )
        assert await leases.acquire_lease(
            db, "duties", owner="killed-host:4242", now=now, ttl=timedelta(minutes=5)
        )
    finally:
        await db.close()

    bot = await ServeProcess.start(config, slack=slack_api)
    try:
        path = settings.storage.path
        assert deletion_status(path, "web-3-root") == []  # never happened: dropped
        assert deletion_status(path, "web-4-ecs-user-key") == ["pending"]  # KMS has it
        with sqlite3.connect(path) as conn:
            (owner,) = conn.execute("SELECT owner FROM leases WHERE name = 'duties'").fetchone()
        assert owner == "killed-host:4242"  # the duties could not have done it
    finally:
        stopped = await bot.terminate()
    assert stopped.returncode == 0, stopped.stderr
