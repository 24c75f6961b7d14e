"""Transcripts: what a modal shows, and where the result goes when the modal cannot show it.

The person may close a modal at any time, click twice before the first click lands, or
have the core refuse what they typed: the result still reaches them and the channel, the
modal is never told "something went wrong" for Slack's ordinary answers (``not_found``,
``hash_conflict``), and a refusal leaves the form as it was typed.
"""

from __future__ import annotations

import asyncio

from fakes import workspace as ws
from fakes.bot import BotHarness
from fakes.payloads import checkboxes_state, input_state

from ecs_secret_bot.bot.ids import Action, Block, Callback

REASON = {Block.REASON: {Action.REASON: input_state("leaked")}}


def told(bot: BotHarness, user: str = ws.ALICE_ID) -> list[str]:
    """Return what ``user`` alone was told (ephemeral messages and DMs), oldest first."""
    return [
        str(c.payload.get("text", ""))
        for c in bot.slack.calls
        if (c.method == "chat.postEphemeral" and c.payload.get("user") == user)
        or (c.method == "chat.postMessage" and c.payload.get("channel") == user)
        or c.method == "response_url"
    ]


async def click_switch(bot: BotHarness, modal: dict[str, object], ticked: list[str]) -> None:
    await bot.click(
        Action.USE_CUSTOM,
        view=modal,
        block_id=Block.USE_CUSTOM,
        action_type="checkboxes",
        state_values={Block.USE_CUSTOM: {Action.USE_CUSTOM: checkboxes_state(ticked)}},
        action={"selected_options": [{"value": value} for value in ticked]},
    )


async def test_a_person_who_closed_the_working_modal_is_told_the_result(bot: BotHarness) -> None:
    await bot.command("rotate web-3-root")
    modal = await bot.wait_modal(Callback.ROTATE)
    bot.services.modal_budget = 0.2
    bot.sandbox.faults.add(action="RotateSecret", kind="latency", latency=1.0, times=1)

    working = (await bot.submit(modal, REASON)).json()
    assert working["response_action"] == "push"
    await bot.close_modal(modal["id"])

    await bot.slack.wait_for(
        "chat.postMessage", lambda c: "Rotation triggered" in c.payload.get("text", "")
    )
    await bot.slack.wait_for(
        "chat.postEphemeral", lambda c: "Done for `web-3-root`" in c.payload.get("text", "")
    )
    assert not any("went wrong" in text for text in told(bot))


async def test_the_working_notice_shows_the_result_when_left_open(bot: BotHarness) -> None:
    await bot.command("rotate web-3-root")
    modal = await bot.wait_modal(Callback.ROTATE)
    bot.services.modal_budget = 0.2
    bot.sandbox.faults.add(action="RotateSecret", kind="latency", latency=0.6, times=1)

    working = (await bot.submit(modal, REASON)).json()
    external_id = working["view"]["external_id"]

    update = await bot.slack.wait_for(
        "views.update", lambda c: c.payload.get("external_id") == external_id
    )
    assert "Done for `web-3-root`" in str(update.payload["view"])
    assert update.payload["view"]["clear_on_close"] is True
    assert not any("Done for" in text for text in told(bot))


async def test_closing_the_loading_modal_is_not_an_error(bot: BotHarness) -> None:
    bot.sandbox.faults.add(action="DescribeSecret", kind="latency", latency=0.5, times=1)
    await bot.command("rotate web-3-root")
    opened = await bot.slack.wait_for("views.open")
    assert opened.payload["view"]["callback_id"] == Callback.LOADING

    await bot.close_modal()
    await asyncio.sleep(0.8)
    await bot.services.tasks.drain(2.0)

    assert bot.slack.calls_to("views.update")  # tried, and Slack said not_found
    assert told(bot) == []


async def test_the_rotate_modal_is_filled_with_the_hash_of_its_loading_view(
    bot: BotHarness,
) -> None:
    await bot.command("rotate web-3-root")
    await bot.wait_modal(Callback.ROTATE)

    opened = bot.slack.last_call("views.open")
    fill = bot.slack.last_call("views.update")
    assert opened.payload["view"]["callback_id"] == Callback.LOADING
    assert fill.payload.get("hash"), "the fill must not overwrite a view changed since"


async def test_the_last_of_two_quick_clicks_on_the_switch_wins(bot: BotHarness) -> None:
    await bot.command("rotate web-3-root")
    modal = await bot.wait_modal(Callback.ROTATE)

    await click_switch(bot, modal, ["custom"])
    await click_switch(bot, modal, [])  # clicked before the first click's update landed
    await bot.slack.wait_for_calls("views.update", count=3)
    await bot.services.tasks.drain(2.0)

    blocks = {b.get("block_id") for b in bot.modal()["blocks"]}
    assert Block.GENERATED_NOTE in blocks and Block.PASSWORD not in blocks
    assert not any("went wrong" in text for text in told(bot))


async def test_a_refused_submission_keeps_what_was_typed(bot: BotHarness) -> None:
    # batch-7's Cloud Assistant is offline: the pre-flight refuses the rotation
    await bot.command("rotate batch-7-root")
    form = await bot.wait_modal(Callback.ROTATE)

    answer = (await bot.submit(form, REASON)).json()

    assert answer["response_action"] == "push", answer
    assert "Cloud Assistant" in str(answer["view"])
    assert answer["view"]["close"]["text"] == "Back"
    pushed = bot.modal()
    assert pushed["previous_view_id"] == form["id"]
    await bot.close_modal(pushed["id"])
    assert bot.slack.is_view_open(form["id"])
    assert bot.sandbox.calls.total("RotateSecret") == 0
