"""The cloud gateway, driven through the real SDK against the sandbox over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fakes.cloud import cloud_settings, sandbox_credential

from ecs_secret_bot.cloud.gateway import AlibabaCloudGateway
from ecs_secret_bot.cloud.kms import parse_cloud_time
from ecs_secret_bot.cloud.retry import RetryPolicy
from ecs_secret_bot.commands.gateway import CreateSecretCall
from ecs_secret_bot.commands.preflight import run_preflight
from ecs_secret_bot.commands.rotation_watch import RotationStatus, probe_rotation, watch_rotation
from ecs_secret_bot.commands.values import PasswordValue
from ecs_secret_bot.errors import (
    CloudClientError,
    CloudThrottled,
    CloudUnavailable,
    InvalidInput,
    Subcommand,
)
from ecs_secret_bot.sandbox import Sandbox

CANARY = "Canary#Pw9-gateway"


def calls(sb: Sandbox, action: str) -> int:
    """Count the calls of ``action`` the sandbox received, in all regions."""
    return sum(n for (name, _region), n in sb.calls.items() if name == action)


async def create(
    gateway: AlibabaCloudGateway, name: str = "acs/ecs/web-3-root", **kw: object
) -> None:
    values: dict[str, object] = {
        "region": "cn-hangzhou",
        "name": name,
        "version_id": "v1",
        "value": PasswordValue(user_name="root", password=CANARY),
        "instance_id": "i-web3",
    }
    values.update(kw)
    await gateway.create_secret(CreateSecretCall(**values))  # type: ignore[arg-type]


async def watch(gateway: AlibabaCloudGateway, version_id: str) -> RotationStatus:
    """Follow a rotation of web-3-root for up to ten seconds."""
    return await watch_rotation(
        gateway,
        "cn-hangzhou",
        "acs/ecs/web-3-root",
        version_id,
        deadline=datetime.now(UTC) + timedelta(seconds=10),
        clock=lambda: datetime.now(UTC),
        first_delay=0.02,
        max_delay=0.1,
    )


async def test_create_describe_list_and_versions(gateway: AlibabaCloudGateway) -> None:
    created = await gateway.create_secret(
        CreateSecretCall(
            region="cn-hangzhou",
            name="acs/ecs/web-3-root",
            version_id="v1",
            value=PasswordValue(user_name="root", password=CANARY),
            instance_id="i-web3",
            automatic_rotation=True,
            rotation_interval=timedelta(days=7),
            description="root of web-3",
            tags={"team": "sre"},
        )
    )
    assert created.arn.endswith(":secret/acs/ecs/web-3-root")
    assert created.request_id
    detail = await gateway.describe_secret("cn-hangzhou", "acs/ecs/web-3-root")
    assert detail.secret_type == "ECS"
    assert detail.ecs is not None
    assert (detail.ecs.sub_type, detail.ecs.instance_id) == ("Password", "i-web3")
    assert detail.rotation_interval == timedelta(days=7)
    assert detail.automatic_rotation == "Enabled"
    assert detail.description == "root of web-3"
    assert detail.tags == {"team": "sre"}
    assert not detail.pending_deletion
    page = await gateway.list_secrets("cn-hangzhou")
    assert [s.name for s in page.secrets] == ["acs/ecs/web-3-root"]
    versions = await gateway.list_secret_versions("cn-hangzhou", "acs/ecs/web-3-root")
    assert [(v.version_id, v.stages) for v in versions] == [("v1", ("ACSCurrent",))]


async def test_regions_are_kept_apart(gateway: AlibabaCloudGateway) -> None:
    await create(gateway, region="cn-shanghai", instance_id="i-sh1", name="acs/ecs/sh-root")
    assert (await gateway.list_secrets("cn-hangzhou")).secrets == ()
    assert [s.name for s in (await gateway.list_secrets("cn-shanghai")).secrets] == [
        "acs/ecs/sh-root"
    ]


async def test_list_pages_and_filters_by_name(
    gateway: AlibabaCloudGateway, sandbox: Sandbox
) -> None:
    for n in range(5):
        sandbox.add_ecs_secret("cn-hangzhou", f"acs/ecs/batch-{n}", instance_id="i-web3")
    sandbox.add_ecs_secret("cn-hangzhou", "acs/ecs/db-root", instance_id="i-web3")
    first = await gateway.list_secrets("cn-hangzhou", page=1, page_size=4)
    second = await gateway.list_secrets("cn-hangzhou", page=2, page_size=4)
    assert first.total_count == 6
    assert len(first.secrets) == 4 and len(second.secrets) == 2
    assert {s.name for s in first.secrets + second.secrets} >= {"acs/ecs/db-root"}
    only = await gateway.list_secrets("cn-hangzhou", name_contains="acs/ecs/db-root")
    assert [s.name for s in only.secrets] == ["acs/ecs/db-root"]


async def test_existing_name_is_a_client_error_with_code_and_request_id(
    gateway: AlibabaCloudGateway,
) -> None:
    await create(gateway)
    with pytest.raises(CloudClientError) as caught:
        await create(gateway)
    error = caught.value
    assert error.code == "Rejected.ResourceExist"
    assert error.status_code == 409
    assert error.request_id
    assert "acs/ecs/web-3-root already exists" in error.user_message
    assert CANARY not in str(error)


async def test_missing_secret_is_not_found(gateway: AlibabaCloudGateway) -> None:
    with pytest.raises(CloudClientError) as caught:
        await gateway.describe_secret("cn-hangzhou", "acs/ecs/nope")
    assert caught.value.code == "Forbidden.ResourceNotFound"
    assert caught.value.status_code == 404
    assert "Check the name and the region" in caught.value.next_step.text
    assert caught.value.next_step.command == Subcommand("list")


async def test_generated_rotation_completes(gateway: AlibabaCloudGateway) -> None:
    await create(gateway)
    receipt = await gateway.rotate_secret("cn-hangzhou", "acs/ecs/web-3-root", version_id="r1")
    assert receipt.request_id
    status = await watch(gateway, "r1")
    assert status.state == "completed"
    versions = {
        v.version_id: v.stages
        for v in await gateway.list_secret_versions("cn-hangzhou", "acs/ecs/web-3-root")
    }
    assert versions["r1"] == ("ACSCurrent",)
    assert versions["v1"] == ("ACSPrevious",)


async def test_rotation_on_a_stopped_instance_fails_and_says_why(
    gateway: AlibabaCloudGateway, sandbox: Sandbox
) -> None:
    await create(gateway)
    sandbox.set_instance_status("cn-hangzhou", "i-web3", "Stopped")
    await gateway.rotate_secret("cn-hangzhou", "acs/ecs/web-3-root", version_id="r1")
    status = await watch(gateway, "r1")
    assert status.state == "failed"
    assert "is Stopped, not Running" in status.reason
    assert "Start the instance" in status.reason


async def test_rotation_that_never_finishes_times_out(
    gateway: AlibabaCloudGateway, sandbox: Sandbox
) -> None:
    await create(gateway)
    sandbox.rotation_delay = 60.0
    await gateway.rotate_secret("cn-hangzhou", "acs/ecs/web-3-root", version_id="r1")
    status = await watch_rotation(
        gateway,
        "cn-hangzhou",
        "acs/ecs/web-3-root",
        "r1",
        deadline=datetime.now(UTC) + timedelta(seconds=0.2),
        clock=lambda: datetime.now(UTC),
        first_delay=0.02,
        max_delay=0.05,
    )
    assert status.state == "timed_out"
    probe = await probe_rotation(gateway, "cn-hangzhou", "acs/ecs/web-3-root", "r1")
    assert probe.state == "in_progress"


async def test_custom_value_is_put_and_can_be_refused(
    gateway: AlibabaCloudGateway, sandbox: Sandbox
) -> None:
    await create(gateway)
    value = PasswordValue(user_name="root", password="New#Pw9-custom")
    await gateway.put_secret_value(
        "cn-hangzhou", "acs/ecs/web-3-root", version_id="c1", value=value
    )
    status = await watch(gateway, "c1")
    assert status.state == "completed"
    sandbox.refuse_custom_values = True
    with pytest.raises(CloudClientError) as caught:
        await gateway.put_secret_value(
            "cn-hangzhou", "acs/ecs/web-3-root", version_id="c2", value=value
        )
    assert caught.value.code
    assert "New#Pw9-custom" not in str(caught.value)


async def test_scheduled_deletion_restore_and_restore_of_a_normal_secret(
    gateway: AlibabaCloudGateway,
) -> None:
    await create(gateway)
    before = datetime.now(UTC)
    deleted = await gateway.delete_secret(
        "cn-hangzhou", "acs/ecs/web-3-root", recovery_window_days=7
    )
    assert deleted.planned_delete_time is not None
    assert (
        timedelta(days=6, hours=23)
        < deleted.planned_delete_time - before
        < timedelta(days=7, minutes=5)
    )
    detail = await gateway.describe_secret("cn-hangzhou", "acs/ecs/web-3-root")
    assert detail.planned_delete_time is not None
    assert abs(detail.planned_delete_time - deleted.planned_delete_time) < timedelta(seconds=1)
    assert deleted.planned_delete_time.utcoffset() == timedelta(0)
    with pytest.raises(CloudClientError) as caught:
        await gateway.rotate_secret("cn-hangzhou", "acs/ecs/web-3-root", version_id="r1")
    assert caught.value.code == "Rejected.ResourceInDeleteWindow"
    await gateway.restore_secret("cn-hangzhou", "acs/ecs/web-3-root")
    assert not (await gateway.describe_secret("cn-hangzhou", "acs/ecs/web-3-root")).pending_deletion
    with pytest.raises(CloudClientError) as caught:
        await gateway.restore_secret("cn-hangzhou", "acs/ecs/web-3-root")
    assert caught.value.code == "Rejected.ResourceInUse"
    assert "nothing to restore" in caught.value.user_message


async def test_immediate_deletion_removes_the_secret(gateway: AlibabaCloudGateway) -> None:
    await create(gateway)
    deleted = await gateway.delete_secret("cn-hangzhou", "acs/ecs/web-3-root", force=True)
    assert deleted.planned_delete_time is None
    with pytest.raises(CloudClientError) as caught:
        await gateway.describe_secret("cn-hangzhou", "acs/ecs/web-3-root")
    assert caught.value.code == "Forbidden.ResourceNotFound"


async def test_force_with_a_window_is_refused_before_any_call(
    gateway: AlibabaCloudGateway, sandbox: Sandbox
) -> None:
    with pytest.raises(InvalidInput):
        await gateway.delete_secret("cn-hangzhou", "acs/ecs/x", recovery_window_days=7, force=True)
    assert calls(sandbox, "DeleteSecret") == 0


async def test_rotation_policy_on_and_off(gateway: AlibabaCloudGateway) -> None:
    await create(gateway)
    await gateway.update_rotation_policy(
        "cn-hangzhou", "acs/ecs/web-3-root", enabled=True, interval=timedelta(hours=36)
    )
    detail = await gateway.describe_secret("cn-hangzhou", "acs/ecs/web-3-root")
    assert (detail.automatic_rotation, detail.rotation_interval) == ("Enabled", timedelta(hours=36))
    await gateway.update_rotation_policy("cn-hangzhou", "acs/ecs/web-3-root", enabled=False)
    detail = await gateway.describe_secret("cn-hangzhou", "acs/ecs/web-3-root")
    assert detail.automatic_rotation == "Disabled"


async def test_interval_out_of_range_is_the_services_invalid_parameter(
    gateway: AlibabaCloudGateway,
) -> None:
    await create(gateway)
    with pytest.raises(CloudClientError) as caught:
        await gateway.update_rotation_policy(
            "cn-hangzhou", "acs/ecs/web-3-root", enabled=True, interval=timedelta(hours=1)
        )
    assert caught.value.code.startswith("InvalidParameter")
    assert caught.value.status_code == 400


async def test_describe_instances_filters_and_pages(gateway: AlibabaCloudGateway) -> None:
    page = await gateway.describe_instances("cn-hangzhou", instance_ids=["i-win1"])
    assert [(i.instance_id, i.os_type, i.name) for i in page.instances] == [
        ("i-win1", "windows", "win-1")
    ]
    stopped = await gateway.describe_instances("cn-hangzhou", status="Stopped")
    assert [i.instance_id for i in stopped.instances] == ["i-stopped"]
    seen: list[str] = []
    token: str | None = None
    for _ in range(10):
        page = await gateway.describe_instances("cn-hangzhou", max_results=10, next_token=token)
        seen += [i.instance_id for i in page.instances]
        token = page.next_token
        if not token:
            break
    assert sorted(seen) == ["i-noagent", "i-stopped", "i-web3", "i-win1"]


async def test_cloud_assistant_status(gateway: AlibabaCloudGateway) -> None:
    states = await gateway.cloud_assistant_status("cn-hangzhou", ["i-web3", "i-noagent"])
    assert {s.instance_id: s.online for s in states} == {"i-web3": True, "i-noagent": False}


async def test_cloud_assistant_status_of_many_instances_reads_every_page(
    gateway: AlibabaCloudGateway, sandbox: Sandbox
) -> None:
    # ECS answers 10 a page by default: the 120 instances of a sweep must all be read
    ids = [f"i-many{n:04d}" for n in range(120)]
    for instance_id in ids:
        sandbox.add_instance("cn-hangzhou", instance_id, name=instance_id)
    calls = sandbox.calls.total("DescribeCloudAssistantStatus")
    states = await gateway.cloud_assistant_status("cn-hangzhou", ids)
    assert sorted(s.instance_id for s in states if s.online) == ids
    assert sandbox.calls.total("DescribeCloudAssistantStatus") - calls == 3


@pytest.mark.parametrize(
    ("instance_id", "check", "fragment"),
    [
        ("i-missing", "exists", "does not exist in cn-hangzhou"),
        ("i-stopped", "running", "Start the instance"),
        ("i-noagent", "cloud_assistant", "Cloud Assistant"),
    ],
)
async def test_preflight_failures_say_what_to_do(
    gateway: AlibabaCloudGateway, sandbox: Sandbox, instance_id: str, check: str, fragment: str
) -> None:
    report = await run_preflight(gateway, "cn-hangzhou", instance_id)
    assert not report.ok
    failed = [c for c in report.checks if not c.ok]
    assert [c.name for c in failed] == [check]
    assert fragment in failed[0].detail + failed[0].next_step
    assert calls(sandbox, "DescribeSecret") + calls(sandbox, "RotateSecret") == 0


async def test_preflight_passes_on_a_healthy_instance(gateway: AlibabaCloudGateway) -> None:
    report = await run_preflight(gateway, "cn-hangzhou", "i-web3")
    assert report.ok
    assert [c.name for c in report.checks] == ["exists", "running", "cloud_assistant"]


async def test_throttling_is_retried_then_succeeds(
    gateway: AlibabaCloudGateway, sandbox: Sandbox
) -> None:
    await create(gateway)
    sandbox.faults.add(action="DescribeSecret", kind="throttling", times=2)
    detail = await gateway.describe_secret("cn-hangzhou", "acs/ecs/web-3-root")
    assert detail.name == "acs/ecs/web-3-root"
    assert calls(sandbox, "DescribeSecret") == 3


async def test_throttling_that_persists_gives_up_after_the_bound(
    gateway: AlibabaCloudGateway, sandbox: Sandbox
) -> None:
    sandbox.faults.add(action="ListSecrets", kind="throttling")
    with pytest.raises(CloudThrottled) as caught:
        await gateway.list_secrets("cn-hangzhou")
    assert caught.value.code == "Rejected.Throttling"
    assert calls(sandbox, "ListSecrets") == 3


async def test_server_errors_are_retried_for_idempotent_calls(
    gateway: AlibabaCloudGateway, sandbox: Sandbox
) -> None:
    await create(gateway)
    sandbox.faults.add(action="RotateSecret", kind="server_error", times=1)
    await gateway.rotate_secret("cn-hangzhou", "acs/ecs/web-3-root", version_id="r1")
    assert calls(sandbox, "RotateSecret") == 2


async def test_server_errors_are_not_retried_for_a_deletion(
    gateway: AlibabaCloudGateway, sandbox: Sandbox
) -> None:
    await create(gateway)
    sandbox.faults.add(action="DeleteSecret", kind="server_error", times=1)
    with pytest.raises(CloudUnavailable):
        await gateway.delete_secret("cn-hangzhou", "acs/ecs/web-3-root", recovery_window_days=7)
    assert calls(sandbox, "DeleteSecret") == 1


async def test_client_errors_are_never_retried(
    gateway: AlibabaCloudGateway, sandbox: Sandbox
) -> None:
    with pytest.raises(CloudClientError):
        await gateway.describe_secret("cn-hangzhou", "acs/ecs/nope")
    assert calls(sandbox, "DescribeSecret") == 1


async def test_dropped_connection_is_retried_for_a_read(
    gateway: AlibabaCloudGateway, sandbox: Sandbox
) -> None:
    sandbox.faults.add(action="ListSecrets", kind="drop", times=1)
    page = await gateway.list_secrets("cn-hangzhou")
    assert page.secrets == ()
    assert calls(sandbox, "ListSecrets") == 2


async def test_slow_answers_hit_the_attempt_timeout(sandbox: Sandbox) -> None:
    gateway = AlibabaCloudGateway(
        cloud_settings(sandbox),
        credential=sandbox_credential(),
        retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02, attempt_timeout=0.2),
    )
    sandbox.faults.add(action="ListSecrets", kind="latency", latency=1.0)
    with pytest.raises(CloudUnavailable) as caught:
        await gateway.list_secrets("cn-hangzhou")
    assert "could not be reached" in caught.value.user_message


async def test_wrong_credentials_are_explained_and_not_retried(sandbox: Sandbox) -> None:
    from alibabacloud_credentials.client import Client as CredentialClient
    from alibabacloud_credentials.models import Config as CredentialConfig

    wrong = CredentialClient(
        CredentialConfig(type="access_key", access_key_id="sandbox", access_key_secret="nope")
    )
    gateway = AlibabaCloudGateway(cloud_settings(sandbox), credential=wrong)
    with pytest.raises(CloudClientError) as caught:
        await gateway.list_secrets("cn-hangzhou")
    assert caught.value.code == "SignatureDoesNotMatch"
    assert "credentials" in caught.value.next_step.text
    assert calls(sandbox, "ListSecrets") <= 1


async def test_unmanaged_region_is_refused_before_any_call(
    gateway: AlibabaCloudGateway, sandbox: Sandbox
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await gateway.list_secrets("eu-central-1")
    assert "cn-hangzhou, cn-shanghai" in caught.value.next_step.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-02-21T23:36:07.713703651+08:00", datetime(2020, 2, 21, 15, 36, 7, 713703, UTC)),
        ("2020-02-21T15:36:07Z", datetime(2020, 2, 21, 15, 36, 7, tzinfo=UTC)),
        ("2020-02-21T15:36:07.5Z", datetime(2020, 2, 21, 15, 36, 7, 500000, UTC)),
        ("2020-02-21T15:36:07", datetime(2020, 2, 21, 15, 36, 7, tzinfo=UTC)),
        ("", None),
        ("yesterday", None),
    ],
)
def test_cloud_times_in_every_documented_form(text: str, expected: datetime | None) -> None:
    assert parse_cloud_time(text) == expected


async def test_public_ips_include_the_elastic_ip(
    gateway: AlibabaCloudGateway, sandbox: Sandbox
) -> None:
    sandbox.add_instance("cn-hangzhou", "i-eip", name="eip", eip="47.96.10.20")
    sandbox.add_instance(
        "cn-hangzhou", "i-both", name="both", public_ip="120.55.1.2", eip="8.8.4.4"
    )
    found = await gateway.describe_instances("cn-hangzhou", instance_ids=["i-eip", "i-both"])
    ips = {i.instance_id: i.public_ips for i in found.instances}
    assert ips == {"i-eip": ("47.96.10.20",), "i-both": ("120.55.1.2", "8.8.4.4")}
    web3 = await gateway.describe_instances("cn-hangzhou", instance_ids=["i-web3"])
    assert web3.instances[0].public_ips == ()
