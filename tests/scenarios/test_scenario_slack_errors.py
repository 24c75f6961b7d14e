"""Transcripts: Slack refusing or throttling the bot. Retried where Slack says so (429 with
Retry-After), otherwise explained to the person, with what to do."""

from __future__ import annotations

import pytest
from fakes import workspace as ws
from fakes.bot import BotHarness


async def test_not_in_channel_is_explained_and_the_result_still_reaches_the_asker(
    bot: BotHarness,
) -> None:
    bot.slack.fail("chat.postMessage", "not_in_channel", times=1)
    await bot.command("rotation web-4-ecs-user-key on 14d")
    told = await bot.slack.wait_for(
        "response_url", lambda c: "not a member of that channel" in c.payload.get("text", "")
    )
    assert "/invite @ecs-secret-bot" in told.payload["text"]
    assert "is on, every 14d" in told.payload["text"]


@pytest.mark.slack_response("chat.postMessage", {"ok": False, "error": "channel_not_found"})
async def test_channel_not_found_is_explained(bot: BotHarness) -> None:
    await bot.command("restore web-3-root")  # not scheduled: the refusal goes to the asker
    await bot.slack.wait_for("response_url")
    await bot.command("rotation web-4-ecs-user-key off")
    told = await bot.slack.wait_for(
        "response_url", lambda c: "cannot see that channel" in c.payload.get("text", "")
    )
    assert told.payload["response_type"] == "ephemeral"


async def test_rate_limited_posts_are_retried_after_retry_after(bot: BotHarness) -> None:
    bot.slack.rate_limit("chat.postMessage", retry_after=1, times=1)
    await bot.command("rotation web-4-ecs-user-key on 14d")
    posts = await bot.slack.wait_for_calls("chat.postMessage", count=2, timeout=8)
    assert posts[1].payload["channel"] == ws.INCIDENT_CHANNEL_ID
    assert bot.slack.messages(ws.INCIDENT_CHANNEL_ID)[-1].text.startswith("Automatic rotation")
