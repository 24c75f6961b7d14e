"""Fixtures for the metrics: the sandbox cloud over HTTP, for the calls they count."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fakes.cloud import running_sandbox

from ecs_secret_bot.sandbox import Sandbox


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with running_sandbox() as sb:
        yield sb
