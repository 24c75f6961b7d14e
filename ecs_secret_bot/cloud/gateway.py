"""The cloud gateway: the only code that touches the Alibaba Cloud SDKs.

``CloudGateway`` (in ``cloud_types.py``, re-exported here) is the narrow surface the
operations use: the KMS and ECS calls we need, typed in and out, so no SDK model leaks
upward. ``AlibabaCloudGateway`` implements it over
the real async SDK clients, one KMS and one ECS client per region, built from the
configuration and the default credential chain of ``alibabacloud-credentials``.

Retries are ours, not darabonba's ``RetryOptions``: we need "throttling, 5xx, timeouts
and broken connections, never another 4xx", a per-attempt timeout, and, for calls that
are not idempotent (CreateSecret, DeleteSecret, RestoreSecret), no retry after a request
that may have reached the service. Exceptions become ``CloudError`` subclasses here (see
``_cloud_errors.py``), so nothing above sees an SDK exception.

SDK calls run on a loop of their own thread (``_sdk_loop.py``): the SDK builds a TLS context
per HTTPS call, ~70 ms of CPU that must not stall the loop answering Slack.

Never logs or raises a secret value: values go out only as the ``SecretData`` parameter.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from alibabacloud_credentials.client import Client as CredentialClient
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_kms20160120 import models as kms_models
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.utils_models import Config as OpenApiConfig
from alibabacloud_tea_openapi.utils_models import GlobalParameters

from ecs_secret_bot.cloud.errors import is_retryable, to_cloud_error
from ecs_secret_bot.cloud.sdk_loop import run_on_sdk_loop
from ecs_secret_bot.commands.durations import format_duration
from ecs_secret_bot.commands.gateway import (
    CloudAssistantState,
    CloudGateway,
    CreatedSecret,
    CreateSecretCall,
    DeletedSecret,
    EcsSecretConfig,
    Instance,
    InstancePage,
    Receipt,
    SecretDetail,
    SecretPage,
    SecretSummary,
    SecretVersion,
)
from ecs_secret_bot.commands.settings import CloudSettings
from ecs_secret_bot.commands.values import SecretValue, secret_data_json
from ecs_secret_bot.errors import InvalidInput

__all__ = [
    "AlibabaCloudGateway",
    "CloudAssistantState",
    "CloudGateway",
    "CreateSecretCall",
    "CreatedSecret",
    "DeletedSecret",
    "EcsSecretConfig",
    "Instance",
    "InstancePage",
    "Receipt",
    "RetryPolicy",
    "SecretDetail",
    "SecretPage",
    "SecretSummary",
    "SecretVersion",
    "parse_cloud_time",
]

logger = logging.getLogger(__name__)
T = TypeVar("T")

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_ECS_ACTIONS = frozenset({"DescribeInstances", "DescribeCloudAssistantStatus"})


# --- helpers -------------------------------------------------------------------------------


def parse_cloud_time(value: str | None) -> datetime | None:
    """Parse a KMS/ECS time (``...Z``, ``+08:00``, nanoseconds) into an aware UTC datetime."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    main, _, rest = text.partition(".")
    if rest:
        digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
        offset = rest[len(digits) :]
        text = f"{main}.{digits[:6].ljust(6, '0')}{offset}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        logger.warning("unparseable time from the cloud: %r", value)
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _interval(value: str | None) -> timedelta | None:
    if not value:
        return None
    text = value.strip()
    if text.endswith("s") and text[:-1].isdigit():
        return timedelta(seconds=int(text[:-1]))
    return None


def _tags(container: Any) -> dict[str, str]:
    items = getattr(container, "tag", None) or []
    return {str(t.tag_key): str(t.tag_value or "") for t in items if t.tag_key}


def _ecs_config(raw: str | None) -> EcsSecretConfig | None:
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return EcsSecretConfig(
        sub_type=str(data.get("SecretSubType", "")),
        region_id=str(data.get("RegionId", "")),
        instance_id=str(data.get("InstanceId", "")),
        custom_data=data.get("CustomData") or {},
    )


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter."""

    max_attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 5.0
    attempt_timeout: float = 20.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Return how long to wait before attempt ``attempt + 1`` (attempt counts from 1)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        wait = random.uniform(0, ceiling)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_delay))
        return wait


# --- the real gateway ----------------------------------------------------------------------


class AlibabaCloudGateway:
    """``CloudGateway`` over the real Alibaba Cloud SDK clients."""

    def __init__(
        self,
        settings: CloudSettings,
        *,
        credential: CredentialClient | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._settings = settings
        self._credential = credential
        self._retry = retry or RetryPolicy(
            max_attempts=settings.max_attempts,
            attempt_timeout=(settings.read_timeout + settings.connect_timeout).total_seconds(),
        )
        self._kms: dict[str, Any] = {}
        self._ecs: dict[str, Any] = {}

    # clients

    def _credential_client(self) -> CredentialClient:
        if self._credential is None:
            # The default chain: environment, OIDC, profile files, ECS RAM role, URI.
            self._credential = CredentialClient()
        return self._credential

    def _config(self, region: str, endpoint: str | None) -> OpenApiConfig:
        self._check_region(region)
        config = OpenApiConfig(
            credential=self._credential_client(),
            region_id=region,
            read_timeout=int(self._settings.read_timeout.total_seconds() * 1000),
            connect_timeout=int(self._settings.connect_timeout.total_seconds() * 1000),
        )
        if endpoint:
            scheme, _, host = endpoint.rpartition("://")
            config.endpoint = host.rstrip("/")
            config.protocol = scheme or "https"
            # One override serves every region (the sandbox); tell it which region we mean.
            config.global_parameters = GlobalParameters(headers={"x-acs-region-id": region})
        return config

    def _check_region(self, region: str) -> None:
        if region not in self._settings.regions:
            known = ", ".join(self._settings.regions)
            raise InvalidInput(
                f"Region {region!r} is not one the bot manages.",
                field="region",
                next_step=f"Use one of: {known} (cloud.regions in the configuration).",
            )

    def _kms_client(self, region: str) -> Any:
        client = self._kms.get(region)
        if client is None:
            client = KmsClient(self._config(region, self._settings.kms_endpoint))
            self._kms[region] = client
        return client

    def _ecs_client(self, region: str) -> Any:
        client = self._ecs.get(region)
        if client is None:
            client = EcsClient(self._config(region, self._settings.ecs_endpoint))
            self._ecs[region] = client
        return client

    async def _call(
        self,
        action: str,
        call: Callable[[], Awaitable[T]],
        *,
        idempotent: bool,
        subject: str = "",
    ) -> T:
        """Run one SDK call with the retry policy; turn failures into CloudError."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return await asyncio.wait_for(
                    run_on_sdk_loop(call), timeout=self._retry.attempt_timeout
                )
            except Exception as exc:  # noqa: BLE001 - every SDK failure is mapped below
                error = to_cloud_error(exc, action=action, subject=subject)
                retry, retry_after = is_retryable(exc, idempotent=idempotent)
                if not retry or attempt >= self._retry.max_attempts:
                    raise error from None
                wait = self._retry.delay(attempt, retry_after)
                logger.info(
                    "retrying %s after %s (attempt %d of %d, waiting %.2fs)",
                    action,
                    error.code or type(exc).__name__,
                    attempt,
                    self._retry.max_attempts,
                    wait,
                )
                await asyncio.sleep(wait)

    async def _send(
        self, region: str, action: str, request: Any, *, idempotent: bool, subject: str = ""
    ) -> Any:
        """Send ``request`` as ``action`` with the region's KMS or ECS client."""
        ecs = action in _ECS_ACTIONS
        client = self._ecs_client(region) if ecs else self._kms_client(region)
        method = getattr(client, _CAMEL.sub("_", action).lower() + "_async")
        return await self._call(
            action, lambda: method(request), idempotent=idempotent, subject=subject
        )

    # KMS

    async def create_secret(self, call: CreateSecretCall) -> CreatedSecret:
        """Create a dynamic ECS secret."""
        extended = {
            "SecretSubType": call.value.sub_type,
            "RegionId": call.region,
            "InstanceId": call.instance_id,
            "CustomData": {},
        }
        request = kms_models.CreateSecretRequest(
            secret_name=call.name,
            secret_type="ECS",
            version_id=call.version_id,
            secret_data=secret_data_json(call.value),
            secret_data_type="text",
            extended_config=extended,
            enable_automatic_rotation=call.automatic_rotation,
            rotation_interval=(
                format_duration(call.rotation_interval)
                if call.automatic_rotation and call.rotation_interval
                else None
            ),
            description=call.description or None,
            tags=(
                json.dumps([{"TagKey": k, "TagValue": v} for k, v in call.tags.items()])
                if call.tags
                else None
            ),
            dkmsinstance_id=call.dkms_instance_id,
            encryption_key_id=call.encryption_key_id,
        )
        response = await self._send(
            call.region,
            "CreateSecret",
            request,
            idempotent=False,
            subject=call.name,
        )
        body = response.body
        return CreatedSecret(
            region=call.region,
            name=str(body.secret_name or call.name),
            arn=str(body.arn or ""),
            version_id=str(body.version_id or call.version_id),
            automatic_rotation=str(body.automatic_rotation or ""),
            next_rotation=parse_cloud_time(body.next_rotation_date),
            request_id=str(body.request_id or ""),
        )

    async def describe_secret(self, region: str, name: str) -> SecretDetail:
        """Describe one secret."""
        request = kms_models.DescribeSecretRequest(secret_name=name, fetch_tags="true")
        response = await self._send(
            region,
            "DescribeSecret",
            request,
            idempotent=True,
            subject=name,
        )
        body = response.body
        return SecretDetail(
            region=region,
            name=str(body.secret_name or name),
            arn=str(body.arn or ""),
            secret_type=str(body.secret_type or ""),
            description=str(body.description or ""),
            create_time=parse_cloud_time(body.create_time),
            update_time=parse_cloud_time(body.update_time),
            ecs=_ecs_config(body.extended_config),
            automatic_rotation=str(body.automatic_rotation or ""),
            rotation_interval=_interval(body.rotation_interval),
            last_rotation=parse_cloud_time(body.last_rotation_date),
            next_rotation=parse_cloud_time(body.next_rotation_date),
            planned_delete_time=parse_cloud_time(body.planned_delete_time),
            dkms_instance_id=str(body.dkmsinstance_id or ""),
            encryption_key_id=str(body.encryption_key_id or ""),
            tags=_tags(body.tags),
            request_id=str(body.request_id or ""),
        )

    async def list_secrets(
        self, region: str, *, page: int = 1, page_size: int = 100, name_contains: str = ""
    ) -> SecretPage:
        """List one page of the ECS secrets of a region."""
        filters: list[dict[str, Any]] = [{"Key": "SecretType", "Values": ["ECS"]}]
        if name_contains:
            filters.append({"Key": "SecretName", "Values": [name_contains]})
        request = kms_models.ListSecretsRequest(
            page_number=page,
            page_size=page_size,
            fetch_tags="true",
            filters=json.dumps(filters, separators=(",", ":")),
        )
        response = await self._send(region, "ListSecrets", request, idempotent=True)
        body = response.body
        rows = getattr(body.secret_list, "secret", None) or []
        return SecretPage(
            region=region,
            secrets=tuple(
                SecretSummary(
                    region=region,
                    name=str(s.secret_name),
                    secret_type=str(s.secret_type or ""),
                    create_time=parse_cloud_time(s.create_time),
                    update_time=parse_cloud_time(s.update_time),
                    planned_delete_time=parse_cloud_time(s.planned_delete_time),
                    tags=_tags(s.tags),
                )
                for s in rows
            ),
            page_number=int(body.page_number or page),
            page_size=int(body.page_size or page_size),
            total_count=int(body.total_count or 0),
            request_id=str(body.request_id or ""),
        )

    async def list_secret_versions(self, region: str, name: str) -> tuple[SecretVersion, ...]:
        """List the versions of a secret that carry a stage."""
        request = kms_models.ListSecretVersionIdsRequest(
            secret_name=name, include_deprecated="false", page_number=1, page_size=100
        )
        response = await self._send(
            region,
            "ListSecretVersionIds",
            request,
            idempotent=True,
            subject=name,
        )
        rows = getattr(response.body.version_ids, "version_id", None) or []
        return tuple(
            SecretVersion(
                version_id=str(v.version_id),
                stages=tuple(getattr(v.version_stages, "version_stage", None) or ()),
                create_time=parse_cloud_time(v.create_time),
            )
            for v in rows
        )

    async def secret_user_name(self, region: str, name: str) -> str:
        """Return the OS user an ECS secret holds the credential of (and nothing else).

        GetSecretValue is the only API that names the user; the value in the same answer
        is dropped here, unread, and never leaves this method.
        """
        request = kms_models.GetSecretValueRequest(secret_name=name)
        response = await self._send(
            region,
            "GetSecretValue",
            request,
            idempotent=True,
            subject=name,
        )
        try:
            parsed = json.loads(response.body.secret_data or "")
        except ValueError:
            return ""
        return str(parsed.get("UserName", "")) if isinstance(parsed, dict) else ""

    async def rotate_secret(self, region: str, name: str, *, version_id: str) -> Receipt:
        """Start a rotation with a KMS-generated value (VersionId makes it idempotent)."""
        request = kms_models.RotateSecretRequest(secret_name=name, version_id=version_id)
        response = await self._send(
            region,
            "RotateSecret",
            request,
            idempotent=True,
            subject=name,
        )
        return Receipt(region=region, name=name, request_id=str(response.body.request_id or ""))

    async def put_secret_value(
        self, region: str, name: str, *, version_id: str, value: SecretValue
    ) -> Receipt:
        """Store a custom value as the new current version (idempotent by VersionId)."""
        request = kms_models.PutSecretValueRequest(
            secret_name=name,
            version_id=version_id,
            secret_data=secret_data_json(value),
            secret_data_type="text",
        )
        response = await self._send(
            region,
            "PutSecretValue",
            request,
            idempotent=True,
            subject=name,
        )
        return Receipt(region=region, name=name, request_id=str(response.body.request_id or ""))

    async def delete_secret(
        self,
        region: str,
        name: str,
        *,
        recovery_window_days: int | None = None,
        force: bool = False,
    ) -> DeletedSecret:
        """Schedule a deletion (7-30 days) or delete at once."""
        if force and recovery_window_days is not None:
            raise InvalidInput("An immediate deletion has no recovery window.", field="days")
        request = kms_models.DeleteSecretRequest(
            secret_name=name,
            force_delete_without_recovery="true" if force else "false",
            recovery_window_in_days=None if force else str(recovery_window_days or 30),
        )
        response = await self._send(
            region,
            "DeleteSecret",
            request,
            idempotent=False,
            subject=name,
        )
        body = response.body
        return DeletedSecret(
            region=region,
            name=name,
            planned_delete_time=None if force else parse_cloud_time(body.planned_delete_time),
            request_id=str(body.request_id or ""),
        )

    async def restore_secret(self, region: str, name: str) -> Receipt:
        """Cancel a scheduled deletion."""
        request = kms_models.RestoreSecretRequest(secret_name=name)
        response = await self._send(
            region,
            "RestoreSecret",
            request,
            idempotent=False,
            subject=name,
        )
        return Receipt(region=region, name=name, request_id=str(response.body.request_id or ""))

    async def update_rotation_policy(
        self, region: str, name: str, *, enabled: bool, interval: timedelta | None = None
    ) -> Receipt:
        """Turn automatic rotation on (with an interval) or off."""
        request = kms_models.UpdateSecretRotationPolicyRequest(
            secret_name=name,
            enable_automatic_rotation=enabled,
            rotation_interval=format_duration(interval) if enabled and interval else None,
        )
        response = await self._send(
            region,
            "UpdateSecretRotationPolicy",
            request,
            idempotent=True,
            subject=name,
        )
        return Receipt(region=region, name=name, request_id=str(response.body.request_id or ""))

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
    ) -> InstancePage:
        """List one page of ECS instances."""
        request = ecs_models.DescribeInstancesRequest(
            region_id=region,
            instance_ids=json.dumps(list(instance_ids)) if instance_ids else None,
            instance_name=name or None,
            status=status or None,
            max_results=max_results,
            next_token=next_token or None,
        )
        response = await self._send(
            region,
            "DescribeInstances",
            request,
            idempotent=True,
        )
        body = response.body
        rows = getattr(body.instances, "instance", None) or []
        return InstancePage(
            region=region,
            instances=tuple(
                Instance(
                    region=region,
                    instance_id=str(i.instance_id),
                    name=str(i.instance_name or ""),
                    status=str(i.status or ""),
                    os_type=str(i.ostype or "").lower(),
                    os_name=str(i.osname or ""),
                    zone_id=str(i.zone_id or ""),
                    private_ips=tuple(
                        getattr(
                            getattr(i.vpc_attributes, "private_ip_address", None),
                            "ip_address",
                            None,
                        )
                        or ()
                    ),
                    public_ips=tuple(getattr(i.public_ip_address, "ip_address", None) or ()),
                )
                for i in rows
            ),
            next_token=str(body.next_token) if body.next_token else None,
            request_id=str(body.request_id or ""),
        )

    async def cloud_assistant_status(
        self, region: str, instance_ids: Sequence[str]
    ) -> tuple[CloudAssistantState, ...]:
        """Say, for each instance, whether its Cloud Assistant is online."""
        if not instance_ids:
            return ()
        request = ecs_models.DescribeCloudAssistantStatusRequest(
            region_id=region, instance_id=list(instance_ids)
        )
        response = await self._send(
            region,
            "DescribeCloudAssistantStatus",
            request,
            idempotent=True,
        )
        container = response.body.instance_cloud_assistant_status_set
        rows = getattr(container, "instance_cloud_assistant_status", None) or []
        return tuple(
            CloudAssistantState(
                instance_id=str(r.instance_id),
                online=str(r.cloud_assistant_status).lower() == "true",
            )
            for r in rows
        )
