"""The ``--sandbox`` switch: the emulated cloud in-process, and settings pointed at it.

The only production module that imports ``ecs_secret_bot.sandbox``, and only when
``serve --sandbox`` asks for it. The sandbox takes the public AccessKey pair
``sandbox`` / ``sandbox-secret`` through the standard credentials library.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from alibabacloud_credentials.client import Client as CredentialClient
from alibabacloud_credentials.models import Config as CredentialConfig

from ecs_secret_bot.config import Settings

__all__ = ["start_sandbox"]


async def start_sandbox(
    settings: Settings, *, say: Callable[[str], None]
) -> tuple[Any, Settings, CredentialClient]:
    """Start a seeded sandbox; return it, settings aimed at it, and its credential."""
    from ecs_secret_bot.sandbox import Sandbox

    sandbox = Sandbox(seed=True, rotation_delay=3.0)
    await sandbox.start(port=0)
    cloud = dataclasses.replace(settings.cloud, kms_endpoint=sandbox.url, ecs_endpoint=sandbox.url)
    credential = CredentialClient(
        CredentialConfig(
            type="access_key", access_key_id="sandbox", access_key_secret="sandbox-secret"
        )
    )
    say(
        f"SANDBOX: the cloud is the in-process emulated KMS + ECS at {sandbox.url}, seeded "
        "with demo instances and secrets in cn-hangzhou. Nothing reaches Alibaba Cloud."
    )
    return sandbox, dataclasses.replace(settings, cloud=cloud), credential
