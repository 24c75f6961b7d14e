"""Automatic rotation on and off, over the sandbox, real storage and real policies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from fakes.core import CoreHarness, actor

from ecs_secret_bot.commands.operations.rotation_policy import set_rotation_policy
from ecs_secret_bot.commands.outcomes import DryRunReport, RotationPolicyResult
from ecs_secret_bot.commands.requests import RotationPolicyRequest
from ecs_secret_bot.errors import (
    AccessDenied,
    CloudClientError,
    CloudThrottled,
    Conflict,
    InvalidInput,
    Subcommand,
)
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.storage.audit import list_audit

ADMIN = actor("UADMIN")
READER = actor("UREADER")
STRANGER = actor("UNOBODY")
UPDATE = "UpdateSecretRotationPolicy"


@pytest.fixture
async def h(tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[CoreHarness]:
    sandbox.add_ecs_secret("cn-hangzhou", "web-3-root", instance_id="i-web3")
    sandbox.add_ecs_secret(
        "cn-hangzhou", "web-3-app", instance_id="i-web3", user_name="app", rotation_interval="12h"
    )
    harness = await CoreHarness.start(tmp_path, sandbox)
    try:
        yield harness
    finally:
        await harness.close()


async def policy_of(h: CoreHarness, name: str) -> tuple[str, timedelta | None]:
    detail = await h.core.gateway.describe_secret("cn-hangzhou", f"acs/ecs/{name}")
    return detail.automatic_rotation, detail.rotation_interval


@pytest.mark.parametrize("interval", ["7d", "168h", "604800s", " 7d "])
async def test_on_with_an_interval_in_any_unit(h: CoreHarness, interval: str) -> None:
    result = await set_rotation_policy(
        RotationPolicyRequest("web-3-root", enabled=True, interval=interval),
        actor=ADMIN,
        core=h.core,
    )
    assert isinstance(result, RotationPolicyResult)
    assert (result.enabled, result.interval, result.secret_name) == (
        True,
        "7d",
        "acs/ecs/web-3-root",
    )
    assert result.request_id and result.requested_by == "slack:user:UADMIN"
    assert await policy_of(h, "web-3-root") == ("Enabled", timedelta(days=7))
    outcomes = [row.outcome for row in reversed(await list_audit(h.core.db))]
    assert outcomes == ["started", "executed"]


async def test_on_without_an_interval_keeps_the_current_one(h: CoreHarness) -> None:
    result = await set_rotation_policy(
        RotationPolicyRequest("web-3-app", enabled=True), actor=ADMIN, core=h.core
    )
    assert isinstance(result, RotationPolicyResult) and result.interval == "12h"
    assert await policy_of(h, "web-3-app") == ("Enabled", timedelta(hours=12))


async def test_on_without_an_interval_or_a_current_one_takes_seven_days(h: CoreHarness) -> None:
    result = await set_rotation_policy(
        RotationPolicyRequest("acs/ecs/web-3-root", enabled=True), actor=ADMIN, core=h.core
    )
    assert isinstance(result, RotationPolicyResult) and result.interval == "7d"
    assert await policy_of(h, "web-3-root") == ("Enabled", timedelta(days=7))


async def test_off_turns_it_off(h: CoreHarness) -> None:
    result = await set_rotation_policy(
        RotationPolicyRequest("web-3-app", enabled=False), actor=ADMIN, core=h.core
    )
    assert isinstance(result, RotationPolicyResult)
    assert (result.enabled, result.interval) == (False, "")
    assert (await policy_of(h, "web-3-app"))[0] == "Disabled"


@pytest.mark.parametrize(
    ("request_", "field", "fragment"),
    [
        (RotationPolicyRequest("web-3-root", enabled=False, interval="7d"), "interval", "`on`"),
        (
            RotationPolicyRequest("web-3-root", enabled=True, interval="5h"),
            "interval",
            "6h to 365d",
        ),
        (
            RotationPolicyRequest("web-3-root", enabled=True, interval="366d"),
            "interval",
            "6h to 365d",
        ),
        (RotationPolicyRequest("web-3-root", enabled=True, interval="weekly"), "interval", "unit"),
        # digits are ASCII digits: "\u0667d" (an Arabic-Indic 7) is not 7d
        (RotationPolicyRequest("web-3-root", enabled=True, interval="\u0667d"), "interval", "unit"),
        (RotationPolicyRequest("web 3", enabled=True), "name", "does not allow"),
        (RotationPolicyRequest("web-3-root", enabled=True, region="mars-1"), "region", "Use one"),
    ],
)
async def test_bad_input_is_refused_before_any_call(
    h: CoreHarness, request_: RotationPolicyRequest, field: str, fragment: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await set_rotation_policy(request_, actor=ADMIN, core=h.core)
    assert caught.value.field == field
    assert fragment in str(caught.value)
    assert h.sandbox.calls.total() == 0
    assert await list_audit(h.core.db) == []


@pytest.mark.parametrize(
    ("who", "reason"),
    [(READER, "no policy bound to you allows"), (STRANGER, "no policy is bound to you")],
)
async def test_who_may_not_is_refused_and_audited(h: CoreHarness, who: object, reason: str) -> None:
    with pytest.raises(AccessDenied) as caught:
        await set_rotation_policy(
            RotationPolicyRequest("web-3-root", enabled=True),
            actor=who,
            core=h.core,  # type: ignore[arg-type]
        )
    assert reason in caught.value.reason
    assert h.sandbox.calls.total(UPDATE) == 0
    [row] = await list_audit(h.core.db)
    assert (row.decision, row.outcome) == ("deny", "refused")


async def test_missing_and_deleting_secrets_get_clear_answers(h: CoreHarness) -> None:
    with pytest.raises(CloudClientError) as missing:
        await set_rotation_policy(
            RotationPolicyRequest("nope", enabled=True), actor=ADMIN, core=h.core
        )
    assert missing.value.code == "Forbidden.ResourceNotFound"
    h.sandbox.delete_out_of_band("cn-hangzhou", "web-3-root", planned=timedelta(days=9))
    with pytest.raises(Conflict) as deleting:
        await set_rotation_policy(
            RotationPolicyRequest("web-3-root", enabled=True), actor=ADMIN, core=h.core
        )
    assert "scheduled for deletion" in deleting.value.user_message
    assert deleting.value.next_step.command == Subcommand("restore", ("web-3-root",))
    assert h.sandbox.calls.total(UPDATE) == 0


async def test_throttling_is_retried_then_given_up(h: CoreHarness) -> None:
    h.sandbox.faults.add(action=UPDATE, kind="throttling")
    with pytest.raises(CloudThrottled):
        await set_rotation_policy(
            RotationPolicyRequest("web-3-root", enabled=True), actor=ADMIN, core=h.core
        )
    assert h.sandbox.calls.total(UPDATE) == 3  # the bounded retries of the test gateway
    assert (await list_audit(h.core.db))[0].outcome.startswith("failed: Rejected.Throttling")
    h.sandbox.faults.clear()
    assert (await policy_of(h, "web-3-root"))[0] == "Disabled"


async def test_dry_run_names_the_call_and_changes_nothing(h: CoreHarness) -> None:
    report = await set_rotation_policy(
        RotationPolicyRequest("web-3-root", enabled=True, interval="30d", dry_run=True),
        actor=ADMIN,
        core=h.core,
    )
    assert isinstance(report, DryRunReport) and report.allowed
    assert report.cloud_call == (
        "KMS UpdateSecretRotationPolicy SecretName=acs/ecs/web-3-root "
        "EnableAutomaticRotation=true RotationInterval=30d in cn-hangzhou"
    )
    assert report.preflight == ()
    assert h.sandbox.calls.total(UPDATE) == 0
    assert await list_audit(h.core.db) == []


async def test_the_same_request_id_runs_once(h: CoreHarness) -> None:
    request = RotationPolicyRequest("web-3-root", enabled=True, request_id="view-7")
    first = await set_rotation_policy(request, actor=ADMIN, core=h.core)
    second = await set_rotation_policy(request, actor=ADMIN, core=h.core)
    assert first == second
    assert h.sandbox.calls.total(UPDATE) == 1
