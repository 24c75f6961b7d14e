"""Three replicas on one database: requests spread over them, a replica killed, the rest go on.

Three real ``ecs-secret-bot serve`` processes (``fakes.replicas``) share one database (an
SQLite file, or a throwaway PostgreSQL: every test runs on both engines), one
fake Slack and one sandbox cloud (which outlives them); requests go to them in turn, as a load
balancer would send them. The duties run on one of them at a time, under a lease of 3 s
(``[duties] lease_ttl``) renewed every second (``interval``), so a failover takes seconds.
Each test reads like an incident: clicks racing, the duty holder killed (SIGKILL: no goodbye,
no lease given back), a rotation whose replica dies while following it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fakes import FakeSlackAPI
from fakes import workspace as ws
from fakes.bot import SEC, SRE, bot_policies
from fakes.replicas import (
    Replicas,
    ask_to_delete,
    ask_to_rotate,
    button_value,
    card,
    delete_values,
)
from fakes.serve_process import serve_config

from ecs_secret_bot.bot.ids import Action
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.storage import rotations

INTERVAL, TTL = 1.0, 3.0
DUTIES = f'[duties]\ninterval = "{INTERVAL:g}s"\nlease_ttl = "{TTL:g}s"\n'
REMINDERS = '[reminders]\nbefore = ["8d"]\n'  # a deletion in 7 days is reminded of at once
MARGIN = 4.0
"""Seconds a loaded test machine may add to a failover (not a target)."""


@pytest.fixture
async def cloud() -> AsyncIterator[Sandbox]:
    """A seeded sandbox whose rotations take 5 s, running beside the replicas."""
    sandbox = Sandbox(seed=True, rotation_delay=5.0)
    await sandbox.start(port=0, grace=0.5)
    try:
        yield sandbox
    finally:
        await sandbox.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> str:
    """Return the database engine the replicas share."""
    return str(request.param)


@pytest.fixture
async def replicas(
    tmp_path: Path,
    cloud: Sandbox,
    slack_api: FakeSlackAPI,
    engine: str,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Replicas]:
    slack_api.set_usergroup(SRE, [ws.ALICE_ID], handle="sre")
    slack_api.set_usergroup(SEC, [ws.ADMIN_ID], handle="security")
    config = serve_config(
        tmp_path,
        cloud_url=cloud.url,
        policies=bot_policies(),
        extra=f'[rotation]\nfollow_up_timeout = "1m"\n{DUTIES}{REMINDERS}',
        database_url=request.getfixturevalue("database_url") if engine == "postgres" else "",
    )
    running = await Replicas.start(config, slack=slack_api, count=3)
    try:
        yield running
    finally:
        await running.stop()


def reminders(slack: FakeSlackAPI, name: str) -> list[str]:
    """Return the reminders posted in the incident channel about ``name``."""
    return [
        str(call.payload["text"])
        for call in slack.calls_to("chat.postMessage")
        if call.payload.get("channel") == ws.INCIDENT_CHANNEL_ID
        and str(call.payload.get("text", "")).startswith(f"Reminder: secret `{name}`")
    ]


async def test_fifty_approve_clicks_over_three_replicas_run_the_deletion_once(
    replicas: Replicas, cloud: Sandbox, slack_api: FakeSlackAPI
) -> None:
    # Alice asks to delete batch-7-root now (on one replica); security must approve.
    await ask_to_delete(
        replicas.next(), "delete batch-7-root --now", delete_values("now", name="batch-7-root")
    )
    await slack_api.wait_for(
        "chat.postMessage", lambda c: "Approval request" in c.payload.get("text", "")
    )
    request = card(slack_api)
    approve = button_value(request, Action.APPROVE)
    # The security admin's fifty clicks reach the three replicas in turn, all at once.
    answers = await asyncio.gather(
        *(
            replica.click(Action.APPROVE, value=approve, message=request, user=ws.ADMIN_ID)
            for replica in replicas.spread(50)
        )
    )
    assert all(answer.status == 200 for answer in answers)
    await slack_api.wait_for(
        "chat.postMessage", lambda c: "deleted immediately" in c.payload.get("text", ""), timeout=15
    )
    await asyncio.sleep(1.0)  # any second execution would have reached the cloud by now
    assert cloud.calls.total("DeleteSecret") == 1
    assert cloud.kms.find("cn-hangzhou", "acs/ecs/batch-7-root") is None


async def test_kill_the_duty_holder_and_another_sends_the_reminders_due_each_once(
    replicas: Replicas, slack_api: FakeSlackAPI
) -> None:
    first = await replicas.holder()
    holder = replicas.owner_of(first)
    assert holder is not None
    # A deletion scheduled through one replica: the holder reminds of it, once.
    await ask_to_delete(
        replicas.next(), "delete web-4-ecs-user-key --days 7", delete_values("schedule", days="7")
    )
    await slack_api.wait_for(
        "chat.postMessage", lambda c: str(c.payload.get("text", "")).startswith("Reminder:")
    )
    # The holder dies. Another replica holds the lease within its TTL...
    killed_at = await replicas.kill(holder)
    second = await replicas.holder(other_than=first, timeout=TTL + INTERVAL + MARGIN + 10)
    took_over = time.monotonic() - killed_at
    assert second.token == first.token + 1 and second.owner != first.owner
    assert took_over < TTL + INTERVAL + MARGIN, took_over
    # ... and sends the reminders that come due now, each once.
    for name in ("win-app-1-admin", "web-3-root"):
        await ask_to_delete(
            replicas.next(), f"delete {name} --days 7", delete_values("schedule", days="7")
        )
    for name in ("win-app-1-admin", "web-3-root"):
        await slack_api.wait_for(
            "chat.postMessage",
            lambda c, name=name: str(c.payload.get("text", "")).startswith(
                f"Reminder: secret `{name}`"
            ),
            timeout=TTL + MARGIN + 10,
        )
    await asyncio.sleep(3 * INTERVAL)  # a few more ticks: nothing is sent twice
    for name in ("web-4-ecs-user-key", "win-app-1-admin", "web-3-root"):
        assert len(reminders(slack_api, name)) == 1, name


async def announced(replicas: Replicas) -> bool:
    """Say whether the rotation in flight has its "rotation triggered" message recorded."""
    return any(row.message_ts for row in await rotations.active_rotations(replicas.db))


async def test_a_rotation_whose_replica_dies_is_reported_by_another(
    replicas: Replicas, cloud: Sandbox, slack_api: FakeSlackAPI
) -> None:
    lease = await replicas.holder()
    # The rotation goes to a replica that does not hold the duties: it follows it itself.
    rotating = next(r for r in replicas.processes if r is not replicas.owner_of(lease))
    await ask_to_rotate(rotating, "web-3-root")
    await slack_api.wait_for(
        "chat.postMessage", lambda c: "Rotation triggered" in c.payload.get("text", ""), timeout=15
    )
    await replicas.until(lambda: announced(replicas))  # it noted where it said so
    await replicas.kill(rotating)  # mid follow-up: KMS takes 5 s to finish
    # Its heartbeat lapses; the duty holder takes the follow-up over and edits the message.
    edit = await slack_api.wait_for(
        "chat.update",
        lambda c: "Rotation completed" in c.payload.get("text", ""),
        timeout=TTL + 5.0 + MARGIN + 15,
    )
    await asyncio.sleep(3 * INTERVAL)
    ends = [c for c in slack_api.calls_to("chat.update") if "Rotation" in c.payload.get("text", "")]
    assert len(ends) == 1  # said once
    (message,) = [m for m in slack_api.messages(ws.INCIDENT_CHANNEL_ID) if "Rotation" in m.text]
    assert message.text.startswith("Rotation completed")  # the same message, edited
    assert message.ts == edit.payload["ts"]
    assert cloud.calls.total("RotateSecret") == 1
