"""The roles people act as: STS AssumeRole, and their temporary credentials, kept until due.

A binding with ``role_arn`` makes a person's calls run as that RAM role: the bot (with its
own credentials, from the default chain) calls STS ``AssumeRole`` with a role session name
naming the person (``slack-U0ADMIN``, ``CloudIdentity.session_name``), so ActionTrail
records who did what. The credentials are cached per (role, session name) and reused until
five minutes before they expire (they last an hour); concurrent calls of one person share
one AssumeRole.

Owns ``AssumedRoles``: the STS client (its SDK imported when a role is first assumed), the
cache, and ``credential``, which answers a credential client for an identity. Never decides
who acts as which role (the core does) and never builds KMS or ECS clients (``gateway``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ecs_secret_bot.cloud.kms import parse_cloud_time
from ecs_secret_bot.cloud.retry import RetryPolicy, call_with_retries
from ecs_secret_bot.cloud.sdk import StsSdk
from ecs_secret_bot.cloud.sdk_loop import load_sdk
from ecs_secret_bot.commands.gateway import CloudIdentity
from ecs_secret_bot.commands.settings import CloudSettings
from ecs_secret_bot.errors import CloudUnavailable

if TYPE_CHECKING:
    from alibabacloud_credentials.client import Client as CredentialClient

__all__ = ["DURATION", "RENEW_BEFORE", "AssumedRoles"]

DURATION = timedelta(hours=1)
"""How long the credentials of one AssumeRole last (STS's default, and most roles' maximum)."""
RENEW_BEFORE = timedelta(minutes=5)
"""Credentials this close to their expiry are replaced before a call, not used."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Lease:
    credential: CredentialClient
    expires: datetime


class AssumedRoles:
    """Temporary credentials of the roles people act as, per (role, session name)."""

    def __init__(
        self,
        settings: CloudSettings,
        *,
        credential: Callable[[], CredentialClient],
        retry: RetryPolicy,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._settings = settings
        self._bot_credential = credential
        self._retry = retry
        self._clock = clock or _utcnow
        self._client: StsSdk | None = None
        self._leases: dict[tuple[str, str], _Lease] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def _sts(self) -> StsSdk:
        if self._client is None:
            from alibabacloud_sts20150401.client import Client as StsClient
            from alibabacloud_tea_openapi.utils_models import Config as OpenApiConfig

            settings = self._settings
            config = OpenApiConfig(
                credential=self._bot_credential(),
                region_id=settings.default_region,
                read_timeout=int(settings.read_timeout.total_seconds() * 1000),
                connect_timeout=int(settings.connect_timeout.total_seconds() * 1000),
            )
            if settings.sts_endpoint:
                scheme, _, host = settings.sts_endpoint.rpartition("://")
                config.endpoint = host.rstrip("/")
                config.protocol = scheme or "https"
            elif settings.network == "vpc":  # sts-vpc.<default_region>.aliyuncs.com
                config.network = "vpc"
            self._client = StsClient(config)
        return self._client

    async def credential(self, identity: CloudIdentity) -> CredentialClient:
        """Return credentials of ``identity``'s role session, assuming the role when due."""
        key = (identity.role_arn, identity.session_name)
        lease = self._leases.get(key)
        if lease is not None and self._clock() < lease.expires - RENEW_BEFORE:
            return lease.credential
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            lease = self._leases.get(key)
            if lease is None or self._clock() >= lease.expires - RENEW_BEFORE:
                lease = await self._assume(identity)
                self._leases[key] = lease
        return lease.credential

    async def _assume(self, identity: CloudIdentity) -> _Lease:
        # Loaded on a worker thread, so that the caller's loop keeps answering.
        await load_sdk("alibabacloud_credentials.client", "alibabacloud_sts20150401.client")
        from alibabacloud_credentials.client import Client as CredentialClient
        from alibabacloud_credentials.models import Config as CredentialConfig
        from alibabacloud_sts20150401 import models as sts_models

        request = sts_models.AssumeRoleRequest(
            role_arn=identity.role_arn,
            role_session_name=identity.session_name,
            duration_seconds=int(DURATION.total_seconds()),
        )
        client = self._sts()
        response = await call_with_retries(
            "AssumeRole",
            lambda: client.assume_role_async(request),
            policy=self._retry,
            idempotent=True,
            subject=identity.role_arn,
            service="sts",  # for the metrics' label, and an error's "[cloud] sts_endpoint"
        )
        found = response.body.credentials
        expires = parse_cloud_time(found.expiration if found is not None else None)
        if found is None or not found.access_key_id or expires is None:
            raise CloudUnavailable(
                f"STS answered AssumeRole for {identity.role_arn} without credentials.",
                next_step="Try again; if it persists, check the STS endpoint setting.",
                action="AssumeRole",
            )
        credential = CredentialClient(
            CredentialConfig(
                type="sts",
                access_key_id=found.access_key_id,
                access_key_secret=found.access_key_secret,
                security_token=found.security_token,
            )
        )
        return _Lease(credential, expires)
