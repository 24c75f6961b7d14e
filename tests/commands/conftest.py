"""Fixtures for the core: the sandbox cloud over HTTP and a gateway pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fakes.cloud import populate, sandbox_gateway

from ecs_secret_bot.cloud.gateway import AlibabaCloudGateway
from ecs_secret_bot.sandbox import Sandbox


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    sb = Sandbox(seed=False, rotation_delay=0.05)
    await sb.start(port=0)
    populate(sb)
    try:
        yield sb
    finally:
        await sb.stop()


@pytest.fixture
def gateway(sandbox: Sandbox) -> AlibabaCloudGateway:
    return sandbox_gateway(sandbox)
