"""`whoami` and help's subcommands: what each actor may do, decided without the cloud."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fakes.core import ADMIN_POLICIES, CoreHarness, actor
from fakes.policies import on_call_rotate

from ecs_secret_bot.commands.queries import WhoAmI, available_subcommands, whoami
from ecs_secret_bot.sandbox import Sandbox

ADMIN = actor("UADMIN")
READER = actor("UREADER")
STRANGER = actor("UNOBODY")
ALL = (
    "help",
    "create",
    "rotate",
    "rotation",
    "delete",
    "restore",
    "list",
    "show",
    "pending",
    "approvals",
    "audit",
    "whoami",
    "sweep",
)

GUARDED = on_call_rotate(resource="acs:kms:*:*:secret/acs/ecs/*", guardrail_channel="CINC")


@pytest.fixture
async def h(tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[CoreHarness]:
    harness = await CoreHarness.start(tmp_path, sandbox)
    try:
        yield harness
    finally:
        await harness.close()


def verdicts(me: WhoAmI) -> dict[str, str]:
    return {a.label: a.verdict for a in me.actions}


async def test_whoami_for_an_admin(h: CoreHarness) -> None:
    me = await whoami(actor=ADMIN, core=h.core)
    assert (me.principal, me.channel, me.channel_id) == ("slack:user:UADMIN", "#inc-1234", "CINC")
    assert me.bound and me.policies == ("AliyunKMSSecretAdminAccess",)
    assert me.guardrails == () and me.guardrail_note == ""
    assert me.resource == "acs:kms:cn-hangzhou:*:secret/acs/ecs/*"
    assert verdicts(me) == {
        "create": "allowed",
        "rotate (generated value)": "allowed",
        "rotate (custom value)": "allowed",
        "automatic rotation on/off": "allowed",
        "delete (scheduled)": "allowed",
        "delete (immediately)": "needs approval (immediate-delete)",
        "restore": "allowed",
        "show": "allowed",
        "list and pending": "allowed",
        "pick an instance": "allowed",
    }
    create = me.actions[0]
    assert create.resource == "acs:kms:cn-hangzhou:*:secret"
    assert create.reason.startswith("allowed by AliyunKMSSecretAdminAccess")
    immediate = next(a for a in me.actions if a.label == "delete (immediately)")
    assert "1 approval from slack:usergroup:SSEC" in immediate.reason
    assert me.actions[-1].resource == "acs:ecs:cn-hangzhou:*:instance/*"
    assert h.sandbox.calls.total() == 0


async def test_whoami_for_a_reader(h: CoreHarness) -> None:
    me = await whoami(actor=actor("UREADER", "SOPS"), core=h.core)
    assert me.groups == ("slack:usergroup:SOPS",)
    assert me.policies == ("AliyunKMSReadOnlyAccess",)
    table = verdicts(me)
    assert table["show"] == table["list and pending"] == "allowed"
    assert table["restore"] == "needs approval (teammate-restore)"
    assert table["rotate (generated value)"] == table["pick an instance"] == "denied"
    rotate = next(a for a in me.actions if a.label == "rotate (generated value)")
    assert "no policy bound to you allows kms:RotateSecret" in rotate.reason
    assert rotate.next_step.startswith("Ask an admin")


async def test_whoami_tells_an_unbound_user_how_to_get_bound(h: CoreHarness) -> None:
    me = await whoami(actor=STRANGER, core=h.core)
    assert not me.bound and me.policies == ()
    assert set(verdicts(me).values()) == {"denied"}
    assert all("no policy is bound to you" in a.reason for a in me.actions)
    assert me.next_step == "Ask an admin to bind you to a policy in [[access.bindings]]."


async def test_whoami_names_the_channels_guardrail(tmp_path: Path, sandbox: Sandbox) -> None:
    harness = await CoreHarness.start(tmp_path, sandbox, access_toml=ADMIN_POLICIES + GUARDED)
    try:
        me = await whoami(actor=ADMIN, core=harness.core)
        elsewhere = await whoami(actor=actor("UADMIN", channel_id="COTHER"), core=harness.core)
    finally:
        await harness.close()
    [rail] = me.guardrails
    assert rail.policies == ("OnCallRotate",)
    assert me.guardrail_note == "In #inc-1234: guardrail 1: at most what OnCallRotate allow."
    table = verdicts(me)
    assert table["rotate (generated value)"] == "allowed"
    assert table["create"] == "denied"
    create = me.actions[0]
    assert "guardrail of #inc-1234" in create.reason
    assert create.next_step.startswith("Ask from another channel")
    assert verdicts(elsewhere)["create"] == "allowed" and elsewhere.guardrails == ()


async def test_available_subcommands(h: CoreHarness) -> None:
    assert available_subcommands(ADMIN, h.core) == ALL
    assert available_subcommands(READER, h.core) == (
        "help",
        "restore",
        "list",
        "show",
        "pending",
        "approvals",
        "audit",
        "whoami",
    )
    assert available_subcommands(STRANGER, h.core) == ("help",)
