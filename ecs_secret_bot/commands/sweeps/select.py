"""Find the secrets a sweep's selector matches, and what the cloud says about each.

Owns the reads of a sweep's plan: the ECS secrets of each region (through ``list``, the
existing listing query: ``kms:ListSecrets`` per region, every page), the name glob, one
DescribeSecret per remaining secret (ListSecrets names no instance and no user), the
instances carrying the selector's tags (DescribeInstances with Tag filters), and the
pre-flight of each instance once, in batches (DescribeInstances by ids, then
DescribeCloudAssistantStatus for the Running ones). Every read runs as the requester's
identity. Never decides who may do what and never changes anything.
"""

from __future__ import annotations

import asyncio
import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.gateway import CloudGateway, Instance, SecretDetail
from ecs_secret_bot.commands.names import secret_arn
from ecs_secret_bot.commands.preflight import CLOUD_ASSISTANT_DOC
from ecs_secret_bot.commands.queries.secrets import list_secrets
from ecs_secret_bot.commands.requests import ListRequest
from ecs_secret_bot.commands.sweeps.model import SweepSelector
from ecs_secret_bot.errors import CloudError, CloudThrottled, InvalidInput

__all__ = [
    "Candidate",
    "InstanceFacts",
    "Listed",
    "check_selector",
    "find_candidates",
    "instance_facts",
]

DESCRIBE_IN_FLIGHT = 8
"""Concurrent DescribeSecret calls per sweep plan (KMS throttles per region)."""
DESCRIBE_TRIES = 4
DESCRIBE_PAUSE = 0.5
"""Seconds before a DescribeSecret throttled past the gateway's retries is tried again."""
INSTANCE_BATCH = 100
"""Instance ids per DescribeInstances call (the documented maximum)."""
ASSISTANT_BATCH = 10
"""Instance ids per DescribeCloudAssistantStatus call: its page holds 10 unless asked for
more (``MaxResults``), and the gateway asks for one page."""

_GLOB = re.compile(r"^[A-Za-z0-9_/+=.@*?\[\]!-]+$")
_INSTANCE = re.compile(r"^i-[A-Za-z0-9]+$")
_TAG_PART = re.compile(r"^[^\s=][^=]{0,127}$")


@dataclass(frozen=True)
class Candidate:
    """One ECS secret the selector matched, as DescribeSecret told it (or why it could not)."""

    region: str
    name: str
    arn: str
    instance_id: str = ""
    user: str = ""
    sub_type: str = ""
    """``Password`` or ``SSHKey``; "" when DescribeSecret failed."""
    problem: str = ""
    """Why it cannot be swept as it is (its description failed, it is being deleted)."""


@dataclass(frozen=True)
class Listed:
    """What the listing found: the candidates, and the regions it could not search."""

    candidates: tuple[Candidate, ...]
    regions: tuple[str, ...]
    region_problems: tuple[str, ...] = ()
    """One sentence per region skipped or failed (``cn-shanghai: not allowed ...``)."""


@dataclass(frozen=True)
class InstanceFacts:
    """The pre-flight of one instance: what it is and whether a rotation can run on it."""

    instance: Instance | None
    problem: str = ""
    """Why no rotation can run on it now ("" when it can)."""


@dataclass
class _Budget:
    limit: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(DESCRIBE_IN_FLIGHT))


def check_selector(selector: SweepSelector, core: Core) -> tuple[str, ...]:
    """Validate the selector and return the regions it searches; raise InvalidInput if wrong."""
    if selector.empty:
        raise InvalidInput(
            "A sweep needs at least one selector: an instance, a tag or a name pattern.",
            field="selector",
            next_step="Add --instance i-..., --tag key=value or --match 'web-*'.",
        )
    for instance in selector.instances:
        if not _INSTANCE.match(instance):
            raise InvalidInput(
                f"{instance[:40]!r} is not an ECS instance id (they look like i-bp1...).",
                field="instance",
            )
    for key, value in selector.tags:
        if not (_TAG_PART.match(key) and (not value or _TAG_PART.match(value))):
            raise InvalidInput(f"{key[:40]}={value[:40]} is not a tag selector.", field="tag")
    if selector.match and not _GLOB.match(selector.match.removeprefix("acs/ecs/")):
        raise InvalidInput(
            f"{selector.match[:40]!r} is not a name pattern: it may hold letters, digits, "
            "_ / + = . @ - and the wildcards * ? [ ].",
            field="match",
            next_step="Quote the pattern so the shell leaves it alone: --match 'web-*'.",
        )
    if selector.region is not None:
        return (core.region(selector.region),)
    return tuple(core.settings.cloud.regions)


def _matches(short_name: str, pattern: str) -> bool:
    return not pattern or fnmatch.fnmatchcase(short_name, pattern.removeprefix("acs/ecs/"))


async def _described(
    cloud: CloudGateway, budget: _Budget, core: Core, region: str, name: str
) -> SecretDetail:
    """DescribeSecret; a call throttled past the gateway's retries waits and tries again."""
    pause = DESCRIBE_PAUSE
    for _ in range(DESCRIBE_TRIES - 1):
        try:
            async with budget.limit:
                return await cloud.describe_secret(region, name)
        except CloudThrottled:
            await core.sleep(pause)
            pause *= 2
    async with budget.limit:
        return await cloud.describe_secret(region, name)


async def _describe(
    cloud: CloudGateway, budget: _Budget, core: Core, region: str, name: str
) -> Candidate:
    arn = secret_arn(region, core.settings.cloud.account_id, name)
    try:
        detail = await _described(cloud, budget, core, region, name)
    except CloudError as exc:
        return Candidate(region, name, arn, problem=f"it could not be described ({exc.code})")
    ecs = detail.ecs
    if ecs is None:
        return Candidate(region, name, arn, problem="KMS describes it as no ECS secret")
    candidate = Candidate(
        region, name, detail.arn or arn, ecs.instance_id, ecs.user_name, ecs.sub_type
    )
    if detail.planned_delete_time is not None:
        when = f"{detail.planned_delete_time:%Y-%m-%d %H:%M} UTC"
        return _with(candidate, f"it is scheduled for deletion on {when}")
    return candidate


def _with(candidate: Candidate, problem: str) -> Candidate:
    return Candidate(
        candidate.region,
        candidate.name,
        candidate.arn,
        candidate.instance_id,
        candidate.user,
        candidate.sub_type,
        problem,
    )


async def tagged_instances(
    cloud: CloudGateway, region: str, tags: Sequence[tuple[str, str]]
) -> set[str]:
    """Return the ids of the instances in ``region`` that carry every tag of ``tags``."""
    found: set[str] = set()
    token: str | None = None
    while True:
        page = await cloud.describe_instances(
            region, tags=tags, max_results=INSTANCE_BATCH, next_token=token
        )
        found.update(
            i.instance_id for i in page.instances if all(i.tags.get(k) == v for k, v in tags)
        )
        token = page.next_token
        if not token:
            return found


async def find_candidates(
    selector: SweepSelector, regions: Sequence[str], *, actor: Actor, core: Core
) -> Listed:
    """List, match and describe the secrets the selector takes, in ``regions``."""
    cloud = core.cloud_for(actor)
    only = regions[0] if len(regions) == 1 and selector.region else ""
    listing = await list_secrets(ListRequest(region=only), actor=actor, core=core)
    problems = tuple(f"{r.region}: {r.reason}" for r in listing.regions if r.status != "listed")
    rows = [
        row
        for row in listing.rows
        if row.region in regions and _matches(row.short_name, selector.match)
    ]
    tagged: dict[str, set[str]] = {}
    if selector.tags:
        searched = sorted({row.region for row in rows})
        results = await asyncio.gather(
            *(tagged_instances(cloud, r, selector.tags) for r in searched)
        )
        tagged = dict(zip(searched, results, strict=True))
    budget = _Budget()
    described = await asyncio.gather(
        *(_describe(cloud, budget, core, row.region, row.name) for row in rows)
    )
    chosen = list(described)
    if selector.instances:
        chosen = [c for c in chosen if c.instance_id in selector.instances]
    if selector.tags:
        chosen = [c for c in chosen if c.instance_id in tagged.get(c.region, set())]
    listed = tuple(r.region for r in listing.regions if r.status in ("listed", "partial"))
    return Listed(tuple(chosen), listed, problems)


async def instance_facts(
    cloud: CloudGateway, region: str, instance_ids: Iterable[str]
) -> dict[str, InstanceFacts]:
    """Pre-flight each instance once: it exists, is Running, its Cloud Assistant is online."""
    ids = sorted(set(instance_ids))
    facts: dict[str, InstanceFacts] = {}
    found: dict[str, Instance] = {}
    for start in range(0, len(ids), INSTANCE_BATCH):
        page = await cloud.describe_instances(
            region, instance_ids=ids[start : start + INSTANCE_BATCH], max_results=INSTANCE_BATCH
        )
        found.update({i.instance_id: i for i in page.instances})
    running = [i for i in ids if i in found and found[i].status == "Running"]
    online: set[str] = set()
    for start in range(0, len(running), ASSISTANT_BATCH):
        states = await cloud.cloud_assistant_status(
            region, running[start : start + ASSISTANT_BATCH]
        )
        online.update(s.instance_id for s in states if s.online)
    for instance_id in ids:
        instance = found.get(instance_id)
        if instance is None:
            facts[instance_id] = InstanceFacts(None, f"instance {instance_id} does not exist")
        elif instance.status != "Running":
            facts[instance_id] = InstanceFacts(
                instance,
                f"instance {instance_id} is {instance.status or 'in an unknown state'}, "
                "not Running",
            )
        elif instance_id not in online:
            facts[instance_id] = InstanceFacts(
                instance,
                f"Cloud Assistant on {instance_id} is offline (install or restart the agent: "
                f"{CLOUD_ASSISTANT_DOC})",
            )
        else:
            facts[instance_id] = InstanceFacts(instance)
    return facts
