"""The create modal's instance picker: filtered, authorized, and cached per region."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fakes.core import CoreHarness, actor

from ecs_secret_bot.commands.queries import InstanceDirectory, search_instances
from ecs_secret_bot.errors import AccessDenied, CloudError, InvalidInput
from ecs_secret_bot.sandbox import Sandbox

ADMIN = actor("UADMIN")
READER = actor("UREADER")
HZ, SH = "cn-hangzhou", "cn-shanghai"


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def h(tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[CoreHarness]:
    harness = await CoreHarness.start(tmp_path, sandbox)
    try:
        yield harness
    finally:
        await harness.close()


def describe_calls(h: CoreHarness, region: str = HZ) -> int:
    return h.sandbox.calls.total("DescribeInstances", region=region)


async def test_typed_text_matches_ids_and_names(h: CoreHarness) -> None:
    web = await search_instances(HZ, "WEB", actor=ADMIN, core=h.core)
    assert [(o.instance_id, o.name, o.status, o.os_type) for o in web] == [
        ("i-web3", "web-3", "Running", "linux")
    ]
    assert web[0].label == "web-3 (i-web3) · Running · linux"
    h.sandbox.add_instance(SH, "i-eip1", name="eip-1", eip="47.96.10.20")
    eip = await search_instances(SH, "eip", actor=ADMIN, core=h.core)
    assert eip[0].public_ips == ("47.96.10.20",)
    assert eip[0].label == "eip-1 (i-eip1) · Running · linux · 47.96.10.20"
    by_id = await search_instances(HZ, "i-w", actor=ADMIN, core=h.core)
    assert [o.instance_id for o in by_id] == ["i-web3", "i-win1"]
    everything = await search_instances(HZ, "", actor=ADMIN, core=h.core)
    assert {o.instance_id for o in everything} == {"i-web3", "i-win1", "i-stopped", "i-noagent"}
    assert next(o for o in everything if o.instance_id == "i-stopped").status == "Stopped"
    # one listing served all three searches
    assert describe_calls(h) == 1


async def test_the_cache_lasts_its_ttl_per_region(h: CoreHarness) -> None:
    ticks = Ticks()
    h.core.instances = InstanceDirectory(ttl=30, clock=ticks)
    await search_instances(HZ, "web", actor=ADMIN, core=h.core)
    await search_instances(HZ, "win", actor=ADMIN, core=h.core)
    assert describe_calls(h) == 1
    shanghai = await search_instances(SH, "", actor=ADMIN, core=h.core)
    assert [o.instance_id for o in shanghai] == ["i-sh1"] and describe_calls(h, SH) == 1
    ticks.now += 31
    h.sandbox.add_instance(HZ, "i-web4", name="web-4")
    fresh = await search_instances(HZ, "web", actor=ADMIN, core=h.core)
    assert [o.instance_id for o in fresh] == ["i-web3", "i-web4"]
    assert describe_calls(h) == 2


async def test_at_most_100_options_from_a_paged_listing(h: CoreHarness) -> None:
    for n in range(150):
        h.sandbox.add_instance(SH, f"i-batch{n:03d}", name=f"batch-{n:03d}")
    found = await search_instances(SH, "batch", actor=ADMIN, core=h.core)
    assert len(found) == 100 and found[0].name == "batch-000"
    assert describe_calls(h, SH) == 2  # NextToken paging, 100 a page
    exact = await search_instances(SH, "i-batch149", actor=ADMIN, core=h.core)
    assert [o.instance_id for o in exact] == ["i-batch149"]


async def test_a_slow_listing_answers_within_the_budget(h: CoreHarness) -> None:
    h.core.instances = InstanceDirectory(budget=0.1)
    h.sandbox.faults.add(action="DescribeInstances", kind="latency", latency=0.5, times=1)
    started = time.perf_counter()
    first = await search_instances(HZ, "web", actor=ADMIN, core=h.core)
    assert time.perf_counter() - started < 0.4
    assert first == ()  # nothing known yet; the load goes on in the background
    await asyncio.sleep(0.6)
    second = await search_instances(HZ, "web", actor=ADMIN, core=h.core)
    assert [o.instance_id for o in second] == ["i-web3"]
    assert describe_calls(h) == 1


async def test_the_picker_needs_describe_instances(h: CoreHarness) -> None:
    with pytest.raises(AccessDenied) as caught:
        await search_instances(HZ, "web", actor=READER, core=h.core)
    assert "ecs:DescribeInstances" in caught.value.reason
    assert "acs:ecs:cn-hangzhou:*:instance/*" in caught.value.reason
    with pytest.raises(InvalidInput):
        await search_instances("eu-west-1", "web", actor=ADMIN, core=h.core)
    assert h.sandbox.calls.total() == 0


async def test_concurrent_pickers_share_one_listing(h: CoreHarness) -> None:
    found = await asyncio.gather(
        *(search_instances(HZ, q, actor=ADMIN, core=h.core) for q in ("w", "we", "web"))
    )
    assert [len(options) for options in found] == [2, 1, 1]  # web-3 and win-1; web-3; web-3
    assert describe_calls(h) == 1


async def test_a_failed_listing_is_not_cached(h: CoreHarness) -> None:
    fault = h.sandbox.faults.add(action="DescribeInstances", kind="server_error", status=503)
    with pytest.raises(CloudError) as caught:
        await search_instances(HZ, "web", actor=ADMIN, core=h.core)
    assert caught.value.code == "ServiceUnavailable"
    h.sandbox.faults.remove(fault.id)
    assert [o.instance_id for o in await search_instances(HZ, "web", actor=ADMIN, core=h.core)] == [
        "i-web3"
    ]
