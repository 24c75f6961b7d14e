"""Transcripts: what a person reads when something goes wrong. Hints name slash commands;
a failure the bot did not expect shows a reference, and the log has it under that reference."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from fakes.bot import BotHarness

from ecs_secret_bot.bot.ids import Callback

pytestmark = pytest.mark.both_engines


async def said(bot: BotHarness, text: str) -> str:
    """Type ``/ecs-secret text``; return what the bot told the asker afterwards."""
    before = len(bot.slack.calls_to("response_url"))
    response = await bot.command(text)
    assert response.status == 200
    calls = await bot.slack.wait_for_calls("response_url", count=before + 1, timeout=10)
    payload = calls[-1].payload
    assert payload["response_type"] == "ephemeral"
    return str(payload["text"])


async def test_a_missing_secret_points_to_the_slash_list(bot: BotHarness) -> None:
    text = await said(bot, "show nope")
    assert "KMS has no acs/ecs/nope in this region." in text
    assert "`/ecs-secret list` shows what exists" in text


async def test_restoring_what_is_not_scheduled_points_to_the_slash_pending(
    bot: BotHarness,
) -> None:
    text = await said(bot, "restore web-3-root")
    assert "`/ecs-secret pending` lists the secrets scheduled for deletion." in text


async def test_an_unexpected_failure_shows_only_a_reference_which_the_log_has(
    bot: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    await bot.services.core.db.close()  # the database goes away under the bot
    with caplog.at_level(logging.INFO, logger="ecs_secret_bot.bot.errors"):
        text = await said(bot, "pending")
    found = re.search(r"reference `([0-9a-f]{12})`", text)
    assert found is not None and text.startswith("Something went wrong on my side")
    [record] = [r for r in caplog.records if r.name == "ecs_secret_bot.bot.errors"]
    assert record.getMessage() == f"unexpected error, reference {found.group(1)}"
    assert record.exc_info is not None
    assert "Traceback" not in text and "sqlite" not in text.lower()


async def test_a_refusal_in_an_open_modal_names_the_slash_command_to_run(
    bot: BotHarness,
) -> None:
    bot.sandbox.delete_out_of_band("cn-hangzhou", "web-3-root", planned=timedelta(days=7))
    response = await bot.command("rotate web-3-root")
    assert response.status == 200 and response.body == ""
    modal = await bot.wait_modal(Callback.RESULT)
    assert modal["title"]["text"] == "Cannot rotate"
    assert "Restore it first (`/ecs-secret restore web-3-root`), then rotate." in str(
        modal["blocks"]
    )
