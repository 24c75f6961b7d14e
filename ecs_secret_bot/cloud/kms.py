"""The KMS calls of the gateway: each names its SDK method and request model, and maps the answer.

Every call builds its ``alibabacloud_kms20160120`` request model, sends it with the region's
client through ``call_with_retries`` (saying whether it is idempotent: CreateSecret,
DeleteSecret and RestoreSecret are not; RotateSecret and PutSecretValue are, by VersionId),
and turns the answer's fields (``sdk``'s shapes) into the frozen results of
``commands.gateway``, so no SDK model leaks upward.

Owns: the KMS request parameters, and the reading of KMS answers (times, intervals, tags,
ExtendedConfig). Never does: build clients (``gateway``), retry or map errors (``retry``,
``errors``). Never logs or raises a secret value: values go out only as ``SecretData``.
Never decrypts: GetSecretValue is not called, so no value ever comes back; the user name a
value belongs to is written into ``ExtendedConfig.CustomData`` at create and read back from
DescribeSecret.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from ecs_secret_bot.cloud.retry import Sender
from ecs_secret_bot.cloud.sdk import (
    CreateSecretBody,
    DescribeSecretBody,
    KmsSdk,
    ListSecretsBody,
    ReceiptBody,
    SdkSecret,
    SdkTags,
    SdkVersion,
)
from ecs_secret_bot.commands.durations import format_duration
from ecs_secret_bot.commands.gateway import (
    CreatedSecret,
    CreateSecretCall,
    DeletedSecret,
    EcsSecretConfig,
    Receipt,
    SecretDetail,
    SecretPage,
    SecretSummary,
    SecretVersion,
)
from ecs_secret_bot.commands.values import SecretValue, secret_data_json
from ecs_secret_bot.errors import InvalidInput

__all__ = ["USER_NAME_KEY", "Kms", "parse_cloud_time"]

USER_NAME_KEY = "UserName"
"""The ``CustomData`` key the bot writes the OS user under (CustomData: at most 10 pairs)."""

logger = logging.getLogger(__name__)


def _models() -> Any:
    """Return the SDK's KMS models module (untyped), imported at the first call: it is slow."""
    from alibabacloud_kms20160120 import models

    return models


class Kms:
    """The KMS calls of ``CloudGateway``, over the KMS client of each region."""

    def __init__(self, send: Sender[KmsSdk]) -> None:
        self._send = send

    async def create_secret(self, call: CreateSecretCall) -> CreatedSecret:
        """Create a dynamic ECS secret."""
        extended = {
            "SecretSubType": call.value.sub_type,
            "RegionId": call.region,
            "InstanceId": call.instance_id,
            # So that DescribeSecret can name the user without decrypting the value.
            "CustomData": {USER_NAME_KEY: call.value.user_name},
        }
        request = _models().CreateSecretRequest(
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
            lambda client: client.create_secret_async(request),
            idempotent=False,
            subject=call.name,
        )
        return _created(call, response.body)

    async def describe_secret(self, region: str, name: str) -> SecretDetail:
        """Describe one secret."""
        request = _models().DescribeSecretRequest(secret_name=name, fetch_tags="true")
        response = await self._send(
            region,
            "DescribeSecret",
            lambda client: client.describe_secret_async(request),
            idempotent=True,
            subject=name,
        )
        return _detail(region, name, response.body)

    async def list_secrets(
        self, region: str, *, page: int = 1, page_size: int = 100, name_contains: str = ""
    ) -> SecretPage:
        """List one page of the ECS secrets of a region."""
        filters: list[dict[str, Any]] = [{"Key": "SecretType", "Values": ["ECS"]}]
        if name_contains:
            filters.append({"Key": "SecretName", "Values": [name_contains]})
        request = _models().ListSecretsRequest(
            page_number=page,
            page_size=page_size,
            fetch_tags="true",
            filters=json.dumps(filters, separators=(",", ":")),
        )
        response = await self._send(
            region,
            "ListSecrets",
            lambda client: client.list_secrets_async(request),
            idempotent=True,
        )
        return _page(region, response.body, page=page, page_size=page_size)

    async def list_secret_versions(
        self, region: str, name: str, *, include_deprecated: bool = False
    ) -> tuple[SecretVersion, ...]:
        """List the versions of a secret that carry a stage (and, if asked, those without)."""
        request = _models().ListSecretVersionIdsRequest(
            secret_name=name,
            include_deprecated="true" if include_deprecated else "false",
            page_number=1,
            page_size=100,
        )
        response = await self._send(
            region,
            "ListSecretVersionIds",
            lambda client: client.list_secret_version_ids_async(request),
            idempotent=True,
            subject=name,
        )
        container = response.body.version_ids
        return tuple(
            _version(v) for v in (container.version_id if container is not None else None) or ()
        )

    async def rotate_secret(self, region: str, name: str, *, version_id: str) -> Receipt:
        """Start a rotation with a KMS-generated value (VersionId makes it idempotent)."""
        request = _models().RotateSecretRequest(secret_name=name, version_id=version_id)
        response = await self._send(
            region,
            "RotateSecret",
            lambda client: client.rotate_secret_async(request),
            idempotent=True,
            subject=name,
        )
        return _receipt(region, name, response.body)

    async def put_secret_value(
        self, region: str, name: str, *, version_id: str, value: SecretValue
    ) -> Receipt:
        """Store a custom value as the new current version (idempotent by VersionId)."""
        request = _models().PutSecretValueRequest(
            secret_name=name,
            version_id=version_id,
            secret_data=secret_data_json(value),
            secret_data_type="text",
        )
        response = await self._send(
            region,
            "PutSecretValue",
            lambda client: client.put_secret_value_async(request),
            idempotent=True,
            subject=name,
        )
        return _receipt(region, name, response.body)

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
        request = _models().DeleteSecretRequest(
            secret_name=name,
            force_delete_without_recovery="true" if force else "false",
            recovery_window_in_days=None if force else str(recovery_window_days or 30),
        )
        response = await self._send(
            region,
            "DeleteSecret",
            lambda client: client.delete_secret_async(request),
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
        request = _models().RestoreSecretRequest(secret_name=name)
        response = await self._send(
            region,
            "RestoreSecret",
            lambda client: client.restore_secret_async(request),
            idempotent=False,
            subject=name,
        )
        return _receipt(region, name, response.body)

    async def update_rotation_policy(
        self, region: str, name: str, *, enabled: bool, interval: timedelta | None = None
    ) -> Receipt:
        """Turn automatic rotation on (with an interval) or off."""
        request = _models().UpdateSecretRotationPolicyRequest(
            secret_name=name,
            enable_automatic_rotation=enabled,
            rotation_interval=format_duration(interval) if enabled and interval else None,
        )
        response = await self._send(
            region,
            "UpdateSecretRotationPolicy",
            lambda client: client.update_secret_rotation_policy_async(request),
            idempotent=True,
            subject=name,
        )
        return _receipt(region, name, response.body)


# --- reading the answers ----------------------------------------------------------------------


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


def _tags(container: SdkTags | None) -> dict[str, str]:
    items = (container.tag if container is not None else None) or []
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
    custom = data.get("CustomData")
    custom = custom if isinstance(custom, dict) else {}
    user = custom.get(USER_NAME_KEY)
    return EcsSecretConfig(
        sub_type=str(data.get("SecretSubType", "")),
        region_id=str(data.get("RegionId", "")),
        instance_id=str(data.get("InstanceId", "")),
        custom_data=custom,
        user_name=user.strip() if isinstance(user, str) else "",
    )


def _receipt(region: str, name: str, body: ReceiptBody) -> Receipt:
    return Receipt(region=region, name=name, request_id=str(body.request_id or ""))


def _created(call: CreateSecretCall, body: CreateSecretBody) -> CreatedSecret:
    return CreatedSecret(
        region=call.region,
        name=str(body.secret_name or call.name),
        arn=str(body.arn or ""),
        version_id=str(body.version_id or call.version_id),
        automatic_rotation=str(body.automatic_rotation or ""),
        next_rotation=parse_cloud_time(body.next_rotation_date),
        request_id=str(body.request_id or ""),
    )


def _detail(region: str, name: str, body: DescribeSecretBody) -> SecretDetail:
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


def _summary(region: str, row: SdkSecret) -> SecretSummary:
    return SecretSummary(
        region=region,
        name=str(row.secret_name),
        secret_type=str(row.secret_type or ""),
        create_time=parse_cloud_time(row.create_time),
        update_time=parse_cloud_time(row.update_time),
        planned_delete_time=parse_cloud_time(row.planned_delete_time),
        tags=_tags(row.tags),
    )


def _page(region: str, body: ListSecretsBody, *, page: int, page_size: int) -> SecretPage:
    rows = (body.secret_list.secret if body.secret_list is not None else None) or []
    return SecretPage(
        region=region,
        secrets=tuple(_summary(region, s) for s in rows),
        page_number=int(body.page_number or page),
        page_size=int(body.page_size or page_size),
        total_count=int(body.total_count or 0),
        request_id=str(body.request_id or ""),
    )


def _version(row: SdkVersion) -> SecretVersion:
    stages = row.version_stages.version_stage if row.version_stages is not None else None
    return SecretVersion(
        version_id=str(row.version_id),
        stages=tuple(stages or ()),
        create_time=parse_cloud_time(row.create_time),
    )
