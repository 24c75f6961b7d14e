"""Fixtures of the terminal tests: a sandbox cloud, and ``ecs-secret`` configured for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fakes.cloud import REGIONS
from terminal_harness import Terminal, config_text

from ecs_secret_bot.sandbox import Sandbox


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    """Yield a seeded sandbox whose rotations complete quickly."""
    async with Sandbox(regions=REGIONS, seed=True, rotation_delay=0.3) as sb:
        yield sb


@pytest.fixture
def terminal(tmp_path: Path, sandbox: Sandbox) -> Terminal:
    """Return ``ecs-secret`` configured against ``sandbox``, working in ``tmp_path``."""
    config = tmp_path / "ecs-secret-bot.toml"
    config.write_text(config_text(sandbox), encoding="utf-8")
    return Terminal(sandbox, tmp_path, config)
