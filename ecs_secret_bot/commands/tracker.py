"""Rotation follow-up: a rotation is done only when KMS says the new version is ACSCurrent.

KMS rotates an ECS secret asynchronously (RotateSecret or PutSecretValue returns at once,
then a Cloud Assistant command sets the credential on the instance). ``probe_rotation``
looks once; ``watch_rotation`` looks with bounded, growing pauses until the rotation has
completed, failed (``AutomaticRotation`` turned ``Invalid`` after the trigger) or passed its
deadline. A failure is explained by re-running the pre-flight, since KMS's own failure
detail goes to CloudMonitor, not to the API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ecs_secret_bot.commands.gateway import CloudGateway
from ecs_secret_bot.commands.preflight import run_preflight
from ecs_secret_bot.errors import CloudError

__all__ = ["RotationStatus", "State", "probe_rotation", "watch_rotation"]

State = Literal["completed", "failed", "timed_out", "in_progress"]


@dataclass(frozen=True)
class RotationStatus:
    """Where one triggered rotation stands."""

    state: State
    region: str
    name: str
    version_id: str
    reason: str = ""

    @property
    def finished(self) -> bool:
        """Say whether the rotation reached an end (completed, failed or timed out)."""
        return self.state != "in_progress"


async def probe_rotation(
    gateway: CloudGateway, region: str, name: str, version_id: str, *, was_invalid: bool = False
) -> RotationStatus:
    """Look once: completed, failed or still in progress."""

    def status(state: State, reason: str = "") -> RotationStatus:
        return RotationStatus(state, region, name, version_id, reason)

    try:
        versions = await gateway.list_secret_versions(region, name)
    except CloudError as exc:
        if exc.code == "Forbidden.ResourceNotFound":
            return status("failed", "the secret no longer exists in KMS")
        raise
    if any(v.version_id == version_id and "ACSCurrent" in v.stages for v in versions):
        return status("completed")
    detail = await gateway.describe_secret(region, name)
    if detail.automatic_rotation == "Invalid" and not was_invalid:
        reason = (
            "KMS marked the secret's rotation Invalid: the credential was not set on the instance"
        )
        if detail.ecs is not None:
            report = await run_preflight(gateway, region, detail.ecs.instance_id)
            failed = next((c for c in report.checks if not c.ok), None)
            if failed is not None:
                reason = f"{failed.detail} {failed.next_step}".strip()
            else:
                reason += (
                    " (the instance is Running and its agent online now; the CloudMonitor "
                    "event Secret:RotateSecret:Failure has the cause)"
                )
        return status("failed", reason)
    return status("in_progress")


async def watch_rotation(
    gateway: CloudGateway,
    region: str,
    name: str,
    version_id: str,
    *,
    deadline: datetime,
    clock: Callable[[], datetime],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    first_delay: float = 1.0,
    max_delay: float = 15.0,
    was_invalid: bool = False,
) -> RotationStatus:
    """Probe until the rotation finishes or ``deadline`` passes; never raises on time-out."""
    delay = first_delay
    while True:
        await sleep(delay)
        current = await probe_rotation(gateway, region, name, version_id, was_invalid=was_invalid)
        if current.finished:
            return current
        now = clock()
        if now >= deadline:
            return RotationStatus(
                "timed_out",
                region,
                name,
                version_id,
                "KMS did not report the new version as current in time; the rotation may "
                "still finish.",
            )
        delay = min(max_delay, delay * 2, max(0.0, (deadline - now).total_seconds()) or delay)
