"""Rotation follow-up: the one tracker of every rotation the bot triggered.

``follow_rotation`` watches one recorded rotation (``rotation_watch`` reads its end from
every signal KMS gives) and records and audits its end once: a compare-and-set in
storage, so two processes following the same rotation report it once. Three honest ends:
completed (the new version is ACSCurrent), failed, or not confirmed by the deadline (with
what was seen). A custom value is a fourth case of "completed": KMS holds it as ACSCurrent,
but PutSecretValue is documented for generic secrets only, so KMS confirms nothing about
the instance; ``RotationOutcome.instance_confirmed`` says which, and every report says so.

``RotationTracker`` owns following, in one process: one task per rotation, started by
whoever holds a new rotation (a front end once it has announced it: the end edits the
message the announcement posted, so following may not start before it) or by the duties.
A second start joins the first. Across replicas, each follow-up is *held*: the replica that
triggered the rotation is its follower from the start (``replica_id``), and its tracker
beats a heartbeat on every follow-up it holds (every third of ``ttl``, the duties' lease
TTL). When a replica dies, its heartbeats lapse and the duties of a survivor take its
follow-ups over (``follow_recorded``); the end is recorded only under the current follower's
name and marked reported once said, so an end a dead replica recorded but never said is said
by the survivor (editing the same message: the same words twice at worst). A stop gives the
follow-ups back, for the next start or another replica to take at once. The end this process
recorded is reported through a ``RotationNotifier``, which each front end implements (Slack
edits the "rotation triggered" message; the terminal closes its progress line). Never talks
Slack or prints; never decides policy.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol, cast

from ecs_secret_bot.commands.approval.requests import ActionRequest
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.names import secret_arn
from ecs_secret_bot.commands.operations.rotate import PUT_VALUE, ROTATE
from ecs_secret_bot.commands.pipeline import audit
from ecs_secret_bot.commands.rotation_watch import (
    CHECK_AGENT,
    Before,
    RotationStatus,
    State,
    watch_rotation,
)
from ecs_secret_bot.errors import NotFound
from ecs_secret_bot.storage import rotations
from ecs_secret_bot.storage.leases import replica_id
from ecs_secret_bot.storage.rotations import RotationRow

__all__ = [
    "CUSTOM_VALUE_CURRENT",
    "RotationNotifier",
    "RotationOutcome",
    "RotationTracker",
    "State",
    "follow_rotation",
]

logger = logging.getLogger(__name__)

CUSTOM_VALUE_CURRENT = (
    "KMS holds the custom value as the secret's current version (ACSCurrent); KMS does not "
    "confirm that the instance's credential changed"
)
"""What a custom value's "completed" means: what KMS confirmed, and what it cannot."""
CHECK_LOG_IN = "that the new value logs in to the instance as the secret's user"


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
    custom: bool = False
    """A custom value (PutSecretValue): "completed" then confirms KMS, not the instance."""
    seen: tuple[str, ...] = ()
    """What KMS showed at the last look (failed, timed out), one sentence each."""
    checks: tuple[str, ...] = ()
    """Where a person can look next, in no front end's syntax (they add their own command)."""
    deadline: datetime | None = None
    team_id: str = ""
    """The workspace of the "rotation triggered" message ('': the single token's)."""
    channel_id: str = ""
    """Where it was asked: its end goes there when its message is unknown (a replica died)."""

    @property
    def instance_confirmed(self) -> bool:
        """Say whether KMS's answer confirms the new credential is on the instance."""
        return self.state == "completed" and not self.custom


def _outcome(
    row: RotationRow,
    state: State,
    reason: str,
    *,
    reported_here: bool,
    status: RotationStatus | None = None,
) -> RotationOutcome:
    checks = status.checks if status is not None else ()
    if row.custom and state == "completed":
        checks = (CHECK_LOG_IN, CHECK_AGENT)
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
        team_id=row.team_id,
        channel_id=row.channel_id,
        message_ts=row.message_ts or "",
        reported_here=reported_here,
        custom=row.custom,
        seen=status.seen if status is not None else (),
        checks=checks,
        deadline=row.deadline,
    )


async def follow_rotation(
    rotation_id: int, *, core: Core, follower: str | None = None
) -> RotationOutcome:
    """Watch a triggered rotation until it finishes; record and audit its end once.

    Given ``follower`` (the replica holding the follow-up), the end is recorded only while
    it still holds it, and an end recorded but not said yet is its to say.
    """
    row = await rotations.get_rotation(core.db, rotation_id)
    if row is None:
        raise NotFound(f"There is no rotation {rotation_id}.")
    if not row.active:
        unsaid = follower is not None and row.follower == follower and row.reported_at is None
        return _outcome(row, cast(State, row.status), row.reason, reported_here=unsaid)
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
        growth=core.follow_up_growth,
        before=Before(invalid=row.was_invalid, triggered_at=row.started_at),
    )
    if row.custom and status.state == "completed":
        status = replace(status, reason=CUSTOM_VALUE_CURRENT)
    won = await rotations.set_rotation_status(
        core.db,
        row.id,
        expected=("starting", "in_progress"),
        new=status.state,
        now=core.clock(),
        reason=status.reason,
        follower=follower,
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
            outcome=_audited(status),
            request_id=row.request_id,
            required=False,
        )
    final = await rotations.get_rotation(core.db, row.id)
    return _outcome(final or row, status.state, status.reason, reported_here=won, status=status)


def _audited(status: RotationStatus) -> str:
    """Return the audit outcome of a followed rotation's end."""
    word = {"timed_out": "not confirmed"}.get(status.state, status.state)
    return f"rotation {word}" + (f": {status.reason}" if status.reason else "")


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
        await tracker.follow_recorded()  # the duties: follow-ups whose replica stopped beating
        outcome = await tracker.outcome(rotation_id)  # a terminal waiting for the end
    """

    def __init__(
        self,
        core: Core,
        notifier: RotationNotifier,
        *,
        owner: str | None = None,
        ttl: timedelta | None = None,
    ) -> None:
        self.core = core
        self.notifier = notifier
        self.owner = owner or replica_id()
        """This replica's name on the follow-ups it holds."""
        self.ttl = ttl or core.settings.duties.lease_ttl
        self._following: dict[int, _Following] = {}
        self._beat: asyncio.Task[None] | None = None
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
        """Take over the follow-ups that are ours or whose replica stopped beating (a death, a
        restart) and that nobody here follows; count those started."""
        if self._stopped:
            return 0
        core = self.core
        started = 0
        for row in await rotations.claim_follow_ups(
            core.db, follower=self.owner, now=core.clock(), ttl=self.ttl
        ):
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

        Storage keeps their rotations in flight, given back: the next start, or another
        replica's duties, follow them at once.
        """
        self._stopped = True
        cut = await self.drain(0)
        if self._beat is not None:
            self._beat.cancel()
            await asyncio.gather(self._beat, return_exceptions=True)
            self._beat = None
        try:
            await rotations.release_follow_ups(self.core.db, follower=self.owner)
        except Exception:  # the database away: the heartbeats lapse all the same
            logger.warning("could not give the rotation follow-ups back", exc_info=True)
        return cut

    def _start(self, rotation_id: int, *, instance_name: str = "") -> _Following:
        following = self._following.get(rotation_id)
        if following is None:
            task = asyncio.create_task(
                self._follow(rotation_id), name=f"follow-rotation-{rotation_id}"
            )
            following = self._following[rotation_id] = _Following(task)
            task.add_done_callback(partial(self._done, rotation_id))
            if self._beat is None or self._beat.done():
                self._beat = asyncio.create_task(self._heartbeat(), name="follow-heartbeat")
        if instance_name:
            following.instance_name = instance_name
        return following

    async def _heartbeat(self) -> None:
        """Beat the heartbeat of every follow-up held here, every third of ``ttl``."""
        while self._following:
            await asyncio.sleep(self.ttl.total_seconds() / 3)
            ids, now = list(self._following), self.core.clock()
            try:
                await rotations.renew_follow_ups(
                    self.core.db, ids, follower=self.owner, now=now, ttl=self.ttl
                )
            except Exception:  # the database away: beat again next time
                logger.warning("could not renew the rotation follow-ups", exc_info=True)

    async def _claim(self, rotation_id: int) -> RotationOutcome | None:
        """Hold the follow-up, or wait for whoever holds it; return the end if it is theirs."""
        core = self.core
        while True:
            if await rotations.claim_follow_up(
                core.db, rotation_id, follower=self.owner, now=core.clock(), ttl=self.ttl
            ):
                return None
            row = await rotations.get_rotation(core.db, rotation_id)
            if row is None:
                raise NotFound(f"There is no rotation {rotation_id}.")
            if not row.active and row.reported_at is not None:
                return _outcome(row, cast(State, row.status), row.reason, reported_here=False)
            # Another replica follows it (and beats): ask again once its heartbeat could lapse.
            await core.sleep(min(core.follow_up_max_delay, self.ttl.total_seconds()))

    async def _follow(self, rotation_id: int) -> RotationOutcome:
        theirs = await self._claim(rotation_id)
        if theirs is not None:
            return theirs
        outcome = await follow_rotation(rotation_id, core=self.core, follower=self.owner)
        following = self._following.get(rotation_id)
        if following is not None and following.instance_name:
            outcome = replace(outcome, instance_name=following.instance_name)
        if outcome.reported_here:
            try:
                await self.notifier.rotation_finished(outcome)
            except Exception:
                logger.exception("reporting the end of rotation %s failed", rotation_id)
            await rotations.mark_reported(self.core.db, rotation_id, now=self.core.clock())
        return outcome

    def _done(self, rotation_id: int, task: asyncio.Task[RotationOutcome]) -> None:
        following = self._following.pop(rotation_id, None)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None and (following is None or following.waiters == 0):
            # Nobody awaits this end to hear of it; the row stays in flight and held here, so
            # the next duty tick (here, or elsewhere once the heartbeat lapses) follows it again.
            logger.error("following rotation %s failed", rotation_id, exc_info=error)
