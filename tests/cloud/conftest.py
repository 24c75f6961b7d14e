"""Fixtures for the cloud layer: the sandbox cloud over HTTP and a gateway pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fakes.cloud import running_sandbox, sandbox_gateway

from ecs_secret_bot.cloud.gateway import AlibabaCloudGateway
from ecs_secret_bot.sandbox import Sandbox


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with running_sandbox() as sb:
        yield sb


@pytest.fixture
def gateway(sandbox: Sandbox) -> AlibabaCloudGateway:
    return sandbox_gateway(sandbox)
