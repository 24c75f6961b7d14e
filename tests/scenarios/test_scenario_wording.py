"""Transcripts: what people read says where things went, in the markup each place takes
(issue 12, item 10)."""

from __future__ import annotations

from typing import Any

import pytest
from fakes import workspace as ws
from fakes.bot import BotHarness
from fakes.payloads import input_state
from test_scenario_delete_and_approvals import button_of
from test_scenario_duties import schedule

from ecs_secret_bot.bot.errors import InAck, report
from ecs_secret_bot.bot.ids import Action, Block, Callback
from ecs_secret_bot.errors import BotError, NextStep, Subcommand

ALICE_DM = "D" + ws.ALICE_ID[1:]
BOB_DM = "D" + ws.BOB_ID[1:]


async def test_a_picker_error_option_is_plain_words(bot: BotHarness) -> None:
    answered: dict[str, Any] = {}

    async def ack(**payload: Any) -> None:
        answered.update(payload)

    slow = BotError(
        "ECS & KMS are slow <now>.", next_step=NextStep("Try {command}.", Subcommand("list"))
    )
    await report(bot.services, slow, InAck(ack, "block_suggestion"))

    [option] = answered["options"]
    assert option["text"]["type"] == "plain_text"
    assert option["text"]["text"].startswith("ECS & KMS are slow <now>.")
    assert "&amp;" not in option["text"]["text"] and "`" not in option["text"]["text"]
    assert '"/ecs-secret list"' in option["text"]["text"]


async def test_a_result_asked_for_in_a_dm_is_not_said_to_be_in_a_channel(bot: BotHarness) -> None:
    await bot.command("rotate web-3-root", channel=ALICE_DM)
    modal = await bot.wait_modal(Callback.ROTATE)

    done = (await bot.submit(modal, {Block.REASON: {Action.REASON: input_state("leak")}})).json()

    notice = str(done["view"]["blocks"])
    assert "The channel has the details" not in notice
    assert "direct message" in notice
    posted = await bot.slack.wait_for(
        "chat.postMessage", lambda c: "Rotation triggered" in c.payload.get("text", "")
    )
    assert posted.payload["channel"] == ws.ALICE_ID  # her DM with the bot


@pytest.mark.both_engines
async def test_a_requester_in_a_dm_hears_where_the_result_of_the_approval_went(
    bot: BotHarness,
) -> None:
    await schedule(bot)  # web-4-ecs-user-key, by Alice in #inc-1234
    await bot.command("restore web-4-ecs-user-key", user=ws.BOB_ID, channel=BOB_DM)
    await bot.slack.wait_for(
        "chat.postMessage",
        lambda c: (
            "Approval request" in c.payload.get("text", "")
            and c.payload.get("channel") == ws.SECOPS_CHANNEL_ID
        ),
    )
    card = next(m for m in bot.slack.messages(ws.SECOPS_CHANNEL_ID) if "Approval" in m.text)

    approve = button_of(card.blocks, Action.APPROVE)["value"]
    await bot.click(Action.APPROVE, value=approve, message=card, user=ws.ALICE_ID)

    told = await bot.slack.wait_for(
        "chat.postMessage",
        lambda c: c.payload.get("channel") == ws.BOB_ID and "approved by" in c.payload["text"],
    )
    assert "the channel has the details" not in told.payload["text"]
    assert "the details are in the message above" in told.payload["text"]
    restored = [m for m in bot.slack.messages() if "was restored by" in m.text]
    assert [m.channel for m in restored] == [BOB_DM]
