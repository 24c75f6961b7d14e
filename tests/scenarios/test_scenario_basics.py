"""Transcripts: help, whoami, usage mistakes, a rotation from slash command to completion."""

from __future__ import annotations

import pytest
from fakes import workspace as ws
from fakes.bot import BotHarness

from ecs_secret_bot.bot.ids import Action, Block, Callback


async def test_help_fits_what_the_caller_may_do(bot: BotHarness) -> None:
    status, body, elapsed = await bot.command("help")
    assert status == 200 and elapsed < 1.0
    assert "/ecs-secret delete" in body and "/ecs-secret whoami" in body

    reader = await bot.command("help", user=ws.BOB_ID)
    assert "/ecs-secret list" in reader.body and "/ecs-secret delete" not in reader.body


async def test_unknown_subcommand_and_bad_arguments_say_what_is_wrong(bot: BotHarness) -> None:
    unknown = (await bot.command("frobnicate")).json()
    assert "`frobnicate` is not a subcommand" in unknown["text"]

    too_many = (await bot.command("rotate web-3-root extra")).json()
    assert "did not understand `extra`" in too_many["text"]
    assert "Usage: `/ecs-secret rotate &lt;name&gt;" in too_many["text"]

    days = (await bot.command("delete web-3-root --days 3")).json()
    assert "7 to 30" in days["text"]
    assert bot.sandbox.calls.total("DescribeSecret") == 0


async def test_whoami_answers_in_the_ack(bot: BotHarness) -> None:
    answer = (await bot.command("whoami")).json()
    assert answer["response_type"] == "ephemeral"
    assert "<@U0ALICE>" in answer["text"]
    assert "AliyunKMSSecretAdminAccess" in str(answer["blocks"])


@pytest.mark.both_engines
async def test_rotate_from_modal_to_completed_message(bot: BotHarness) -> None:
    # /ecs-secret rotate web-3-root -> modal opened (loading, then the secret)
    response = await bot.command("rotate web-3-root")
    assert response.status == 200 and response.body == ""
    modal = await bot.wait_modal(Callback.ROTATE)
    assert "i-bp1sbxweb3000000001" in str(modal["blocks"])
    assert modal["submit"]["text"] == "Confirm rotation"

    # submit -> "rotation triggered" in the channel
    submitted = await bot.submit(
        modal, {Block.REASON: {Action.REASON: {"type": "plain_text_input", "value": "leaked"}}}
    )
    assert submitted.status == 200
    assert submitted.json()["response_action"] == "update"
    posted = await bot.slack.wait_for(
        "chat.postMessage", lambda c: "Rotation triggered" in c.payload.get("text", "")
    )
    assert posted.payload["channel"] == ws.INCIDENT_CHANNEL_ID
    assert "<@U0ALICE>" in posted.payload["text"]

    # later -> the same message says "rotation completed on i-..."
    updated = await bot.slack.wait_for(
        "chat.update", lambda c: "Rotation completed" in c.payload.get("text", ""), timeout=10
    )
    assert "i-bp1sbxweb3000000001" in updated.payload["text"]
    (message,) = [m for m in bot.slack.messages(ws.INCIDENT_CHANNEL_ID) if m.ephemeral_to is None]
    assert message.text.startswith("Rotation completed")
