"""`/ecs-secret show` and the rotate modal's summary, over the sandbox and real storage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from fakes.core import ADMIN_POLICIES, CoreHarness, actor

from ecs_secret_bot.commands.approval.rules import RouteKind
from ecs_secret_bot.commands.queries import prepare_rotation, show_secret
from ecs_secret_bot.errors import AccessDenied, CloudClientError, Conflict, Subcommand
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.storage.pending import record_pending
from ecs_secret_bot.storage.rotations import start_rotation

ADMIN = actor("UADMIN")
READER = actor("UREADER")
STRANGER = actor("UNOBODY")
KEYS_ONLY = actor("UKEYS")
HZ = "cn-hangzhou"
CANARY = "Canary#Pw9-show"

# UKEYS may rotate SSH-key secrets only; rotations by anyone else wait for an approval.
EXTRA = """
[[access.bindings]]
principals = ["slack:user:UKEYS"]
policies = ["KeyRotator"]

[access.policies.KeyRotator]
Version = "1"
[[access.policies.KeyRotator.Statement]]
Effect = "Allow"
Action = ["kms:RotateSecret"]
Resource = ["acs:kms:*:*:secret/acs/ecs/*"]
Condition = { StringEquals = { "kms:SecretSubType" = "SSHKey" } }
"""

GATED = """
[[approval.rules]]
name = "rotate-gate"
actions = ["kms:PutSecretValue"]
approvers = ["slack:usergroup:SSEC"]
"""


@pytest.fixture
async def h(tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[CoreHarness]:
    sandbox.add_ecs_secret(
        HZ,
        "web-3-root",
        instance_id="i-web3",
        secret_data={"UserName": "root", "Password": CANARY},
        rotation_interval="7d",
        description="web tier",
        tags={"team": "web", "env": "prod"},
    )
    sandbox.add_ecs_secret(HZ, "win-1-admin", instance_id="i-win1", user_name="Administrator")
    sandbox.add_instance(HZ, "i-key1", name="key-1")
    sandbox.add_ecs_secret(
        HZ, "deploy-key", instance_id="i-key1", user_name="deploy", sub_type="SSHKey"
    )
    harness = await CoreHarness.start(tmp_path, sandbox, access_toml=EXTRA + ADMIN_POLICIES + GATED)
    try:
        yield harness
    finally:
        await harness.close()


async def test_show_describes_secret_instance_and_user_but_never_the_value(
    h: CoreHarness,
) -> None:
    view = await show_secret("web-3-root", actor=ADMIN, core=h.core)
    assert (view.name, view.short_name, view.region) == ("acs/ecs/web-3-root", "web-3-root", HZ)
    assert view.arn.endswith(":secret/acs/ecs/web-3-root") and view.description == "web tier"
    assert (view.instance_id, view.instance_name, view.instance_status, view.instance_os) == (
        "i-web3",
        "web-3",
        "Running",
        "linux",
    )
    assert (view.user_name, view.sub_type) == ("root", "Password")
    assert view.automatic_rotation == "Enabled"
    assert view.rotation_interval == timedelta(days=7) and view.next_rotation is not None
    assert view.tags == (("env", "prod"), ("team", "web"))
    assert view.active_rotation is None and view.pending is None and not view.notes
    assert not view.pending_deletion and view.rotate_generated is None
    assert CANARY not in repr(view)


async def test_show_includes_the_bots_own_records(h: CoreHarness) -> None:
    now = h.clock()
    await start_rotation(
        h.core.db,
        region=HZ,
        secret_name="acs/ecs/win-1-admin",
        version_id="bot-1",
        instance_id="i-win1",
        custom=False,
        requested_by="slack:user:UADMIN",
        now=now,
        deadline=now + timedelta(minutes=10),
    )
    h.sandbox.delete_out_of_band(HZ, "acs/ecs/web-3-root", planned=timedelta(days=7))
    await record_pending(
        h.core.db,
        region=HZ,
        secret_name="acs/ecs/web-3-root",
        scheduled_by="slack:user:UADMIN",
        channel_id="CINC",
        planned_delete_time=now + timedelta(days=7),
        now=now,
        note="batch retired",
    )
    win = await show_secret("acs/ecs/win-1-admin", actor=READER, core=h.core)
    assert (win.sub_type, win.user_name, win.instance_os) == (
        "Password",
        "Administrator",
        "windows",
    )
    assert win.active_rotation is not None and win.active_rotation.status == "starting"
    web = await show_secret("web-3-root", HZ, actor=READER, core=h.core)
    assert web.pending_deletion and web.pending is not None
    assert (web.pending.scheduled_by, web.pending.note) == ("slack:user:UADMIN", "batch retired")


async def test_show_is_refused_before_any_call(h: CoreHarness) -> None:
    with pytest.raises(AccessDenied) as caught:
        await show_secret("web-3-root", actor=STRANGER, core=h.core)
    assert "no policy is bound to you" in caught.value.reason
    with pytest.raises(AccessDenied) as keys:
        await show_secret("web-3-root", actor=KEYS_ONLY, core=h.core)
    assert "kms:DescribeSecret" in keys.value.reason
    assert h.sandbox.calls.total() == 0


async def test_show_of_a_missing_secret_says_so(h: CoreHarness) -> None:
    with pytest.raises(CloudClientError) as caught:
        await show_secret("nope-root", actor=ADMIN, core=h.core)
    assert caught.value.code == "Forbidden.ResourceNotFound"


async def test_show_notes_an_instance_it_cannot_find(h: CoreHarness) -> None:
    h.sandbox.remove_instance(HZ, "i-web3")
    view = await show_secret("web-3-root", actor=ADMIN, core=h.core)
    assert view.instance_id == "i-web3" and view.instance_status == ""
    assert view.notes == ("Instance i-web3 was not found in cn-hangzhou.",)


async def test_prepare_rotation_tells_the_modal_what_each_choice_does(h: CoreHarness) -> None:
    view = await prepare_rotation("web-3-root", actor=ADMIN, core=h.core)
    assert view.instance_name == "web-3"
    assert view.rotate_generated is not None and view.rotate_custom is not None
    assert view.rotate_generated.kind is RouteKind.RUN
    assert view.rotate_custom.kind is RouteKind.HOLD
    assert view.rotate_custom.rule == "rotate-gate"
    assert view.rotate_custom.verdict == "needs approval (rotate-gate)"
    # the summary triggers nothing
    assert h.sandbox.calls.total("RotateSecret") == 0


async def test_prepare_rotation_refuses_a_reader_without_asking_kms(h: CoreHarness) -> None:
    with pytest.raises(AccessDenied) as caught:
        await prepare_rotation("web-3-root", actor=READER, core=h.core)
    assert "You may not rotate web-3-root" in str(caught.value)
    assert "kms:RotateSecret" in caught.value.reason
    assert h.sandbox.calls.total() == 0


async def test_prepare_rotation_decides_on_the_secrets_sub_type(h: CoreHarness) -> None:
    keys = await prepare_rotation("deploy-key", actor=KEYS_ONLY, core=h.core)
    assert (keys.sub_type, keys.user_name) == ("SSHKey", "deploy")
    assert keys.rotate_generated is not None and keys.rotate_generated.allowed
    assert keys.rotate_custom is not None and not keys.rotate_custom.may_ask
    calls = h.sandbox.calls.total("DescribeSecret")
    with pytest.raises(AccessDenied) as caught:
        await prepare_rotation("web-3-root", actor=KEYS_ONLY, core=h.core)
    assert "no policy bound to you allows kms:RotateSecret" in caught.value.reason
    # the kind is known only from KMS, so this refusal came after one DescribeSecret
    assert h.sandbox.calls.total("DescribeSecret") == calls + 1


async def test_prepare_rotation_refuses_a_secret_scheduled_for_deletion(h: CoreHarness) -> None:
    h.sandbox.delete_out_of_band(HZ, "acs/ecs/web-3-root")
    with pytest.raises(Conflict) as caught:
        await prepare_rotation("web-3-root", actor=ADMIN, core=h.core)
    assert "scheduled for deletion" in caught.value.user_message
    assert caught.value.next_step.text.startswith("Restore it first ({command})")
    assert caught.value.next_step.command == Subcommand("restore", ("web-3-root",))


async def test_show_gives_the_public_ips_with_the_elastic_ip(h: CoreHarness) -> None:
    h.sandbox.add_instance(HZ, "i-eip1", name="eip-1", eip="47.96.10.20")
    h.sandbox.add_ecs_secret(HZ, "eip-1-root", instance_id="i-eip1")
    view = await show_secret("eip-1-root", actor=ADMIN, core=h.core)
    assert view.instance_public_ips == ("47.96.10.20",)
    plain = await show_secret("web-3-root", actor=ADMIN, core=h.core)
    assert plain.instance_public_ips == ()
