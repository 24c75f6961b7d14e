"""Transcripts: what a person reads when something goes wrong. A failure the bot did not
expect shows a reference, and the log has it under that reference."""

from __future__ import annotations

import logging
import re

import pytest
from fakes.bot import BotHarness


async def said(bot: BotHarness, text: str) -> str:
    """Type ``/ecs-secret text``; return what the bot told the asker afterwards."""
    before = len(bot.slack.calls_to("response_url"))
    response = await bot.command(text)
    assert response.status == 200
    calls = await bot.slack.wait_for_calls("response_url", count=before + 1, timeout=10)
    payload = calls[-1].payload
    assert payload["response_type"] == "ephemeral"
    return str(payload["text"])


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
