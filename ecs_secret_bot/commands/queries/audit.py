"""``audit``: the audit log as people read it, one line per request, and the proof it is whole.

Owns ``audit_view`` (the newest requests about one secret, or about every secret the actor
may list, optionally since a time, by one principal, or from one channel), ``sweep_audit``
(one sweep, secret by secret), ``my_activity``
(the actor's own requests, for App Home) and ``verify_audit`` (the keyed chain checked,
against an anchor when one is given). Permissions as design.md sets them: ``audit <name>``
is ``kms:DescribeSecret`` on the secret, ``audit`` without a name (and ``verify_audit``)
``kms:ListSecrets`` on a region's collection, ``my_activity`` needs only a bound policy.

A request writes several entries (refused; or held, voted on, started, executed; a
rotation's follow-up): they are tied by the request's correlation id, its approval id, and
the cloud request id a follow-up shares with the call it follows (``grouping``). Each
``AuditRequest`` keeps its raw entries, for ``--verbose`` and ``--json``. Never calls the
cloud and never writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.queries.access import (
    DESCRIBE,
    LIST,
    authorize,
    permitted_regions,
    require_bound,
)
from ecs_secret_bot.commands.queries.grouping import AuditLine, AuditRequest, group_requests
from ecs_secret_bot.errors import InvalidInput, NotFound
from ecs_secret_bot.storage import audit as audit_store

__all__ = [
    "AuditLine",
    "AuditProof",
    "AuditRequest",
    "AuditTrail",
    "audit_view",
    "my_activity",
    "sweep_audit",
    "verify_audit",
]

_AUDIT_MAX = 200
_SCAN_PER_REQUEST = 8
_SCAN_MAX = 4000


@dataclass(frozen=True)
class AuditTrail:
    """The newest requests that match, newest first, each with its raw entries."""

    requests: tuple[AuditRequest, ...]
    more: bool = False
    """Older matching requests exist beyond the limit."""

    @property
    def entries(self) -> tuple[AuditLine, ...]:
        """Return the raw entries behind the requests, newest first."""
        lines = [line for request in self.requests for line in request.entries]
        return tuple(sorted(lines, key=lambda line: line.seq, reverse=True))


@dataclass(frozen=True)
class AuditProof:
    """What checking the chain found: how far it verified, and the first bad entry if any."""

    ok: bool
    entries: int
    """Entries that verified."""
    head_seq: int
    head_hash: str
    """The last verified entry and its MAC: record them elsewhere, as an anchor."""
    keyed_from: int
    """The first entry MAC-ed with the audit key (those before had unkeyed links)."""
    first_bad_seq: int | None
    first_bad_at: datetime | None
    problem: str
    anchor: str
    """The anchor checked against (``SEQ:HASH`` or ``HASH``), or empty."""
    anchor_found: bool

    @property
    def head(self) -> str:
        """Return the head as an anchor is written: ``SEQ:HASH``."""
        return f"{self.head_seq}:{self.head_hash}"


async def _trail(
    core: Core,
    where: audit_store.AuditFilter,
    *,
    limit: int,
    regions: tuple[str, ...] | None,
) -> AuditTrail:
    """Read enough entries for ``limit`` requests, complete each request, and group them."""
    scan = min(limit * _SCAN_PER_REQUEST * (1 if regions is None else 4), _SCAN_MAX)
    rows = await audit_store.list_audit(core.db, where=where, limit=scan)
    related = await audit_store.related_audit(
        core.db,
        correlation_ids=(r.correlation_id for r in rows),
        approval_ids=(r.approval_id for r in rows),
        request_ids=(r.request_id for r in rows),
    )
    lines = {row.seq: AuditLine.of(row) for row in (*rows, *related)}
    if regions is not None:  # only some regions: keep theirs (not entries of no region)
        lines = {seq: line for seq, line in lines.items() if line.region in regions}
    requests = group_requests(lines.values())
    return AuditTrail(requests=tuple(requests[:limit]), more=len(requests) > limit)


async def audit_view(
    name: str | None = None,
    region: str = "",
    *,
    actor: Actor,
    core: Core,
    limit: int = 20,
    since: datetime | None = None,
    by: str = "",
    channel: str = "",
) -> AuditTrail:
    """Return the newest requests about one secret, or about all the actor may list.

    ``since`` keeps requests with an entry at or after it, ``by`` those a principal took
    part in (asked for, or voted on), ``channel`` those with an entry from that channel.
    """
    if limit < 1 or limit > _AUDIT_MAX:
        raise InvalidInput(f"The limit is 1 to {_AUDIT_MAX} requests, not {limit}.", field="limit")
    where = audit_store.AuditFilter(actor=by, channel_id=channel, since=since)
    if name:
        ref = core.secret(name, region)
        authorize(core, actor, DESCRIBE, ref.arn)
        where = audit_store.AuditFilter(resource=ref.arn, actor=by, channel_id=channel, since=since)
        return await _trail(core, where, limit=limit, regions=None)
    regions = (core.region(region),) if region else core.settings.cloud.regions
    allowed, refused = permitted_regions(core, actor, LIST, regions)
    every = not region and not refused
    return await _trail(core, where, limit=limit, regions=None if every else allowed)


async def sweep_audit(sweep_id: str, *, actor: Actor, core: Core) -> AuditTrail:
    """Return the audit of one sweep: one request, with an entry per secret's outcome.

    Its entries carry the sweep id as their correlation id; the follow-ups of its
    rotations join them by the cloud request id they share. Needs ``kms:ListSecrets``, as
    ``audit`` without a name does.
    """
    permitted_regions(core, actor, LIST, core.settings.cloud.regions)
    rows = await audit_store.related_audit(core.db, correlation_ids=(sweep_id.strip(),))
    if not rows:
        raise NotFound(
            f"The audit log has no sweep {sweep_id!r}.",
            next_step="Copy the id from the sweep's summary (sweep-...).",
        )
    more = await audit_store.related_audit(
        core.db,
        request_ids=(r.request_id for r in rows),
        approval_ids=(r.approval_id for r in rows),
    )
    lines = {row.seq: AuditLine.of(row) for row in (*rows, *more)}
    return AuditTrail(requests=tuple(group_requests(lines.values())))


async def my_activity(*, actor: Actor, core: Core, limit: int = 10) -> AuditTrail:
    """Return the requests the actor took part in, newest first (App Home)."""
    require_bound(actor, core)
    where = audit_store.AuditFilter(actor=actor.principal)
    return await _trail(core, where, limit=max(1, min(limit, _AUDIT_MAX)), regions=None)


async def verify_audit(*, actor: Actor, core: Core, anchor: str = "") -> AuditProof:
    """Check every entry of the chain, and against ``anchor`` (``SEQ:HASH`` or ``HASH``)."""
    permitted_regions(core, actor, LIST, core.settings.cloud.regions)
    parsed: audit_store.Anchor | None = None
    if anchor:
        try:
            parsed = audit_store.parse_anchor(anchor)
        except ValueError as exc:
            raise InvalidInput(
                f"The anchor {anchor!r} is not one: {exc}.",
                field="anchor",
                next_step="Copy it from the daily audit line: SEQ:HASH, e.g. 1234:9f86d0...",
            ) from None
    check = await audit_store.verify_audit_chain(core.db, anchor=parsed)
    return AuditProof(
        ok=check.ok,
        entries=check.checked,
        head_seq=check.head_seq,
        head_hash=check.head_hash,
        keyed_from=check.keyed_from,
        first_bad_seq=check.first_broken_seq,
        first_bad_at=check.first_broken_at,
        problem=check.problem,
        anchor=str(parsed) if parsed else "",
        anchor_found=check.anchor_found,
    )
