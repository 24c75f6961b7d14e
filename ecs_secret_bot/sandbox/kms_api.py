"""The KMS actions: parameters in, state-machine operations, response bodies out.

One method per action, named as the action; field names are those of the SDK response
models (``alibabacloud_kms20160120.models``). Choices where the documentation is silent:

* RotateSecret / UpdateSecretRotationPolicy on a Generic secret, and PutSecretValue on an
  ECS secret while ``refuse_custom_values`` is on: 400 ``InvalidParameter`` naming
  ``SecretName`` (the documented code for a request KMS does not accept; KMS documents
  these APIs as generic-only / managed-only). By default PutSecretValue on an ECS secret
  is accepted and pushed to the instance like a rotation (same UserName required).
* GetSecretValue/RotateSecret/PutSecretValue/UpdateSecretRotationPolicy on a secret
  pending deletion: 409 ``Rejected.ResourceInDeleteWindow``; DeleteSecret with a
  recovery window on one: the same; with ``ForceDeleteWithoutRecovery`` it is removed.
* More than 50 changes of one secret within an hour: 400 ``Rejected.LimitExceeded``.
* ListSecrets filters: ``SecretName`` and ``Description`` match as substrings,
  ``SecretType`` ignoring case (``RDS`` = ``Rds``), the other keys exactly; the values
  of one key are OR-ed, keys AND-ed. ``Creator`` is the AccessKey ID that created it.
* ``SecretName`` may be the secret's ARN; an ARN of another region is not found.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from ecs_secret_bot.sandbox.clock import format_beijing, format_utc
from ecs_secret_bot.sandbox.errors import (
    ApiError,
    in_delete_window,
    invalid_parameter,
    secret_not_found,
)
from ecs_secret_bot.sandbox.kms_state import (
    ACS_CURRENT,
    ACS_PREVIOUS,
    MAX_ROTATIONS_PER_HOUR,
    KmsState,
    Secret,
    Version,
    generate_value,
    user_name_of,
)
from ecs_secret_bot.sandbox.params import Params
from ecs_secret_bot.sandbox.validation import (
    check_ecs_secret_data,
    check_secret_name,
    check_version_id,
    parse_extended_config,
    parse_filters,
    parse_rotation_interval,
    parse_tags,
)

__all__ = ["KMS_ACTIONS", "KmsApi"]

KMS_ACTIONS = (
    "CreateSecret",
    "DeleteSecret",
    "DescribeSecret",
    "GetSecretValue",
    "ListSecretVersionIds",
    "ListSecrets",
    "PutSecretValue",
    "RestoreSecret",
    "RotateSecret",
    "UpdateSecretRotationPolicy",
)
_MANAGED_TYPES = ("Rds", "Redis", "RAMCredentials", "PolarDB")
_Body = dict[str, Any]


class KmsApi:
    """Answers KMS actions for one sandbox."""

    def __init__(self, state: KmsState, *, account_id: str) -> None:
        self.state = state
        self.account_id = account_id

    async def call(self, action: str, region: str, params: Params, *, caller: str) -> _Body:
        """Run ``action`` in ``region``; return the response body without RequestId."""
        self.state.sweep()
        handler: Callable[[str, Params, str], Awaitable[_Body]] = getattr(self, action)
        return await handler(region, params, caller)

    # -- helpers ----------------------------------------------------------------------

    def arn(self, secret: Secret) -> str:
        """Return the secret's ARN."""
        return f"acs:kms:{secret.region}:{self.account_id}:secret/{secret.name}"

    def _name(self, region: str, params: Params) -> str:
        name = params.required("SecretName")
        if name.startswith("acs:kms:"):
            parts = name.split(":", 4)
            if len(parts) != 5 or not parts[4].startswith("secret/") or parts[2] != region:
                raise secret_not_found(name)
            return parts[4][len("secret/") :]
        return name

    def _rotation_fields(self, secret: Secret) -> _Body:
        body: _Body = {"AutomaticRotation": secret.automatic_rotation()}
        if secret.interval:
            body["RotationInterval"] = f"{secret.interval}s"
        if secret.last_rotation:
            body["LastRotationDate"] = format_utc(secret.last_rotation)
        if secret.next_rotation and secret.auto_rotation:
            body["NextRotationDate"] = format_utc(secret.next_rotation)
        return body

    @staticmethod
    def _tags(secret: Secret) -> _Body:
        return {"Tag": [{"TagKey": k, "TagValue": v} for k, v in secret.tags]}

    @staticmethod
    def _stages(version: Version) -> _Body:
        return {"VersionStage": list(version.stages)}

    # -- actions ----------------------------------------------------------------------

    async def CreateSecret(self, region: str, params: Params, caller: str) -> _Body:  # noqa: N802
        """Create a Generic or ECS secret with its first version as ACSCurrent."""
        name = params.required("SecretName")
        secret_type = params.text("SecretType", "Generic") or "Generic"
        if secret_type in _MANAGED_TYPES:
            raise invalid_parameter("SecretType", "the sandbox emulates Generic and ECS secrets.")
        if secret_type not in ("Generic", "ECS"):
            raise invalid_parameter(
                "SecretType", "use Generic, Rds, Redis, RAMCredentials, ECS or PolarDB."
            )
        check_secret_name(name, secret_type)
        version_id = params.required("VersionId")
        check_version_id(version_id)
        data = params.required("SecretData")
        if len(data.encode()) > 30720:
            raise invalid_parameter("SecretData", "use at most 30720 bytes.")
        data_type = params.text("SecretDataType", "text") or "text"
        if data_type not in ("text", "binary") or (secret_type == "ECS" and data_type != "text"):
            raise invalid_parameter("SecretDataType", "use text (ECS secrets) or binary.")
        description = params.text("Description", "") or ""
        if len(description) > 1024:
            raise invalid_parameter("Description", "use at most 1024 characters.")
        tags = parse_tags(params.text("Tags"))
        enabled = params.boolean("EnableAutomaticRotation", False)
        interval_text = params.text("RotationInterval")
        interval = parse_rotation_interval(interval_text) if interval_text else None
        config: dict[str, Any] | None = None
        if secret_type == "ECS":
            config, _ = parse_extended_config(
                params.text("ExtendedConfig"),
                region=region,
                find_instance=lambda instance_id: self.state.ecs.get(region, instance_id),
            )
            check_ecs_secret_data(data, sub_type=config["SecretSubType"])
            if enabled and interval is None:
                raise invalid_parameter(
                    "RotationInterval", "it is required when EnableAutomaticRotation is true."
                )
        else:
            enabled, interval = False, None  # rotation applies to managed secrets only
        now = self.state.clock()
        secret = Secret(
            name=name,
            region=region,
            secret_type=secret_type,
            created=now,
            updated=now,
            description=description,
            versions={version_id: Version(version_id, data, data_type, now, [ACS_CURRENT])},
            extended_config=config,
            encryption_key_id=params.text("EncryptionKeyId"),
            dkms_instance_id=params.text("DKMSInstanceId"),
            tags=tags,
            creator=caller,
        )
        if secret.is_ecs:
            self.state.set_rotation_policy(secret, enabled=enabled, interval=interval)
            secret.updated = now
        self.state.add(secret)
        body: _Body = {
            "Arn": self.arn(secret),
            "SecretName": name,
            "SecretType": secret_type,
            "VersionId": version_id,
        }
        if secret.dkms_instance_id:
            body["DKMSInstanceId"] = secret.dkms_instance_id
        if secret.is_ecs:
            body["ExtendedConfig"] = _compact(config)
            body.update(self._rotation_fields(secret))
        return body

    async def DescribeSecret(self, region: str, params: Params, caller: str) -> _Body:  # noqa: N802
        """Describe a secret's metadata (works during the deletion window)."""
        secret = self.state.get(region, self._name(region, params))
        body: _Body = {
            "Arn": self.arn(secret),
            "SecretName": secret.name,
            "SecretType": secret.secret_type,
            "Description": secret.description,
            "CreateTime": format_utc(secret.created),
            "UpdateTime": format_utc(secret.updated),
        }
        for key, value in (
            ("EncryptionKeyId", secret.encryption_key_id),
            ("DKMSInstanceId", secret.dkms_instance_id),
        ):
            if value:
                body[key] = value
        if secret.is_ecs:
            body["ExtendedConfig"] = _compact(secret.extended_config)
            body.update(self._rotation_fields(secret))
        if secret.planned_delete is not None:
            body["PlannedDeleteTime"] = format_utc(secret.planned_delete)
        if params.boolean("FetchTags", False):
            body["Tags"] = self._tags(secret)
        return body

    async def ListSecrets(self, region: str, params: Params, caller: str) -> _Body:  # noqa: N802
        """List secret metadata, filtered and paged."""
        number = params.integer("PageNumber", 1, low=1, high=10**6)
        size = params.integer("PageSize", 10, low=1, high=100)
        fetch_tags = params.boolean("FetchTags", False)
        secrets = self.state.secrets(region)
        for key, values in parse_filters(params.text("Filters")):
            secrets = [s for s in secrets if any(_matches(s, key, v) for v in values)]
        page = secrets[(number - 1) * size : number * size]
        entries = []
        for secret in page:
            entry: _Body = {
                "SecretName": secret.name,
                "SecretType": secret.secret_type,
                "CreateTime": format_utc(secret.created),
                "UpdateTime": format_utc(secret.updated),
            }
            if secret.planned_delete is not None:
                entry["PlannedDeleteTime"] = format_utc(secret.planned_delete)
            if fetch_tags:
                entry["Tags"] = self._tags(secret)
            entries.append(entry)
        return {
            "PageNumber": number,
            "PageSize": size,
            "TotalCount": len(secrets),
            "SecretList": {"Secret": entries},
        }

    async def ListSecretVersionIds(self, region: str, params: Params, caller: str) -> _Body:  # noqa: N802
        """List a secret's versions and their stages."""
        secret = self.state.get(region, self._name(region, params))
        number = params.integer("PageNumber", 1, low=1, high=10**6)
        size = params.integer("PageSize", 10, low=1, high=100)
        versions = list(secret.versions.values())
        if not params.boolean("IncludeDeprecated", False):
            versions = [v for v in versions if v.stages]
        page = versions[(number - 1) * size : number * size]
        return {
            "SecretName": secret.name,
            "PageNumber": number,
            "PageSize": size,
            "TotalCount": len(versions),
            "VersionIds": {
                "VersionId": [
                    {
                        "VersionId": v.version_id,
                        "CreateTime": format_utc(v.created),
                        "VersionStages": self._stages(v),
                    }
                    for v in page
                ]
            },
        }

    async def GetSecretValue(self, region: str, params: Params, caller: str) -> _Body:  # noqa: N802
        """Return a secret value (ECS: ACSCurrent or ACSPrevious only; VersionId ignored)."""
        secret = self.state.get_active(region, self._name(region, params))
        stage = params.text("VersionStage")
        version_id = params.text("VersionId")
        version: Version | None
        if secret.is_ecs or version_id is None:
            stage = stage or ACS_CURRENT
            if secret.is_ecs and stage not in (ACS_CURRENT, ACS_PREVIOUS):
                raise invalid_parameter(
                    "VersionStage", "a dynamic ECS secret gives ACSCurrent or ACSPrevious only."
                )
            version = secret.with_stage(stage)
        else:
            version = secret.versions.get(version_id)
            if version is not None and stage is not None and stage not in version.stages:
                version = None
        if version is None:
            raise ApiError(
                404,
                "Forbidden.ResourceNotFound",
                f"The secret {secret.name!r} has no such version ({version_id or stage}).",
            )
        body: _Body = {
            "SecretName": secret.name,
            "SecretType": secret.secret_type,
            "SecretData": version.data,
            "SecretDataType": version.data_type,
            "VersionId": version.version_id,
            "VersionStages": self._stages(version),
            "CreateTime": format_utc(version.created),
        }
        if secret.is_ecs:
            body.update(self._rotation_fields(secret))
            if params.boolean("FetchExtendedConfig", False):
                body["ExtendedConfig"] = _compact(secret.extended_config)
        return body

    async def PutSecretValue(self, region: str, params: Params, caller: str) -> _Body:  # noqa: N802
        """Store a new value: Generic at once; ECS pushed to the instance like a rotation."""
        secret = self.state.get_active(region, self._name(region, params))
        version_id = params.required("VersionId")
        check_version_id(version_id)
        data = params.required("SecretData")
        if len(data.encode()) > 30720:
            raise invalid_parameter("SecretData", "use at most 30720 bytes.")
        if secret.is_ecs:
            return self._put_ecs(secret, version_id, data, params)
        data_type = params.text("SecretDataType", "text") or "text"
        if data_type not in ("text", "binary"):
            raise invalid_parameter("SecretDataType", "use text or binary.")
        stages = _version_stages(params.text("VersionStages"))
        existing = secret.versions.get(version_id)
        if existing is not None:
            if existing.data != data:
                raise ApiError(
                    409,
                    "Rejected.ResourceExist",
                    f"Version {version_id!r} already exists with another value.",
                )
            return {
                "SecretName": secret.name,
                "VersionId": version_id,
                "VersionStages": self._stages(existing),
            }
        now = self.state.clock()
        version = Version(version_id, data, data_type, now, [])
        for stage in stages:
            holder = secret.with_stage(stage)
            if holder is not None:
                holder.stages.remove(stage)
                if stage == ACS_CURRENT:
                    previous = secret.with_stage(ACS_PREVIOUS)
                    if previous is not None:
                        previous.stages.remove(ACS_PREVIOUS)
                    holder.stages.append(ACS_PREVIOUS)
            version.stages.append(stage)
        secret.versions[version_id] = version
        secret.updated = now
        return {
            "SecretName": secret.name,
            "VersionId": version_id,
            "VersionStages": self._stages(version),
        }

    def _put_ecs(self, secret: Secret, version_id: str, data: str, params: Params) -> _Body:
        if self.state.refuse_custom_values:
            raise invalid_parameter(
                "SecretName",
                f"PutSecretValue supports Generic secrets only and {secret.name!r} is an ECS "
                "secret; set a custom value in the KMS console (Rotate Immediately > Use "
                "Custom Secret) or rotate it with RotateSecret.",
            )
        if params.text("VersionStages") is not None:
            raise invalid_parameter("VersionStages", "it cannot be set on an ECS secret.")
        parsed = check_ecs_secret_data(data, sub_type=secret.sub_type)
        if parsed["UserName"] != user_name_of(secret.current().data):
            raise invalid_parameter("SecretData", "UserName must stay the user of the secret.")
        existing = secret.versions.get(version_id)
        if existing is None:
            self._check_rate(secret)
            existing = self.state.begin_change(secret, version_id, data)
        elif existing.data != data:
            raise ApiError(
                409,
                "Rejected.ResourceExist",
                f"Version {version_id!r} already exists with another value.",
            )
        return {
            "SecretName": secret.name,
            "VersionId": version_id,
            "VersionStages": self._stages(existing),
        }

    def _check_rate(self, secret: Secret) -> None:
        self.state.check_can_change(secret)
        if self.state.rotations_last_hour(secret) >= MAX_ROTATIONS_PER_HOUR:
            raise ApiError(
                400,
                "Rejected.LimitExceeded",
                f"The secret {secret.name!r} was rotated {MAX_ROTATIONS_PER_HOUR} times in the "
                "last hour; try again later.",
            )

    async def RotateSecret(self, region: str, params: Params, caller: str) -> _Body:  # noqa: N802
        """Start an asynchronous rotation of an ECS secret with a generated value."""
        name = self._name(region, params)
        version_id = params.required("VersionId")
        check_version_id(version_id)
        secret = self.state.get_active(region, name)
        if not secret.is_ecs:
            raise invalid_parameter(
                "SecretName", "RotateSecret is not available for Generic secrets."
            )
        if version_id not in secret.versions:
            self._check_rate(secret)
            user = user_name_of(secret.current().data)
            # An RSA-2048 key takes tens of milliseconds: keep the event loop free.
            data = await asyncio.get_running_loop().run_in_executor(
                None, generate_value, secret.sub_type, user
            )
            secret = self.state.get_active(region, name)  # it may have changed meanwhile
            if version_id not in secret.versions:
                self._check_rate(secret)
                self.state.begin_change(secret, version_id, data)
        return {"Arn": self.arn(secret), "SecretName": secret.name, "VersionId": version_id}

    async def DeleteSecret(self, region: str, params: Params, caller: str) -> _Body:  # noqa: N802
        """Schedule a deletion (7-30 days, default 30) or delete at once."""
        secret = self.state.get(region, self._name(region, params))
        force = params.boolean("ForceDeleteWithoutRecovery", False)
        now = self.state.clock()
        if force:
            if params.text("RecoveryWindowInDays") is not None:
                raise invalid_parameter(
                    "RecoveryWindowInDays",
                    "do not combine it with ForceDeleteWithoutRecovery=true.",
                )
            self.state.remove(region, secret.name)
            planned = now
        else:
            days = params.integer("RecoveryWindowInDays", 30, low=7, high=30)
            if secret.planned_delete is not None:
                raise in_delete_window(secret.name)
            planned = now + timedelta(days=days)
            self.state.schedule_deletion(secret, planned)
        return {"SecretName": secret.name, "PlannedDeleteTime": format_beijing(planned)}

    async def RestoreSecret(self, region: str, params: Params, caller: str) -> _Body:  # noqa: N802
        """Cancel a scheduled deletion."""
        secret = self.state.get(region, self._name(region, params))
        self.state.restore(secret)
        return {"SecretName": secret.name}

    async def UpdateSecretRotationPolicy(self, region: str, params: Params, caller: str) -> _Body:  # noqa: N802
        """Turn automatic rotation of a managed secret on (with an interval) or off."""
        secret = self.state.get_active(region, self._name(region, params))
        params.required("EnableAutomaticRotation")
        enabled = params.boolean("EnableAutomaticRotation", False)
        if not secret.is_ecs:
            raise invalid_parameter(
                "SecretName", "UpdateSecretRotationPolicy is not available for Generic secrets."
            )
        interval: int | None = None
        if enabled:
            text = params.text("RotationInterval")
            if text is None:
                raise invalid_parameter(
                    "RotationInterval", "it is required when EnableAutomaticRotation is true."
                )
            interval = parse_rotation_interval(text)
        self.state.set_rotation_policy(secret, enabled=enabled, interval=interval)
        return {"SecretName": secret.name}


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _version_stages(value: str | None) -> list[str]:
    if value is None:
        return [ACS_CURRENT]
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = [part.strip() for part in value.split(",")]
    if isinstance(parsed, str):
        parsed = [parsed]
    if (
        not isinstance(parsed, list)
        or not parsed
        or not all(isinstance(s, str) and s and len(s) <= 64 for s in parsed)
    ):
        raise invalid_parameter("VersionStages", 'use a JSON array such as ["ACSCurrent"].')
    if ACS_PREVIOUS in parsed:
        raise invalid_parameter("VersionStages", "ACSPrevious is managed by KMS.")
    return list(dict.fromkeys(parsed))


def _matches(secret: Secret, key: str, value: str) -> bool:
    if key == "SecretName":
        return value in secret.name
    if key == "Description":
        return value in secret.description
    if key == "SecretType":
        return value.lower() == secret.secret_type.lower()
    if key == "TagKey":
        return any(k == value for k, _ in secret.tags)
    if key == "TagValue":
        return any(v == value for _, v in secret.tags)
    if key == "DKMSInstanceId":
        return value == (secret.dkms_instance_id or "")
    return value == secret.creator
