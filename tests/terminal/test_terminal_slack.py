"""One database, two front ends: a request made at the terminal is approved in Slack (through
the app's HTTP endpoint), and a request made in Slack is approved at the terminal."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from cli_runner import CliResult, run_cli, sandbox_env
from fakes import FakeSlackAPI
from fakes import workspace as ws
from fakes.bot import BotHarness, running_bot
from fakes.payloads import input_state, select_state
from fakes.policies import access_toml
from terminal_harness import LOGIN

from ecs_secret_bot.bot.ids import Action, Block, Callback

ME = f"local:user:{LOGIN}"

POLICIES = access_toml(
    admins=[f"slack:user:{ws.ADMIN_ID}", "slack:usergroup:SSRE", "slack:usergroup:SSEC", ME],
    channel=ws.SECOPS_CHANNEL_ID,
    delete_approvers=["slack:usergroup:SSEC", ME],
)


async def terminal(bot: BotHarness, *args: str, **env: str) -> CliResult:
    """Run ``ecs-secret`` on the bot's own configuration and database."""
    folder = bot.db_path.parent
    config = str(folder / "bot.toml")
    return await run_cli(*args, cwd=folder, env=sandbox_env(ECS_SECRET_BOT_CONFIG=config, **env))


async def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_terminal_request_approved_in_slack(tmp_path: Path, slack_api: FakeSlackAPI) -> None:
    async with running_bot(tmp_path, slack_api, policies=POLICIES) as bot:
        held = await terminal(bot, "delete", "web-4-ecs-user-key", "--now", "--yes", "--json")
        assert held.code == 4, str(held)
        approval_id = held.json["result"]["approval_id"]
        assert held.json["result"]["announce_channel"] == ws.SECOPS_CHANNEL_ID

        answer = await bot.click(Action.APPROVE, value=approval_id, user=ws.ADMIN_ID)
        assert answer.status == 200
        await wait_until(lambda: bot.sandbox.calls.total("DeleteSecret") == 1)

        mine = await terminal(bot, "approvals", "--json")
        item = next(i for i in mine.json["result"]["mine"] if i["id"] == approval_id)
        assert item["status"] == "executed" and item["approved_by"] == [f"slack:user:{ws.ADMIN_ID}"]
        assert bot.sandbox.kms.find("cn-hangzhou", "acs/ecs/web-4-ecs-user-key") is None


def delete_now_values(name: str) -> dict[str, Any]:
    return {
        Block.DELETE_MODE: {Action.DELETE_MODE: select_state("now", type="radio_buttons")},
        Block.DAYS: {Action.DAYS: input_state("30", type="number_input")},
        Block.CONFIRM_NAME: {Action.CONFIRM_NAME: input_state(name)},
        Block.REASON: {Action.REASON: input_state("decommissioned")},
    }


async def request_immediate_deletion_in_slack(bot: BotHarness, name: str) -> str:
    """Type ``/ecs-secret delete NAME --now`` as Alice and go through the modal; return the id."""
    await bot.command(f"delete {name} --now")
    await bot.slack.wait_for("views.open")
    view = bot.modal()
    answer = (await bot.submit(view, delete_now_values(name))).json()
    assert answer["response_action"] == "update", answer
    assert answer["view"]["callback_id"] == Callback.DELETE_CONFIRM
    await bot.click(Action.DELETE_GO, view=bot.modal(), block_id=Block.DELETE_GO, value="go")
    card = await bot.slack.wait_for(
        "chat.postMessage", lambda c: "Approval request" in c.payload.get("text", "")
    )
    for block in card.payload["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == Action.APPROVE:
                return str(element["value"])
    raise AssertionError("no Approve button on the card")


async def test_slack_request_approved_at_the_terminal(
    tmp_path: Path, slack_api: FakeSlackAPI
) -> None:
    async with running_bot(tmp_path, slack_api, policies=POLICIES) as bot:
        approval_id = await request_immediate_deletion_in_slack(bot, "web-3-root")
        assert bot.sandbox.calls.total("DeleteSecret") == 0

        # without a Slack token the terminal cannot check Alice, so it refuses before voting
        blind = await terminal(bot, "approve", approval_id)
        assert blind.code == 6, str(blind)
        assert f"involves slack:user:{ws.ALICE_ID}" in blind.err
        assert "Nothing was recorded." in blind.err

        waiting = await terminal(bot, "approvals", "--json")
        assert [i["id"] for i in waiting.json["result"]["waiting_for_me"]] == [approval_id]
        approved = await terminal(
            bot,
            "approve",
            approval_id,
            "--json",
            SLACK_BOT_TOKEN=ws.BOT_TOKEN,
            SLACK_API_URL=slack_api.url,
        )
        assert approved.code == 0, str(approved)
        body = approved.json
        assert body["vote"] == "approved" and body["result_type"] == "DeleteResult"
        assert body["approval"]["approved_by"] == [ME]
        assert body["result"]["requested_by"] == f"slack:user:{ws.ALICE_ID}"
        assert bot.sandbox.calls.total("DeleteSecret") == 1
        assert [c.payload["user"] for c in slack_api.calls_to("users.info")].count(ws.ALICE_ID) >= 1
