"""Transcripts: Slack slow to say who asked (a cold cache, a rate limit, a group it will not list).

Nothing asks Slack about the person before the ack beyond a short budget: the ack goes
out in time, and the answer follows once Slack has said who asked. Group data that
Slack would not give is never read as "no groups": a group may carry a Deny.
"""

from __future__ import annotations

from pathlib import Path

from fakes import FakeSlackAPI
from fakes import workspace as ws
from fakes.bot import BotHarness, running_bot
from fakes.policies import access_toml, binding

from ecs_secret_bot.bot.ids import Callback

DENY_GROUP = "SNOROTATE"
NO_ROTATE = """
[access.policies.NoRotate]
Version = "1"
[[access.policies.NoRotate.Statement]]
Effect = "Deny"
Action = ["kms:RotateSecret", "kms:PutSecretValue"]
Resource = ["acs:kms:*:*:secret/*"]
"""


async def test_a_rate_limited_users_info_does_not_delay_the_ack(bot: BotHarness) -> None:
    bot.slack.rate_limit("users.info", retry_after=2)

    response = await bot.command("whoami")

    assert response.status == 200 and response.elapsed < 1.5
    assert response.body == ""
    answer = await bot.slack.wait_for(
        "response_url", lambda c: "<@U0ALICE>" in c.payload.get("text", ""), timeout=6
    )
    assert answer.payload["response_type"] == "ephemeral"


async def test_a_modal_opens_in_time_while_slack_is_slow_to_say_who_asked(
    bot: BotHarness,
) -> None:
    bot.slack.rate_limit("users.info", retry_after=1)

    response = await bot.command("create")

    assert response.status == 200 and response.elapsed < 1.5
    await bot.slack.wait_for("views.open", timeout=4)
    assert bot.modal()["callback_id"] == Callback.CREATE


async def test_a_group_slack_will_not_list_is_not_read_as_empty(
    tmp_path: Path, slack_api: FakeSlackAPI
) -> None:
    policies = access_toml(
        admins=[f"slack:user:{ws.ALICE_ID}"],
        channel=ws.SECOPS_CHANNEL_ID,
        delete_approvers=[f"slack:user:{ws.ADMIN_ID}"],
        more=binding([f"slack:usergroup:{DENY_GROUP}"], ["NoRotate"]) + NO_ROTATE,
    )
    async with running_bot(tmp_path, slack_api, policies=policies) as bot:
        slack_api.set_usergroup(DENY_GROUP, [ws.ALICE_ID], handle="no-rotate")
        slack_api.fail("usergroups.users.list", "fatal_error")

        answer = (await bot.command("rotate web-3-root")).json()

        assert "Slack did not say who is in user group SNOROTATE" in answer["text"]
        assert not bot.slack.calls_to("views.open")
        assert bot.sandbox.calls.total("DescribeSecret") == 0

        # once Slack answers, the Deny of the group holds
        slack_api.reset_responses("usergroups.users.list")
        await bot.command("rotate web-3-root")
        await bot.slack.wait_for(
            "views.update", lambda c: "may not rotate web-3-root" in str(c.payload.get("view"))
        )
