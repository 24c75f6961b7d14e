"""The incident sweep through the core: the sandbox cloud, a real SQLite file, real policies.

Reads like the incident: instance web-3 and its neighbours are tagged ``incident=42``; a
sweep plans the exact set, asks for one approval, rotates what may be rotated and says
why the rest is not.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from fakes.core import CoreHarness, actor, admin_policies

from ecs_secret_bot.commands.approval.votes import approve_request, deny_request
from ecs_secret_bot.commands.sweeps import (
    ItemState,
    SweepPlan,
    SweepRunner,
    SweepSelector,
    SweepSnapshot,
    SweepStatus,
    plan_sweep,
)
from ecs_secret_bot.commands.tracker import RotationOutcome, RotationTracker
from ecs_secret_bot.errors import AccessDenied, InvalidInput
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.storage import rotations
from ecs_secret_bot.storage.audit import list_audit

SRE = actor("USRE", "SSRE")
SECURITY = actor("USEC", "SSRE", "SSEC")
INCIDENT = SweepSelector(tags=(("incident", "42"),))
GATE = """
[[approval.rules]]
name = "sweep-gate"
actions = ["kms:RotateSecret"]
approvers = ["slack:usergroup:SSEC"]
min_approvals = 1
"""


class Progress:
    """A SweepNotifier that keeps every snapshot it is shown."""

    def __init__(self) -> None:
        self.seen: list[SweepSnapshot] = []

    async def sweep_changed(self, snapshot: SweepSnapshot) -> None:
        self.seen.append(snapshot)


class Quiet:
    async def rotation_finished(self, outcome: RotationOutcome) -> None:
        return None


def incident_world(sandbox: Sandbox) -> None:
    """web-3 (Running) and old-batch (Stopped) in Hangzhou, sh-2 in Shanghai: incident 42."""
    tags = {"incident": "42"}
    sandbox.add_instance("cn-hangzhou", "i-inc1", name="inc-web", tags=tags)
    sandbox.add_instance("cn-hangzhou", "i-inc2", name="inc-batch", status="Stopped", tags=tags)
    sandbox.add_instance("cn-shanghai", "i-inc3", name="inc-sh", tags=tags)
    sandbox.add_ecs_secret("cn-hangzhou", "inc-web-root", instance_id="i-inc1")
    sandbox.add_ecs_secret(
        "cn-hangzhou",
        "inc-web-deploy-key",
        instance_id="i-inc1",
        user_name="deploy",
        sub_type="SSHKey",
    )
    sandbox.add_ecs_secret("cn-hangzhou", "inc-batch-root", instance_id="i-inc2")
    sandbox.add_ecs_secret("cn-shanghai", "inc-sh-root", instance_id="i-inc3")
    sandbox.add_ecs_secret("cn-hangzhou", "web-3-root", instance_id="i-web3")  # not tagged


async def start(tmp_path: Path, sandbox: Sandbox, *, extra_access: str = "") -> CoreHarness:
    h = await CoreHarness.start(tmp_path, sandbox, access_toml=admin_policies() + extra_access)
    h.directory.add(SRE, SECURITY)
    return h


def runner_of(h: CoreHarness, *, concurrency: int | None = 5) -> tuple[SweepRunner, Progress]:
    progress = Progress()
    tracker = RotationTracker(h.core, Quiet())
    return SweepRunner(
        h.core, tracker=tracker, notifier=progress, concurrency=concurrency
    ), progress


@pytest.fixture
async def h(tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[CoreHarness]:
    incident_world(sandbox)
    harness = await start(tmp_path, sandbox, extra_access=GATE)
    try:
        yield harness
    finally:
        await harness.close()


def states(snapshot: SweepSnapshot | SweepPlan) -> dict[str, str]:
    return {i.short_name: str(i.state) for i in snapshot.items}


async def test_one_approval_rotates_three_and_skips_the_stopped_instance(
    h: CoreHarness, sandbox: Sandbox
) -> None:
    plan = await plan_sweep(INCIDENT, actor=SRE, core=h.core)
    assert states(plan) == {
        "inc-batch-root": "skipped",
        "inc-web-deploy-key": "ready",
        "inc-web-root": "ready",
        "inc-sh-root": "ready",
    }
    skipped = next(i for i in plan.items if i.state is ItemState.SKIPPED)
    assert "i-inc2 is Stopped, not Running" in skipped.reason
    assert plan.approval_rule == "sweep-gate"
    deploy = next(i for i in plan.items if i.short_name == "inc-web-deploy-key")
    assert (deploy.user, deploy.kind, deploy.instance_id) == ("deploy", "ssh_key", "i-inc1")

    runner, progress = runner_of(h)
    held = await runner.start(plan, actor=SRE, reason="INC-42: web tier compromised")
    assert held.status is SweepStatus.AWAITING_APPROVAL and held.approval_id
    assert sandbox.calls.total("RotateSecret") == 0

    step = await approve_request(held.approval_id, actor=SECURITY, core=h.core)
    assert step.sweep_id == held.sweep_id and step.result is None
    await runner.approved(step.sweep_id)
    done = await runner.wait(held.sweep_id)

    assert done.status is SweepStatus.FINISHED
    assert states(done) == {
        "inc-batch-root": "skipped",
        "inc-web-deploy-key": "completed",
        "inc-web-root": "completed",
        "inc-sh-root": "completed",
    }
    assert (done.counts.done, done.counts.failed, done.counts.skipped) == (3, 0, 1)
    assert sandbox.calls.total("RotateSecret") == 3
    assert progress.seen[-1].status is SweepStatus.FINISHED
    approvals = await h.core.workflow.get(held.approval_id)
    assert approvals.status == "executed" and approvals.outcome.startswith("3 completed")
    # One request in the audit: every entry carries the sweep's id.
    mine = [r for r in await list_audit(h.core.db) if r.correlation_id == held.sweep_id]
    outcomes = sorted(r.outcome for r in mine)
    assert sum(o.startswith("rotation completed") for o in outcomes) == 3
    assert any(o.startswith("skipped: instance i-inc2 is Stopped") for o in outcomes)


async def test_a_set_that_changed_after_approval_is_not_run(
    h: CoreHarness, sandbox: Sandbox
) -> None:
    runner, _ = runner_of(h)
    plan = await plan_sweep(INCIDENT, actor=SRE, core=h.core)
    held = await runner.start(plan, actor=SRE, reason="INC-42")
    sandbox.add_ecs_secret("cn-shanghai", "inc-sh-app", instance_id="i-inc3", user_name="app")
    step = await approve_request(held.approval_id, actor=SECURITY, core=h.core)
    after = await runner.approved(step.sweep_id)
    assert after.status is SweepStatus.CHANGED
    assert "changed since it was approved" in after.note and "inc-sh-app" in after.note
    assert sandbox.calls.total("RotateSecret") == 0
    assert all(i.state in (ItemState.SKIPPED,) for i in after.items)
    approval = await h.core.workflow.get(held.approval_id)
    assert approval.status == "failed"


async def test_an_approver_must_be_allowed_every_secret(tmp_path: Path, sandbox: Sandbox) -> None:
    incident_world(sandbox)
    reader_approver = actor("UREADSEC", "SSEC")  # in the approver group, may not rotate
    h = await start(tmp_path, sandbox, extra_access=GATE)
    h.directory.add(reader_approver)
    try:
        runner, _ = runner_of(h)
        plan = await plan_sweep(INCIDENT, actor=SRE, core=h.core)
        held = await runner.start(plan, actor=SRE, reason="INC-42")
        step = await approve_request(held.approval_id, actor=reader_approver, core=h.core)
        assert step.vote.result == "refused"
        assert "allowed to do it themselves" in step.vote.message
    finally:
        await h.close()


async def test_stop_leaves_the_unstarted_secrets_untouched(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    incident_world(sandbox)
    sandbox.rotation_delay = 0.4
    h = await start(tmp_path, sandbox)  # no gate: it runs at once
    try:
        runner, _ = runner_of(h, concurrency=1)
        plan = await plan_sweep(INCIDENT, actor=SRE, core=h.core)
        running = await runner.start(plan, actor=SRE, reason="INC-42")
        assert running.status is SweepStatus.RUNNING
        while sandbox.calls.total("RotateSecret") < 1:
            await asyncio.sleep(0.01)
        stopping = await runner.stop(running.sweep_id, actor=SRE)
        assert stopping.status is SweepStatus.STOPPING
        done = await runner.wait(running.sweep_id)
        assert done.status is SweepStatus.STOPPED and done.stopped_by == SRE.principal
        assert sorted(states(done).values()) == ["completed", "skipped", "stopped", "stopped"]
        assert sandbox.calls.total("RotateSecret") == 1
        for item in done.items:
            if item.state is ItemState.STOPPED:
                secret = sandbox.secret(item.region, item.name)
                assert list(secret.versions) == ["v1"]
    finally:
        await h.close()


async def test_a_restart_finishes_the_sweep_and_rotates_nothing_twice(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    incident_world(sandbox)
    sandbox.rotation_delay = 0.3
    first = await start(tmp_path, sandbox)
    runner, _ = runner_of(first, concurrency=1)
    plan = await plan_sweep(INCIDENT, actor=SRE, core=first.core)
    sweep = await runner.start(plan, actor=SRE, reason="INC-42")
    while sandbox.calls.total("RotateSecret") < 2:
        await asyncio.sleep(0.01)
    await runner.drain(0)  # the process stops mid-sweep: one done, one in flight
    await runner.tracker.stop()
    await first.close()

    second = await start(tmp_path, sandbox)
    try:
        again, _ = runner_of(second, concurrency=1)
        assert await again.resume() == 1
        done = await again.wait(sweep.sweep_id)
        assert done.status is SweepStatus.FINISHED
        assert states(done) == {
            "inc-batch-root": "skipped",
            "inc-web-deploy-key": "completed",
            "inc-web-root": "completed",
            "inc-sh-root": "completed",
        }
        assert sandbox.calls.total("RotateSecret") == 3
    finally:
        await second.close()


async def test_someone_allowed_only_prod_sees_the_others_refused(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    sandbox.add_instance("cn-hangzhou", "i-mix", name="mix", tags={"incident": "7"})
    for name in ("prod-api-root", "prod-api-deploy", "dev-api-root"):
        sandbox.add_ecs_secret("cn-hangzhou", name, instance_id="i-mix")
    oncall = actor("UONCALL", channel_id="CINC", channel_name="inc-7")
    prod_only = f"""
[[access.bindings]]
principals = ["{oncall.principal}"]
policies = ["ProdRotate"]

[access.policies.ProdRotate]
Version = "1"
[[access.policies.ProdRotate.Statement]]
Effect = "Allow"
Action = ["kms:ListSecrets"]
Resource = ["acs:kms:*:*:secret"]
[[access.policies.ProdRotate.Statement]]
Effect = "Allow"
Action = ["kms:RotateSecret", "kms:DescribeSecret"]
Resource = ["acs:kms:*:*:secret/acs/ecs/prod-*"]
"""
    h = await start(tmp_path, sandbox, extra_access=prod_only)
    h.directory.add(oncall)
    try:
        runner, _ = runner_of(h)
        plan = await plan_sweep(SweepSelector(tags=(("incident", "7"),)), actor=oncall, core=h.core)
        assert states(plan) == {
            "dev-api-root": "refused",
            "prod-api-deploy": "ready",
            "prod-api-root": "ready",
        }
        refused = next(i for i in plan.items if i.state is ItemState.REFUSED)
        assert refused.reason.startswith("not allowed")
        done = await runner.wait((await runner.start(plan, actor=oncall, reason="INC-7")).sweep_id)
        assert states(done)["dev-api-root"] == "refused"
        assert sandbox.calls.total("RotateSecret") == 2
        assert list(sandbox.secret("cn-hangzhou", "acs/ecs/dev-api-root").versions) == ["v1"]
    finally:
        await h.close()


async def test_wrong_selectors_are_refused_plainly(h: CoreHarness) -> None:
    with pytest.raises(InvalidInput, match="at least one selector"):
        await plan_sweep(SweepSelector(), actor=SRE, core=h.core)
    with pytest.raises(InvalidInput, match="not a region|not one the bot manages"):
        await plan_sweep(SweepSelector(match="web-*", region="eu-west-9"), actor=SRE, core=h.core)
    with pytest.raises(InvalidInput, match="not a name pattern"):
        await plan_sweep(SweepSelector(match="web 3"), actor=SRE, core=h.core)
    runner, _ = runner_of(h)
    plan = await plan_sweep(INCIDENT, actor=SRE, core=h.core)
    with pytest.raises(InvalidInput, match="reason"):
        await runner.start(plan, actor=SRE, reason="  ")


async def test_throttling_is_retried_and_each_secret_ends_honestly(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    incident_world(sandbox)
    h = await start(tmp_path, sandbox)
    try:
        runner, _ = runner_of(h, concurrency=1)  # one at a time: the faults land in order
        sandbox.faults.add(action="RotateSecret", kind="throttling", times=2)
        sandbox.faults.add(action="RotateSecret", kind="rotation_failure", times=1)
        sandbox.faults.add(action="RotateSecret", kind="rotation_stuck", times=1)
        plan = await plan_sweep(INCIDENT, actor=SRE, core=h.core)
        sweep = await runner.start(plan, actor=SRE, reason="INC-42")
        while True:  # the stuck one is in flight: let its follow-up time run out
            now = await runner.snapshot(sweep.sweep_id)
            stuck = next(i for i in now.items if i.short_name == "inc-web-root")
            if stuck.state is ItemState.RUNNING and stuck.rotation_id:
                break
            await asyncio.sleep(0.01)
        h.clock.advance(timedelta(minutes=2))
        done = await runner.wait(sweep.sweep_id)
        assert states(done) == {
            "inc-batch-root": "skipped",
            "inc-web-deploy-key": "failed",
            "inc-web-root": "not_confirmed",
            "inc-sh-root": "completed",
        }
        failed = next(i for i in done.items if i.state is ItemState.FAILED)
        assert failed.reason  # KMS's reason, as the tracker read it
        assert (done.counts.done, done.counts.failed) == (1, 2)
        assert sandbox.calls.total("RotateSecret") == 5  # 2 throttled, then one per secret
    finally:
        await h.close()


async def test_a_waiting_sweep_is_withdrawn_denied_or_expires_and_never_runs(
    h: CoreHarness, sandbox: Sandbox
) -> None:
    runner, _ = runner_of(h)
    plan = await plan_sweep(INCIDENT, actor=SRE, core=h.core)

    withdrawn = await runner.start(plan, actor=SRE, reason="INC-42")
    with pytest.raises(AccessDenied, match="Only slack:user:USRE may withdraw"):
        await runner.stop(withdrawn.sweep_id, actor=SECURITY)
    stopped = await runner.stop(withdrawn.sweep_id, actor=SRE)
    assert stopped.status is SweepStatus.STOPPED
    assert (await h.core.workflow.get(withdrawn.approval_id)).status == "denied"

    denied = await runner.start(plan, actor=SRE, reason="INC-42")
    await deny_request(denied.approval_id, actor=SECURITY, core=h.core)
    after = await runner.snapshot(denied.sweep_id)
    assert after.status is SweepStatus.DENIED and "denied by slack:user:USEC" in after.note

    expiring = await runner.start(plan, actor=SRE, reason="INC-42")
    h.clock.advance(timedelta(hours=25))
    await h.core.workflow.expire_due()
    assert await runner.resume() == 1
    assert (await runner.snapshot(expiring.sweep_id)).status is SweepStatus.EXPIRED
    assert all(i.state is not ItemState.READY for i in after.items)
    assert sandbox.calls.total("RotateSecret") == 0


async def test_each_reason_to_skip_is_said(h: CoreHarness, sandbox: Sandbox) -> None:
    sandbox.add_ecs_secret(
        "cn-shanghai", "inc-sh-console", instance_id="i-inc3", custom_data={}
    )  # created as the console does: KMS records no user
    now = h.core.clock()
    for n in range(50):  # the bot rotated inc-sh-root 50 times this hour
        row = await rotations.start_rotation(
            h.core.db,
            region="cn-shanghai",
            secret_name="acs/ecs/inc-sh-root",
            version_id=f"v-{n}",
            instance_id="i-inc3",
            custom=False,
            requested_by=SRE.principal,
            now=now,
            deadline=now,
        )
        await rotations.set_rotation_status(
            h.core.db, row.id, expected=("starting",), new="completed", now=now
        )
    await rotations.start_rotation(  # and one of inc-web-root is in flight
        h.core.db,
        region="cn-hangzhou",
        secret_name="acs/ecs/inc-web-root",
        version_id="v-flight",
        instance_id="i-inc1",
        custom=False,
        requested_by=SRE.principal,
        now=now,
        deadline=now + timedelta(minutes=5),
    )
    plan = await plan_sweep(INCIDENT, actor=SRE, core=h.core)
    why = {i.short_name: (str(i.state), i.reason) for i in plan.items}
    assert why["inc-sh-console"][0] == "skipped" and "no OS user" in why["inc-sh-console"][1]
    assert why["inc-sh-root"][0] == "skipped" and "at most 50 rotations" in why["inc-sh-root"][1]
    assert why["inc-web-root"][0] == "skipped" and "in flight" in why["inc-web-root"][1]
    assert [i.short_name for i in plan.runnable] == ["inc-web-deploy-key"]


async def test_no_more_than_the_concurrency_run_at_once(tmp_path: Path, sandbox: Sandbox) -> None:
    incident_world(sandbox)
    sandbox.add_ecs_secret("cn-shanghai", "inc-sh-app", instance_id="i-inc3", user_name="app")
    sandbox.rotation_delay = 0.2
    h = await start(tmp_path, sandbox, extra_access="\n[sweep]\nconcurrency = 2\n")
    try:
        runner, _ = runner_of(h, concurrency=None)
        assert runner.concurrency == 2  # from [sweep] concurrency
        plan = await plan_sweep(INCIDENT, actor=SRE, core=h.core)
        done = await runner.wait((await runner.start(plan, actor=SRE, reason="INC")).sweep_id)
        assert done.counts.done == 4 and runner.max_in_flight == 2
    finally:
        await h.close()


async def test_a_fleet_is_pre_flighted_in_batches(h: CoreHarness, sandbox: Sandbox) -> None:
    for n in range(23):  # more than one page of DescribeCloudAssistantStatus (10)
        sandbox.add_instance("cn-hangzhou", f"i-fleet{n:02d}", name=f"f{n}", tags={"fleet": "a"})
        sandbox.add_ecs_secret("cn-hangzhou", f"f{n}-root", instance_id=f"i-fleet{n:02d}")
    sandbox.set_cloud_assistant("cn-hangzhou", "i-fleet17", False)
    sandbox.calls.clear()
    plan = await plan_sweep(SweepSelector(tags=(("fleet", "a"),)), actor=SRE, core=h.core)
    assert len(plan.runnable) == 22
    assert [i.short_name for i in plan.items if i.state is ItemState.SKIPPED] == ["f17-root"]
    assert sandbox.calls.total("DescribeCloudAssistantStatus") == 3
    # ListSecrets names no instance: each of the 28 ECS secrets is described once.
    assert sandbox.calls.total("DescribeSecret") == 28


@pytest.mark.parametrize(
    "faults",
    [
        # reads before the rotation, past the gateway's 3 attempts; then RotateSecret itself
        (("DescribeSecret", 4), ("RotateSecret", 3)),
        # a look of the follow-up
        (("ListSecretVersionIds", 3),),
    ],
    ids=["before-the-rotation", "follow-up"],
)
async def test_a_quota_throttling_the_sweep_delays_it_and_fails_nothing(
    tmp_path: Path, sandbox: Sandbox, faults: tuple[tuple[str, int], ...]
) -> None:
    incident_world(sandbox)
    h = await start(tmp_path, sandbox)
    try:
        runner, _ = runner_of(h, concurrency=1)
        runner.throttled_pause = 0.05
        plan = await plan_sweep(INCIDENT, actor=SRE, core=h.core)
        for action, times in faults:
            sandbox.faults.add(action=action, kind="throttling", times=times)
        done = await runner.wait((await runner.start(plan, actor=SRE, reason="INC")).sweep_id)
        assert (done.counts.done, done.counts.failed) == (3, 0), done.items
        rotated = sandbox.calls.total("RotateSecret") - dict(faults).get("RotateSecret", 0)
        assert rotated == 3
        for item in done.items:  # one new version each, no more
            if item.state is ItemState.COMPLETED:
                assert len(sandbox.secret(item.region, item.name).versions) == 2
    finally:
        await h.close()


async def test_a_plan_waits_out_a_throttled_description(h: CoreHarness, sandbox: Sandbox) -> None:
    # 12 throttled answers among 5 concurrent descriptions: some exhaust their 3 attempts
    sandbox.faults.add(action="DescribeSecret", kind="throttling", times=12)
    plan = await plan_sweep(INCIDENT, actor=SRE, core=h.core)
    assert len(plan.runnable) == 3 and not any("described" in i.reason for i in plan.items)
