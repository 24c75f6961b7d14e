"""KMS parameter rules for secrets, as the fact sheet documents them.

Names (``[A-Za-z0-9_/+=.@-]``, up to 192 characters; ECS secrets start with
``acs/ecs/``, others may not start with ``acs/``), version ids, rotation intervals
(``<n>d|h|m|s`` between 6 hours and 365 days), ECS ``ExtendedConfig`` and
``SecretData``, tags and ListSecrets filters. Each rule raises 400 ``InvalidParameter``
naming the parameter; none of them ever echoes a secret value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ecs_secret_bot.sandbox.ecs import Instance
from ecs_secret_bot.sandbox.errors import invalid_parameter

__all__ = [
    "ECS_PREFIX",
    "FILTER_KEYS",
    "check_ecs_secret_data",
    "check_secret_name",
    "check_version_id",
    "parse_extended_config",
    "parse_filters",
    "parse_rotation_interval",
    "parse_tags",
]

ECS_PREFIX = "acs/ecs/"
MIN_INTERVAL = 6 * 3600
MAX_INTERVAL = 365 * 86400
FILTER_KEYS = (
    "SecretName",
    "Description",
    "TagKey",
    "TagValue",
    "DKMSInstanceId",
    "SecretType",
    "Creator",
)
_NAME = re.compile(r"^[A-Za-z0-9_/+=.@-]{1,192}$")
_INTERVAL = re.compile(r"^(\d{1,10})([dhms])$")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_SUB_TYPES = ("Password", "SSHKey")
_CONFIG_KEYS = ("SecretSubType", "RegionId", "InstanceId", "CustomData")


def check_secret_name(name: str, secret_type: str) -> None:
    """Check a SecretName for its type."""
    if not _NAME.match(name):
        raise invalid_parameter(
            "SecretName",
            "use 1 to 192 characters from letters, digits and _ / + = . @ -.",
        )
    if secret_type == "ECS":
        if not name.startswith(ECS_PREFIX) or len(name) == len(ECS_PREFIX):
            raise invalid_parameter(
                "SecretName", f"the name of an ECS secret must start with {ECS_PREFIX!r}."
            )
    elif name.startswith("acs/"):
        raise invalid_parameter(
            "SecretName", f"the name of a {secret_type} secret must not start with 'acs/'."
        )


def check_version_id(version_id: str) -> None:
    """Check a VersionId (up to 64 characters)."""
    if len(version_id) > 64:
        raise invalid_parameter("VersionId", "use at most 64 characters.")


def parse_rotation_interval(value: str) -> int:
    """Return a RotationInterval in seconds; 6h to 365d, units d, h, m or s."""
    match = _INTERVAL.match(value.strip())
    if match is None:
        raise invalid_parameter(
            "RotationInterval", f"{value!r} is not <integer><unit> with unit d, h, m or s."
        )
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
        raise invalid_parameter(
            "RotationInterval", f"{value!r} is out of range; use 6h to 365d (8760h)."
        )
    return seconds


def parse_extended_config(
    value: str | None, *, region: str, find_instance: Callable[[str], Instance | None]
) -> tuple[dict[str, Any], Instance]:
    """Check an ECS ExtendedConfig; return it (with CustomData) and its instance."""
    if value is None:
        raise invalid_parameter("ExtendedConfig", "it is required for a secret of type ECS.")
    if len(value) > 1024:
        raise invalid_parameter("ExtendedConfig", "use at most 1024 characters.")
    config = _json_or_none(value)
    if not isinstance(config, dict):
        raise invalid_parameter("ExtendedConfig", "it must be a JSON object.")
    unknown = sorted(set(config) - set(_CONFIG_KEYS))
    if unknown:
        raise invalid_parameter(
            "ExtendedConfig", f"unknown key {unknown[0]!r}; allowed: {', '.join(_CONFIG_KEYS)}."
        )
    sub_type = config.get("SecretSubType")
    if sub_type not in _SUB_TYPES:
        raise invalid_parameter("ExtendedConfig.SecretSubType", "use Password or SSHKey.")
    if config.get("RegionId") != region:
        raise invalid_parameter(
            "ExtendedConfig.RegionId",
            f"it must be the region of the secret ({region}), where the instance is.",
        )
    instance_id = config.get("InstanceId")
    if not isinstance(instance_id, str) or not instance_id:
        raise invalid_parameter("ExtendedConfig.InstanceId", "it is required.")
    instance = find_instance(instance_id)
    if instance is None:
        raise invalid_parameter(
            "ExtendedConfig.InstanceId", f"instance {instance_id!r} does not exist in {region}."
        )
    if instance.os_type == "windows" and sub_type == "SSHKey":
        raise invalid_parameter(
            "ExtendedConfig.SecretSubType", "Windows instances take passwords only."
        )
    custom = config.get("CustomData", {})
    if not isinstance(custom, dict) or len(custom) > 10:
        raise invalid_parameter(
            "ExtendedConfig.CustomData", "it must be a JSON object of at most 10 pairs."
        )
    normalised = {
        "SecretSubType": sub_type,
        "RegionId": region,
        "InstanceId": instance_id,
        "CustomData": custom,
    }
    return normalised, instance


def check_ecs_secret_data(value: str, *, sub_type: str) -> dict[str, str]:
    """Check ECS SecretData JSON for ``sub_type``; return it parsed."""
    data = _json_or_none(value)
    expected = (
        ("UserName", "Password")
        if sub_type == "Password"
        else (
            "UserName",
            "PublicKey",
            "PrivateKey",
        )
    )
    shape = "{" + ",".join(f'"{key}":"..."' for key in expected) + "}"
    if (
        not isinstance(data, dict)
        or set(data) != set(expected)
        or not all(isinstance(data[key], str) and data[key] for key in expected)
    ):
        raise invalid_parameter("SecretData", f"a {sub_type} ECS secret holds {shape}.")
    if sub_type == "SSHKey":
        if not data["PublicKey"].startswith("ssh-"):
            raise invalid_parameter("SecretData", "PublicKey must be an OpenSSH public key line.")
        if "PRIVATE KEY-----" not in data["PrivateKey"]:
            raise invalid_parameter("SecretData", "PrivateKey must be a PEM private key.")
    return data


def parse_tags(value: str | None) -> list[tuple[str, str]]:
    """Parse the Tags JSON array ``[{"TagKey":..,"TagValue":..}]`` (up to 20)."""
    items = _json_list(
        value,
        most=20,
        parameter="Tags",
        hint='use a JSON array like [{"TagKey":"k","TagValue":"v"}].',
    )
    tags: list[tuple[str, str]] = []
    for item in items:
        if not isinstance(item, dict):
            raise invalid_parameter("Tags", "each tag is an object with TagKey and TagValue.")
        key, tag_value = item.get("TagKey"), item.get("TagValue")
        if not isinstance(key, str) or not isinstance(tag_value, str) or not key:
            raise invalid_parameter("Tags", "each tag needs a TagKey and a TagValue string.")
        if len(key) > 128 or len(tag_value) > 128 or key.startswith(("aliyun", "acs:")):
            raise invalid_parameter(
                "Tags", "keys and values take up to 128 characters; keys not aliyun* or acs:*."
            )
        tags.append((key, tag_value))
    return tags


def parse_filters(value: str | None) -> list[tuple[str, list[str]]]:
    """Parse ListSecrets Filters: ``[{"Key":"SecretName","Values":["a"]}]``, up to 10."""
    items = _json_list(
        value,
        most=10,
        parameter="Filters",
        hint='use a JSON array of up to 10 {"Key":..,"Values":[..]} objects.',
    )
    filters: list[tuple[str, list[str]]] = []
    for item in items:
        key = item.get("Key") if isinstance(item, dict) else None
        values = item.get("Values") if isinstance(item, dict) else None
        if key not in FILTER_KEYS:
            raise invalid_parameter("Filters", f"Key must be one of {', '.join(FILTER_KEYS)}.")
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, str) for v in values)
        ):
            raise invalid_parameter("Filters", f"Values of {key} must be a list of strings.")
        filters.append((key, values))
    return filters


def _json_or_none(value: str) -> Any:
    """Parse JSON; None where ``value`` is not JSON (the caller says what it wanted)."""
    try:
        return json.loads(value)
    except ValueError:
        return None


def _json_list(value: str | None, *, most: int, parameter: str, hint: str) -> list[Any]:
    """Parse an optional JSON array of up to ``most`` items; refuse anything else with ``hint``."""
    if value is None:
        return []
    items = _json_or_none(value)
    if not isinstance(items, list) or len(items) > most:
        raise invalid_parameter(parameter, hint)
    return items
