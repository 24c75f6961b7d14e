"""The cloud gateway: ``CloudGateway`` (of ``commands.gateway``) over the real Alibaba Cloud SDKs.

``AlibabaCloudGateway`` builds one KMS and one ECS client per region, each aimed at that
region's own endpoint (``endpoints``: as configured, else the documented one of the region
and network), with the configured timeouts and the default credential chain of
``alibabacloud-credentials`` (or a given AccessKey pair: the sandbox's), each on its first
call: the SDK packages are imported only then (they take a second to load), on a worker
thread so that the caller's loop keeps answering (``sdk_loop.load_sdk``); a command that
calls nothing loads none of them, one that calls only KMS never ECS or STS.
It composes the calls: ``kms`` and ``ecs`` build each request
and read each answer, ``retry`` runs each attempt on the SDK loop (``sdk_loop``) and turns
failures into ``CloudError`` (``errors``), so nothing above sees an SDK model or exception.

``as_identity`` gives a view of the same gateway whose calls run as a RAM role assumed
for a person (``identity``: STS and its cache); views share the settings, the retry policy
and the bot's own credentials, and build their own clients.

Owns: the clients and their configuration, and the regions the bot manages. Never does:
build requests or read answers (``kms``, ``ecs``), retry (``retry``), business rules. Its
surface is ``AlibabaCloudGateway`` and ``RetryPolicy`` (the type of its ``retry``); the
types it answers are those of ``commands.gateway``, imported from there.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ecs_secret_bot import __version__
from ecs_secret_bot.cloud.ecs import Ecs
from ecs_secret_bot.cloud.endpoints import Endpoint, Service, endpoint_for
from ecs_secret_bot.cloud.identity import AssumedRoles
from ecs_secret_bot.cloud.key_wrap import KmsKeyWrapper
from ecs_secret_bot.cloud.kms import Kms
from ecs_secret_bot.cloud.retry import RetryPolicy, Sender
from ecs_secret_bot.cloud.sdk import EcsSdk, KmsKeySdk, KmsSdk
from ecs_secret_bot.cloud.sdk_loop import load_sdk
from ecs_secret_bot.commands.gateway import (
    CloudAssistantState,
    CloudIdentity,
    CreatedSecret,
    CreateSecretCall,
    DeletedSecret,
    InstancePage,
    Receipt,
    SecretDetail,
    SecretPage,
    SecretVersion,
)
from ecs_secret_bot.commands.settings import CloudSettings
from ecs_secret_bot.commands.values import SecretValue
from ecs_secret_bot.errors import InvalidInput

if TYPE_CHECKING:
    from alibabacloud_credentials.client import Client as CredentialClient
    from alibabacloud_tea_openapi.utils_models import Config as OpenApiConfig

__all__ = ["USER_AGENT", "AlibabaCloudGateway", "RetryPolicy"]

USER_AGENT = f"ecs-secret-bot/{__version__}"

_CLIENT_SDK = ("alibabacloud_credentials.client", "alibabacloud_tea_openapi.utils_models")
"""What every client is built with, loaded (off the caller's loop) before the first one."""


class AlibabaCloudGateway:
    """``CloudGateway`` over the real Alibaba Cloud SDK clients."""

    def __init__(
        self,
        settings: CloudSettings,
        *,
        credential: CredentialClient | None = None,
        access_key: tuple[str, str] | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._settings = settings
        self._credential = credential
        self._access_key = access_key
        self._retry = retry or RetryPolicy(
            max_attempts=settings.max_attempts,
            attempt_timeout=(settings.read_timeout + settings.connect_timeout).total_seconds(),
        )
        self._identity: CloudIdentity | None = None
        self._roles = AssumedRoles(
            settings, credential=self._credential_client, retry=self._retry, clock=clock
        )
        self._views: dict[CloudIdentity, AlibabaCloudGateway] = {}
        self._start()

    def _start(self) -> None:
        """Start with no clients; calls go out as ``self._identity``."""
        self._kms_clients: dict[str, tuple[CredentialClient, KmsSdk]] = {}
        self._ecs_clients: dict[str, tuple[CredentialClient, EcsSdk]] = {}
        self._kms = Kms(Sender(self._kms_client, self._retry, self._identity, "kms", self._kms_url))
        self._ecs = Ecs(Sender(self._ecs_client, self._retry, self._identity, "ecs", self._ecs_url))

    def as_identity(self, identity: CloudIdentity) -> AlibabaCloudGateway:
        """Return this gateway making its calls as ``identity``: a role assumed through STS."""
        view = self._views.get(identity)
        if view is None:
            view = copy.copy(self)  # same settings, retry policy, bot credential, STS cache
            view._identity = identity
            view._start()
            self._views[identity] = view
        return view

    # clients

    def _credential_client(self) -> CredentialClient:
        if self._credential is None:
            from alibabacloud_credentials.client import Client as CredentialClient
            from alibabacloud_credentials.models import Config as CredentialConfig

            if self._access_key is None:
                # The default chain: environment, OIDC, profile files, ECS RAM role, URI.
                self._credential = CredentialClient()
            else:
                key_id, key_secret = self._access_key
                self._credential = CredentialClient(
                    CredentialConfig(
                        type="access_key", access_key_id=key_id, access_key_secret=key_secret
                    )
                )
        return self._credential

    async def _credential_for_calls(self) -> CredentialClient:
        """Return the credentials calls go out with: the bot's, or the role session's."""
        if self._identity is None:
            return self._credential_client()
        return await self._roles.credential(self._identity)

    def endpoint(self, service: Service, region: str) -> Endpoint:
        """Return where ``service`` answers for ``region`` (its own endpoint, as configured)."""
        return endpoint_for(self._settings, service, region)

    def _kms_url(self, region: str) -> str:
        return self.endpoint("kms", region).url

    def _ecs_url(self, region: str) -> str:
        return self.endpoint("ecs", region).url

    def _config(self, region: str, service: Service, credential: CredentialClient) -> OpenApiConfig:
        from alibabacloud_tea_openapi.utils_models import Config as OpenApiConfig

        self._check_region(region)
        # Each region's client is aimed at that region's endpoint: Alibaba Cloud routes a
        # call by where it is sent, and ignores any header naming a region.
        where = self.endpoint(service, region)
        return OpenApiConfig(
            credential=credential,
            region_id=region,
            endpoint=where.host,
            protocol=where.protocol,
            read_timeout=int(self._settings.read_timeout.total_seconds() * 1000),
            connect_timeout=int(self._settings.connect_timeout.total_seconds() * 1000),
            user_agent=USER_AGENT,  # appended to the SDK's: ActionTrail and logs name the bot
        )

    def _check_region(self, region: str) -> None:
        if region not in self._settings.regions:
            known = ", ".join(self._settings.regions)
            raise InvalidInput(
                f"Region {region!r} is not one the bot manages.",
                field="region",
                next_step=f"Use one of: {known} (cloud.regions in the configuration).",
            )

    async def _kms_client(self, region: str) -> KmsSdk:
        await load_sdk(*_CLIENT_SDK, "alibabacloud_kms20160120.client")
        credential = await self._credential_for_calls()
        built = self._kms_clients.get(region)
        if built is None or built[0] is not credential:  # first use, or renewed credentials
            from alibabacloud_kms20160120.client import Client as KmsClient

            config = self._config(region, "kms", credential)
            built = (credential, KmsClient(config))
            self._kms_clients[region] = built
        return built[1]

    async def _ecs_client(self, region: str) -> EcsSdk:
        await load_sdk(*_CLIENT_SDK, "alibabacloud_ecs20140526.client")
        credential = await self._credential_for_calls()
        built = self._ecs_clients.get(region)
        if built is None or built[0] is not credential:
            from alibabacloud_ecs20140526.client import Client as EcsClient

            config = self._config(region, "ecs", credential)
            built = (credential, EcsClient(config))
            self._ecs_clients[region] = built
        return built[1]

    def key_wrapper(self, region: str, key_id: str) -> KmsKeyWrapper:
        """Return KMS Encrypt, Decrypt and GenerateDataKey with ``key_id``: the data key's."""

        clients: dict[str, KmsKeySdk] = {}

        async def client(region: str) -> KmsKeySdk:
            # The bot's own identity always: the data key is the bot's, not a person's.
            if region not in clients:
                await load_sdk(*_CLIENT_SDK, "alibabacloud_kms20160120.client")
                from alibabacloud_kms20160120.client import Client as KmsClient

                config = self._config(region, "kms", self._credential_client())
                clients[region] = KmsClient(config)
            return clients[region]

        send = Sender(client, self._retry, None, "kms", self._kms_url)
        return KmsKeyWrapper(send, region=region, key_id=key_id)

    # KMS

    async def create_secret(self, call: CreateSecretCall) -> CreatedSecret:
        """Create a dynamic ECS secret."""
        return await self._kms.create_secret(call)

    async def describe_secret(self, region: str, name: str) -> SecretDetail:
        """Describe one secret."""
        return await self._kms.describe_secret(region, name)

    async def list_secrets(
        self, region: str, *, page: int = 1, page_size: int = 100, name_contains: str = ""
    ) -> SecretPage:
        """List one page of the ECS secrets of a region."""
        return await self._kms.list_secrets(
            region, page=page, page_size=page_size, name_contains=name_contains
        )

    async def list_secret_versions(
        self, region: str, name: str, *, include_deprecated: bool = False
    ) -> tuple[SecretVersion, ...]:
        """List the versions of a secret that carry a stage (and, if asked, those without)."""
        return await self._kms.list_secret_versions(
            region, name, include_deprecated=include_deprecated
        )

    async def rotate_secret(self, region: str, name: str, *, version_id: str) -> Receipt:
        """Start a rotation with a KMS-generated value (VersionId makes it idempotent)."""
        return await self._kms.rotate_secret(region, name, version_id=version_id)

    async def put_secret_value(
        self, region: str, name: str, *, version_id: str, value: SecretValue
    ) -> Receipt:
        """Store a custom value as the new current version (idempotent by VersionId)."""
        return await self._kms.put_secret_value(region, name, version_id=version_id, value=value)

    async def delete_secret(
        self,
        region: str,
        name: str,
        *,
        recovery_window_days: int | None = None,
        force: bool = False,
    ) -> DeletedSecret:
        """Schedule a deletion (7-30 days) or delete at once."""
        return await self._kms.delete_secret(
            region, name, recovery_window_days=recovery_window_days, force=force
        )

    async def restore_secret(self, region: str, name: str) -> Receipt:
        """Cancel a scheduled deletion."""
        return await self._kms.restore_secret(region, name)

    async def update_rotation_policy(
        self, region: str, name: str, *, enabled: bool, interval: timedelta | None = None
    ) -> Receipt:
        """Turn automatic rotation on (with an interval) or off."""
        return await self._kms.update_rotation_policy(
            region, name, enabled=enabled, interval=interval
        )

    # ECS

    async def describe_instances(
        self,
        region: str,
        *,
        instance_ids: Sequence[str] = (),
        name: str | None = None,
        status: str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
        tags: Sequence[tuple[str, str]] = (),
    ) -> InstancePage:
        """List one page of ECS instances (those carrying every tag of ``tags``, if given)."""
        return await self._ecs.describe_instances(
            region,
            instance_ids=instance_ids,
            name=name,
            status=status,
            max_results=max_results,
            next_token=next_token,
            tags=tags,
        )

    async def cloud_assistant_status(
        self, region: str, instance_ids: Sequence[str]
    ) -> tuple[CloudAssistantState, ...]:
        """Say, for each instance, whether its Cloud Assistant is online."""
        return await self._ecs.cloud_assistant_status(region, instance_ids)
