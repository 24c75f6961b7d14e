"""The sandbox cloud for tests: a started ``Sandbox`` and a gateway pointed at it.

The sandbox speaks the real KMS/ECS wire protocol over loopback; tests reach it only
through the real SDK clients (via our gateway or directly), never through mocks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from alibabacloud_credentials.client import Client as CredentialClient
from alibabacloud_credentials.models import Config as CredentialConfig

from ecs_secret_bot.cloud.gateway import USER_AGENT, AlibabaCloudGateway
from ecs_secret_bot.cloud.retry import RetryPolicy
from ecs_secret_bot.config import CloudSettings, RegionDefaults
from ecs_secret_bot.sandbox import Sandbox

__all__ = [
    "BOT_AGENT",
    "REGIONS",
    "cloud_settings",
    "endpoints_toml",
    "fast_retry",
    "populate",
    "running_sandbox",
    "sandbox_credential",
    "sandbox_gateway",
]

REGIONS = ("cn-hangzhou", "cn-shanghai")
BOT_AGENT = USER_AGENT.split("/")[0] + "/"
"""What the bot's calls carry in their User-Agent (the SDK's, then ``ecs-secret-bot/<version>``)."""


def sandbox_credential() -> CredentialClient:
    """Return the public sandbox AccessKey through the credentials library itself."""
    return CredentialClient(
        CredentialConfig(
            type="access_key", access_key_id="sandbox", access_key_secret="sandbox-secret"
        )
    )


def cloud_settings(sb: Sandbox, **overrides: object) -> CloudSettings:
    """Return cloud settings for the regions ``sb`` serves, each aimed at its own endpoint."""
    aimed = {
        region: RegionDefaults(kms_endpoint=sb.url_of(region), ecs_endpoint=sb.url_of(region))
        for region in sb.regions
    }
    values: dict[str, object] = {
        "default_region": sb.regions[0],
        "regions": sb.regions,
        "region_defaults": aimed,
        "sts_endpoint": sb.url,
    }
    values.update(overrides)
    return CloudSettings(**values)  # type: ignore[arg-type]


def endpoints_toml(sb: Sandbox) -> str:
    """Return ``[cloud]`` keys aiming each region ``sb`` serves at its own endpoint."""
    lines = [f'{service}_endpoint = "{sb.url}"' for service in ("kms", "ecs", "sts")]
    for region in sb.regions[1:]:
        for service in ("kms", "ecs"):
            lines.append(f'region_defaults.{region}.{service}_endpoint = "{sb.url_of(region)}"')
    return "\n".join(lines)


def fast_retry() -> RetryPolicy:
    """Return a retry policy with short pauses, for tests."""
    return RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, attempt_timeout=5)


def sandbox_gateway(sb: Sandbox) -> AlibabaCloudGateway:
    """Return a gateway talking to ``sb`` with the sandbox AccessKey."""
    return AlibabaCloudGateway(
        cloud_settings(sb), credential=sandbox_credential(), retry=fast_retry()
    )


def populate(sb: Sandbox) -> None:
    """Add the instances the core tests use (the sandbox starts unseeded)."""
    sb.add_instance("cn-hangzhou", "i-web3", name="web-3", os_type="linux")
    sb.add_instance("cn-hangzhou", "i-win1", name="win-1", os_type="windows")
    sb.add_instance("cn-hangzhou", "i-stopped", name="old-batch", status="Stopped")
    sb.add_instance("cn-hangzhou", "i-noagent", name="no-agent", cloud_assistant_online=False)
    sb.add_instance("cn-shanghai", "i-sh1", name="sh-1", os_type="linux")


@asynccontextmanager
async def running_sandbox() -> AsyncIterator[Sandbox]:
    """Run an unseeded sandbox of ``REGIONS`` (rotations finish after 0.05 s) holding
    ``populate``'s instances."""
    sb = Sandbox(regions=REGIONS, seed=False, rotation_delay=0.05)
    await sb.start(port=0)
    populate(sb)
    try:
        yield sb
    finally:
        await sb.stop()
