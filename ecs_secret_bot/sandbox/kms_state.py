"""The KMS secret store and its state machine: versions, stages, rotation, deletion.

Owns every secret of every region and the rules of how they change; knows nothing of
HTTP or parameter spelling (``kms_api`` turns calls into these operations). What a secret
holds (versions, stages) is ``kms_model``'s.

Rotation of a dynamic ECS secret (RotateSecret, or PutSecretValue with a custom value)
is asynchronous, as in KMS: the call creates the new version as ``ACSPending`` and
returns; after ``rotation_delay`` seconds of real time (an asyncio timer; 0.05 s in
tests, 3 s by default from the command line) the sandbox "runs the Cloud Assistant
command" and decides, against the instance as it is *at that moment*:

* instance gone: failure ``InstanceNotExists``;
* instance not ``Running``: failure ``InstanceNotRunning``;
* Cloud Assistant offline: failure ``ClientNotRunning``;
* otherwise success: the new version becomes ``ACSCurrent``, the old current becomes
  ``ACSPrevious``, ``LastRotationDate`` is set and ``NextRotationDate`` moves on.

On failure ``ACSCurrent`` stays where it was, the new version loses ``ACSPending``,
``AutomaticRotation`` reads ``Invalid`` (until a later change succeeds), and the reason
is kept as a CloudMonitor-like ``failureInfo`` (``failure``; ``events``). A rotation
fault (``faults``: ``rotation_failure``, ``rotation_stuck``, ``rotation_slow``) taken
when the change begins makes it fail on a healthy instance, stay ``ACSPending`` for good,
or succeed late. While a change
is pending, another RotateSecret/PutSecretValue is refused with 409
``Rejected.ResourceInUse`` (KMS documents the blocking for RAM secrets only, and no code;
the sandbox borrows the documented code of a secret in a state that forbids the call, from
RestoreSecret's table: unverified, see ``docs/alibaba-cloud.md``). A VersionId that
already exists makes the call a no-op success (idempotency), checked before the
in-progress rule.

A custom value on an ECS secret (PutSecretValue) meets ``custom_values``, the three
things KMS might do with a call it documents for generic secrets only: ``refuse`` it
(``kms_api`` answers 400), ``push`` it to the instance like a rotation (above), or
``accept`` it as the current version at once without touching the instance.

Automatic rotation and planned deletions follow the injectable clock and are applied
lazily by ``sweep`` (run before every call and by every inspection): a due rotation
starts (unless ``AutomaticRotation`` is ``Invalid``); a secret whose
``PlannedDeleteTime`` has passed is gone.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Literal, Protocol

from ecs_secret_bot.sandbox.clock import Clock
from ecs_secret_bot.sandbox.credentials import generate_value, user_name_of
from ecs_secret_bot.sandbox.ecs import EcsState
from ecs_secret_bot.sandbox.errors import ApiError, in_delete_window, secret_not_found
from ecs_secret_bot.sandbox.faults import Faults
from ecs_secret_bot.sandbox.kms_model import (
    ACS_CURRENT,
    ACS_PENDING,
    ACS_PREVIOUS,
    RotationEvent,
    RotationFailure,
    Secret,
    Version,
)

__all__ = [
    "CUSTOM_VALUES",
    "MAX_ROTATIONS_PER_HOUR",
    "CustomValues",
    "KmsState",
    "Scheduler",
    "loop_scheduler",
]

CustomValues = Literal["refuse", "push", "accept"]
CUSTOM_VALUES: tuple[CustomValues, ...] = ("push", "accept", "refuse")
MAX_ROTATIONS_PER_HOUR = 50
_EVENT_LIMIT = 1000


class _Cancellable(Protocol):
    def cancel(self) -> None: ...


Scheduler = Callable[[float, Callable[[], None]], _Cancellable]
"""Run a callback after a delay in seconds (``loop.call_later``); returns a handle."""


class KmsState:
    """All secrets, per region, and the operations that change them."""

    def __init__(
        self,
        *,
        clock: Clock,
        ecs: EcsState,
        rotation_delay: float,
        scheduler: Scheduler,
        faults: Faults | None = None,
    ) -> None:
        self.clock = clock
        self.ecs = ecs
        self.rotation_delay = rotation_delay
        self.faults = faults if faults is not None else Faults()
        self.custom_values: CustomValues = "push"
        self.events: list[RotationEvent] = []
        self._scheduler = scheduler
        self._regions: dict[str, dict[str, Secret]] = {}
        self._timers: dict[tuple[str, str], _Cancellable] = {}

    # -- reading -------------------------------------------------------------------

    def secrets(self, region: str) -> list[Secret]:
        """Return the secrets of ``region`` in creation order."""
        return list(self._regions.get(region, {}).values())

    def find(self, region: str, name: str) -> Secret | None:
        """Return a secret by name, or None."""
        return self._regions.get(region, {}).get(name)

    def get(self, region: str, name: str) -> Secret:
        """Return a secret by name or raise 404 Forbidden.ResourceNotFound."""
        secret = self.find(region, name)
        if secret is None:
            raise secret_not_found(name)
        return secret

    def get_active(self, region: str, name: str) -> Secret:
        """Return a secret that is not pending deletion, or raise 404/409."""
        secret = self.get(region, name)
        if secret.planned_delete is not None:
            raise in_delete_window(name)
        return secret

    # -- creating and deleting ----------------------------------------------------

    def add(self, secret: Secret) -> Secret:
        """Store a new secret; raise 409 when the name is taken."""
        existing = self.find(secret.region, secret.name)
        if existing is not None:
            if existing.planned_delete is not None:
                raise in_delete_window(secret.name)
            raise ApiError(
                409, "Rejected.ResourceExist", f"The secret {secret.name!r} already exists."
            )
        self._regions.setdefault(secret.region, {})[secret.name] = secret
        return secret

    def schedule_deletion(self, secret: Secret, planned: datetime) -> None:
        """Mark a secret for deletion at ``planned``."""
        secret.planned_delete = planned
        secret.updated = self.clock()

    def restore(self, secret: Secret) -> None:
        """Cancel a planned deletion; raise 409 Rejected.ResourceInUse if none."""
        if secret.planned_delete is None:
            raise ApiError(
                409,
                "Rejected.ResourceInUse",
                f"The secret {secret.name!r} is not scheduled for deletion "
                "(restore normal secret).",
            )
        secret.planned_delete = None
        secret.updated = self.clock()

    def remove(self, region: str, name: str) -> None:
        """Delete a secret at once, stopping any change in flight."""
        self._regions.get(region, {}).pop(name, None)
        timer = self._timers.pop((region, name), None)
        if timer is not None:
            timer.cancel()

    # -- rotation -------------------------------------------------------------------

    def set_rotation_policy(self, secret: Secret, *, enabled: bool, interval: int | None) -> None:
        """Turn automatic rotation on (with an interval) or off."""
        secret.auto_rotation = enabled
        if interval is not None:
            secret.interval = interval
        base = secret.last_rotation or self.clock()
        secret.next_rotation = (
            base + timedelta(seconds=secret.interval) if enabled and secret.interval else None
        )
        secret.updated = self.clock()

    def check_can_change(self, secret: Secret) -> None:
        """Raise 409 if a change is already being pushed to the instance."""
        if secret.pending_version is not None:
            raise ApiError(
                409,
                "Rejected.ResourceInUse",
                f"A rotation of the secret {secret.name!r} is in progress "
                f"(version {secret.pending_version!r}); wait until it completes.",
            )

    def begin_change(
        self, secret: Secret, version_id: str, data: str, *, action: str = ""
    ) -> Version:
        """Add ``data`` as the ACSPending version and push it to the instance later.

        ``action`` (the call that started it) picks up a rotation fault, if one is set.
        """
        self.check_can_change(secret)
        now = self.clock()
        version = Version(version_id, data, "text", now, [ACS_PENDING])
        secret.versions[version_id] = version
        secret.pending_version = version_id
        secret.rotation_times = [t for t in secret.rotation_times if now - t < timedelta(hours=1)]
        secret.rotation_times.append(now)
        secret.updated = now
        fault = self.faults.take_rotation(action) if action else None
        if fault is not None and fault.kind == "rotation_stuck":
            return version  # the command never reports back: ACSPending for good
        delay = fault.latency if fault is not None and fault.kind == "rotation_slow" else None
        fails = fault is not None and fault.kind == "rotation_failure"
        key = (secret.region, secret.name)
        self._timers[key] = self._scheduler(
            self.rotation_delay if delay is None else delay,
            lambda: self._complete(key, version_id, fails=fails),
        )
        return version

    def accept_value(self, secret: Secret, version_id: str, data: str) -> Version:
        """Make ``data`` the ACSCurrent version at once, touching no instance."""
        self.check_can_change(secret)
        now = self.clock()
        version = Version(version_id, data, "text", now, [])
        secret.versions[version_id] = version
        self._make_current(secret, version)
        secret.updated = now
        return version

    def rotations_last_hour(self, secret: Secret) -> int:
        """Return how many changes of the secret started within the last hour."""
        now = self.clock()
        return sum(1 for t in secret.rotation_times if now - t < timedelta(hours=1))

    def _complete(self, key: tuple[str, str], version_id: str, *, fails: bool = False) -> None:
        self._timers.pop(key, None)
        secret = self.find(*key)
        if secret is None or secret.pending_version != version_id:
            return
        secret.pending_version = None
        version = secret.versions[version_id]
        version.stages.remove(ACS_PENDING)
        now = self.clock()
        secret.updated = now
        self.ecs.record_invocation(secret.region, secret.instance_id)
        failure = self._instance_problem(secret, now)
        if failure is None and fails:
            failure = RotationFailure(
                "ExitCodeNonzero",
                "the rotation command exited with a non-zero code (a sandbox rotation fault)",
                now,
            )
        if failure is not None:
            secret.failure = failure
            self._event(RotationEvent(secret.region, secret.name, version_id, False, now, failure))
            return
        self._make_current(secret, version)
        secret.failure = None
        secret.last_rotation = now
        if secret.auto_rotation and secret.interval:
            secret.next_rotation = now + timedelta(seconds=secret.interval)
        self._event(RotationEvent(secret.region, secret.name, version_id, True, now))

    @staticmethod
    def _make_current(secret: Secret, version: Version) -> None:
        for other in secret.versions.values():
            if ACS_PREVIOUS in other.stages:
                other.stages.remove(ACS_PREVIOUS)
        old = secret.current()
        old.stages.remove(ACS_CURRENT)
        old.stages.append(ACS_PREVIOUS)
        version.stages.append(ACS_CURRENT)

    def _instance_problem(self, secret: Secret, now: datetime) -> RotationFailure | None:
        instance = self.ecs.get(secret.region, secret.instance_id)
        if instance is None:
            return RotationFailure(
                "InstanceNotExists", "the specified instance does not exists", now
            )
        if instance.status != "Running":
            return RotationFailure(
                "InstanceNotRunning",
                f"the instance is not running when create task (status {instance.status})",
                now,
            )
        if not instance.cloud_assistant_online:
            return RotationFailure(
                "ClientNotRunning", "the aliyun service is not running on the instance", now
            )
        return None

    def _event(self, event: RotationEvent) -> None:
        self.events.append(event)
        del self.events[:-_EVENT_LIMIT]

    # -- time -------------------------------------------------------------------------

    def sweep(self) -> None:
        """Apply what the clock says: drop expired secrets, start due automatic rotations."""
        now = self.clock()
        for secret in list(self._all()):
            if secret.planned_delete is not None and secret.planned_delete <= now:
                self.remove(secret.region, secret.name)
            elif (
                secret.is_ecs
                and secret.auto_rotation
                and secret.failure is None
                and secret.pending_version is None
                and secret.next_rotation is not None
                and secret.next_rotation <= now
            ):
                user = user_name_of(secret.current().data)
                data = generate_value(secret.sub_type, user)
                self.begin_change(secret, "auto-" + uuid.uuid4().hex, data)

    def cancel_timers(self) -> None:
        """Stop every change in flight (the server is stopping)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def _all(self) -> Iterator[Secret]:
        for region in self._regions.values():
            yield from region.values()


class _Done:
    """The handle of a change applied at once (there was no event loop to wait in)."""

    def cancel(self) -> None:
        """Do nothing: it already happened."""


def loop_scheduler(delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle | _Done:
    """Schedule on the running loop; without one, apply the change at once."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        callback()
        return _Done()
    return loop.call_later(delay, callback)
