"""The incident sweep's data: what is selected, what each secret's fate is, what people see.

Owns the frozen shapes every part of the sweep and every front end share: the selector
(``SweepSelector``), one secret of a sweep (``SweepItem``) with its ``ItemState``, the plan
made before anything runs (``SweepPlan``, with the digest that binds an approval to its
exact set), the state of a sweep at one moment (``SweepSnapshot``), and the
``SweepNotifier`` Protocol the front ends implement. Never calls the cloud, never touches
storage, never decides policy.

An item's life::

    ready ──► queued ──► running ──► completed | failed | not_confirmed
      │          └──► stopped (Stop before it started)    (the tracker's honest end)
    refused / skipped (never run: no permission; instance not Running, agent offline,
                       a rotation in flight, user unknown, over KMS's hourly limit)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

__all__ = [
    "FINAL_ITEM_STATES",
    "FINAL_SWEEP_STATUSES",
    "ItemState",
    "SweepCounts",
    "SweepItem",
    "SweepNotifier",
    "SweepPlan",
    "SweepSelector",
    "SweepSnapshot",
    "SweepStatus",
    "set_digest",
]


class ItemState(StrEnum):
    """Where one secret of a sweep stands."""

    READY = "ready"
    """Planned and runnable; not yet part of a started sweep."""
    REFUSED = "refused"
    """The person may not rotate it (policy, guardrail, explicit Deny)."""
    SKIPPED = "skipped"
    """It cannot be rotated now (pre-flight, in flight, user unknown, hourly limit)."""
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    NOT_CONFIRMED = "not_confirmed"
    """Triggered, but KMS did not confirm its end within the follow-up timeout."""
    STOPPED = "stopped"
    """Stop came before it started: untouched."""


FINAL_ITEM_STATES = frozenset(
    {
        ItemState.REFUSED,
        ItemState.SKIPPED,
        ItemState.COMPLETED,
        ItemState.FAILED,
        ItemState.NOT_CONFIRMED,
        ItemState.STOPPED,
    }
)


class SweepStatus(StrEnum):
    """Where a whole sweep stands."""

    AWAITING_APPROVAL = "awaiting_approval"
    RUNNING = "running"
    STOPPING = "stopping"
    """Stop was asked: nothing new starts; the running secrets finish."""
    FINISHED = "finished"
    STOPPED = "stopped"
    DENIED = "denied"
    EXPIRED = "expired"
    CHANGED = "changed"
    """The runnable set differed at execution from the approved one: nothing ran."""


FINAL_SWEEP_STATUSES = frozenset(
    {
        SweepStatus.FINISHED,
        SweepStatus.STOPPED,
        SweepStatus.DENIED,
        SweepStatus.EXPIRED,
        SweepStatus.CHANGED,
    }
)


@dataclass(frozen=True)
class SweepSelector:
    """Which secrets a sweep takes: AND across kinds of selector, OR within ``instances``."""

    instances: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    """Instance tags, each ``(key, value)``; every one must match."""
    match: str = ""
    """A glob on the secret's short name (``web-*``); empty: any name."""
    region: str | None = None
    """One region; None: every configured region."""

    @property
    def empty(self) -> bool:
        """Say whether nothing narrows the selection (a sweep needs at least one selector)."""
        return not (self.instances or self.tags or self.match)

    def describe(self) -> str:
        """Say it in words: ``--instance i-1 --tag env=prod in every region``."""
        parts = [f"--instance {i}" for i in self.instances]
        parts += [f"--tag {k}={v}" for k, v in self.tags]
        parts += [f"--match {self.match}"] if self.match else []
        where = f"in {self.region}" if self.region else "in every region"
        return " ".join(parts + [where])


@dataclass(frozen=True)
class SweepItem:
    """One secret of a sweep: which, where, whose, and how it fares."""

    name: str
    """The full KMS name, ``acs/ecs/web-3-root``."""
    region: str
    instance_id: str
    user: str
    """The OS user (from ``ExtendedConfig.CustomData``); "" when KMS records none."""
    kind: str
    """``password`` or ``ssh_key``."""
    state: ItemState
    reason: str = ""
    """Why it was refused or skipped, or how it ended (a failure's reason)."""
    instance_name: str = ""
    arn: str = ""
    approval_rule: str = ""
    """The approval rule that would hold it alone ("" if it runs without one)."""
    rotation_id: int | None = None
    """Its row in storage's rotations once triggered."""
    version_id: str = ""

    @property
    def short_name(self) -> str:
        """Return the name without ``acs/ecs/``."""
        return self.name.removeprefix("acs/ecs/")

    @property
    def key(self) -> str:
        """Return ``region|name``, unique within a sweep."""
        return f"{self.region}|{self.name}"


def set_digest(items: Iterable[SweepItem]) -> str:
    """Return the SHA-256 of the runnable set: each ready secret's region, name, instance, user."""
    rows = sorted(
        [i.region, i.name, i.instance_id, i.user, i.kind]
        for i in items
        if i.state is ItemState.READY
    )
    body = json.dumps(rows, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep would do, worked out before anything runs (a dry run shows this)."""

    selector: SweepSelector
    items: tuple[SweepItem, ...]
    digest: str
    """``set_digest(items)``: an approval holds for this exact runnable set only."""
    approval_rule: str | None
    """The strictest rule holding any runnable member, or None (it runs at once)."""
    approval_needs: str = ""
    """The rule's needs in words (``1 approval from slack:usergroup:S01SEC``)."""
    regions: tuple[str, ...] = ()
    """The regions that were searched."""
    region_problems: tuple[str, ...] = ()
    """One sentence per region not searched, or searched in part, with why."""

    @property
    def runnable(self) -> tuple[SweepItem, ...]:
        """Return the secrets it would rotate."""
        return tuple(i for i in self.items if i.state is ItemState.READY)


@dataclass(frozen=True)
class SweepCounts:
    """The progress line: done / failed / skipped / waiting."""

    done: int = 0
    """Completed."""
    failed: int = 0
    """Failed or not confirmed."""
    skipped: int = 0
    """Refused, skipped or stopped: never run."""
    waiting: int = 0
    """Ready, queued or running."""

    @classmethod
    def of(cls, items: Iterable[SweepItem]) -> SweepCounts:
        """Count the items by what they mean for the progress line."""
        done = failed = skipped = waiting = 0
        for item in items:
            if item.state is ItemState.COMPLETED:
                done += 1
            elif item.state in (ItemState.FAILED, ItemState.NOT_CONFIRMED):
                failed += 1
            elif item.state in (ItemState.REFUSED, ItemState.SKIPPED, ItemState.STOPPED):
                skipped += 1
            else:
                waiting += 1
        return cls(done=done, failed=failed, skipped=skipped, waiting=waiting)


@dataclass(frozen=True)
class SweepSnapshot:
    """A sweep at one moment, as front ends show it."""

    sweep_id: str
    requester: str
    reason: str
    channel_id: str
    status: SweepStatus
    items: tuple[SweepItem, ...]
    selector: SweepSelector
    digest: str
    created_at: datetime
    updated_at: datetime
    approval_id: str = ""
    """The one approval request holding it ("" if none was needed)."""
    approval_rule: str = ""
    stopped_by: str = ""
    note: str = ""
    """Why it ended as it did (changed, denied, expired), one sentence."""
    message_channel: str = ""
    message_ts: str = ""
    """The channel message a front end updates in place (Slack), once attached."""
    counts: SweepCounts = field(default_factory=SweepCounts)

    @property
    def finished(self) -> bool:
        """Say whether the sweep has ended (nothing more will change)."""
        return self.status in FINAL_SWEEP_STATUSES


class SweepNotifier(Protocol):
    """How a sweep's progress reaches people; each front end implements it.

    Called after every change of a sweep (an item's state, the sweep's status), from the
    runner's tasks; it should be quick and may throttle (the Slack side coalesces updates
    into at most one ``chat.update`` a second). It may raise: the runner logs and carries on.
    Example (the terminal prints one line per change)::

        class PrintSweep:
            async def sweep_changed(self, snapshot: SweepSnapshot) -> None:
                c = snapshot.counts
                print(f"{c.done} done, {c.failed} failed, {c.waiting} waiting")
    """

    async def sweep_changed(self, snapshot: SweepSnapshot) -> None:
        """Show the sweep as it is now."""
        ...
