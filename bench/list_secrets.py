"""How long ``/ecs-secret list`` takes over three regions, beside one page's round trip.

Starts an in-process sandbox with 3 regions x 500 dynamic ECS secrets and 50 ms of latency
injected on every call, builds a real ``Core`` (the real SDK over HTTP, SQLite in a
temporary folder, the built-in admin policy) and measures, in the same run:

* the reference: one ListSecrets round trip (page 1, 100 secrets), median over the regions;
* ``list_secrets`` over the 3 regions: wall time (median and best of 9 runs) and the number of
  ListSecrets calls it made, against the minimum (the pages needed: 5 per region);
* a naive listing for comparison: every page of every region, one call after another.

Targets: ``ratio`` (calls / minimum calls) 1.0, and a wall time under 3 page round trips
(page 1 of every region at once, then all the other pages at once: about 2). The sandbox
runs in this same process and thread, so the wall time also carries its processing of the
15 pages (and the SDK's), which no concurrency hides: ``processing_s`` is that listing with
no latency injected, and ``latency_paid`` ((wall - processing) / latency) is the depth of
the calls as the latency sees it, which should be about 2.

Run from the repository root: ``python bench/list_secrets.py``. The last line printed is
one JSON object: ``{"bench": "list_secrets", ..., "ratio": ...}``.
"""

from __future__ import annotations

import asyncio
import json
import math
import statistics
import tempfile
import time
import tomllib
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from alibabacloud_credentials.client import Client as CredentialClient
from alibabacloud_credentials.models import Config as CredentialConfig

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.queries import list_secrets
from ecs_secret_bot.commands.requests import ListRequest
from ecs_secret_bot.config import parse_settings
from ecs_secret_bot.runtime import open_core
from ecs_secret_bot.sandbox import Sandbox

REGIONS = ("cn-hangzhou", "cn-shanghai", "cn-beijing")
SECRETS_PER_REGION = 500
PAGE_SIZE = 100
LATENCY = 0.05
RUNS = 9
ADMIN = Actor(principal="slack:user:UBENCH", channel_id="CBENCH", channel_name="bench")


class NoDirectory:
    """An ``ActorDirectory`` that knows nobody (no approvals run here)."""

    async def lookup(self, principal: str) -> Actor | None:
        return None


def seed(sb: Sandbox) -> None:
    """Add one instance and SECRETS_PER_REGION secrets in each region (no calls counted)."""
    for region in REGIONS:
        instance = f"i-bench-{region}"
        sb.add_instance(region, instance, name=f"bench-{region}")
        for n in range(SECRETS_PER_REGION):
            sb.add_ecs_secret(region, f"bench-{n:04d}-root", instance_id=instance)


def build(sb: Sandbox, folder: Path) -> AbstractAsyncContextManager[Core]:
    """Open the core a front end would, pointed at the sandbox."""
    # Each region at its own endpoint, as Alibaba Cloud routes calls by endpoint.
    endpoints = "\n".join(
        f'region_defaults.{region}.{service}_endpoint = "{sb.url_of(region)}"'
        for region in REGIONS
        for service in ("kms", "ecs")
    )
    text = f"""
[cloud]
default_region = "{REGIONS[0]}"
regions = {list(REGIONS)!r}
{endpoints}

[storage]
path = "bench.db"

[[access.bindings]]
principals = ["{ADMIN.principal}"]
policies = ["AliyunKMSSecretAdminAccess"]
"""
    config = folder / "bench.toml"
    config.write_text(text, encoding="utf-8")
    settings = parse_settings(tomllib.loads(text), source=config)
    credential = CredentialClient(
        CredentialConfig(
            type="access_key", access_key_id="sandbox", access_key_secret="sandbox-secret"
        )
    )
    return open_core(settings, directory=NoDirectory(), credential=credential)


async def page_round_trip(core: Core) -> float:
    """Return the median time of one ListSecrets call (page 1 of 100), region by region."""
    times = []
    for _ in range(3):
        for region in REGIONS:
            started = time.perf_counter()
            await core.gateway.list_secrets(region, page=1, page_size=PAGE_SIZE)
            times.append(time.perf_counter() - started)
    return statistics.median(times)


async def sequential(core: Core) -> tuple[float, int]:
    """List every page of every region one call after another; return (seconds, rows)."""
    started = time.perf_counter()
    rows = 0
    for region in REGIONS:
        page = 1
        while True:
            got = await core.gateway.list_secrets(region, page=page, page_size=PAGE_SIZE)
            rows += len(got.secrets)
            if page * PAGE_SIZE >= got.total_count:
                break
            page += 1
    return time.perf_counter() - started, rows


async def timed(core: Core) -> float:
    """Return the seconds one ``list_secrets`` over every region takes."""
    started = time.perf_counter()
    await list_secrets(ListRequest(), actor=ADMIN, core=core)
    return time.perf_counter() - started


async def main() -> dict[str, object]:
    sb = Sandbox(regions=REGIONS, seed=False)
    seed(sb)
    await sb.start(port=0)
    with tempfile.TemporaryDirectory() as folder:
        try:
            async with build(sb, Path(folder)) as core:
                # warm up: clients, connections, caches (not measured, not counted)
                await list_secrets(ListRequest(), actor=ADMIN, core=core)
                processing = statistics.median([await timed(core) for _ in range(RUNS)])
                sb.faults.add(action="*", kind="latency", latency=LATENCY)
                rtt = await page_round_trip(core)

                sb.calls.clear()
                walls = []
                for run in range(RUNS):
                    started = time.perf_counter()
                    listing = await list_secrets(ListRequest(), actor=ADMIN, core=core)
                    walls.append(time.perf_counter() - started)
                    if run == 0:
                        calls = sb.calls.total("ListSecrets")
                        rows = len(listing.rows)
                        assert listing.complete and calls == listing.calls
                wall, best = statistics.median(walls), min(walls)
                naive, naive_rows = await sequential(core)
        finally:
            await sb.stop()
    min_calls = len(REGIONS) * math.ceil(SECRETS_PER_REGION / PAGE_SIZE)
    figures: dict[str, object] = {
        "bench": "list_secrets",
        "regions": len(REGIONS),
        "secrets": rows,
        "latency_s": LATENCY,
        "wall_s": round(wall, 4),
        "wall_best_s": round(best, 4),
        "calls": calls,
        "min_calls": min_calls,
        "page_round_trip_s": round(rtt, 4),
        "wall_over_round_trip": round(wall / rtt, 2),
        "target_wall_s": round(3 * rtt, 4),
        "wall_ok": wall < 3 * rtt,
        "processing_s": round(processing, 4),
        "latency_paid": round((wall - processing) / LATENCY, 2),
        "sequential_s": round(naive, 4),
        "speedup_over_sequential": round(naive / wall, 1),
        "ratio": round(calls / min_calls, 3),
    }
    per_call = f"{LATENCY * 1000:.0f} ms per call"
    print(f"{len(REGIONS)} regions x {SECRETS_PER_REGION} ECS secrets, {per_call}")
    print(f"one page round trip (reference):  {rtt * 1000:7.1f} ms")
    print(
        f"list_secrets, 3 regions:          {wall * 1000:7.1f} ms "
        f"({wall / rtt:.2f} round trips; target < 3), {rows} rows"
    )
    print(f"ListSecrets calls:                {calls} (minimum {min_calls})")
    print(
        f"same listing with no latency:     {processing * 1000:7.1f} ms (client and in-process "
        f"sandbox CPU); latency paid {(wall - processing) / LATENCY:.1f} times"
    )
    print(
        f"naive sequential listing:         {naive * 1000:7.1f} ms "
        f"({naive_rows} rows, {naive / wall:.1f}x slower)"
    )
    return figures


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
