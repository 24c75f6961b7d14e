"""The KMS actions that change secrets, and the dispatch of every KMS action.

One method per action, named as the action (reads live in ``kms_read``); parameters in,
state-machine operations, response bodies out. Choices where the documentation is silent:

* RotateSecret / UpdateSecretRotationPolicy on a Generic secret, and PutSecretValue on an
  ECS secret while ``custom_values`` is ``refuse``: 400 ``InvalidParameter`` naming
  ``SecretName`` (the documented code for a request KMS does not accept; KMS documents
  these APIs as generic-only / managed-only). With ``push`` (the default) PutSecretValue on
  an ECS secret is pushed to the instance like a rotation; with ``accept`` it becomes
  ACSCurrent at once and no instance is touched (in both, the same UserName is required).
* GetSecretValue/RotateSecret/PutSecretValue/UpdateSecretRotationPolicy on a secret
  pending deletion: 409 ``Rejected.ResourceInDeleteWindow``; DeleteSecret with a
  recovery window on one: the same; with ``ForceDeleteWithoutRecovery`` it is removed.
* More than 50 changes of one secret within an hour: 400 ``Rejected.LimitExceeded``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from ecs_secret_bot.sandbox.clock import format_beijing
from ecs_secret_bot.sandbox.credentials import generate_value, user_name_of
from ecs_secret_bot.sandbox.errors import (
    ApiError,
    in_delete_window,
    invalid_parameter,
)
from ecs_secret_bot.sandbox.kms_keys import CRYPTO_ACTIONS, KeyVault, KmsCryptoApi
from ecs_secret_bot.sandbox.kms_model import ACS_CURRENT, ACS_PREVIOUS, Secret, Version
from ecs_secret_bot.sandbox.kms_read import Body, KmsReader, compact_json
from ecs_secret_bot.sandbox.kms_state import MAX_ROTATIONS_PER_HOUR, KmsState
from ecs_secret_bot.sandbox.params import Params
from ecs_secret_bot.sandbox.validation import (
    check_ecs_secret_data,
    check_secret_name,
    check_version_id,
    parse_extended_config,
    parse_rotation_interval,
    parse_tags,
)

__all__ = ["KMS_ACTIONS", "KmsApi"]

KMS_ACTIONS = (
    *CRYPTO_ACTIONS,
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


class KmsApi(KmsReader, KmsCryptoApi):
    """Answers every KMS action for one sandbox (Encrypt and its kin: ``kms_keys``)."""

    def __init__(self, state: KmsState, *, account_id: str, keys: KeyVault) -> None:
        super().__init__(state, account_id=account_id)
        self.keys = keys

    async def call(self, action: str, region: str, params: Params, *, caller: str) -> Body:
        """Run ``action`` in ``region``; return the response body without RequestId."""
        self.state.sweep()
        handler: Callable[[str, Params, str], Awaitable[Body]] = getattr(self, action)
        return await handler(region, params, caller)

    # -- actions ----------------------------------------------------------------------

    async def CreateSecret(self, region: str, params: Params, caller: str) -> Body:  # noqa: N802
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
        body: Body = {
            "Arn": self.arn(secret),
            "SecretName": name,
            "SecretType": secret_type,
            "VersionId": version_id,
        }
        if secret.dkms_instance_id:
            body["DKMSInstanceId"] = secret.dkms_instance_id
        if secret.is_ecs:
            body["ExtendedConfig"] = compact_json(config)
            body.update(self._rotation_fields(secret))
        return body

    async def PutSecretValue(self, region: str, params: Params, caller: str) -> Body:  # noqa: N802
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
        existing = _same_version(secret, version_id, data)
        if existing is not None:
            return self._put_body(secret, existing)
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
        return self._put_body(secret, version)

    def _put_body(self, secret: Secret, version: Version) -> Body:
        return {
            "SecretName": secret.name,
            "VersionId": version.version_id,
            "VersionStages": self._stages(version),
        }

    def _put_ecs(self, secret: Secret, version_id: str, data: str, params: Params) -> Body:
        if self.state.custom_values == "refuse":
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
        version = _same_version(secret, version_id, data)
        if version is None and self.state.custom_values == "accept":
            version = self.state.accept_value(secret, version_id, data)
        elif version is None:
            self._check_rate(secret)
            version = self.state.begin_change(secret, version_id, data, action="PutSecretValue")
        return self._put_body(secret, version)

    def _check_rate(self, secret: Secret) -> None:
        self.state.check_can_change(secret)
        if self.state.rotations_last_hour(secret) >= MAX_ROTATIONS_PER_HOUR:
            raise ApiError(
                400,
                "Rejected.LimitExceeded",
                f"The secret {secret.name!r} was rotated {MAX_ROTATIONS_PER_HOUR} times in the "
                "last hour; try again later.",
            )

    async def RotateSecret(self, region: str, params: Params, caller: str) -> Body:  # noqa: N802
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
                self.state.begin_change(secret, version_id, data, action="RotateSecret")
        return {"Arn": self.arn(secret), "SecretName": secret.name, "VersionId": version_id}

    async def DeleteSecret(self, region: str, params: Params, caller: str) -> Body:  # noqa: N802
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

    async def RestoreSecret(self, region: str, params: Params, caller: str) -> Body:  # noqa: N802
        """Cancel a scheduled deletion."""
        secret = self.state.get(region, self._name(region, params))
        self.state.restore(secret)
        return {"SecretName": secret.name}

    async def UpdateSecretRotationPolicy(self, region: str, params: Params, caller: str) -> Body:  # noqa: N802
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


def _same_version(secret: Secret, version_id: str, data: str) -> Version | None:
    """Return the version ``version_id`` if it exists (a repeated put); 409 if its value differs."""
    existing = secret.versions.get(version_id)
    if existing is not None and existing.data != data:
        raise ApiError(
            409,
            "Rejected.ResourceExist",
            f"Version {version_id!r} already exists with another value.",
        )
    return existing


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
