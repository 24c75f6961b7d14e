"""The Python surface others code against: life cycle, clock, seeding, exports."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from alibabacloud_kms20160120 import models as m
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.models import Config

import ecs_secret_bot.sandbox as sandbox_package
from ecs_secret_bot.sandbox import OffsetClock, Sandbox


def client(sb: Sandbox) -> KmsClient:
    return KmsClient(
        Config(
            access_key_id="sandbox",
            access_key_secret="sandbox-secret",
            endpoint=sb.endpoint,
            protocol="http",
        )
    )


def test_public_names_are_exported() -> None:
    for name in sandbox_package.__all__:
        assert hasattr(sandbox_package, name), name
    assert "Sandbox" in sandbox_package.__all__


async def test_life_cycle() -> None:
    sb = Sandbox(seed=False)
    await sb.start(port=0)
    try:
        assert sb.port > 0
        assert sb.endpoint == f"127.0.0.1:{sb.port}"
        assert sb.url == f"http://127.0.0.1:{sb.port}"
        with pytest.raises(RuntimeError, match="already running"):
            await sb.start()
        body = (await client(sb).list_secrets_async(m.ListSecretsRequest())).body
        assert body.total_count == 0
    finally:
        await sb.stop()
    await sb.stop()  # stopping twice is harmless


async def test_two_sandboxes_side_by_side() -> None:
    async with Sandbox(seed=False) as one, Sandbox() as two:
        assert one.port != two.port
        assert (await client(one).list_secrets_async(m.ListSecretsRequest())).body.total_count == 0
        assert (await client(two).list_secrets_async(m.ListSecretsRequest())).body.total_count == 5


async def test_an_injected_clock_drives_resource_time() -> None:
    moments = [datetime(2030, 1, 1, 9, 0, tzinfo=UTC)]
    async with Sandbox(seed=False, clock=lambda: moments[0]) as sb:
        sb.add_instance("cn-hangzhou", "i-1", name="one")
        name = sb.add_ecs_secret("cn-hangzhou", "one-root", instance_id="i-1")
        assert name == "acs/ecs/one-root"
        kms = client(sb)
        detail = (await kms.describe_secret_async(m.DescribeSecretRequest(secret_name=name))).body
        assert detail.create_time == "2030-01-01T09:00:00Z"
        await kms.delete_secret_async(
            m.DeleteSecretRequest(secret_name=name, recovery_window_in_days="7")
        )
        detail = (await kms.describe_secret_async(m.DescribeSecretRequest(secret_name=name))).body
        assert detail.planned_delete_time == "2030-01-08T09:00:00Z"
        moments[0] += timedelta(days=7)
        assert (await kms.list_secrets_async(m.ListSecretsRequest())).body.total_count == 0
        with pytest.raises(RuntimeError, match="injected clock"):
            sb.advance(timedelta(days=1))


def test_offset_clock() -> None:
    clock = OffsetClock(start=datetime(2030, 5, 1, tzinfo=UTC))
    assert abs(clock() - datetime(2030, 5, 1, tzinfo=UTC)) < timedelta(seconds=1)
    assert clock.advance(timedelta(days=2)) - datetime(2030, 5, 3, tzinfo=UTC) < timedelta(
        seconds=1
    )
    with pytest.raises(ValueError, match="aware"):
        clock.set(datetime(2030, 5, 1))


def test_seeded_demo_data() -> None:
    sb = Sandbox()
    names = [s.name for s in sb.kms.secrets("cn-hangzhou")]
    assert names == [
        "acs/ecs/web-3-root",
        "acs/ecs/web-4-ecs-user-key",
        "acs/ecs/win-app-1-admin",
        "acs/ecs/db-1-root",
        "acs/ecs/batch-7-root",
    ]
    windows = sb.kms.find("cn-hangzhou", "acs/ecs/win-app-1-admin")
    assert windows is not None and json.loads(windows.current().data)["UserName"] == "Administrator"
    assert Sandbox(seed=False).kms.secrets("cn-hangzhou") == []


async def test_seeding_many_secrets_directly_is_quick() -> None:
    sb = Sandbox(seed=False)
    sb.add_instance("cn-hangzhou", "i-bench", name="bench")
    for n in range(500):
        sb.add_ecs_secret("cn-hangzhou", f"bench-{n:03d}", instance_id="i-bench")
    async with sb:
        body = (await client(sb).list_secrets_async(m.ListSecretsRequest(page_size=100))).body
        assert body.total_count == 500
    assert sb.calls.total() == 1  # direct seeding makes no calls


async def test_rotation_settings_are_live(kms: KmsClient, sandbox: Sandbox) -> None:
    sandbox.rotation_delay = 30
    await kms.rotate_secret_async(
        m.RotateSecretRequest(secret_name="acs/ecs/web-3-root", version_id="r1")
    )
    assert sandbox.rotation_in_progress("cn-hangzhou", "web-3-root")
    await sandbox.stop()  # cancels the rotation in flight; nothing fires later
    assert sandbox.events == []
