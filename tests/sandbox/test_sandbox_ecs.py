"""The emulated ECS: DescribeInstances paging and filters, DescribeCloudAssistantStatus."""

from __future__ import annotations

import json

import pytest
from alibabacloud_ecs20140526 import models as e
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_tea_openapi.exceptions import ClientException

from ecs_secret_bot.sandbox import Sandbox

REGION = "cn-hangzhou"


async def instance_ids(ecs: EcsClient, **filters: object) -> list[str]:
    request = e.DescribeInstancesRequest(region_id=REGION, **filters)
    body = (await ecs.describe_instances_async(request)).body
    return [i.instance_id for i in body.instances.instance]


async def test_describe_instances_fields(ecs: EcsClient) -> None:
    request = e.DescribeInstancesRequest(
        region_id=REGION, instance_ids=json.dumps(["i-bp1sbxwin1000000003"])
    )
    body = (await ecs.describe_instances_async(request)).body
    (instance,) = body.instances.instance
    assert (instance.instance_name, instance.status, instance.ostype) == (
        "win-app-1",
        "Running",
        "windows",
    )
    assert instance.region_id == REGION and instance.zone_id == "cn-hangzhou-b"
    assert instance.osname.startswith("Windows Server")
    assert instance.vpc_attributes.private_ip_address.ip_address
    assert [(t.tag_key, t.tag_value) for t in instance.tags.tag] == [("env", "demo")]
    assert body.total_count == 1 and body.request_id


async def test_next_token_paging(ecs: EcsClient, sandbox: Sandbox) -> None:
    for n in range(20):
        sandbox.add_instance(REGION, f"i-bulk{n:02d}", name=f"bulk-{n:02d}")
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        request = e.DescribeInstancesRequest(region_id=REGION, max_results=10, next_token=token)
        body = (await ecs.describe_instances_async(request)).body
        seen += [i.instance_id for i in body.instances.instance]
        pages += 1
        token = body.next_token
        if not token:
            break
    assert pages == 3 and len(seen) == 25 == len(set(seen))
    small = e.DescribeInstancesRequest(region_id=REGION, max_results=3)
    assert len((await ecs.describe_instances_async(small)).body.instances.instance) == 10


async def test_page_number_paging(ecs: EcsClient) -> None:
    request = e.DescribeInstancesRequest(region_id=REGION, page_number=2, page_size=2)
    body = (await ecs.describe_instances_async(request)).body
    assert (body.page_number, body.page_size, body.total_count) == (2, 2, 5)
    assert [i.instance_name for i in body.instances.instance] == ["win-app-1", "db-1"]


async def test_filters(ecs: EcsClient) -> None:
    assert await instance_ids(ecs, status="Stopped") == ["i-bp1sbxdb10000000004"]
    assert await instance_ids(ecs, instance_name="web-*") == [
        "i-bp1sbxweb3000000001",
        "i-bp1sbxweb4000000002",
    ]
    assert await instance_ids(ecs, instance_name="*-7") == ["i-bp1sbxbat7000000005"]
    assert await instance_ids(ecs, instance_name="web") == []
    both = json.dumps(["i-bp1sbxweb4000000002", "i-bp1sbxdb10000000004", "i-unknown"])
    assert await instance_ids(ecs, instance_ids=both) == [
        "i-bp1sbxweb4000000002",
        "i-bp1sbxdb10000000004",
    ]
    tagged = [e.DescribeInstancesRequestTag(key="env", value="demo")]
    assert len(await instance_ids(ecs, tag=tagged)) == 5


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (e.DescribeInstancesRequest(), "MissingRegionId"),
        (
            e.DescribeInstancesRequest(region_id=REGION, instance_ids="i-1"),
            "InvalidInstanceIds.Malformed",
        ),
        (
            e.DescribeInstancesRequest(region_id=REGION, status="Sleeping"),
            "InvalidStatus.ValueNotSupported",
        ),
        (
            e.DescribeInstancesRequest(region_id=REGION, next_token="garbage"),
            "InvalidNextToken.Malformed",
        ),
        (e.DescribeInstancesRequest(region_id=REGION, page_size=101), "InvalidParameter"),
    ],
)
async def test_describe_instances_errors(
    ecs: EcsClient, request_: e.DescribeInstancesRequest, code: str
) -> None:
    with pytest.raises(ClientException) as caught:
        await ecs.describe_instances_async(request_)
    assert (caught.value.code, caught.value.status_code) == (code, 400)
    assert caught.value.data["HostId"].startswith("ecs.")


async def test_cloud_assistant_status(ecs: EcsClient, sandbox: Sandbox) -> None:
    request = e.DescribeCloudAssistantStatusRequest(
        region_id=REGION, instance_id=["i-bp1sbxweb3000000001", "i-bp1sbxbat7000000005"]
    )
    body = (await ecs.describe_cloud_assistant_status_async(request)).body
    states = {
        s.instance_id: (s.cloud_assistant_status, s.ostype)
        for s in body.instance_cloud_assistant_status_set.instance_cloud_assistant_status
    }
    assert states == {
        "i-bp1sbxweb3000000001": ("true", "Linux"),
        "i-bp1sbxbat7000000005": ("false", "Linux"),
    }
    sandbox.set_cloud_assistant(REGION, "i-bp1sbxbat7000000005", True)
    body = (await ecs.describe_cloud_assistant_status_async(request)).body
    assert all(
        s.cloud_assistant_status == "true"
        for s in body.instance_cloud_assistant_status_set.instance_cloud_assistant_status
    )


async def test_cloud_assistant_status_by_os_and_page(ecs: EcsClient) -> None:
    request = e.DescribeCloudAssistantStatusRequest(region_id=REGION, ostype="Windows")
    body = (await ecs.describe_cloud_assistant_status_async(request)).body
    (only,) = body.instance_cloud_assistant_status_set.instance_cloud_assistant_status
    assert (only.instance_id, only.ostype) == ("i-bp1sbxwin1000000003", "Windows")
    request = e.DescribeCloudAssistantStatusRequest(region_id=REGION, max_results=10)
    body = (await ecs.describe_cloud_assistant_status_async(request)).body
    assert (body.total_count, body.next_token) == (5, "")


async def test_rotations_count_as_cloud_assistant_invocations(
    ecs: EcsClient, sandbox: Sandbox
) -> None:
    from alibabacloud_kms20160120 import models as m
    from alibabacloud_kms20160120.client import Client as KmsClient
    from alibabacloud_tea_openapi.models import Config

    kms = KmsClient(
        Config(
            access_key_id="sandbox",
            access_key_secret="sandbox-secret",
            endpoint=sandbox.endpoint,
            protocol="http",
        )
    )
    sandbox.rotation_delay = 0
    await kms.rotate_secret_async(
        m.RotateSecretRequest(secret_name="acs/ecs/web-3-root", version_id="r1")
    )
    request = e.DescribeCloudAssistantStatusRequest(
        region_id=REGION, instance_id=["i-bp1sbxweb3000000001"]
    )
    body = (await ecs.describe_cloud_assistant_status_async(request)).body
    (status,) = body.instance_cloud_assistant_status_set.instance_cloud_assistant_status
    assert status.invocation_count == 1 and status.last_invoked_time.endswith("Z")


def test_instance_setters_check_their_input(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError):
        sandbox.set_instance_status(REGION, "i-bp1sbxweb3000000001", "Asleep")
    with pytest.raises(LookupError):
        sandbox.set_cloud_assistant(REGION, "i-none", True)
    with pytest.raises(ValueError):
        sandbox.add_instance(REGION, "i-mac", name="mac", os_type="macos")
