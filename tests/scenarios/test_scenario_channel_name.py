"""Transcript: a private channel whose name the bot cannot read is refused, not nameless.

A Deny conditioned on ``slack:ChannelName`` must be able to fire in a private channel,
where Slack sends ``privategroup`` in place of the name and the bot asks
``conversations.info``. When Slack will not say (the bot was never invited), the request
is refused with the reason, and the failure is not remembered: once the bot is invited,
the same command works.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from fakes import workspace as ws
from fakes.bot import BotHarness
from fakes.payloads import slash_command_body

PRIVATE = ws.OUTSIDE_PRIVATE_CHANNEL_ID


async def until(check: Callable[[], bool], *, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "waited in vain"
        await asyncio.sleep(0.05)


async def list_in_private_channel(bot: BotHarness) -> str:
    body = slash_command_body(
        "list",
        channel_id=PRIVATE,
        channel_name="privategroup",
        response_url=bot.slack.response_url(channel_id=PRIVATE, user_id=ws.ALICE_ID),
    )
    answer = await bot.driver.post(body)
    assert answer.status == 200
    return answer.body


async def test_a_channel_name_slack_will_not_give_refuses_the_request_until_it_can(
    bot: BotHarness,
) -> None:
    # /ecs-secret list in a private channel the bot was never invited to
    acked = await list_in_private_channel(bot)
    await until(lambda: "name of this channel" in acked + bot.slack.all_recorded_text())
    assert bot.sandbox.calls.total("ListSecrets") == 0  # nothing was done without the name

    # the bot is invited: the next try asks Slack again (the failure was not cached)
    bot.slack.set_bot_membership(PRIVATE, True)
    await list_in_private_channel(bot)
    await bot.slack.wait_for("response_url", lambda c: "web-3-root" in str(c.payload), timeout=10)
    assert bot.sandbox.calls.total("ListSecrets") >= 1
