"""``list``: the dynamic ECS secrets of every configured region, in one round trip per page.

Owns ``list_secrets`` and its result types. Each region is authorized on its own as
``kms:ListSecrets`` on the region's collection: a region the actor may not list is reported
as skipped, with the reason, and only when every region is refused does the view refuse.
Paging is read from KMS's ``TotalCount``: page 1 of every region is asked at once and, as
soon as a region's page 1 answers, all its remaining pages at once (at most
``MAX_IN_FLIGHT_PER_REGION`` in flight per regional endpoint). The calls made are exactly
the pages needed, and the wall time is about two round trips, whatever the number of
regions or secrets. A region that fails is reported with its cloud error code; the others
are still listed.

The name filter is applied here, as a substring of the full name, not sent to KMS: the
documentation does not say whether ListSecrets' ``SecretName`` filter matches exactly, by
prefix or as a substring (fact sheet, section 5), and under the first two ``web-3`` would
match nothing, every name starting ``acs/ecs/``. A filtered listing so reads every page of
ECS secrets, as an unfiltered one does, and never hides a secret KMS would match otherwise.

Each row also says what the bot itself knows of the secret, with one database query: its
state (KMS's deletion date first, then the latest rotation the bot triggered) and the
instance that rotation ran on. ListSecrets names no instance and no user, so a secret the
bot never rotated has no instance here; ``show`` describes it.

Metadata only: never reads a secret value, never writes anything.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal, TypeVar

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.gateway import CloudGateway, SecretPage
from ecs_secret_bot.commands.names import ECS_PREFIX, MAX_NAME_LENGTH, short_secret_name
from ecs_secret_bot.commands.queries.access import LIST, permitted_regions
from ecs_secret_bot.commands.requests import ListRequest
from ecs_secret_bot.errors import CloudError, InvalidInput, NextStep
from ecs_secret_bot.storage.rotations import RotationRow, latest_rotations

__all__ = [
    "MAX_IN_FLIGHT_PER_REGION",
    "MAX_PAGES",
    "PAGE_SIZE",
    "RegionListing",
    "SecretListing",
    "SecretRow",
    "list_secrets",
]

PAGE_SIZE = 100
"""The largest page ListSecrets gives."""
MAX_IN_FLIGHT_PER_REGION = 8
"""Concurrent ListSecrets calls to one regional endpoint (KMS throttles per region)."""
MAX_PAGES = 200
"""Pages read per region at most (20,000 secrets); past that, the region is partial."""

_FILTER_CHARS = re.compile(r"^[A-Za-z0-9_/+=.@-]*$")
T = TypeVar("T")


@dataclass(frozen=True)
class SecretRow:
    """One dynamic ECS secret, as ListSecrets describes it (metadata only)."""

    region: str
    name: str
    short_name: str
    created: datetime | None
    updated: datetime | None
    planned_deletion: datetime | None
    """When KMS deletes it, if it is scheduled for deletion."""
    state: str = "active"
    """``pending deletion``; else the latest rotation the bot triggered: ``rotating``,
    ``rotation failed``, ``rotation timed out``; else ``active``."""
    instance_id: str = ""
    """The instance of the latest rotation the bot triggered; empty if it never rotated it."""

    @property
    def pending_deletion(self) -> bool:
        """Say whether the secret is scheduled for deletion."""
        return self.planned_deletion is not None


@dataclass(frozen=True)
class RegionListing:
    """How the listing of one region went."""

    region: str
    status: Literal["listed", "partial", "failed", "skipped"]
    """``skipped``: the actor may not list it; ``partial``: some pages are missing."""
    count: int = 0
    """Rows listed from this region (after the name filter)."""
    total: int | None = None
    """TotalCount as KMS reported it, when page 1 came back."""
    calls: int = 0
    """ListSecrets calls made for this region."""
    reason: str = ""
    """Why it was skipped, failed or is partial."""
    code: str = ""
    """The cloud error code, when a call failed."""
    request_id: str = ""
    next_step: NextStep = NextStep()


@dataclass(frozen=True)
class SecretListing:
    """The secrets of the regions asked for, and how each region went."""

    rows: tuple[SecretRow, ...]
    regions: tuple[RegionListing, ...]
    name_filter: str = ""

    @property
    def calls(self) -> int:
        """Return the number of ListSecrets calls made."""
        return sum(r.calls for r in self.regions)

    @property
    def skipped(self) -> tuple[RegionListing, ...]:
        """Return the regions the actor may not list."""
        return tuple(r for r in self.regions if r.status == "skipped")

    @property
    def failed(self) -> tuple[RegionListing, ...]:
        """Return the regions that failed or are only partly listed."""
        return tuple(r for r in self.regions if r.status in ("failed", "partial"))

    @property
    def complete(self) -> bool:
        """Say whether every region asked for was listed whole."""
        return all(r.status == "listed" for r in self.regions)


def _needle(text: str) -> str:
    """Return the substring to look for in full names (typed with or without the prefix)."""
    needle = text.strip()
    if len(needle) > MAX_NAME_LENGTH or not _FILTER_CHARS.match(needle):
        raise InvalidInput(
            f"{needle[:40]!r} cannot be part of a secret name, so it would match nothing.",
            field="name_filter",
            next_step="Filter with letters, digits and _ / + = . @ - only.",
        )
    return "" if needle == ECS_PREFIX else needle


async def _all(calls: Sequence[Coroutine[Any, Any, T]]) -> list[T]:
    """Run the calls concurrently and return their results in order."""
    if not calls:
        return []
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(call) for call in calls]
    except BaseExceptionGroup as failed:
        # Only unexpected errors get here (cloud errors are returned as values): re-raise
        # the first, as a plain exception, for the front end's one error handler.
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]


class _Pager:
    """Fetches pages of one listing, at most ``MAX_IN_FLIGHT_PER_REGION`` at a time per region."""

    def __init__(self, gateway: CloudGateway, regions: Sequence[str]) -> None:
        self.gateway = gateway
        self.limits = {region: asyncio.Semaphore(MAX_IN_FLIGHT_PER_REGION) for region in regions}

    async def page(self, region: str, number: int, size: int) -> SecretPage | CloudError:
        async with self.limits[region]:
            try:
                return await self.gateway.list_secrets(region, page=number, page_size=size)
            except CloudError as exc:
                return exc


def _pages_needed(first: SecretPage) -> tuple[int, int]:
    """Return (pages in all, page size) from page 1's TotalCount."""
    size = first.page_size if 0 < first.page_size <= PAGE_SIZE else PAGE_SIZE
    return max(1, math.ceil(first.total_count / size)), size


def _failed(listing: RegionListing, exc: CloudError, what: str) -> RegionListing:
    return replace(
        listing,
        reason=f"{what}: {exc.user_message}",
        code=exc.code,
        request_id=exc.request_id,
        next_step=exc.next_step or NextStep(f"Try again, or ask with --region {listing.region}."),
    )


def _region(
    region: str, results: Sequence[SecretPage | CloudError], needle: str
) -> tuple[list[SecretRow], RegionListing]:
    """Return one region's rows, sorted by name, and how its listing went."""
    first = results[0]
    if isinstance(first, CloudError):
        return [], _failed(RegionListing(region, "failed", calls=1), first, "listing failed")
    found: dict[str, SecretRow] = {}
    for page in results:
        if not isinstance(page, SecretPage):
            continue
        for s in page.secrets:
            if s.secret_type.upper() == "ECS" and needle in s.name:
                found[s.name] = SecretRow(
                    region=region,
                    name=s.name,
                    short_name=short_secret_name(s.name),
                    created=s.create_time,
                    updated=s.update_time,
                    planned_deletion=s.planned_delete_time,
                )
    rows = sorted(found.values(), key=lambda row: row.name)
    listing = RegionListing(
        region, "listed", count=len(rows), total=first.total_count, calls=len(results)
    )
    errors = [p for p in results if isinstance(p, CloudError)]
    if errors:
        return rows, _failed(replace(listing, status="partial"), errors[0], "some pages failed")
    if _pages_needed(first)[0] > MAX_PAGES:
        listing = replace(
            listing,
            status="partial",
            reason=f"only the first {MAX_PAGES * PAGE_SIZE} of {first.total_count} were read",
            next_step=NextStep("Narrow the list with a name filter."),
        )
    return rows, listing


_ROTATION_STATES = {
    "starting": "rotating",
    "in_progress": "rotating",
    "failed": "rotation failed",
    "timed_out": "rotation timed out",
}


def _with_what_the_bot_knows(row: SecretRow, rotation: RotationRow | None) -> SecretRow:
    """Return ``row`` with its state and the instance its latest known rotation ran on."""
    if row.pending_deletion:
        state = "pending deletion"
    elif rotation is not None:
        state = _ROTATION_STATES.get(rotation.status, "active")
    else:
        state = "active"
    return replace(row, state=state, instance_id=rotation.instance_id if rotation else "")


async def _list_region(
    pager: _Pager, region: str, needle: str
) -> tuple[list[SecretRow], RegionListing]:
    """Read page 1, then every other page the TotalCount asks for, all at once."""
    first = await pager.page(region, 1, PAGE_SIZE)
    results = [first]
    if isinstance(first, SecretPage):
        pages, size = _pages_needed(first)
        later = range(2, min(pages, MAX_PAGES) + 1)
        results.extend(await _all([pager.page(region, n, size) for n in later]))
    return _region(region, results, needle)


async def list_secrets(req: ListRequest, *, actor: Actor, core: Core) -> SecretListing:
    """List the ECS secrets of the configured regions (or ``req.region``), filtered by name."""
    regions = (core.region(req.region),) if req.region else core.settings.cloud.regions
    needle = _needle(req.name_filter)
    allowed, refused = permitted_regions(core, actor, LIST, regions)
    pager = _Pager(core.cloud_for(actor), allowed)
    listed = dict(
        zip(allowed, await _all([_list_region(pager, r, needle) for r in allowed]), strict=True)
    )
    reports = {
        region: RegionListing(
            region, "skipped", reason=decision.reason, next_step=NextStep(decision.next_step)
        )
        for region, decision in refused
    }
    known = {(r.region, r.secret_name): r for r in await latest_rotations(core.db)}
    rows: list[SecretRow] = []
    for region in allowed:
        region_rows, reports[region] = listed[region]
        rows.extend(
            _with_what_the_bot_knows(row, known.get((row.region, row.name))) for row in region_rows
        )
    return SecretListing(
        rows=tuple(rows),
        regions=tuple(reports[r] for r in regions),
        name_filter=req.name_filter.strip(),
    )
