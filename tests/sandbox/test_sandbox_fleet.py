"""What a sweep needs of the sandbox: a tagged fleet across regions, KMS's request quota
as a setting (429 Rejected.Throttling), rotations that take a set time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from alibabacloud_ecs20140526 import models as e
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_kms20160120 import models as m
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.exceptions import ClientException
from conftest import sdk_config

from ecs_secret_bot.sandbox import Sandbox, seed_fleet
from ecs_secret_bot.sandbox.ram import ADMINISTRATOR_ACCESS

REGIONS = ("cn-hangzhou", "cn-shanghai")


@pytest.fixture
async def two_regions() -> AsyncIterator[Sandbox]:
    async with Sandbox(
        regions=REGIONS, seed=False, rotation_delay=0.05, ram_policy=ADMINISTRATOR_ACCESS
    ) as sb:
        yield sb


def test_a_fleet_of_two_hundred_secrets_on_fifty_tagged_instances() -> None:
    sb = Sandbox(regions=REGIONS, seed=False)
    fleet = seed_fleet(sb, regions=REGIONS)
    assert (len(fleet.instances), len(fleet.secrets)) == (50, 200)
    assert len({i.instance_id for i in fleet.instances}) == 50
    assert {i.region for i in fleet.instances} == set(REGIONS)
    first = fleet.instances[0]
    assert dict(first.tags) == {"fleet": "sweep", "team": "web", "env": "prod"}
    assert [s.user_name for s in fleet.secrets_of(first.instance_id)] == [
        "root",
        "deploy",
        "ecs-user",
        "admin",
    ]
    assert sb.secret(first.region, "fleet-000-root").instance_id == first.instance_id
    assert seed_fleet(Sandbox(regions=REGIONS, seed=False), regions=REGIONS) == fleet


@pytest.mark.parametrize(
    "kwargs", [{"regions": ()}, {"regions": REGIONS, "secrets_per_instance": 5}]
)
def test_a_fleet_refuses_what_it_cannot_build(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        seed_fleet(Sandbox(seed=False), **kwargs)


async def test_the_fleet_is_listed_and_described_per_region(two_regions: Sandbox) -> None:
    seed_fleet(two_regions, regions=REGIONS, instances=4)
    ecs = EcsClient(sdk_config(two_regions, endpoint=two_regions.endpoint_of("cn-shanghai")))
    reply = await ecs.describe_instances_async(
        e.DescribeInstancesRequest(region_id="cn-shanghai", max_results=100)
    )
    names = sorted(i.instance_name for i in reply.body.instances.instance)
    assert names == ["fleet-001", "fleet-003"]
    tags = {t.tag_key: t.tag_value for t in reply.body.instances.instance[0].tags.tag}
    assert tags["fleet"] == "sweep"


async def test_over_the_kms_quota_a_call_is_throttled(two_regions: Sandbox) -> None:
    seed_fleet(two_regions, regions=REGIONS, instances=2)
    kms = KmsClient(sdk_config(two_regions))
    two_regions.kms_qps = 2
    request = m.DescribeSecretRequest(secret_name="acs/ecs/fleet-000-root")
    await kms.describe_secret_async(request)
    await kms.describe_secret_async(request)
    with pytest.raises(ClientException) as caught:
        await kms.describe_secret_async(request)
    assert (caught.value.code, caught.value.status_code) == ("Rejected.Throttling", 429)
    assert "QPS Limit Exceeded" in caught.value.message
    # another action, and another region, have quotas of their own
    await kms.list_secrets_async(m.ListSecretsRequest())
    other = KmsClient(sdk_config(two_regions, endpoint=two_regions.endpoint_of("cn-shanghai")))
    await other.describe_secret_async(m.DescribeSecretRequest(secret_name="acs/ecs/fleet-001-root"))
    # a refused call changed nothing and did not count; a second later the quota is back
    time.sleep(1.0)
    await kms.describe_secret_async(request)
    assert two_regions.throttle.refused == 1


async def test_no_quota_unless_set(two_regions: Sandbox) -> None:
    seed_fleet(two_regions, regions=REGIONS, instances=1)
    kms = KmsClient(sdk_config(two_regions))
    for _ in range(30):
        await kms.describe_secret_async(
            m.DescribeSecretRequest(secret_name="acs/ecs/fleet-000-root")
        )
    assert two_regions.kms_qps is None
    with pytest.raises(ValueError):
        two_regions.kms_qps = 0


async def test_a_rotation_takes_the_time_set(two_regions: Sandbox) -> None:
    seed_fleet(two_regions, regions=REGIONS, instances=1)
    two_regions.rotation_delay = 0.3
    kms = KmsClient(sdk_config(two_regions))
    name = "acs/ecs/fleet-000-root"
    started = time.monotonic()
    await kms.rotate_secret_async(m.RotateSecretRequest(secret_name=name, version_id="s1"))
    while two_regions.rotation_in_progress("cn-hangzhou", name):
        await _tick()
    assert 0.3 <= time.monotonic() - started < 1.0
    stages = two_regions.secret("cn-hangzhou", name).versions["s1"].stages
    assert stages == ["ACSCurrent"]


async def _tick() -> None:
    await asyncio.sleep(0.02)


async def test_control_routes_seed_a_fleet_and_set_the_quota(two_regions: Sandbox) -> None:
    async with aiohttp.ClientSession() as http:
        url = two_regions.url + "/_sandbox"
        async with http.post(url + "/fleet", json={"instances": 3}) as reply:
            assert reply.status == 201
            body = await reply.json()
        assert len(body["secrets"]) == 12
        async with http.post(url + "/fleet", json={"regions": ["eu-central-1"]}) as reply:
            assert reply.status == 400
        async with http.post(url + "/settings", json={"kms_qps": 5}) as reply:
            assert (await reply.json())["kms_qps"] == 5
        async with http.post(url + "/settings", json={"kms_qps": "many"}) as reply:
            assert reply.status == 400
        async with http.post(url + "/settings", json={"kms_qps": None}) as reply:
            assert (await reply.json())["kms_qps"] is None
