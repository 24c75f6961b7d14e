"""Transcripts against Slack's strictness that the bot once did not survive (issue 12).

Each was a strict xfail naming the bot code path it waited for, until its fix landed.
"""

from __future__ import annotations

import asyncio

from fakes import workspace as ws
from fakes.bot import BotHarness
from fakes.payloads import checkboxes_state, input_state
from test_scenario_delete_and_approvals import delete_values

from ecs_secret_bot.bot.ids import Action, Block, Callback

REASON = {Block.REASON: {Action.REASON: input_state("leaked")}}


def has_button(blocks: object, action_id: str) -> bool:
    """Say whether Block Kit ``blocks`` carry an element with ``action_id``."""
    if not isinstance(blocks, list):
        return False
    elements = [e for b in blocks for e in (b.get("elements") or []) + [b.get("accessory") or {}]]
    return any(isinstance(e, dict) and e.get("action_id") == action_id for e in elements)


def told(bot: BotHarness) -> list[str]:
    """Return every text the bot sent anyone, oldest first."""
    methods = ("chat.postMessage", "chat.postEphemeral", "response_url")
    return [str(c.payload.get("text", "")) for c in bot.slack.calls if c.method in methods]


async def test_closing_the_working_modal_keeps_the_rotation_announced(bot: BotHarness) -> None:
    await bot.command("rotate web-3-root")
    modal = await bot.wait_modal(Callback.ROTATE)
    bot.services.modal_budget = 0.2
    bot.sandbox.faults.add(action="RotateSecret", kind="latency", latency=1.5, times=1)

    working = (await bot.submit(modal, REASON)).json()
    await bot.close_modal(modal["id"])

    assert "Working on it" in str(working["view"])
    await bot.slack.wait_for(
        "chat.postMessage", lambda c: "Rotation triggered" in c.payload.get("text", "")
    )


async def test_closing_the_confirmation_modal_keeps_the_deletion_announced(
    bot: BotHarness,
) -> None:
    await bot.command("delete web-4-ecs-user-key --days 10")
    await bot.slack.wait_for("views.open")
    await bot.submit(bot.modal(), delete_values("schedule", days="10"))
    confirm = bot.modal()
    bot.sandbox.faults.add(action="DeleteSecret", kind="latency", latency=1.0, times=1)

    await bot.click(Action.DELETE_GO, view=confirm, block_id=Block.DELETE_GO, value="go")
    await asyncio.sleep(0.3)
    await bot.close_modal(confirm["id"])

    await bot.slack.wait_for(
        "chat.postMessage", lambda c: "scheduled for deletion" in c.payload.get("text", "")
    )
    assert not any("went wrong" in text for text in told(bot))


async def test_modals_open_in_time_while_the_cloud_is_slow(bot: BotHarness) -> None:
    bot.sandbox.faults.add(action="*", kind="latency", latency=3.5)
    names = ["web-3-root", "web-4-ecs-user-key", "batch-7-root"] * 2

    await asyncio.gather(*(bot.command(f"rotate {name}") for name in names[:5]))
    await bot.slack.wait_for_calls("views.open", count=5, timeout=10)
    await asyncio.sleep(0.2)
    bot.sandbox.faults.clear()

    modals = [v for v in bot.slack.workspace.views.values() if v["type"] == "modal"]
    assert len(modals) == 5
    assert not any("went wrong" in text for text in told(bot))


async def test_an_approval_card_reaches_approvers_from_a_channel_the_bot_is_not_in(
    bot: BotHarness,
) -> None:
    await bot.command("delete batch-7-root --now", channel=ws.OUTSIDE_CHANNEL_ID)
    await bot.slack.wait_for("views.open")
    await bot.submit(bot.modal(), delete_values("now", name="batch-7-root"))

    await bot.click(Action.DELETE_GO, view=bot.modal(), block_id=Block.DELETE_GO, value="go")

    await bot.slack.wait_for(
        "chat.postMessage",
        lambda c: (
            c.payload.get("channel") == ws.SECOPS_CHANNEL_ID
            and "Approval request" in c.payload.get("text", "")
        ),
    )
    to_requester = [
        c
        for c in bot.slack.calls
        if c.method == "response_url"
        or (c.method == "chat.postEphemeral" and c.payload.get("user") == ws.ALICE_ID)
        or (c.method == "chat.postMessage" and c.payload.get("channel") in (ws.ALICE_ID, "D0ALICE"))
    ]
    assert not any(has_button(c.payload.get("blocks"), Action.APPROVE) for c in to_requester)


async def test_two_quick_clicks_on_the_custom_switch_are_not_an_error(bot: BotHarness) -> None:
    await bot.command("rotate web-3-root")
    modal = await bot.wait_modal(Callback.ROTATE)

    for ticked in (["custom"], []):
        await bot.click(
            Action.USE_CUSTOM,
            view=modal,
            block_id=Block.USE_CUSTOM,
            action_type="checkboxes",
            state_values={Block.USE_CUSTOM: {Action.USE_CUSTOM: checkboxes_state(ticked)}},
            action={"selected_options": [{"value": value} for value in ticked]},
        )
    await bot.slack.wait_for_calls("views.update", count=3)
    await bot.services.tasks.drain(2.0)

    assert not any("went wrong" in text for text in told(bot))
