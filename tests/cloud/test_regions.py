"""Each region's calls go to that region's own endpoint, as Alibaba Cloud routes them.

The sandbox serves cn-hangzhou and cn-shanghai on two listeners and logs each call under the
listener it reached; the gateway must reach each region at its own endpoint only, and a call
sent to the wrong region's endpoint fails the way a real wrong region would.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from fakes.cloud import cloud_settings, fast_retry, sandbox_credential
from fakes.core import CoreHarness, actor

from ecs_secret_bot.cloud.gateway import AlibabaCloudGateway
from ecs_secret_bot.commands.queries import list_secrets
from ecs_secret_bot.commands.requests import ListRequest
from ecs_secret_bot.commands.settings import RegionDefaults
from ecs_secret_bot.errors import CloudClientError
from ecs_secret_bot.sandbox import Sandbox

HZ, SH = "cn-hangzhou", "cn-shanghai"


async def test_each_region_is_reached_at_its_own_endpoint_only(
    gateway: AlibabaCloudGateway, sandbox: Sandbox
) -> None:
    sandbox.add_ecs_secret(HZ, "web-3-root", instance_id="i-web3")
    sandbox.add_ecs_secret(SH, "sh-1-root", instance_id="i-sh1")
    hangzhou, shanghai = await gateway.list_secrets(HZ), await gateway.list_secrets(SH)
    assert [s.name for s in hangzhou.secrets] == ["acs/ecs/web-3-root"]
    assert [s.name for s in shanghai.secrets] == ["acs/ecs/sh-1-root"]
    instances = await gateway.describe_instances(SH)
    assert [i.instance_id for i in instances.instances] == ["i-sh1"]
    assert dict(sandbox.calls) == {
        ("ListSecrets", HZ): 1,
        ("ListSecrets", SH): 1,
        ("DescribeInstances", SH): 1,
    }
    assert gateway.endpoint("kms", SH).url == sandbox.url_of(SH)


async def test_list_reaches_every_region_at_its_endpoint(tmp_path: Path, sandbox: Sandbox) -> None:
    sandbox.add_ecs_secret(HZ, "web-3-root", instance_id="i-web3")
    sandbox.add_ecs_secret(SH, "sh-1-root", instance_id="i-sh1")
    h = await CoreHarness.start(tmp_path, sandbox)
    try:
        listing = await list_secrets(ListRequest(), actor=actor("UADMIN"), core=h.core)
    finally:
        await h.close()
    assert {(r.region, r.short_name) for r in listing.rows} == {
        (HZ, "web-3-root"),
        (SH, "sh-1-root"),
    }
    assert dict(sandbox.calls) == {("ListSecrets", HZ): 1, ("ListSecrets", SH): 1}


def aimed_wrong(sandbox: Sandbox) -> AlibabaCloudGateway:
    """Return a gateway whose cn-shanghai is (wrongly) sent to cn-hangzhou's endpoint."""
    settings = cloud_settings(sandbox)
    wrong = dict(settings.region_defaults)
    wrong[SH] = RegionDefaults(kms_endpoint=sandbox.url_of(HZ), ecs_endpoint=sandbox.url_of(HZ))
    return AlibabaCloudGateway(
        dataclasses.replace(settings, region_defaults=wrong),
        credential=sandbox_credential(),
        retry=fast_retry(),
    )


async def test_a_call_to_the_wrong_endpoint_fails_as_a_wrong_region_would(
    sandbox: Sandbox,
) -> None:
    sandbox.add_ecs_secret(SH, "sh-1-root", instance_id="i-sh1")
    gateway = aimed_wrong(sandbox)
    with pytest.raises(CloudClientError) as caught:
        await gateway.describe_secret(SH, "acs/ecs/sh-1-root")
    assert caught.value.code == "Forbidden.ResourceNotFound"
    with pytest.raises(CloudClientError) as caught:
        await gateway.describe_instances(SH)
    assert caught.value.code == "InvalidOperation.NotSupportedEndpoint"
    assert f"at {sandbox.url_of(HZ)} does not serve the region" in caught.value.user_message
    assert "ecs_endpoint" in caught.value.next_step.text
    assert sandbox.calls.total(region=SH) == 0
