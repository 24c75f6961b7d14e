"""The KMS read actions: DescribeSecret, ListSecrets, ListSecretVersionIds, GetSecretValue.

Also the helpers every KMS answer shares (ARN, name or ARN lookup, rotation fields).
Field names are those of the SDK response models (``alibabacloud_kms20160120.models``).
Choices where the documentation is silent:

* ListSecrets filters: ``SecretName`` and ``Description`` match as substrings,
  ``SecretType`` ignoring case (``RDS`` = ``Rds``), the other keys exactly; the values
  of one key are OR-ed, keys AND-ed. ``Creator`` is the AccessKey ID that created it.
  Secrets are listed in creation order.
* ``SecretName`` may be the secret's ARN; an ARN of another region is not found.
* GetSecretValue of an ECS secret with a stage other than ACSCurrent/ACSPrevious: 400
  ``InvalidParameter`` naming ``VersionStage``; a stage or version that no version has:
  404 ``Forbidden.ResourceNotFound``.
"""

from __future__ import annotations

import json
from typing import Any

from ecs_secret_bot.sandbox.clock import format_utc
from ecs_secret_bot.sandbox.errors import ApiError, invalid_parameter, secret_not_found
from ecs_secret_bot.sandbox.kms_model import ACS_CURRENT, ACS_PREVIOUS, Secret, Version
from ecs_secret_bot.sandbox.kms_state import KmsState
from ecs_secret_bot.sandbox.params import Params
from ecs_secret_bot.sandbox.validation import parse_filters

__all__ = ["Body", "KmsReader", "compact_json"]

Body = dict[str, Any]


class KmsReader:
    """Answers the KMS actions that change nothing."""

    def __init__(self, state: KmsState, *, account_id: str) -> None:
        self.state = state
        self.account_id = account_id

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

    def _rotation_fields(self, secret: Secret) -> Body:
        # As documented: the interval and next date only while automatic rotation is on.
        body: Body = {"AutomaticRotation": secret.automatic_rotation()}
        if secret.interval and secret.auto_rotation:
            body["RotationInterval"] = f"{secret.interval}s"
        if secret.last_rotation:
            body["LastRotationDate"] = format_utc(secret.last_rotation)
        if secret.next_rotation and secret.auto_rotation:
            body["NextRotationDate"] = format_utc(secret.next_rotation)
        return body

    @staticmethod
    def _tags(secret: Secret) -> Body:
        return {"Tag": [{"TagKey": k, "TagValue": v} for k, v in secret.tags]}

    @staticmethod
    def _stages(version: Version) -> Body:
        return {"VersionStage": list(version.stages)}

    # -- actions ----------------------------------------------------------------------

    async def DescribeSecret(self, region: str, params: Params, caller: str) -> Body:  # noqa: N802
        """Describe a secret's metadata (works during the deletion window)."""
        secret = self.state.get(region, self._name(region, params))
        body: Body = {
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
            body["ExtendedConfig"] = compact_json(secret.extended_config)
            body.update(self._rotation_fields(secret))
        if secret.planned_delete is not None:
            body["PlannedDeleteTime"] = format_utc(secret.planned_delete)
        if params.boolean("FetchTags", False):
            body["Tags"] = self._tags(secret)
        return body

    async def ListSecrets(self, region: str, params: Params, caller: str) -> Body:  # noqa: N802
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
            entry: Body = {
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

    async def ListSecretVersionIds(self, region: str, params: Params, caller: str) -> Body:  # noqa: N802
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

    async def GetSecretValue(self, region: str, params: Params, caller: str) -> Body:  # noqa: N802
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
        body: Body = {
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
                body["ExtendedConfig"] = compact_json(secret.extended_config)
        return body


def compact_json(value: Any) -> str:
    """Return ``value`` as compact JSON, as KMS writes ExtendedConfig."""
    return json.dumps(value, separators=(",", ":"))


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
