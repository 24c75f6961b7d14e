"""App Home's "my recent activity": one's own entries, however busy the log."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fakes.core import CoreHarness, actor

from ecs_secret_bot.commands.operations.rotate import rotate_secret
from ecs_secret_bot.commands.queries import my_activity
from ecs_secret_bot.commands.requests import RotateRequest
from ecs_secret_bot.errors import AccessDenied
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.storage.audit import AuditEntry, append_audit


@pytest.fixture
async def h(tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[CoreHarness]:
    sandbox.add_ecs_secret("cn-hangzhou", "web-3-root", instance_id="i-web3")
    harness = await CoreHarness.start(tmp_path, sandbox)
    try:
        yield harness
    finally:
        await harness.close()


async def test_own_entries_even_behind_many_of_others(h: CoreHarness) -> None:
    reader = actor("UREADER")
    with pytest.raises(AccessDenied):
        await rotate_secret(RotateRequest("web-3-root"), actor=reader, core=h.core)
    for n in range(120):
        await append_audit(
            h.core.db,
            AuditEntry("slack:user:UADMIN", "kms:ListSecrets", f"r{n}", "C1", "allow", "", "ok"),
            at=h.clock(),
        )
    [mine] = (await my_activity(actor=reader, core=h.core)).requests
    assert (mine.requester, mine.action, mine.decision, mine.outcome) == (
        "slack:user:UREADER",
        "kms:RotateSecret",
        "denied",
        "refused",
    )
    admin = await my_activity(actor=actor("UADMIN"), core=h.core, limit=10)
    assert len(admin.requests) == 10 and admin.more


async def test_the_unbound_see_nothing(h: CoreHarness) -> None:
    with pytest.raises(AccessDenied):
        await my_activity(actor=actor("UNOBODY"), core=h.core)
