"""`/ecs-secret list` over the sandbox: two regions, paging by TotalCount, filters, failures."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fakes.cloud import sandbox_gateway
from fakes.core import CoreHarness, actor

from ecs_secret_bot.cloud.gateway import AlibabaCloudGateway
from ecs_secret_bot.commands.queries import list_secrets
from ecs_secret_bot.commands.requests import ListRequest
from ecs_secret_bot.errors import AccessDenied, InvalidInput
from ecs_secret_bot.sandbox import Sandbox

ADMIN = actor("UADMIN")
STRANGER = actor("UNOBODY")
HZ, SH = "cn-hangzhou", "cn-shanghai"

HANGZHOU_ONLY = """
[[access.bindings]]
principals = ["slack:user:UHZ"]
policies = ["HangzhouLister"]

[access.policies.HangzhouLister]
Version = "1"
[[access.policies.HangzhouLister.Statement]]
Effect = "Allow"
Action = ["kms:ListSecrets"]
Resource = ["acs:kms:cn-hangzhou:*:secret"]
"""


ADMIN_TOML = """
[[access.bindings]]
principals = ["slack:user:UADMIN"]
policies = ["AliyunKMSSecretAdminAccess"]
"""


def seed(sb: Sandbox, region: str, count: int, *, prefix: str, instance: str) -> None:
    for n in range(count):
        sb.add_ecs_secret(region, f"{prefix}-{n:03d}-root", instance_id=instance)


@pytest.fixture
async def h(tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[CoreHarness]:
    harness = await CoreHarness.start(tmp_path, sandbox, access_toml=HANGZHOU_ONLY + ADMIN_TOML)
    try:
        yield harness
    finally:
        await harness.close()


async def test_both_regions_are_listed_in_one_call_each(h: CoreHarness) -> None:
    seed(h.sandbox, HZ, 3, prefix="web", instance="i-web3")
    seed(h.sandbox, SH, 2, prefix="api", instance="i-sh1")
    h.sandbox.delete_out_of_band(SH, "acs/ecs/api-001-root")
    listing = await list_secrets(ListRequest(), actor=ADMIN, core=h.core)
    assert [(r.region, r.short_name) for r in listing.rows] == [
        (HZ, "web-000-root"),
        (HZ, "web-001-root"),
        (HZ, "web-002-root"),
        (SH, "api-000-root"),
        (SH, "api-001-root"),
    ]
    assert listing.rows[0].name == "acs/ecs/web-000-root" and listing.rows[0].created
    assert [r.short_name for r in listing.rows if r.pending_deletion] == ["api-001-root"]
    assert [(r.region, r.status, r.count, r.total) for r in listing.regions] == [
        (HZ, "listed", 3, 3),
        (SH, "listed", 2, 2),
    ]
    assert listing.complete and listing.calls == 2
    assert h.sandbox.calls.total("ListSecrets") == 2


async def test_pages_are_read_by_total_count_concurrently(h: CoreHarness) -> None:
    seed(h.sandbox, HZ, 250, prefix="web", instance="i-web3")
    seed(h.sandbox, SH, 150, prefix="api", instance="i-sh1")
    h.sandbox.faults.add(action="ListSecrets", kind="latency", latency=0.25)
    started = time.perf_counter()
    listing = await list_secrets(ListRequest(), actor=ADMIN, core=h.core)
    elapsed = time.perf_counter() - started
    assert len(listing.rows) == 400 and len({r.name for r in listing.rows}) == 400
    # 3 pages + 2 pages: exactly the pages needed, no call per secret, none speculative
    assert h.sandbox.calls.total("ListSecrets", region=HZ) == 3
    assert h.sandbox.calls.total("ListSecrets", region=SH) == 2
    assert listing.calls == 5
    assert h.sandbox.calls.total("DescribeSecret") == 0
    # two round trips deep (page 1 everywhere, then every other page at once), not five
    assert elapsed < 0.95, elapsed


async def test_one_region_asked_for(h: CoreHarness) -> None:
    seed(h.sandbox, HZ, 2, prefix="web", instance="i-web3")
    seed(h.sandbox, SH, 2, prefix="api", instance="i-sh1")
    listing = await list_secrets(ListRequest(region=SH), actor=ADMIN, core=h.core)
    assert {r.region for r in listing.rows} == {SH}
    assert [r.region for r in listing.regions] == [SH]
    assert h.sandbox.calls.total("ListSecrets", region=HZ) == 0


@pytest.mark.parametrize("typed", ["web-1", "acs/ecs/web-1", "  web-1 "])
async def test_name_filter_with_or_without_the_prefix(h: CoreHarness, typed: str) -> None:
    for name in ("web-1-root", "web-10-root", "db-web-1", "web-2-root"):
        h.sandbox.add_ecs_secret(HZ, name, instance_id="i-web3")
    listing = await list_secrets(ListRequest(name_filter=typed), actor=ADMIN, core=h.core)
    expected = {"web-1-root", "web-10-root"}
    if not typed.strip().startswith("acs/ecs/"):
        expected.add("db-web-1")
    assert {r.short_name for r in listing.rows} == expected
    assert listing.name_filter == typed.strip()


async def test_a_filter_that_cannot_match_is_refused_before_any_call(h: CoreHarness) -> None:
    with pytest.raises(InvalidInput) as caught:
        await list_secrets(ListRequest(name_filter="web 3"), actor=ADMIN, core=h.core)
    assert caught.value.field == "name_filter"
    assert h.sandbox.calls.total() == 0


async def test_a_region_the_actor_may_not_list_is_reported_as_skipped(h: CoreHarness) -> None:
    seed(h.sandbox, HZ, 2, prefix="web", instance="i-web3")
    seed(h.sandbox, SH, 2, prefix="api", instance="i-sh1")
    listing = await list_secrets(ListRequest(), actor=actor("UHZ"), core=h.core)
    assert {r.region for r in listing.rows} == {HZ}
    [skipped] = listing.skipped
    assert skipped.region == SH and skipped.calls == 0
    assert "no policy bound to you allows kms:ListSecrets" in skipped.reason
    assert "acs:kms:cn-shanghai:*:secret" in skipped.reason
    assert not listing.complete
    assert h.sandbox.calls.total("ListSecrets", region=SH) == 0


async def test_refused_everywhere_is_access_denied(h: CoreHarness) -> None:
    with pytest.raises(AccessDenied) as caught:
        await list_secrets(ListRequest(region=SH), actor=actor("UHZ"), core=h.core)
    assert "kms:ListSecrets" in caught.value.reason
    with pytest.raises(AccessDenied) as unbound:
        await list_secrets(ListRequest(), actor=STRANGER, core=h.core)
    assert "no policy is bound to you" in unbound.value.reason
    assert h.sandbox.calls.total() == 0


class ByRegion:
    """One gateway per region, as each region has its own endpoint in the real cloud."""

    def __init__(self, gateways: dict[str, AlibabaCloudGateway]) -> None:
        self.gateways = gateways

    def __getattr__(self, name: str) -> Any:
        async def call(region: str, *args: Any, **kwargs: Any) -> Any:
            return await getattr(self.gateways[region], name)(region, *args, **kwargs)

        return call


async def test_a_failing_region_is_reported_with_its_code_and_the_other_listed(
    h: CoreHarness,
) -> None:
    shanghai = Sandbox(regions=(SH,), seed=False)
    await shanghai.start(port=0)
    try:
        shanghai.add_instance(SH, "i-sh1", name="sh-1")
        seed(shanghai, SH, 2, prefix="api", instance="i-sh1")
        seed(h.sandbox, HZ, 120, prefix="web", instance="i-web3")
        shanghai.faults.add(action="ListSecrets", kind="server_error", status=503)
        gateway = ByRegion({HZ: h.core.gateway, SH: sandbox_gateway(shanghai)})  # type: ignore[dict-item]
        core = replace(h.core, gateway=gateway)
        listing = await list_secrets(ListRequest(), actor=ADMIN, core=core)
    finally:
        await shanghai.stop()
    assert len(listing.rows) == 120 and {r.region for r in listing.rows} == {HZ}
    hz, sh = listing.regions
    assert (hz.status, hz.count, hz.calls) == ("listed", 120, 2)
    assert (sh.status, sh.code, sh.count) == ("failed", "ServiceUnavailable", 0)
    assert sh.reason.startswith("listing failed: ") and sh.next_step
    assert listing.failed == (sh,)
