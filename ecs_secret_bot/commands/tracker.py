"""Rotation follow-up: the one tracker of every rotation, done only when KMS says ACSCurrent.

KMS rotates an ECS secret asynchronously (RotateSecret or PutSecretValue returns at once,
then a Cloud Assistant command sets the credential on the instance). ``probe_rotation``
looks once; ``watch_rotation`` looks with bounded, growing pauses until the rotation has
completed, failed (``AutomaticRotation`` turned ``Invalid`` after the trigger) or passed its
deadline. A failure is explained by re-running the pre-flight, since KMS's own failure
detail goes to CloudMonitor, not to the API. ``follow_rotation`` watches one recorded
rotation and records and audits its end once: a compare-and-set in storage, so two
processes following the same rotation report it once.

``RotationTracker`` owns following, in one process: one task per rotation, started by
whoever holds a new rotation (a front end once it has announced it: the end edits the
message the announcement posted, so following may not start before it) or by the duties,
for the rotations storage records as in flight and nobody here follows (after a restart).
A second start joins the first. The end this process recorded is reported through a
``RotationNotifier``, which each front end implements (Slack edits the "rotation
triggered" message; the terminal closes its progress line). Never talks Slack or prints;
never decides policy.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Literal, Protocol, cast

from ecs_secret_bot.commands.approval.requests import ActionRequest
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.gateway import CloudGateway
from ecs_secret_bot.commands.names import secret_arn
from ecs_secret_bot.commands.operations.rotate import PUT_VALUE, ROTATE
from ecs_secret_bot.commands.pipeline import audit
from ecs_secret_bot.commands.preflight import run_preflight
from ecs_secret_bot.errors import CloudError, NotFound
from ecs_secret_bot.storage import rotations
from ecs_secret_bot.storage.rotations import RotationRow

__all__ = [
    "RotationNotifier",
    "RotationOutcome",
    "RotationStatus",
    "RotationTracker",
    "State",
    "follow_rotation",
    "probe_rotation",
    "watch_rotation",
]

logger = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class RotationOutcome:
    """How a followed rotation ended, with what the front ends say about it."""

    rotation_id: int
    state: State
    """``completed``, ``failed`` or ``timed_out``."""
    reason: str
    region: str
    secret_name: str
    version_id: str
    instance_id: str
    instance_name: str
    """Given by whoever started the follow-up ("" after a restart: storage keeps ids only)."""
    requested_by: str
    approved_by: tuple[str, ...]
    message_channel: str
    message_ts: str
    """The "rotation triggered" message that the end edits ("" where none was posted)."""
    reported_here: bool
    """Whether this follow-up recorded the end, and so is the one to report it."""


def _outcome(
    row: RotationRow, state: State, reason: str, *, reported_here: bool
) -> RotationOutcome:
    return RotationOutcome(
        rotation_id=row.id,
        state=state,
        reason=reason,
        region=row.region,
        secret_name=row.secret_name,
        version_id=row.version_id,
        instance_id=row.instance_id,
        instance_name="",
        requested_by=row.requested_by,
        approved_by=row.approved_by,
        message_channel=row.channel_id if row.message_ts else "",
        message_ts=row.message_ts or "",
        reported_here=reported_here,
    )


async def follow_rotation(rotation_id: int, *, core: Core) -> RotationOutcome:
    """Watch a triggered rotation until it finishes; record and audit its end once."""
    row = await rotations.get_rotation(core.db, rotation_id)
    if row is None:
        raise NotFound(f"There is no rotation {rotation_id}.")
    if not row.active:
        return _outcome(row, cast(State, row.status), row.reason, reported_here=False)
    status = await watch_rotation(
        core.gateway,
        row.region,
        row.secret_name,
        row.version_id,
        deadline=row.deadline,
        clock=core.clock,
        sleep=core.sleep,
        first_delay=core.follow_up_first_delay,
        max_delay=core.follow_up_max_delay,
        was_invalid=row.was_invalid,
    )
    won = await rotations.set_rotation_status(
        core.db,
        row.id,
        expected=("starting", "in_progress"),
        new=status.state,
        now=core.clock(),
        reason=status.reason,
    )
    if won:
        await audit(
            core,
            actor=row.requested_by,
            request=ActionRequest(
                action=PUT_VALUE if row.custom else ROTATE,
                resource=secret_arn(row.region, core.settings.cloud.account_id, row.secret_name),
                region=row.region,
                secret_name=row.secret_name,
            ),
            channel_id=row.channel_id,
            decision="allow",
            reason="rotation follow-up",
            outcome=f"rotation {status.state}" + (f": {status.reason}" if status.reason else ""),
            request_id=row.request_id,
            required=False,
        )
    final = await rotations.get_rotation(core.db, row.id)
    return _outcome(final or row, status.state, status.reason, reported_here=won)


class RotationNotifier(Protocol):
    """How the end of a rotation reaches people; each front end implements it.

    Called once per rotation, by the follow-up that recorded its end; it may raise (the
    tracker logs it and carries on). Example (a notifier that only logs)::

        class LogRotations:
            async def rotation_finished(self, outcome: RotationOutcome) -> None:
                logger.info("rotation of %s: %s", outcome.secret_name, outcome.state)
    """

    async def rotation_finished(self, outcome: RotationOutcome) -> None:
        """Say how the rotation ended (edit its message, close a progress line)."""
        ...


@dataclass
class _Following:
    """One follow-up in flight: its task, the instance's name, who awaits its end."""

    task: asyncio.Task[RotationOutcome]
    instance_name: str = ""
    waiters: int = 0


class RotationTracker:
    """Follows each rotation once in this process; reports each end through ``notifier``.

    Example::

        tracker = RotationTracker(core, notifier)
        tracker.follow(result.rotation_id, instance_name=result.instance_name)  # announced
        await tracker.follow_recorded()  # the duties: what storage holds and nobody follows
        outcome = await tracker.outcome(rotation_id)  # a terminal waiting for the end
    """

    def __init__(self, core: Core, notifier: RotationNotifier) -> None:
        self.core = core
        self.notifier = notifier
        self._following: dict[int, _Following] = {}
        self._stopped = False

    def __contains__(self, rotation_id: object) -> bool:
        return rotation_id in self._following

    def __len__(self) -> int:
        return len(self._following)

    def follow(self, rotation_id: int, *, instance_name: str = "") -> None:
        """Follow the rotation to its end in the background, unless it is followed already."""
        if not self._stopped:
            self._start(rotation_id, instance_name=instance_name)

    async def outcome(self, rotation_id: int) -> RotationOutcome:
        """Follow the rotation (or join its follow-up) and return how it ended."""
        following = self._start(rotation_id)
        following.waiters += 1
        try:
            # Shielded: a waiter that gives up does not stop the follow-up for the others.
            return await asyncio.shield(following.task)
        finally:
            following.waiters -= 1

    async def follow_recorded(self) -> int:
        """Follow the rotations storage records in flight that nobody here follows; count them."""
        started = 0
        for row in await rotations.active_rotations(self.core.db):
            if row.id not in self._following and not self._stopped:
                self._start(row.id)
                started += 1
        return started

    async def settle(self) -> None:
        """Wait for the follow-ups running now to end (tests)."""
        tasks = [following.task for following in self._following.values()]
        await asyncio.gather(*tasks, return_exceptions=True)

    async def drain(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for the follow-ups, cancel the rest; return how many."""
        tasks = [following.task for following in self._following.values()]
        if not tasks:
            return 0
        _, still = await asyncio.wait(tasks, timeout=timeout)
        for task in still:
            task.cancel()
        if still:
            await asyncio.gather(*still, return_exceptions=True)
        return len(still)

    async def stop(self) -> int:
        """Cancel the follow-ups and start no more; return how many were cut short.

        Storage keeps their rotations in flight, so the next start follows them.
        """
        self._stopped = True
        return await self.drain(0)

    def _start(self, rotation_id: int, *, instance_name: str = "") -> _Following:
        following = self._following.get(rotation_id)
        if following is None:
            task = asyncio.create_task(
                self._follow(rotation_id), name=f"follow-rotation-{rotation_id}"
            )
            following = self._following[rotation_id] = _Following(task)
            task.add_done_callback(partial(self._done, rotation_id))
        if instance_name:
            following.instance_name = instance_name
        return following

    async def _follow(self, rotation_id: int) -> RotationOutcome:
        outcome = await follow_rotation(rotation_id, core=self.core)
        following = self._following.get(rotation_id)
        if following is not None and following.instance_name:
            outcome = replace(outcome, instance_name=following.instance_name)
        if outcome.reported_here:
            try:
                await self.notifier.rotation_finished(outcome)
            except Exception:
                logger.exception("reporting the end of rotation %s failed", rotation_id)
        return outcome

    def _done(self, rotation_id: int, task: asyncio.Task[RotationOutcome]) -> None:
        following = self._following.pop(rotation_id, None)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None and (following is None or following.waiters == 0):
            # Nobody awaits this end to hear of it; the row stays in flight, so the next
            # duty tick follows it again.
            logger.error("following rotation %s failed", rotation_id, exc_info=error)
