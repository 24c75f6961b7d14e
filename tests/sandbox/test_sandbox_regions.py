"""Regions as Alibaba Cloud routes them: by the endpoint a call is sent to, one per region.

A sandbox serving two regions has two listeners; each call is answered by the region of the
listener it reached, whatever header it carries, and a call sent to the wrong region's
endpoint fails as it would in that region.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator

import pytest
from alibabacloud_ecs20140526 import models as e
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_kms20160120 import models as m
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils_models import Config, GlobalParameters

from ecs_secret_bot.sandbox import Sandbox

HZ, SH = "cn-hangzhou", "cn-shanghai"
WEB3_ROOT = "acs/ecs/web-3-root"  # seeded in cn-hangzhou


def config(endpoint: str, *, headers: dict[str, str] | None = None) -> Config:
    values = Config(
        access_key_id="sandbox",
        access_key_secret="sandbox-secret",
        endpoint=endpoint,
        protocol="http",
    )
    if headers:
        values.global_parameters = GlobalParameters(headers=headers)
    return values


@pytest.fixture
async def two() -> AsyncIterator[Sandbox]:
    async with Sandbox(regions=(HZ, SH), rotation_delay=0.05) as sb:
        sb.add_instance(SH, "i-sh1", name="sh-1")
        yield sb


async def test_each_region_has_its_own_endpoint(two: Sandbox) -> None:
    assert two.port == two.ports[HZ] and two.ports[HZ] != two.ports[SH]
    assert two.endpoints == {HZ: two.url_of(HZ), SH: two.url_of(SH)}
    assert two.endpoint == two.endpoint_of(HZ) == f"127.0.0.1:{two.ports[HZ]}"
    hangzhou = KmsClient(config(two.endpoint_of(HZ)))
    shanghai = KmsClient(config(two.endpoint_of(SH)))
    listed_hz = (await hangzhou.list_secrets_async(m.ListSecretsRequest(page_size=100))).body
    listed_sh = (await shanghai.list_secrets_async(m.ListSecretsRequest(page_size=100))).body
    assert WEB3_ROOT in [s.secret_name for s in listed_hz.secret_list.secret]
    assert listed_sh.total_count == 0
    assert (two.calls[("ListSecrets", HZ)], two.calls[("ListSecrets", SH)]) == (1, 1)


async def test_a_region_header_or_host_name_chooses_nothing(two: Sandbox) -> None:
    """Alibaba Cloud ignores x-acs-region-id; the sandbox too (the header is still signed)."""
    sent = KmsClient(config(two.endpoint_of(HZ), headers={"x-acs-region-id": SH}))
    body = (await sent.list_secrets_async(m.ListSecretsRequest(page_size=100))).body
    assert WEB3_ROOT in [s.secret_name for s in body.secret_list.secret]
    assert two.calls.total(region=SH) == 0 and two.calls[("ListSecrets", HZ)] == 1


async def test_kms_at_the_wrong_endpoint_knows_no_such_secret(two: Sandbox) -> None:
    wrong = KmsClient(config(two.endpoint_of(SH)))
    with pytest.raises(ClientException) as caught:
        await wrong.describe_secret_async(m.DescribeSecretRequest(secret_name=WEB3_ROOT))
    assert (caught.value.code, caught.value.status_code) == ("Forbidden.ResourceNotFound", 404)
    assert caught.value.data["HostId"] == f"kms.{SH}.aliyuncs.com"
    assert two.calls[("DescribeSecret", SH)] == 1 and two.calls.total(region=HZ) == 0


async def test_ecs_refuses_a_region_id_that_is_not_its_endpoints(two: Sandbox) -> None:
    shanghai = EcsClient(config(two.endpoint_of(SH)))
    own = (await shanghai.describe_instances_async(e.DescribeInstancesRequest(region_id=SH))).body
    assert [i.instance_id for i in own.instances.instance] == ["i-sh1"]
    with pytest.raises(ClientException) as caught:
        await shanghai.describe_instances_async(e.DescribeInstancesRequest(region_id=HZ))
    assert caught.value.code == "InvalidOperation.NotSupportedEndpoint"
    assert caught.value.status_code == 400
    assert "endpoint can't operate this region" in caught.value.data["Message"]
    with pytest.raises(ClientException):
        await shanghai.describe_cloud_assistant_status_async(
            e.DescribeCloudAssistantStatusRequest(region_id=HZ, instance_id=["i-sh1"])
        )
    assert two.calls[("DescribeInstances", SH)] == 2 and two.calls.total(region=HZ) == 0


async def test_a_secret_is_created_in_the_region_of_its_endpoint(two: Sandbox) -> None:
    shanghai = KmsClient(config(two.endpoint_of(SH)))
    request = m.CreateSecretRequest(
        secret_name="acs/ecs/sh-1-root",
        secret_type="ECS",
        version_id="v1",
        secret_data=json.dumps({"UserName": "root", "Password": "Sh#12345"}),
        extended_config={"SecretSubType": "Password", "RegionId": SH, "InstanceId": "i-sh1"},
    )
    created = (await shanghai.create_secret_async(request)).body
    assert created.arn.startswith(f"acs:kms:{SH}:")
    assert two.secret(SH, "sh-1-root").region == SH
    with pytest.raises(LookupError):
        two.secret(HZ, "sh-1-root")


def _free_pair() -> int:
    while True:
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
        with socket.socket() as second:
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port


async def test_a_given_port_serves_the_first_region_and_the_next_ports_the_others() -> None:
    port = _free_pair()
    sandbox = Sandbox(regions=(HZ, SH), seed=False)
    await sandbox.start(port=port)
    try:
        assert sandbox.ports == {HZ: port, SH: port + 1}
    finally:
        await sandbox.stop()
    assert sandbox.ports == {}


def test_the_regions_served_are_named_once_each_and_looked_up_strictly() -> None:
    with pytest.raises(ValueError, match="each once"):
        Sandbox(regions=(HZ, HZ), seed=False)
    with pytest.raises(ValueError, match="not a region id"):
        Sandbox(regions=("Hangzhou",), seed=False)
    with pytest.raises(LookupError, match="does not serve"):
        Sandbox(seed=False).endpoint_of(SH)
