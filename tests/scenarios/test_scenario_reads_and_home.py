"""Transcripts: list, show, pending, approvals, audit, dry runs, rotation on/off, create,
App Home (and an event delivered twice), and requests Slack did not sign."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fakes import app_home_opened_event, slash_command_body
from fakes import workspace as ws
from fakes.bot import BotHarness
from fakes.payloads import checkboxes_state, input_state, select_state

from ecs_secret_bot.bot.ids import Action, Block, Callback

pytestmark = pytest.mark.both_engines


async def ephemeral(bot: BotHarness, text: str, **kw: Any) -> dict[str, Any]:
    before = len(bot.slack.calls_to("response_url"))
    response = await bot.command(text, **kw)
    assert response.status == 200 and response.elapsed < 1.0
    calls = await bot.slack.wait_for_calls("response_url", count=before + 1, timeout=10)
    payload = calls[-1].payload
    assert payload["response_type"] == "ephemeral"
    return payload


async def test_list_show_pending_approvals_audit(bot: BotHarness) -> None:
    listed = await ephemeral(bot, "list web-")
    assert "web-3-root" in str(listed["blocks"]) and "win-app-1" not in str(listed["blocks"])
    assert listed["blocks"][1]["type"] == "section" and "fields" in listed["blocks"][1]

    shown = await ephemeral(bot, "show acs/ecs/web-3-root")
    assert "i-bp1sbxweb3000000001" in str(shown["blocks"])
    assert "<!date^" in str(shown["blocks"])

    pending = await ephemeral(bot, "pending")
    assert "No deletion is scheduled" in str(pending["blocks"])
    approvals = await ephemeral(bot, "approvals")
    assert "Nothing waits for you" in str(approvals["blocks"])
    audit = await ephemeral(bot, "audit web-3-root")
    assert "Recent activity" in audit["text"]


async def test_a_reader_is_refused_a_change_with_the_reason(bot: BotHarness) -> None:
    refused = await ephemeral(bot, "rotation web-3-root off", user=ws.BOB_ID)
    assert "not allowed" in refused["text"].lower()
    assert bot.sandbox.calls.total("UpdateSecretRotationPolicy") == 0


async def test_dry_runs_change_nothing(bot: BotHarness) -> None:
    for text in (
        "rotate web-3-root --dry-run",
        "delete web-3-root --now --dry-run",
        "rotation web-3-root on 14d --dry-run",
        "restore web-3-root --dry-run",
    ):
        report = await ephemeral(bot, text)
        assert "Nothing was done" in report["text"] or "not" in report["text"].lower(), text
    assert bot.sandbox.calls.total("RotateSecret") == 0
    assert bot.sandbox.calls.total("DeleteSecret") == 0
    assert bot.sandbox.calls.total("UpdateSecretRotationPolicy") == 0
    assert not bot.slack.calls_to("chat.postMessage")


async def test_rotation_on_and_off(bot: BotHarness) -> None:
    await bot.command("rotation web-4-ecs-user-key on 14d")
    on = await bot.slack.wait_for("chat.postMessage")
    assert "is on, every 14d" in on.payload["text"]
    await bot.command("rotation web-4-ecs-user-key off")
    await bot.slack.wait_for_calls("chat.postMessage", count=2)
    assert "is off" in bot.slack.calls_to("chat.postMessage")[-1].payload["text"]


async def test_create_with_the_instance_picker(bot: BotHarness) -> None:
    await bot.command("create")
    await bot.slack.wait_for("views.open")
    modal = bot.modal()
    assert modal["callback_id"] == Callback.CREATE
    options = (await bot.suggest(Action.INSTANCE, "web", view=modal)).json()["options"]
    assert [o["value"] for o in options][:2] == ["i-bp1sbxweb3000000001", "i-bp1sbxweb4000000002"]

    values: dict[str, Any] = {
        Block.NAME: {Action.NAME: input_state("web-3-app")},
        Block.REGION: {Action.REGION: select_state("cn-hangzhou")},
        Block.INSTANCE: {
            Action.INSTANCE: select_state("i-bp1sbxweb3000000001", type="external_select")
        },
        Block.USER: {Action.USER: input_state("app")},
        Block.KIND: {Action.KIND: select_state("Password", type="radio_buttons")},
        Block.PASSWORD: {Action.PASSWORD: input_state("")},
        Block.AUTO_ROTATE: {Action.AUTO_ROTATE: checkboxes_state(["on"])},
        Block.INTERVAL: {Action.INTERVAL: input_state("30x")},
    }
    missing = (await bot.submit(modal, values)).json()
    assert Block.PASSWORD in missing["errors"]
    values[Block.PASSWORD] = {Action.PASSWORD: input_state("Start9Passw0rd")}
    bad_interval = (await bot.submit(modal, values)).json()
    assert list(bad_interval["errors"]) == [Block.INTERVAL]
    values[Block.INTERVAL] = {Action.INTERVAL: input_state("30d")}
    created = (await bot.submit(modal, values)).json()
    assert created["response_action"] == "update"
    posted = await bot.slack.wait_for("chat.postMessage")
    assert "web-3-app" in posted.payload["text"] and "created" in posted.payload["text"]
    assert "Start9Passw0rd" not in bot.slack.all_recorded_text()


async def test_app_home_is_published_once_per_event(bot: BotHarness) -> None:
    event = app_home_opened_event(user_id=ws.ALICE_ID)
    first = await bot.event(event, event_id="Ev0HOME000001")
    again = await bot.event(event, event_id="Ev0HOME000001")
    assert first.status == again.status == 200
    await bot.slack.wait_for("views.publish")
    home = bot.slack.home_view(ws.ALICE_ID)
    text = str(home["blocks"])
    assert "Approvals waiting for you" in text and "Scheduled deletions" in text
    await bot.event(event, event_id="Ev0HOME000002")
    await bot.slack.wait_for_calls("views.publish", count=2)
    assert len(bot.slack.calls_to("views.publish")) == 2


async def test_forged_and_stale_requests_are_refused_and_do_nothing(bot: BotHarness) -> None:
    body = slash_command_body("rotation web-3-root off")
    forged = await bot.driver.post(body, secret="not-the-signing-secret")
    stale = await bot.driver.post(body, timestamp=int(time.time()) - 3600)
    assert forged.status == 401 and stale.status == 401
    assert bot.slack.calls == []
    assert bot.sandbox.calls.total("DescribeSecret") == 0
