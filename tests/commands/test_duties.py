"""Background duties with a controlled clock, the sandbox cloud, and a real database: each
test runs on SQLite and on PostgreSQL (``storage_url``), the restarts and the second process
included."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
from fakes.cloud import REGIONS, populate
from fakes.core import Clock, CoreHarness, actor, admin_policies

from ecs_secret_bot.commands.anchor import AuditAnchor
from ecs_secret_bot.commands.duties import DutyRunner
from ecs_secret_bot.commands.operations.rotate import rotate_secret
from ecs_secret_bot.commands.outcomes import HeldForApproval, RotateResult
from ecs_secret_bot.commands.queries import verify_audit
from ecs_secret_bot.commands.requests import DeleteRequest, RotateRequest
from ecs_secret_bot.commands.tracker import RotationOutcome, RotationTracker
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.storage import Database, open_database, open_pg_database, payloads, pending
from ecs_secret_bot.storage.approvals import ApprovalRow
from ecs_secret_bot.storage.audit import AuditEntry, append_audit, audit_head
from ecs_secret_bot.storage.pending import PendingDeletion

ADMIN = actor("UADMIN")


@dataclass
class RecordingNotifier:
    """Records what the duties and the rotation tracker said; can be told to fail."""

    said: list[tuple[str, str]] = field(default_factory=list)
    fail_next: int = 0
    unpostable: set[str] = field(default_factory=set)
    """Approval ids whose card no channel takes."""

    def _note(self, kind: str, what: str) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("slack is down")
        self.said.append((kind, what))

    async def remind(self, row: PendingDeletion, *, label: str) -> None:
        self._note("remind", f"{row.secret_name} {label}")

    async def deletion_closed(self, row: PendingDeletion) -> None:
        self._note("closed", f"{row.secret_name} {row.status}: {row.note}")

    async def deletion_discovered(self, row: PendingDeletion) -> None:
        self._note("discovered", f"{row.secret_name}: {row.note}")

    async def approval_unannounced(self, row: ApprovalRow) -> None:
        if row.id in self.unpostable:
            self.said.append(("card failed", row.id))
            raise RuntimeError("not_in_channel")
        self._note("announced", row.id)

    async def approval_undeliverable(self, row: ApprovalRow) -> None:
        self._note("given up", row.id)

    async def approval_expired(self, row: ApprovalRow) -> None:
        self._note("expired", row.id)

    async def approval_changed(self, row: ApprovalRow) -> None:
        self._note("changed", f"{row.id} {row.status}")

    async def approval_stale(self, row: ApprovalRow) -> None:
        self._note("stale", row.id)

    async def rotation_finished(self, outcome: RotationOutcome) -> None:
        self._note("rotation", f"{outcome.secret_name} {outcome.state}")

    async def audit_anchor(self, anchor: AuditAnchor) -> None:
        self._note("anchor", f"{anchor.day} {anchor.text}")

    def kinds(self, kind: str) -> list[str]:
        return [what for k, what in self.said if k == kind]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def sb(clock: Clock) -> AsyncIterator[Sandbox]:
    sandbox = Sandbox(regions=REGIONS, seed=False, rotation_delay=0.05, clock=clock)
    await sandbox.start(port=0)
    populate(sandbox)
    for name in ("web-3-root", "db-1-root", "old-batch-root"):
        sandbox.add_ecs_secret("cn-hangzhou", name, instance_id="i-web3")
    try:
        yield sandbox
    finally:
        await sandbox.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def storage_url(request: pytest.FixtureRequest) -> str:
    """Return ``""`` (SQLite under ``tmp_path``) or a fresh PostgreSQL database's URL."""
    return str(request.getfixturevalue("database_url")) if request.param == "postgres" else ""


async def start(tmp_path: Path, sb: Sandbox, clock: Clock, url: str = "", **kw: str) -> CoreHarness:
    """Open a core on SQLite, or on the PostgreSQL database at ``url``."""
    return await CoreHarness.start(tmp_path, sb, clock=clock, database_url=url, **kw)


@pytest.fixture
async def h(
    tmp_path: Path, sb: Sandbox, clock: Clock, storage_url: str
) -> AsyncIterator[CoreHarness]:
    harness = await start(tmp_path, sb, clock, storage_url)
    try:
        yield harness
    finally:
        await harness.close()


def runner(h: CoreHarness, notifier: RecordingNotifier, owner: str = "p1") -> DutyRunner:
    return DutyRunner(
        h.core,
        notifier,
        owner=owner,
        reconcile_every=timedelta(0),
        tracker=RotationTracker(h.core, notifier),
    )


async def schedule(h: CoreHarness, name: str, days: int) -> PendingDeletion:
    """Schedule a deletion in KMS and record it, as the delete operation does."""
    deleted = await h.core.gateway.delete_secret(
        "cn-hangzhou", f"acs/ecs/{name}", recovery_window_days=days
    )
    assert deleted.planned_delete_time is not None
    return await pending.record_pending(
        h.core.db,
        region="cn-hangzhou",
        secret_name=f"acs/ecs/{name}",
        scheduled_by="slack:user:UADMIN",
        channel_id="CINC",
        planned_delete_time=deleted.planned_delete_time,
        now=h.clock(),
    )


async def test_each_reminder_is_sent_once_across_a_restart(
    tmp_path: Path, sb: Sandbox, clock: Clock, storage_url: str
) -> None:
    h = await start(tmp_path, sb, clock, storage_url)
    await schedule(h, "web-3-root", 7)
    notes = RecordingNotifier()
    await runner(h, notes).tick()
    assert notes.kinds("remind") == []
    clock.advance(timedelta(days=4, hours=12))  # 2.5 days left: the 3-day reminder
    await runner(h, notes).tick()
    await runner(h, notes).tick()
    assert notes.kinds("remind") == ["acs/ecs/web-3-root 3d"]
    await h.close()
    # a restart: a new process, the same database
    h = await start(tmp_path, sb, clock, storage_url)
    clock.advance(timedelta(minutes=2))  # the lease of p1 has not lapsed; p1 runs again
    await runner(h, notes).tick()
    assert notes.kinds("remind") == ["acs/ecs/web-3-root 3d"]
    clock.advance(timedelta(days=2))  # half a day left: the 1-day reminder
    await runner(h, notes).tick()
    await runner(h, notes).tick()
    assert notes.kinds("remind") == ["acs/ecs/web-3-root 3d", "acs/ecs/web-3-root 1d"]
    await h.close()


async def test_a_late_schedule_gets_only_the_nearest_reminder(h: CoreHarness, clock: Clock) -> None:
    await schedule(h, "web-3-root", 7)
    clock.advance(timedelta(days=6, hours=6))  # 18 hours left: both windows apply
    notes = RecordingNotifier()
    await runner(h, notes).tick()
    await runner(h, notes).tick()
    assert notes.kinds("remind") == ["acs/ecs/web-3-root 1d"]


async def test_a_reminder_that_could_not_be_sent_is_sent_on_the_next_tick(
    h: CoreHarness, clock: Clock
) -> None:
    await schedule(h, "web-3-root", 7)
    clock.advance(timedelta(days=5))
    notes = RecordingNotifier(fail_next=1)
    report = await runner(h, notes).tick()
    assert report.errors and notes.kinds("remind") == []
    await runner(h, notes).tick()
    assert notes.kinds("remind") == ["acs/ecs/web-3-root 3d"]


async def test_only_the_lease_holder_runs_and_the_other_takes_over_when_it_lapses(
    h: CoreHarness, clock: Clock
) -> None:
    await schedule(h, "web-3-root", 7)
    clock.advance(timedelta(days=5))
    first, second = RecordingNotifier(), RecordingNotifier()
    one, two = runner(h, first, "p1"), runner(h, second, "p2")
    assert (await one.tick()).ran
    assert not (await two.tick()).ran
    await schedule(h, "db-1-root", 7)
    clock.advance(timedelta(seconds=30))
    assert not (await two.tick()).ran  # p1's lease (90 s) still holds
    clock.advance(timedelta(minutes=2))  # p1 died: its lease lapsed
    assert (await two.tick()).ran
    assert first.kinds("remind") == ["acs/ecs/web-3-root 3d"]
    assert second.kinds("remind") == []  # db-1-root is 7 days out; nothing due twice


async def test_reconciliation_closes_what_happened_elsewhere(
    h: CoreHarness, sb: Sandbox, clock: Clock
) -> None:
    restored = await schedule(h, "web-3-root", 7)
    early = await schedule(h, "db-1-root", 7)
    late = await schedule(h, "old-batch-root", 7)
    sb.restore_out_of_band("cn-hangzhou", "web-3-root")
    sb.delete_out_of_band("cn-hangzhou", "db-1-root", force=True)
    notes = RecordingNotifier()
    await runner(h, notes).tick()
    rows = {
        r.id: r
        for r in await pending.list_pending(h.core.db, statuses=("pending", "restored", "deleted"))
    }
    assert rows[restored.id].status == "restored"
    assert "restored outside the bot" in rows[restored.id].note
    assert rows[early.id].status == "deleted" and "deleted early" in rows[early.id].note
    assert rows[late.id].status == "pending"
    clock.advance(timedelta(days=7, minutes=1))  # past the planned time: KMS deleted it
    await runner(h, notes).tick()
    closed = await pending.get_pending(h.core.db, late.id)
    assert closed is not None and closed.status == "deleted"
    assert "on its planned date" in closed.note
    assert len(notes.kinds("closed")) == 3


async def test_unknown_rows_left_by_a_crash_are_resolved(h: CoreHarness, sb: Sandbox) -> None:
    now = h.clock()
    # the deletion happened, but the process died before recording KMS's answer
    deleted = await h.core.gateway.delete_secret(
        "cn-hangzhou", "acs/ecs/web-3-root", recovery_window_days=10
    )
    happened = await pending.record_pending(
        h.core.db,
        region="cn-hangzhou",
        secret_name="acs/ecs/web-3-root",
        scheduled_by="slack:user:UADMIN",
        channel_id="CINC",
        planned_delete_time=now + timedelta(days=7),
        now=now,
        status="unknown",
    )
    # the process died before the call: KMS never heard of it
    never = await pending.record_pending(
        h.core.db,
        region="cn-hangzhou",
        secret_name="acs/ecs/db-1-root",
        scheduled_by="slack:user:UADMIN",
        channel_id="CINC",
        planned_delete_time=now + timedelta(days=7),
        now=now,
        status="unknown",
    )
    await runner(h, RecordingNotifier()).tick()
    # the intent KMS never heard of is kept while its call may still be in flight...
    assert await pending.get_pending(h.core.db, never.id) is not None
    h.clock.advance(timedelta(minutes=3))
    await runner(h, RecordingNotifier()).tick()
    fixed = await pending.get_pending(h.core.db, happened.id)
    assert fixed is not None and fixed.status == "pending"
    assert deleted.planned_delete_time is not None
    assert abs(fixed.planned_delete_time - deleted.planned_delete_time) < timedelta(seconds=1)
    assert await pending.get_pending(h.core.db, never.id) is None


async def test_deletions_scheduled_outside_the_bot_are_discovered_once(
    h: CoreHarness, sb: Sandbox
) -> None:
    sb.delete_out_of_band("cn-hangzhou", "old-batch-root", planned=timedelta(days=20))
    notes = RecordingNotifier()
    await runner(h, notes).tick()
    await runner(h, notes).tick()
    assert notes.kinds("discovered") == [
        "acs/ecs/old-batch-root: scheduled outside the bot (console or API)"
    ]
    [row] = await pending.list_pending(h.core.db)
    assert row.channel_id == "CSECOPS"


async def test_expired_approvals_are_closed_once_and_their_payload_erased(
    h: CoreHarness, clock: Clock
) -> None:
    from ecs_secret_bot.commands.operations.delete import delete_secret

    held = await delete_secret(
        DeleteRequest("web-3-root", immediately=True), actor=ADMIN, core=h.core
    )
    assert isinstance(held, HeldForApproval)
    clock.advance(timedelta(hours=3))
    notes = RecordingNotifier()
    await runner(h, notes).tick()
    await runner(h, notes).tick()
    assert notes.kinds("expired") == [held.approval_id]
    assert await payloads.read_payload(h.core.db, held.approval_id) is None


async def test_a_stale_request_is_reannounced_once(
    tmp_path: Path, sb: Sandbox, clock: Clock, storage_url: str
) -> None:
    from ecs_secret_bot.commands.operations.delete import delete_secret

    h = await start(tmp_path, sb, clock, storage_url, access_toml=admin_policies(stale_after="30m"))
    try:
        held = await delete_secret(
            DeleteRequest("web-3-root", immediately=True), actor=ADMIN, core=h.core
        )
        assert isinstance(held, HeldForApproval)
        notes = RecordingNotifier()
        await runner(h, notes).tick()
        assert notes.kinds("stale") == []
        clock.advance(timedelta(minutes=45))
        await runner(h, notes).tick()
        await runner(h, notes).tick()
        assert notes.kinds("stale") == [held.approval_id]
    finally:
        await h.close()


async def test_a_rotation_triggered_before_a_restart_is_still_reported(
    tmp_path: Path, sb: Sandbox, clock: Clock, storage_url: str
) -> None:
    sb.rotation_delay = 0.3
    h = await start(tmp_path, sb, clock, storage_url)
    result = await rotate_secret(RotateRequest("web-3-root"), actor=ADMIN, core=h.core)
    assert isinstance(result, RotateResult)
    await h.close()  # the process stops before following it
    h = await start(tmp_path, sb, clock, storage_url)
    try:
        notes = RecordingNotifier()
        duty = runner(h, notes)
        report = await duty.tick()
        assert report.followed == 1
        await duty.tick()  # already being followed: not twice
        await duty.tracker.settle()
        assert notes.kinds("rotation") == ["acs/ecs/web-3-root completed"]
    finally:
        await h.close()


async def test_the_database_is_shared_by_reopening(tmp_path: Path, storage_url: str) -> None:
    # two connections to one database see each other's leases (two processes in miniature)
    from ecs_secret_bot.storage import leases

    path, key = tmp_path / "bot.db", bytes(range(32))

    async def connect() -> Database:
        if storage_url:
            return await open_pg_database(storage_url, data_key=key)
        return await open_database(path, data_key=key)

    one, two = await connect(), await connect()
    try:
        now = Clock()()
        assert await leases.acquire_lease(
            one, "duties", owner="a", now=now, ttl=timedelta(seconds=5)
        )
        assert not await leases.acquire_lease(
            two, "duties", owner="b", now=now, ttl=timedelta(seconds=5)
        )
    finally:
        await one.close()
        await two.close()


async def _wait_lines(path: Path, count: int, timeout: float = 15.0) -> list[str]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return lines
        await asyncio.sleep(0.05)
    raise AssertionError(
        f"expected {count} lines in {path}, got {path.read_text() if path.exists() else ''!r}"
    )


async def test_two_processes_send_each_reminder_once_and_fail_over(
    tmp_path: Path, sb: Sandbox, storage_url: str
) -> None:
    clock = Clock()
    h = await start(tmp_path, sb, clock, storage_url, extra='[reminders]\nbefore = ["8d", "3d"]')
    for name in ("web-3-root", "db-1-root"):
        await schedule(h, name, 7)
    output = tmp_path / "sent.txt"
    worker = Path(__file__).resolve().parents[1] / "fakes" / "duty_worker.py"

    async def spawn(owner: str) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(worker),
            str(tmp_path / "bot.toml"),
            owner,
            str(output),
            stdout=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        assert (await asyncio.wait_for(proc.stdout.readline(), 20)).strip() == b"ready"
        return proc

    first = await spawn("A")
    second: asyncio.subprocess.Process | None = None
    try:
        await _wait_lines(output, 2)  # A alone: it takes the lease and sends both
        second = await spawn("B")
        await asyncio.sleep(0.5)  # both tick; only the lease holder (A) runs the duties
        first.kill()  # SIGKILL: no lease release, no goodbye
        await first.wait()
        await schedule(h, "old-batch-root", 7)
        await _wait_lines(output, 3)  # B takes over once A's lease (1 s) lapses
        await asyncio.sleep(0.5)
    finally:
        for proc in (first, second):
            if proc is not None and proc.returncode is None:
                proc.terminate()
                await proc.wait()
        await h.close()
    lines = output.read_text().splitlines()
    sent = [line.split()[1] for line in lines]
    assert sorted(sent) == ["acs/ecs/db-1-root", "acs/ecs/old-batch-root", "acs/ecs/web-3-root"]
    assert [line.split()[0] for line in lines] == ["A", "A", "B"]  # the survivor took over


async def test_a_request_nobody_announced_gets_its_card_once(h: CoreHarness, clock: Clock) -> None:
    from ecs_secret_bot.commands.actor import Actor
    from ecs_secret_bot.commands.operations.delete import delete_secret

    held = await delete_secret(
        DeleteRequest("web-3-root", immediately=True),
        actor=Actor(principal="slack:user:UADMIN"),  # no channel: as from a terminal
        core=h.core,
    )
    assert isinstance(held, HeldForApproval)
    notes = RecordingNotifier()
    await runner(h, notes).tick()
    assert notes.kinds("announced") == []  # the front end gets a minute to post it itself
    clock.advance(timedelta(minutes=2))
    await runner(h, notes).tick()
    await runner(h, notes).tick()
    assert notes.kinds("announced") == [held.approval_id]


async def test_a_card_that_cannot_be_posted_holds_up_no_other_and_is_tried_a_bounded_number(
    h: CoreHarness, clock: Clock
) -> None:
    from ecs_secret_bot.commands.actor import Actor
    from ecs_secret_bot.commands.duties import CARD_ATTEMPTS, CARD_RETRIES_FOR
    from ecs_secret_bot.commands.operations.delete import delete_secret

    terminal = Actor(principal="slack:user:UADMIN")  # no channel: as from a terminal
    older = await delete_secret(
        DeleteRequest("web-3-root", immediately=True), actor=terminal, core=h.core
    )
    clock.advance(timedelta(seconds=1))
    stuck = await delete_secret(
        DeleteRequest("db-1-root", immediately=True), actor=terminal, core=h.core
    )
    assert isinstance(older, HeldForApproval) and isinstance(stuck, HeldForApproval)
    notes = RecordingNotifier(unpostable={stuck.approval_id})

    clock.advance(timedelta(minutes=1))
    report = await runner(h, notes).tick()
    assert notes.kinds("announced") == [older.approval_id]  # the newer failure held up nothing
    assert report.announced == 1 and report.errors
    for _ in range(40):  # long after the last try is due
        clock.advance(CARD_RETRIES_FOR / 10)
        await runner(h, notes).tick()
    assert notes.kinds("card failed") == [stuck.approval_id] * CARD_ATTEMPTS
    assert notes.kinds("given up") == [stuck.approval_id]


async def test_a_large_backlog_is_reconciled_in_batches_then_discovery_runs(
    h: CoreHarness, sb: Sandbox
) -> None:
    now = h.clock()
    for n in range(5):
        sb.add_ecs_secret("cn-hangzhou", f"batch-{n}", instance_id="i-web3")
        await pending.record_pending(
            h.core.db,
            region="cn-hangzhou",
            secret_name=f"acs/ecs/batch-{n}",
            scheduled_by="slack:user:UADMIN",
            channel_id="CINC",
            planned_delete_time=now + timedelta(days=7),
            now=now,
        )  # KMS says none of them is scheduled: each will be closed as restored
    sb.delete_out_of_band("cn-hangzhou", "old-batch-root", planned=timedelta(days=20))
    notes = RecordingNotifier()
    duty = DutyRunner(
        h.core,
        notes,
        owner="p1",
        reconcile_every=timedelta(0),
        reconcile_batch=2,
        tracker=RotationTracker(h.core, notes),
    )
    closed_per_tick = []
    for _ in range(3):
        report = await duty.tick()
        closed_per_tick.append((report.closed, report.discovered))
    assert closed_per_tick == [(2, 0), (2, 0), (1, 1)]
    assert sb.calls.total("DescribeSecret") == 5


async def some_entries(h: CoreHarness) -> None:
    for outcome in ("started", "executed"):
        entry = AuditEntry(ADMIN.principal, "kms:RotateSecret", "r", "CINC", "allow", "", outcome)
        await append_audit(h.core.db, entry, at=h.clock())


async def test_the_audit_head_is_anchored_once_a_day_in_the_log_and_the_notifier(
    h: CoreHarness, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    await some_entries(h)
    notes = RecordingNotifier()
    caplog.set_level(logging.INFO, logger="ecs_secret_bot.commands.anchor")
    await runner(h, notes).tick()
    await runner(h, notes, owner="p1").tick()  # once a day, across ticks and runners
    [said] = notes.kinds("anchor")
    day, head = said.split()
    assert day == h.clock().date().isoformat()
    assert head == "{}:{}".format(*await audit_head(h.core.db))
    assert f"audit anchor {day}: head {head}" in caplog.text
    clock.advance(timedelta(days=1))
    await runner(h, notes).tick()
    assert len(notes.kinds("anchor")) == 2


async def test_a_notifier_failure_is_retried_and_the_anchor_then_proves_a_cut(
    h: CoreHarness, storage_url: str
) -> None:
    await some_entries(h)
    notes = RecordingNotifier(fail_next=1)
    duty = runner(h, notes)
    report = await duty.tick()
    assert notes.kinds("anchor") == [] and report.errors == ["audit_anchor: RuntimeError"]
    await duty.tick()
    [said] = notes.kinds("anchor")
    anchor = said.split()[1]
    assert (await verify_audit(actor=ADMIN, core=h.core, anchor=anchor)).ok
    cut = "DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)"
    if storage_url:  # someone with the database's own login, not the bot
        tamper = await asyncpg.connect(storage_url)
        await tamper.execute("DROP TRIGGER audit_log_no_delete ON audit_log")
        await tamper.execute(cut)
        await tamper.close()
    else:
        conn = sqlite3.connect(h.db_path, isolation_level=None)
        conn.execute("DROP TRIGGER audit_log_no_delete")
        conn.execute(cut)
        conn.close()
    proof = await verify_audit(actor=ADMIN, core=h.core, anchor=anchor)
    assert not proof.ok and "were removed" in proof.problem
