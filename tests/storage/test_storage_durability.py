"""Durability: what a killed process committed is there when the file is opened again.

A child process writes pending deletions, audit entries and encrypted payloads, printing
each id only after the call that stored it returned; the parent kills it with SIGKILL
mid-stream, reopens the file and finds every printed id, the audit chain whole and the
database intact.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from storage_testdata import KEY

from ecs_secret_bot.storage import approvals, audit, open_database, payloads, pending

WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from datetime import UTC, datetime, timedelta
    from pathlib import Path
    from ecs_secret_bot.storage import approvals, audit, open_database, payloads, pending

    async def main() -> None:
        db = await open_database(Path(sys.argv[1]), data_key=bytes.fromhex(sys.argv[2]))
        n = 0
        while True:
            now = datetime.now(UTC)
            row = await pending.record_pending(
                db, region="cn-hangzhou", secret_name=f"acs/ecs/s-{n}", scheduled_by="U1",
                channel_id="C1", planned_delete_time=now + timedelta(days=7), now=now)
            await audit.append_audit(
                db, audit.AuditEntry("U1", "kms:DeleteSecret", f"s-{n}", "C1", "allow", "",
                                     f"scheduled {row.id}"), at=now)
            approval = await approvals.insert_approval(db, approvals.NewApproval(
                action="kms:PutSecretValue", resource=f"s-{n}", region="cn-hangzhou",
                secret_name=f"s-{n}", requester="U1", channel_id="C1", rule="r"), now=now)
            await payloads.put_payload(db, approval.id, f"value-{n}".encode())
            print(n, row.id, approval.id, flush=True)
            n += 1

    asyncio.run(main())
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
async def test_nothing_committed_is_lost_when_the_process_is_killed(tmp_path: Path) -> None:
    db_path = tmp_path / "bot.db"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    child = subprocess.Popen(
        [sys.executable, str(script), str(db_path), KEY.hex()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    printed: list[tuple[int, int, str]] = []
    try:
        assert child.stdout is not None
        for line in child.stdout:
            n, pending_id, approval_id = line.split()
            printed.append((int(n), int(pending_id), approval_id))
            if len(printed) >= 150:
                break
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        assert child.stderr is not None and child.stdout is not None
        errors = child.stderr.read()
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL, errors
    assert len(printed) == 150, errors

    async with await open_database(db_path, data_key=KEY) as db:
        integrity = await db.fetchone("PRAGMA integrity_check")
        assert integrity is not None and integrity[0] == "ok"
        for n, pending_id, approval_id in printed:
            row = await pending.get_pending(db, pending_id)
            assert row is not None and row.secret_name == f"acs/ecs/s-{n}"
            assert await approvals.get_approval(db, approval_id) is not None
            assert await payloads.read_payload(db, approval_id) == f"value-{n}".encode()
        check = await audit.verify_audit_chain(db)
        assert check.ok and check.checked >= len(printed)
        # Writing goes on where the killed process stopped.
        appended = await audit.append_audit(
            db, audit.AuditEntry("U1", "a", "r", "C1", "allow", "", "after"), at=row.created_at
        )
        assert appended.seq == check.checked + 1
