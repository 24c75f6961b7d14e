"""Transcripts: deletion (scheduled and immediate), Restore, and approvals end to end."""

from __future__ import annotations

from typing import Any

import pytest
from fakes import workspace as ws
from fakes.bot import BotHarness
from fakes.payloads import input_state, select_state

from ecs_secret_bot.bot.ids import Action, Block, Callback

pytestmark = pytest.mark.both_engines


def delete_values(mode: str, *, days: str = "30", name: str = "") -> dict[str, Any]:
    return {
        Block.DELETE_MODE: {Action.DELETE_MODE: select_state(mode, type="radio_buttons")},
        Block.DAYS: {Action.DAYS: input_state(days, type="number_input")},
        Block.CONFIRM_NAME: {Action.CONFIRM_NAME: input_state(name)},
        Block.REASON: {Action.REASON: input_state("clean-up")},
    }


async def review(bot: BotHarness, text: str, values: dict[str, Any], **kw: Any) -> dict[str, Any]:
    await bot.command(text, **kw)
    modal = await bot.slack.wait_for("views.open")
    view = bot.modal()
    assert view["callback_id"] == Callback.DELETE
    del modal
    answer = (await bot.submit(view, values, **kw)).json()
    assert answer["response_action"] == "update", answer
    confirm = answer["view"]
    assert confirm["callback_id"] == Callback.DELETE_CONFIRM
    return confirm


def button_of(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any]:
    for block in blocks:
        for element in block.get("elements", []) + [block.get("accessory") or {}]:
            if element.get("action_id") == action_id:
                return dict(element)
    raise AssertionError(f"no {action_id} button in {blocks}")


async def test_delete_modal_refuses_bad_input_in_place(bot: BotHarness) -> None:
    await bot.command("delete web-3-root")
    await bot.slack.wait_for("views.open")
    view = bot.modal()
    days = (await bot.submit(view, delete_values("schedule", days="45"))).json()
    assert days == {"response_action": "errors", "errors": {Block.DAYS: days["errors"][Block.DAYS]}}
    wrong = (await bot.submit(view, delete_values("now", name="web-4"))).json()
    # a field error is plain text: quotes, not backticks Slack would show as such
    assert 'Type "web-3-root" exactly' in wrong["errors"][Block.CONFIRM_NAME]
    assert "`" not in wrong["errors"][Block.CONFIRM_NAME]
    assert bot.sandbox.calls.total("DeleteSecret") == 0


async def test_scheduled_deletion_then_restore_button(bot: BotHarness) -> None:
    confirm = await review(
        bot, "delete web-4-ecs-user-key --days 10", delete_values("schedule", days="10")
    )
    go = button_of(confirm["blocks"], Action.DELETE_GO)
    assert go["style"] == "danger" and go["confirm"]["confirm"]["text"] == "Schedule"

    view = bot.modal()
    await bot.click(Action.DELETE_GO, view=view, block_id=Block.DELETE_GO, value="go")
    posted = await bot.slack.wait_for(
        "chat.postMessage", lambda c: "scheduled for deletion" in c.payload.get("text", "")
    )
    assert "<!date^" in posted.payload["text"]
    message = next(m for m in bot.slack.messages(ws.INCIDENT_CHANNEL_ID) if "scheduled" in m.text)
    restore = button_of(message.blocks, Action.RESTORE)

    # Bob may only ask: his click becomes an approval request, posted once, in the channel
    await bot.click(Action.RESTORE, value=restore["value"], message=message, user=ws.BOB_ID)
    card_call = await bot.slack.wait_for(
        "chat.postMessage", lambda c: "Approval request" in c.payload.get("text", "")
    )
    assert card_call.payload["channel"] == ws.INCIDENT_CHANNEL_ID
    assert "<!subteam^SSRE>" in str(card_call.payload["blocks"])
    assert bot.sandbox.calls.total("RestoreSecret") == 0

    # Alice (SRE) approves: it runs, the card says so, Bob hears back
    card = next(
        m for m in bot.slack.messages(ws.INCIDENT_CHANNEL_ID) if "Approval request" in m.text
    )
    approve = button_of(card.blocks, Action.APPROVE)
    await bot.click(Action.APPROVE, value=approve["value"], message=card, user=ws.ALICE_ID)
    await bot.slack.wait_for(
        "chat.update",
        lambda c: (
            "approved" in c.payload.get("text", "").lower()
            or "executed" in c.payload.get("text", "")
        ),
    )
    await bot.slack.wait_for("chat.postMessage", lambda c: c.payload.get("channel") == ws.BOB_ID)
    assert bot.sandbox.calls.total("RestoreSecret") == 1


async def test_immediate_delete_needs_security_and_refuses_self_approval(bot: BotHarness) -> None:
    confirm = await review(
        bot, "delete batch-7-root --now", delete_values("now", name="batch-7-root")
    )
    go = button_of(confirm["blocks"], Action.DELETE_GO)
    assert go["style"] == "danger" and "cannot be undone" in go["confirm"]["text"]["text"]
    await bot.click(Action.DELETE_GO, view=bot.modal(), block_id=Block.DELETE_GO, value="go")
    await bot.slack.wait_for(
        "chat.postMessage", lambda c: "Approval request" in c.payload.get("text", "")
    )
    card = next(
        m for m in bot.slack.messages(ws.INCIDENT_CHANNEL_ID) if "Approval request" in m.text
    )
    approve = button_of(card.blocks, Action.APPROVE)["value"]

    # Alice may not approve her own request: an ephemeral explanation, nothing changes
    await bot.click(Action.APPROVE, value=approve, message=card, user=ws.ALICE_ID)
    (refusal,) = await bot.slack.wait_for_calls("response_url", count=1)
    assert "you asked for it" in refusal.payload["text"]
    assert refusal.payload["response_type"] == "ephemeral"
    assert not bot.slack.calls_to("chat.update")

    # the security admin approves; a second click changes nothing
    await bot.click(Action.APPROVE, value=approve, message=card, user=ws.ADMIN_ID)
    await bot.slack.wait_for("chat.update")
    await bot.slack.wait_for(
        "chat.postMessage", lambda c: "deleted immediately" in c.payload.get("text", "")
    )
    await bot.click(Action.APPROVE, value=approve, message=card, user=ws.ADMIN_ID)
    await bot.slack.wait_for_calls("response_url", count=3)
    assert len(bot.slack.calls_to("chat.update")) == 1
    assert bot.sandbox.calls.total("DeleteSecret") == 1
