"""Transcripts: the create modal's region and instance picker, and what a key field says of
Slack's limits (issue 12, items 4 and 9)."""

from __future__ import annotations

from typing import Any

from fakes.bot import BotHarness

from ecs_secret_bot.bot.ids import Action, Block, Callback


def block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


async def test_picking_a_region_makes_the_picker_offer_its_instances(bot: BotHarness) -> None:
    bot.sandbox.add_instance("cn-shanghai", "i-sh0web000000000001", name="web-sh-1")
    await bot.command("create")
    await bot.slack.wait_for("views.open")
    modal = bot.modal()
    assert modal["callback_id"] == Callback.CREATE
    assert block(modal, Block.REGION)["dispatch_action"] is True
    before = (await bot.suggest(Action.INSTANCE, "", view=modal)).json()["options"]
    assert before and all(not o["value"].startswith("i-sh") for o in before)

    await bot.click(
        Action.REGION,
        view=modal,
        block_id=Block.REGION,
        action_type="static_select",
        value="cn-shanghai",
    )
    update = await bot.slack.wait_for("views.update")

    assert update.payload["hash"] == modal["hash"]  # a stale modal is not overwritten
    rebuilt = bot.modal()
    assert rebuilt["callback_id"] == Callback.CREATE
    region = block(rebuilt, Block.REGION)["element"]["initial_option"]["value"]
    assert region == "cn-shanghai"
    # Slack's suggestion payload carries no unsubmitted input: only the modal's own state
    after = (await bot.suggest(Action.INSTANCE, "", view=rebuilt)).json()["options"]
    assert [o["value"] for o in after] == ["i-sh0web000000000001"]


async def test_the_key_fields_say_a_4096_bit_key_needs_the_terminal(bot: BotHarness) -> None:
    await bot.command("create")
    await bot.slack.wait_for("views.open")
    hint = block(bot.modal(), Block.PRIVATE_KEY)["hint"]["text"]
    assert "3,000 characters" in hint and "RSA-4096" in hint
    assert "--private-key-file" in hint and "ecs-secret create" in hint
    assert "`" not in hint  # a hint is plain text
