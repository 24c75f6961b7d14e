"""One channel message per sweep, edited in place at most every ``min_interval`` seconds,
always to the newest state and always to the final one; a restart keeps the same message."""

from __future__ import annotations

import asyncio

import sweep_samples as s
from fakes import FakeSlackAPI, workspace
from slack_sdk.web.async_client import AsyncWebClient

from ecs_secret_bot.bot.sweep_notifier import SlackSweepNotifier
from ecs_secret_bot.commands.sweeps import ItemState, SweepStatus

CHANNEL = workspace.INCIDENT_CHANNEL_ID


def client_of(slack_api: FakeSlackAPI) -> AsyncWebClient:
    return AsyncWebClient(token=workspace.BOT_TOKEN, base_url=slack_api.url)


class Attached:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str, str]] = []

    async def __call__(self, sweep_id: str, *, channel_id: str, ts: str) -> None:
        self.messages.append((sweep_id, channel_id, ts))


def states(done: int, total: int = 20) -> list:
    return [s.item(n, ItemState.COMPLETED if n < done else ItemState.QUEUED) for n in range(total)]


async def test_a_burst_of_changes_costs_one_post_and_a_few_edits(slack_api: FakeSlackAPI) -> None:
    notifier = SlackSweepNotifier(client_of(slack_api), min_interval=0.3)
    attached = Attached()
    notifier.bind(attached)
    await notifier.sweep_changed(s.snapshot(states(0), channel_id=CHANNEL))
    await notifier.flush()  # posted
    for done in range(20):  # twenty changes within a few milliseconds
        await notifier.sweep_changed(s.snapshot(states(done), seconds=done, channel_id=CHANNEL))
    final = s.snapshot(states(20), status=SweepStatus.FINISHED, seconds=99, channel_id=CHANNEL)
    await notifier.sweep_changed(final)
    await notifier.flush()
    [post] = slack_api.calls_to("chat.postMessage")
    edits = slack_api.calls_to("chat.update")
    assert 1 <= len(edits) <= 2 and notifier.updates == len(edits)
    assert "the sweep is over. 20 rotated" in edits[-1].payload["text"]
    assert "<@U0ALICE>" in edits[-1].payload["text"]
    assert attached.messages == [
        ("sw-1", CHANNEL, slack_api.last_call("chat.update").payload["ts"])
    ]
    [message] = slack_api.messages(CHANNEL)
    assert len(message.edits) == len(edits)


async def test_edits_are_spaced_by_the_interval(slack_api: FakeSlackAPI) -> None:
    notifier = SlackSweepNotifier(client_of(slack_api), min_interval=0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for step in range(12):
        await notifier.sweep_changed(s.snapshot(states(step), seconds=step, channel_id=CHANNEL))
        await asyncio.sleep(0.05)
    await notifier.flush()
    elapsed = loop.time() - started
    edits = len(slack_api.calls_to("chat.update"))
    assert edits <= elapsed / 0.2 + 1
    assert "*11 done*" in str(slack_api.messages(CHANNEL)[0].blocks)


async def test_an_older_state_never_overwrites_a_newer_one(slack_api: FakeSlackAPI) -> None:
    notifier = SlackSweepNotifier(client_of(slack_api), min_interval=0.05)
    await notifier.sweep_changed(s.snapshot(states(5), seconds=5, channel_id=CHANNEL))
    await notifier.sweep_changed(s.snapshot(states(3), seconds=3, channel_id=CHANNEL))
    await notifier.flush()
    assert "*5 done*" in str(slack_api.messages(CHANNEL)[0].blocks)


async def test_a_sweep_waiting_for_approval_posts_nothing_yet(slack_api: FakeSlackAPI) -> None:
    notifier = SlackSweepNotifier(client_of(slack_api), min_interval=0.05)
    await notifier.sweep_changed(
        s.snapshot(states(0), status=SweepStatus.AWAITING_APPROVAL, channel_id=CHANNEL)
    )
    await notifier.sweep_changed(
        s.snapshot(states(0), status=SweepStatus.DENIED, seconds=1, channel_id=CHANNEL)
    )
    await notifier.flush()
    assert slack_api.calls_to("chat.postMessage") == []


async def test_from_a_dm_the_message_goes_to_the_approval_channel(slack_api: FakeSlackAPI) -> None:
    notifier = SlackSweepNotifier(
        client_of(slack_api), fallback_channel=workspace.SECOPS_CHANNEL_ID, min_interval=0.05
    )
    await notifier.sweep_changed(s.snapshot(states(1), channel_id="D0ALICE"))
    await notifier.flush()
    assert slack_api.last_call("chat.postMessage").payload["channel"] == workspace.SECOPS_CHANNEL_ID


async def test_after_a_restart_the_stored_message_is_edited(slack_api: FakeSlackAPI) -> None:
    first = SlackSweepNotifier(client_of(slack_api), min_interval=0.05)
    await first.sweep_changed(s.snapshot(states(1), channel_id=CHANNEL))
    await first.flush()
    posted = slack_api.last_call("chat.postMessage")
    ts = slack_api.messages(CHANNEL)[0].ts
    # a new process: the runner's snapshot carries the message stored with the sweep
    second = SlackSweepNotifier(client_of(slack_api), min_interval=0.05)
    resumed = s.snapshot(
        states(20),
        status=SweepStatus.FINISHED,
        seconds=50,
        channel_id=CHANNEL,
        message_channel=CHANNEL,
        message_ts=ts,
    )
    await second.sweep_changed(resumed)
    await second.flush()
    assert slack_api.calls_to("chat.postMessage") == [posted]
    assert slack_api.last_call("chat.update").payload["ts"] == ts
