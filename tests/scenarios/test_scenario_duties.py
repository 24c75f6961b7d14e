"""Transcripts of the background duties in Slack: reminders, deletions that ended
elsewhere, stale and expired approval requests, a rotation reported after a restart, the
audit log's daily anchor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeSlackAPI
from fakes import workspace as ws
from fakes.bot import BotHarness, bot_policies, running_bot
from fakes.core import actor
from test_scenario_delete_and_approvals import button_of, delete_values, review

from ecs_secret_bot.bot.ids import Action, Block
from ecs_secret_bot.bot.notifier import SlackNotifier
from ecs_secret_bot.commands.core import utcnow
from ecs_secret_bot.commands.duties import DutyRunner
from ecs_secret_bot.commands.operations.rotate import attach_rotation_message, rotate_secret
from ecs_secret_bot.commands.outcomes import RotateResult
from ecs_secret_bot.commands.requests import RotateRequest
from ecs_secret_bot.storage.audit import audit_head

POLICIES = bot_policies(stale_after="30m") + '\n[reminders]\nbefore = ["31d", "3d"]\n'
pytestmark = pytest.mark.both_engines


@pytest.fixture
async def bot(
    tmp_path: Path, slack_api: FakeSlackAPI, storage_url: str
) -> AsyncIterator[BotHarness]:
    async with running_bot(
        tmp_path, slack_api, policies=POLICIES, database_url=storage_url
    ) as harness:
        yield harness


def duties(bot: BotHarness) -> DutyRunner:
    return DutyRunner(
        bot.services.core,
        SlackNotifier(bot.services),
        owner="test",
        reconcile_every=timedelta(0),
        tracker=bot.services.tracker,
    )


def later(bot: BotHarness, delta: timedelta) -> None:
    """Move the bot's clocks (the core's and the approval workflow's) forward."""
    bot.services.core.clock = lambda: utcnow() + delta
    bot.services.core.workflow.clock = bot.services.core.clock


async def schedule(bot: BotHarness, name: str = "web-4-ecs-user-key") -> Any:
    await review(bot, f"delete {name} --days 10", delete_values("schedule", days="10"))
    await bot.click(Action.DELETE_GO, view=bot.modal(), block_id=Block.DELETE_GO, value="go")
    await bot.slack.wait_for(
        "chat.postMessage", lambda c: "scheduled for deletion" in c.payload.get("text", "")
    )
    return next(m for m in bot.slack.messages(ws.INCIDENT_CHANNEL_ID) if "scheduled" in m.text)


async def test_a_reminder_goes_to_the_channel_and_the_scheduler_once(bot: BotHarness) -> None:
    await schedule(bot)
    runner = duties(bot)
    assert (await runner.tick()).reminders == 1
    assert (await runner.tick()).reminders == 0
    reminders = [
        c for c in bot.slack.calls_to("chat.postMessage") if "Reminder" in c.payload["text"]
    ]
    assert sorted(c.payload["channel"] for c in reminders) == sorted(
        [ws.INCIDENT_CHANNEL_ID, ws.ALICE_ID]
    )
    for call in reminders:
        assert "will be deleted on <!date^" in call.payload["text"]
        assert button_of(call.payload["blocks"], Action.RESTORE)["text"]["text"] == "Restore"


async def test_a_deletion_restored_in_the_console_edits_its_message(bot: BotHarness) -> None:
    message = await schedule(bot)
    bot.sandbox.restore_out_of_band("cn-hangzhou", "web-4-ecs-user-key")
    report = await duties(bot).tick()
    assert report.closed == 1
    edit = await bot.slack.wait_for("chat.update", lambda c: c.payload["ts"] == message.ts)
    assert "no longer scheduled for deletion" in edit.payload["text"]
    assert "restored outside the bot" in edit.payload["text"]
    assert all(block["type"] != "actions" for block in edit.payload["blocks"])


async def test_a_deletion_scheduled_in_the_console_is_tracked_and_announced(
    bot: BotHarness,
) -> None:
    bot.sandbox.delete_out_of_band("cn-hangzhou", "web-3-root", planned=timedelta(days=20))
    report = await duties(bot).tick()
    assert report.discovered == 1
    note = await bot.slack.wait_for(
        "chat.postMessage", lambda c: "scheduled outside the bot" in c.payload["text"]
    )
    assert note.payload["channel"] == ws.SECOPS_CHANNEL_ID
    assert button_of(note.payload["blocks"], Action.RESTORE)


async def test_stale_then_expired_requests(bot: BotHarness) -> None:
    await review(bot, "delete batch-7-root --now", delete_values("now", name="batch-7-root"))
    await bot.click(Action.DELETE_GO, view=bot.modal(), block_id=Block.DELETE_GO, value="go")
    card = await bot.slack.wait_for(
        "chat.postMessage", lambda c: "Approval request" in c.payload["text"]
    )
    later(bot, timedelta(minutes=45))
    assert (await duties(bot).tick()).reannounced == 1
    assert (await duties(bot).tick()).reannounced == 0
    reply = await bot.slack.wait_for("chat.postMessage", lambda c: "thread_ts" in c.payload)
    assert "still waiting for approval" in reply.payload["text"]
    assert "<!subteam^SSEC>" in reply.payload["text"]
    later(bot, timedelta(hours=3))
    assert (await duties(bot).tick()).expired == 1
    edit = await bot.slack.wait_for("chat.update", lambda c: "expired" in c.payload["text"])
    assert edit.payload["channel"] == card.payload["channel"]
    assert all(block["type"] != "actions" for block in edit.payload["blocks"])
    dm = await bot.slack.wait_for(
        "chat.postMessage",
        lambda c: c.payload["channel"] == ws.ALICE_ID and "expired" in c.payload["text"],
    )
    assert "nothing was done" in dm.payload["text"]
    assert bot.sandbox.calls.total("DeleteSecret") == 0


async def test_a_rotation_nobody_follows_is_reported_by_the_duties(bot: BotHarness) -> None:
    bot.sandbox.rotation_delay = 0.3
    alice = actor(ws.ALICE_ID, "SSRE", channel_id=ws.INCIDENT_CHANNEL_ID)
    result = await rotate_secret(RotateRequest("web-3-root"), actor=alice, core=bot.services.core)
    assert isinstance(result, RotateResult)
    # as if posted before a restart: the message exists, nobody in this process follows it
    posted = await bot.services.client.chat_postMessage(
        channel=ws.INCIDENT_CHANNEL_ID, text="Rotation triggered (before the restart)"
    )
    await attach_rotation_message(
        result.rotation_id,
        channel_id=ws.INCIDENT_CHANNEL_ID,
        ts=posted["ts"],
        core=bot.services.core,
    )
    runner = duties(bot)
    assert (await runner.tick()).followed == 1
    await bot.services.tracker.settle()
    edit = await bot.slack.wait_for("chat.update", lambda c: c.payload["ts"] == posted["ts"])
    assert edit.payload["text"].startswith("Rotation completed on `i-")


async def test_a_rotation_whose_message_was_never_noted_is_reported_in_its_channel(
    bot: BotHarness,
) -> None:
    # The replica that triggered it died between its "rotation triggered" post and noting
    # where it went: the one that takes the follow-up over says the end in the channel.
    bot.sandbox.rotation_delay = 0.3
    alice = actor(ws.ALICE_ID, "SSRE", channel_id=ws.INCIDENT_CHANNEL_ID)
    result = await rotate_secret(RotateRequest("web-3-root"), actor=alice, core=bot.services.core)
    assert isinstance(result, RotateResult)
    runner = duties(bot)
    assert (await runner.tick()).followed == 1
    await bot.services.tracker.settle()
    said = await bot.slack.wait_for(
        "chat.postMessage",
        lambda c: str(c.payload.get("text", "")).startswith("Rotation completed"),
    )
    assert said.payload["channel"] == ws.INCIDENT_CHANNEL_ID
    assert not bot.slack.calls_to("chat.update")


async def test_a_request_made_outside_slack_gets_its_card_in_the_approval_channel(
    bot: BotHarness,
) -> None:
    from ecs_secret_bot.commands.actor import Actor
    from ecs_secret_bot.commands.operations.delete import delete_secret
    from ecs_secret_bot.commands.requests import DeleteRequest

    await delete_secret(
        DeleteRequest("web-3-root", immediately=True, reason="decommissioned"),
        actor=Actor(principal=f"slack:user:{ws.ADMIN_ID}"),  # no channel, as at a terminal
        core=bot.services.core,
    )
    later(bot, timedelta(minutes=2))
    assert (await duties(bot).tick()).announced == 1
    assert (await duties(bot).tick()).announced == 0
    card = await bot.slack.wait_for(
        "chat.postMessage", lambda c: "Approval request" in c.payload["text"]
    )
    assert card.payload["channel"] == ws.SECOPS_CHANNEL_ID
    assert button_of(card.payload["blocks"], Action.APPROVE)
    assert "<!subteam^SSEC>" in str(card.payload["blocks"])


async def test_a_card_voted_on_elsewhere_is_brought_up_to_date_once(bot: BotHarness) -> None:
    from ecs_secret_bot.commands.actor import Actor
    from ecs_secret_bot.commands.approval.votes import approve_request

    await review(bot, "delete batch-7-root --now", delete_values("now", name="batch-7-root"))
    await bot.click(Action.DELETE_GO, view=bot.modal(), block_id=Block.DELETE_GO, value="go")
    card = await bot.slack.wait_for(
        "chat.postMessage", lambda c: "Approval request" in c.payload["text"]
    )
    approval_id = button_of(card.payload["blocks"], Action.APPROVE)["value"]
    # approved at a terminal: no Slack click, so nobody edits the card right away
    security = Actor(
        principal=f"slack:user:{ws.ADMIN_ID}", groups=frozenset({"slack:usergroup:SSEC"})
    )
    step = await approve_request(approval_id, actor=security, core=bot.services.core)
    assert step.result is not None
    assert not bot.slack.calls_to("chat.update")
    assert (await duties(bot).tick()).refreshed == 1
    assert (await duties(bot).tick()).refreshed == 0
    [edit] = bot.slack.calls_to("chat.update")
    posted = next(
        m for m in bot.slack.messages(ws.INCIDENT_CHANNEL_ID) if "Approval request" in m.text
    )
    assert edit.payload["ts"] == posted.ts
    assert "(executed)" in edit.payload["text"]
    assert all(block["type"] != "actions" for block in edit.payload["blocks"])


async def test_the_audit_log_is_anchored_daily_in_the_approval_channel(bot: BotHarness) -> None:
    await schedule(bot)
    runner = duties(bot)
    await runner.tick()
    await runner.tick()

    def anchors() -> list[str]:
        return [m.text for m in bot.slack.messages(ws.SECOPS_CHANNEL_ID) if "anchor" in m.text]

    [line] = anchors()
    seq, digest = await audit_head(bot.services.core.db)
    assert f"Audit log anchor for {utcnow().date().isoformat()}: entry {seq}" in line
    assert f"`{seq}:{digest}`" in line
    later(bot, timedelta(days=1))
    await runner.tick()
    assert len(anchors()) == 2
