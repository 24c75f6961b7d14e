"""A custom value held for an approval is gone from every file once the approval used it.

Not the plaintext only (which never touches the disk) but the ciphertext too: with the data
key, a copy left in the WAL or in a free page would decrypt. The raw bytes of the database,
its -wal and its -shm are read while the bot still has the database open, as an intruder
copying the folder would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fakes.core import ADMIN_POLICIES, CoreHarness, actor

from ecs_secret_bot.commands.approval.votes import approve_request, deny_request
from ecs_secret_bot.commands.operations.rotate import rotate_secret
from ecs_secret_bot.commands.outcomes import HeldForApproval, RotateResult
from ecs_secret_bot.commands.requests import RotateRequest
from ecs_secret_bot.sandbox import Sandbox

ACCESS = (
    ADMIN_POLICIES
    + """
[[access.bindings]]
principals = ["slack:usergroup:SSEC"]
policies = ["AliyunKMSSecretAdminAccess"]

[[approval.rules]]
name = "custom-values"
actions = ["kms:PutSecretValue"]
approvers = ["slack:usergroup:SSEC"]
min_approvals = 1
"""
)
ADMIN = actor("UADMIN")
SEC = actor("USEC", "SSEC")
CANARY = "Canary#at-rest-7Qz"


@pytest.fixture
async def h(tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[CoreHarness]:
    sandbox.add_ecs_secret("cn-hangzhou", "web-3-root", instance_id="i-web3")
    harness = await CoreHarness.start(tmp_path, sandbox, access_toml=ACCESS)
    harness.directory.add(ADMIN, SEC)
    try:
        yield harness
    finally:
        await harness.close()


def files_holding(db_path: Path, needle: bytes) -> list[str]:
    found = []
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{db_path}{suffix}")
        if path.exists() and needle in path.read_bytes():
            found.append(path.name)
    return found


async def held_ciphertext(h: CoreHarness) -> tuple[str, bytes]:
    held = await rotate_secret(
        RotateRequest("web-3-root", custom_password=CANARY), actor=ADMIN, core=h.core
    )
    assert isinstance(held, HeldForApproval)
    row = await h.core.db.fetchone("SELECT ciphertext FROM payloads")
    assert row is not None
    ciphertext = bytes(row[0])
    assert files_holding(h.db_path, ciphertext), "the held value should be on disk, encrypted"
    return held.approval_id, ciphertext


async def test_an_approved_custom_rotation_leaves_no_ciphertext_in_any_file(
    h: CoreHarness,
) -> None:
    approval_id, ciphertext = await held_ciphertext(h)
    step = await approve_request(approval_id, actor=SEC, core=h.core)
    assert isinstance(step.result, RotateResult) and step.result.custom
    assert await h.core.db.fetchone("SELECT 1 FROM payloads") is None
    # Still open, no clean shutdown: the WAL must not keep the page the value was on.
    assert files_holding(h.db_path, ciphertext) == []
    assert files_holding(h.db_path, CANARY.encode()) == []


async def test_a_denied_custom_rotation_leaves_no_ciphertext_either(h: CoreHarness) -> None:
    approval_id, ciphertext = await held_ciphertext(h)
    await deny_request(approval_id, actor=SEC, core=h.core)
    assert files_holding(h.db_path, ciphertext) == []
