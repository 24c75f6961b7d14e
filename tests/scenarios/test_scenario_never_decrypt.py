"""Transcripts: a canary set in KMS never reaches the bot, and custom values are said honestly.

The canary is a password set through the sandbox, as the console would set it, on a secret
whose user KMS does not record. Whatever the bot is asked (show, list, the rotate modal, a
rotation with a custom value and one with a generated value, audit), every answer the
sandbox gave the bot is kept and searched: the canary is in none of them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import FakeSlackAPI
from fakes import workspace as ws
from fakes.bot import BotHarness, bot_policies, running_bot
from fakes.cloud import BOT_AGENT
from fakes.payloads import checkboxes_state, input_state
from test_scenario_custom_rotation import CANARY as CUSTOM
from test_scenario_custom_rotation import custom_values, open_custom
from test_scenario_delete_and_approvals import button_of
from test_scenario_reads_and_home import ephemeral

from ecs_secret_bot.bot.ids import Action, Block, Callback
from ecs_secret_bot.storage.audit import list_audit

CANARY = "Canary7Set-In-The-Console"
WEB4 = "i-bp1sbxweb4000000002"


async def test_a_canary_set_in_kms_never_reaches_the_bot(bot: BotHarness) -> None:
    sandbox = bot.sandbox
    sandbox.calls.keep_answers()
    sandbox.add_ecs_secret(
        "cn-hangzhou",
        "canary-root",
        instance_id=WEB4,
        secret_data={"UserName": "root", "Password": CANARY},
        custom_data={},  # created in the console: only the value names its user
    )

    shown = await ephemeral(bot, "show canary-root")
    assert "unknown (KMS does not record it)" in str(shown["blocks"])
    await ephemeral(bot, "list canary")

    # the custom-value fields ask for the user KMS does not record
    modal = await open_custom(bot, "canary-root")
    user = next(b for b in modal["blocks"] if b.get("block_id") == Block.USER)
    assert "initial_value" not in user["element"]
    assert "never decrypts" in user["hint"]["text"]
    refused = (await bot.submit(modal, custom_values(CUSTOM))).json()
    assert list(refused["errors"]) == [Block.USER]
    values = {**custom_values(CUSTOM), Block.USER: {Action.USER: input_state("root")}}
    assert (await bot.submit(modal, values)).json()["response_action"] == "update"
    await bot.slack.wait_for(
        "chat.update", lambda c: "custom value of `canary-root`" in c.payload.get("text", "")
    )

    opened = len(bot.slack.calls_to("views.update"))
    await bot.command("rotate canary-root")
    await bot.slack.wait_for_calls("views.update", count=opened + 1)
    assert bot.modal()["callback_id"] == Callback.ROTATE
    await bot.submit(bot.modal(), {})
    await bot.slack.wait_for(
        "chat.update", lambda c: "Rotation completed on" in c.payload.get("text", ""), timeout=10
    )
    await ephemeral(bot, "audit canary-root")

    answers = sandbox.calls.answers(agent=BOT_AGENT)
    actions = {a.action for a in answers}
    assert {"DescribeSecret", "ListSecrets", "PutSecretValue", "RotateSecret"} <= actions
    assert "GetSecretValue" not in actions
    assert not [a.action for a in answers if CANARY in a.body or CUSTOM in a.body]
    assert CANARY in sandbox.secret("cn-hangzhou", "canary-root").versions["v1"].data  # it's there


@pytest.mark.parametrize("mode", ["push", "accept"])
async def test_a_custom_value_kms_accepts_is_said_as_kms_knows_it(
    bot: BotHarness, mode: str
) -> None:
    bot.sandbox.custom_values = mode  # type: ignore[assignment]
    modal = await open_custom(bot)
    user = next(b for b in modal["blocks"] if b.get("block_id") == Block.USER)
    assert user["element"]["initial_value"] == "root"  # as KMS records it
    switch = {Block.USE_CUSTOM: {Action.USE_CUSTOM: checkboxes_state(["custom"])}}
    answer = await bot.submit(modal, {**custom_values(CUSTOM), **switch})
    notice = str(answer.json()["view"]) + str(bot.modal())
    assert "KMS accepted the custom value for `web-3-root`" in notice
    assert "cannot confirm that the instance receives it" in notice

    triggered = await bot.slack.wait_for(
        "chat.postMessage", lambda c: "Rotation triggered" in c.payload.get("text", "")
    )
    assert "which KMS accepted (PutSecretValue)" in triggered.payload["text"]
    assert "cannot confirm whether the instance receives" in str(triggered.payload["blocks"])
    ended = await bot.slack.wait_for(
        "chat.update", lambda c: "custom value" in c.payload.get("text", ""), timeout=10
    )
    text = ended.payload["text"]
    assert "Rotation completed" not in text and "completed on" not in text
    assert "can't be confirmed by KMS" in text
    steps = str(ended.payload["blocks"][-1])
    assert "logs in to the instance" in steps and "Cloud Assistant" in steps
    [followed, *_] = await list_audit(bot.services.core.db)
    assert "KMS does not confirm that the instance's credential changed" in followed.outcome
    assert ws.INCIDENT_CHANNEL_ID == triggered.payload["channel"]


CUSTOM_RULE = f"""
[[approval.rules]]
name = "custom-values"
actions = ["kms:PutSecretValue"]
approvers = ["slack:user:{ws.ADMIN_ID}"]
min_approvals = 1
"""


@pytest.mark.both_engines
async def test_an_approved_custom_value_tells_its_requester_what_kms_confirmed(
    tmp_path: Path, slack_api: FakeSlackAPI, storage_url: str
) -> None:
    policies = bot_policies() + CUSTOM_RULE
    async with running_bot(tmp_path, slack_api, policies=policies, database_url=storage_url) as bot:
        modal = await open_custom(bot)
        held = (await bot.submit(modal, custom_values(CUSTOM))).json()
        assert "needs approval" in str(held["view"])
        card = await bot.slack.wait_for(
            "chat.postMessage", lambda c: "Approval request" in c.payload.get("text", "")
        )
        message = next(
            m for m in bot.slack.messages(card.payload["channel"]) if "Approval request" in m.text
        )
        approve = button_of(message.blocks, Action.APPROVE)
        await bot.click(Action.APPROVE, value=approve["value"], message=message, user=ws.ADMIN_ID)
        told = await bot.slack.wait_for(
            "chat.postMessage", lambda c: c.payload.get("channel") == ws.ALICE_ID
        )
        assert "was approved by" in told.payload["text"]
        assert "KMS accepted the custom value" in told.payload["text"]
        assert "cannot confirm that the instance receives it" in told.payload["text"]
        assert "It has run" not in told.payload["text"]
        assert CUSTOM not in bot.slack.all_recorded_text()
