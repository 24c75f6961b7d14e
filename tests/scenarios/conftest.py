"""Fixtures of the scenario tests: the whole bot, running, against fake Slack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fakes import FakeSlackAPI
from fakes.bot import BotHarness, running_bot


@pytest.fixture
async def bot(tmp_path: Path, slack_api: FakeSlackAPI) -> AsyncIterator[BotHarness]:
    """Yield the bot serving HTTP on loopback, with the sandbox cloud and SQLite."""
    async with running_bot(tmp_path, slack_api) as harness:
        yield harness
