"""Harmless calls that show whether an identity holds each permission the bot needs.

``ecs-secret-bot check`` asks, per region and per identity (the bot's own, and each role
a binding names), each API the bot calls in a way that changes nothing:

* ``ListSecrets`` (page size 1) and ``DescribeInstances`` (10 at most): the answers
  ``check`` already has;
* ``DescribeCloudAssistantStatus`` of one instance the region has;
* ``DescribeSecret``, ``ListSecretVersionIds``, ``RotateSecret``, ``PutSecretValue``,
  ``UpdateSecretRotationPolicy``, ``DeleteSecret``, ``RestoreSecret``
  on a secret name that cannot exist (``acs/ecs/bot-permission-check-<random>``): "not
  found" means RAM let the call through (there was nothing to change), a 403 that it did
  not. This relies on RAM deciding before KMS looks the secret up, which the sandbox does
  and KMS's documentation does not state (docs/alibaba-cloud.md);
* ``sts:AssumeRole``: assuming the role, with the session name ``ecs-secret-bot-check``.

``kms:CreateSecret`` (any call that succeeds creates a secret) and ``kms:GenerateDataKey``
(KMS uses it on the bot's behalf while creating one) cannot be checked without a side
effect: they are reported as unchecked, with the policy statement that grants them.

Owns ``probe_permissions`` and ``Probe``. Never words a check line (``check`` does).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from ecs_secret_bot.cloud.permissions import API_ACTIONS, KEY_ACTION
from ecs_secret_bot.commands.gateway import CloudGateway
from ecs_secret_bot.commands.values import PasswordValue
from ecs_secret_bot.errors import BotError, CloudError, CloudPermissionDenied

__all__ = ["UNCHECKED", "Probe", "probe_permissions"]

Outcome = Literal["granted", "missing", "unknown"]

UNCHECKED = ("kms:CreateSecret", KEY_ACTION)
"""The permissions no call can show without changing something."""

_NOT_FOUND = "Forbidden.ResourceNotFound"


@dataclass(frozen=True)
class Probe:
    """What one harmless call showed about one permission in one region."""

    permission: str
    region: str
    outcome: Outcome
    detail: str
    """What was called and what it answered."""


def _probe_name() -> str:
    return f"acs/ecs/bot-permission-check-{uuid.uuid4().hex[:12]}"


def _judged(permission: str, region: str, error: BotError | None, call: str) -> Probe:
    """Turn a call's error (None: it succeeded) into what it shows about ``permission``."""
    if error is None:
        return Probe(permission, region, "granted", f"{call} answered")
    if isinstance(error, CloudPermissionDenied) and error.permission.lower() == permission.lower():
        return Probe(permission, region, "missing", f"{call} answered {error.code}")
    if isinstance(error, CloudError) and error.code == _NOT_FOUND:
        return Probe(permission, region, "granted", f"{call} answered {_NOT_FOUND}: permitted")
    code = error.code if isinstance(error, CloudError) and error.code else type(error).__name__
    return Probe(permission, region, "unknown", f"{call} failed ({code}): {error.user_message}")


async def _error_of(call: Callable[[], Awaitable[object]]) -> BotError | None:
    try:
        await call()
    except BotError as exc:
        return exc
    return None


async def probe_permissions(
    cloud: CloudGateway,
    region: str,
    *,
    listed: BotError | None,
    described: BotError | None,
    instance_id: str | None,
) -> list[Probe]:
    """Probe each permission in ``region``; ``listed``/``described``: how those calls went."""
    probes = [
        _judged("kms:ListSecrets", region, listed, "ListSecrets"),
        _judged("ecs:DescribeInstances", region, described, "DescribeInstances"),
    ]
    if instance_id:
        error = await _error_of(lambda: cloud.cloud_assistant_status(region, [instance_id]))
        asked = f"DescribeCloudAssistantStatus of {instance_id}"
        probes.append(_judged("ecs:DescribeCloudAssistantStatus", region, error, asked))
    else:
        probes.append(
            Probe(
                "ecs:DescribeCloudAssistantStatus",
                region,
                "unknown",
                "not called: ECS listed no instance to ask about",
            )
        )
    name = _probe_name()
    value = PasswordValue(user_name="root", password=uuid.uuid4().hex)
    version = "bot-permission-check"
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "DescribeSecret": lambda: cloud.describe_secret(region, name),
        "ListSecretVersionIds": lambda: cloud.list_secret_versions(region, name),
        "RotateSecret": lambda: cloud.rotate_secret(region, name, version_id=version),
        "PutSecretValue": lambda: cloud.put_secret_value(
            region, name, version_id=version, value=value
        ),
        "UpdateSecretRotationPolicy": lambda: cloud.update_rotation_policy(
            region, name, enabled=False
        ),
        "DeleteSecret": lambda: cloud.delete_secret(region, name, recovery_window_days=30),
        "RestoreSecret": lambda: cloud.restore_secret(region, name),
    }
    for api, send in calls.items():
        error = await _error_of(send)
        probes.append(_judged(API_ACTIONS[api], region, error, f"{api} of a secret no one has"))
    return probes
