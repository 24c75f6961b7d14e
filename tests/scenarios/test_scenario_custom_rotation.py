"""Transcripts: a custom value through the rotate modal, its validation, and the canary.

The canary is a custom value that must appear nowhere but in the KMS call: not in any
Slack call, response, log line or database byte.
"""

from __future__ import annotations

import logging

import pytest
from fakes import workspace as ws
from fakes.at_rest import stored_bytes
from fakes.bot import BotHarness
from fakes.payloads import checkboxes_state, input_state

from ecs_secret_bot.bot.ids import Action, Block, Callback

CANARY = "Canary9Value7Qx"


async def open_custom(bot: BotHarness, name: str = "web-3-root") -> dict[str, object]:
    await bot.command(f"rotate {name}")
    modal = await bot.wait_modal(Callback.ROTATE)
    switch = {Block.USE_CUSTOM: {Action.USE_CUSTOM: checkboxes_state(["custom"])}}
    await bot.click(
        Action.USE_CUSTOM,
        view=modal,
        block_id=Block.USE_CUSTOM,
        action_type="checkboxes",
        state_values=switch,
        action={"selected_options": [{"value": "custom"}]},
    )
    await bot.slack.wait_for(
        "views.update", lambda c: Block.PASSWORD in str(c.payload.get("view", {}))
    )
    return bot.modal()


def custom_values(password: str) -> dict[str, object]:
    return {
        Block.USE_CUSTOM: {Action.USE_CUSTOM: checkboxes_state(["custom"])},
        Block.PASSWORD: {Action.PASSWORD: input_state(password)},
        Block.REASON: {Action.REASON: input_state("screenshot leak")},
    }


async def test_the_switch_shows_the_value_field_with_its_hint(bot: BotHarness) -> None:
    modal = await open_custom(bot)
    field = next(b for b in modal["blocks"] if b.get("block_id") == Block.PASSWORD)  # type: ignore[union-attr]
    assert field["element"]["type"] == "plain_text_input"
    assert "never shows, logs or stores it" in field["hint"]["text"]


async def test_a_weak_custom_password_is_refused_in_the_modal(bot: BotHarness) -> None:
    modal = await open_custom(bot)
    answer = (await bot.submit(modal, custom_values("short"))).json()
    assert answer["response_action"] == "errors"
    assert "8 to 32" in answer["errors"][Block.PASSWORD]
    assert bot.sandbox.calls.total("PutSecretValue") == 0


@pytest.mark.both_engines
async def test_custom_value_rotates_and_leaks_nowhere(
    bot: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    modal = await open_custom(bot)
    answer = (await bot.submit(modal, custom_values(CANARY))).json()
    assert answer["response_action"] == "update"
    ended = await bot.slack.wait_for(
        "chat.update", lambda c: "KMS accepted the custom" in c.payload.get("text", ""), timeout=10
    )
    assert bot.sandbox.calls.total("PutSecretValue") == 1
    assert ended.payload["channel"] == ws.INCIDENT_CHANNEL_ID
    assert "custom value of `web-3-root` as its current version" in ended.payload["text"]
    assert CANARY not in bot.slack.all_recorded_text()
    assert CANARY not in bot.driver.all_response_text()
    assert CANARY not in caplog.text
    assert CANARY.encode() not in await stored_bytes(bot.services.core.db, path=bot.db_path)


async def test_kms_refusing_a_custom_value_is_said_plainly(bot: BotHarness) -> None:
    bot.sandbox.refuse_custom_values = True
    modal = await open_custom(bot)
    answer = (await bot.submit(modal, custom_values(CANARY))).json()
    text = str(answer)
    assert "did not accept a custom value" in text
    assert "KMS-generated value" in text
    assert bot.sandbox.calls.total("RotateSecret") == 0
    assert CANARY not in bot.slack.all_recorded_text() + text
