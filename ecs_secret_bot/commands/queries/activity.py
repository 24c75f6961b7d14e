"""``pending`` and ``approvals``: what the bot itself recorded, read from storage.

Owns ``list_pending`` (scheduled deletions with the time left and, for the actor, whether
the Restore button restores at once, asks for an approval, or is not offered) and
``list_approvals`` (what waits for the actor's vote, and the actor's own requests). The
audit log has its own module, ``audit``. Permissions as design.md sets them: ``pending`` is
``kms:ListSecrets`` on the region's collection, ``approvals`` needs only a bound policy.

Never calls the cloud and never writes: the rows are the bot's own records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.names import secret_arn, short_secret_name
from ecs_secret_bot.commands.queries.access import (
    LIST,
    RESTORE,
    Access,
    access_for,
    permitted_regions,
    require_bound,
)
from ecs_secret_bot.storage import approvals as approval_store
from ecs_secret_bot.storage import pending as pending_store
from ecs_secret_bot.storage.approvals import APPROVAL_STATUSES, ApprovalRow

__all__ = [
    "RECENTLY_CLOSED",
    "ApprovalItem",
    "ApprovalsListing",
    "PendingListing",
    "PendingRow",
    "list_approvals",
    "list_pending",
]

RECENTLY_CLOSED = timedelta(days=7)
"""How long a closed request of the actor's stays in its ``approvals`` list."""
_MINE_LIMIT = 20
_PENDING_LIMIT = 500


# --- pending ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PendingRow:
    """One scheduled deletion, with the time left and what the actor may do about it."""

    id: int
    region: str
    name: str
    short_name: str
    arn: str
    planned_delete_time: datetime
    days_left: int
    hours_left: int
    """Hours beyond ``days_left`` (``2`` days ``5`` hours)."""
    overdue: bool
    """The planned time has passed; KMS has deleted it or is about to."""
    status: str
    """``pending``, or ``unknown`` when the bot could not learn how its call ended."""
    scheduled_by: str
    channel_id: str
    note: str
    restore: Access
    """Restore at once (RUN), ask for it (HOLD), or neither (REFUSE)."""

    @property
    def restore_label(self) -> str:
        """Return the button to offer: ``Restore``, ``Request restore``, or nothing."""
        if self.restore.allowed:
            return "Restore"
        if self.restore.needs_approval:
            return "Request restore"
        return ""

    @property
    def time_left(self) -> str:
        """Say how long is left: ``12d 5h``, ``5h``, or ``overdue``."""
        if self.overdue:
            return "overdue"
        return f"{self.days_left}d {self.hours_left}h" if self.days_left else f"{self.hours_left}h"


@dataclass(frozen=True)
class PendingListing:
    """The scheduled deletions of the regions the actor may list."""

    rows: tuple[PendingRow, ...]
    regions: tuple[str, ...]
    """The regions listed."""
    skipped: tuple[tuple[str, str], ...] = ()
    """(region, reason) for each region the actor may not list."""
    truncated: bool = False


def _left(planned: datetime, now: datetime) -> tuple[int, int, bool]:
    left = planned - now
    if left <= timedelta(0):
        return 0, 0, True
    return left.days, left.seconds // 3600, False


async def list_pending(*, actor: Actor, core: Core, region: str = "") -> PendingListing:
    """List the scheduled deletions, soonest first, with the actor's restore options."""
    regions = (core.region(region),) if region else core.settings.cloud.regions
    allowed, refused = permitted_regions(core, actor, LIST, regions)
    stored = await pending_store.list_pending(core.db, limit=_PENDING_LIMIT)
    now = core.clock()
    account = core.settings.cloud.account_id
    rows = []
    for row in stored:
        if row.region not in allowed:
            continue
        arn = secret_arn(row.region, account, row.secret_name)
        days, hours, overdue = _left(row.planned_delete_time, now)
        rows.append(
            PendingRow(
                id=row.id,
                region=row.region,
                name=row.secret_name,
                short_name=short_secret_name(row.secret_name),
                arn=arn,
                planned_delete_time=row.planned_delete_time,
                days_left=days,
                hours_left=hours,
                overdue=overdue,
                status=row.status,
                scheduled_by=row.scheduled_by,
                channel_id=row.channel_id,
                note=row.note,
                restore=access_for(core, actor, RESTORE, arn, label="restore"),
            )
        )
    return PendingListing(
        rows=tuple(rows),
        regions=allowed,
        skipped=tuple((r, d.reason) for r, d in refused),
        truncated=len(stored) >= _PENDING_LIMIT,
    )


# --- approvals -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApprovalItem:
    """One approval request, as its requester or an approver sees it."""

    id: str
    action: str
    resource: str
    region: str
    secret_name: str
    short_name: str
    requester: str
    channel_id: str
    rule: str
    needs: str
    """What the rule needs, e.g. ``1 approval from slack:usergroup:SSRE``."""
    progress: str
    """How far it got, e.g. ``approvers 0/1``."""
    status: str
    """As stored, except a pending request past its expiry reads ``expired``."""
    created_at: datetime
    expires_at: datetime | None
    reason: str
    """Why it was held (the routing reason)."""
    requested_because: str
    """The requester's own reason, if they gave one."""
    outcome: str
    approved_by: tuple[str, ...]
    denied_by: tuple[str, ...]

    @property
    def open(self) -> bool:
        """Say whether it still waits for votes."""
        return self.status == "pending"


@dataclass(frozen=True)
class ApprovalsListing:
    """What waits for the actor, and what the actor asked for."""

    waiting_for_me: tuple[ApprovalItem, ...]
    mine: tuple[ApprovalItem, ...]
    """The actor's requests: open ones, then those closed in the last ``RECENTLY_CLOSED``."""


def _item(core: Core, row: ApprovalRow, now: datetime) -> ApprovalItem:
    rule = core.rules.rule(row.rule)
    status = row.status
    if status == "pending" and row.expires_at is not None and row.expires_at <= now:
        status = "expired"
    return ApprovalItem(
        id=row.id,
        action=row.action,
        resource=row.resource,
        region=row.region,
        secret_name=row.secret_name,
        short_name=short_secret_name(row.secret_name),
        requester=row.requester,
        channel_id=row.channel_id,
        rule=row.rule,
        needs=rule.describe() if rule else f"rule {row.rule} (no longer configured)",
        progress=core.workflow.progress(row).progress(),
        status=status,
        created_at=row.created_at,
        expires_at=row.expires_at,
        reason=row.reason,
        requested_because=str(row.params.get("params", {}).get("reason", "") or ""),
        outcome=row.outcome,
        approved_by=row.approved_by,
        denied_by=row.denied_by,
    )


async def list_approvals(*, actor: Actor, core: Core) -> ApprovalsListing:
    """List the requests waiting for the actor's vote, and the actor's own requests."""
    require_bound(actor, core)
    now = core.clock()
    waiting = await core.workflow.waiting_for(actor)
    stored = await approval_store.list_approvals(
        core.db, statuses=APPROVAL_STATUSES, requester=actor.principal, limit=200
    )
    mine = [
        row
        for row in stored
        if row.status in ("pending", "approved") or now - row.updated_at <= RECENTLY_CLOSED
    ]
    # open first (newest first within each group, as stored), then recently closed
    mine.sort(key=lambda row: row.status not in ("pending", "approved"))
    return ApprovalsListing(
        waiting_for_me=tuple(_item(core, row, now) for row in waiting),
        mine=tuple(_item(core, row, now) for row in mine[:_MINE_LIMIT]),
    )
