"""Someone who may do nothing learns nothing: refusals come before any cloud read."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from fakes.core import CoreHarness, actor

from ecs_secret_bot.commands.operations.create import create_secret
from ecs_secret_bot.commands.operations.delete import delete_secret
from ecs_secret_bot.commands.operations.restore import restore_secret
from ecs_secret_bot.commands.operations.rotate import rotate_secret
from ecs_secret_bot.commands.operations.rotation_policy import set_rotation_policy
from ecs_secret_bot.commands.outcomes import DryRunReport
from ecs_secret_bot.commands.requests import (
    CreateRequest,
    DeleteRequest,
    RestoreRequest,
    RotateRequest,
    RotationPolicyRequest,
)
from ecs_secret_bot.errors import AccessDenied
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.storage.audit import list_audit

STRANGER = actor("UNOBODY")
READER = actor("UREADER")

OPERATIONS: list[tuple[str, Callable[..., Awaitable[Any]], Callable[[bool], Any]]] = [
    ("rotate", rotate_secret, lambda dry: RotateRequest("web-3-root", dry_run=dry)),
    (
        "rotate custom",
        rotate_secret,
        lambda dry: RotateRequest("web-3-root", custom_password="Abcdef#123", dry_run=dry),
    ),
    ("delete", delete_secret, lambda dry: DeleteRequest("web-3-root", days=7, dry_run=dry)),
    (
        "rotation",
        set_rotation_policy,
        lambda dry: RotationPolicyRequest("web-3-root", enabled=False, dry_run=dry),
    ),
    (
        "create",
        create_secret,
        lambda dry: CreateRequest(
            "new-root", instance_id="i-web3", password="current-pw", dry_run=dry
        ),
    ),
]


@pytest.fixture
async def h(tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[CoreHarness]:
    sandbox.add_ecs_secret("cn-hangzhou", "web-3-root", instance_id="i-web3")
    harness = await CoreHarness.start(tmp_path, sandbox)
    try:
        yield harness
    finally:
        await harness.close()


def reads(sb: Sandbox) -> int:
    return sum(
        sb.calls.total(action)
        for action in ("DescribeSecret", "GetSecretValue", "DescribeInstances", "ListSecrets")
    )


@pytest.mark.parametrize(("name", "operation", "make"), OPERATIONS, ids=[o[0] for o in OPERATIONS])
@pytest.mark.parametrize("who", [STRANGER, READER], ids=["unbound", "reader"])
async def test_refused_before_any_cloud_read(
    h: CoreHarness, name: str, operation: Any, make: Any, who: Any
) -> None:
    with pytest.raises(AccessDenied):
        await operation(make(False), actor=who, core=h.core)
    assert reads(h.sandbox) == 0
    [row] = await list_audit(h.core.db)
    assert (row.decision, row.outcome) == ("deny", "refused")


@pytest.mark.parametrize(("name", "operation", "make"), OPERATIONS, ids=[o[0] for o in OPERATIONS])
async def test_a_refused_dry_run_reports_without_reading(
    h: CoreHarness, name: str, operation: Any, make: Any
) -> None:
    report = await operation(make(True), actor=STRANGER, core=h.core)
    assert isinstance(report, DryRunReport) and not report.allowed
    assert "no policy is bound to you" in report.decision
    assert reads(h.sandbox) == 0
    assert await list_audit(h.core.db) == []


async def test_a_teammate_who_may_ask_for_a_restore_gets_past_the_early_check(
    h: CoreHarness,
) -> None:
    h.sandbox.delete_out_of_band("cn-hangzhou", "web-3-root")
    held = await restore_secret(RestoreRequest("web-3-root"), actor=READER, core=h.core)
    assert type(held).__name__ == "HeldForApproval"
