"""``ecs-secret sweep``: rotate every secret the selectors match, as one request.

Owns the terminal side of a sweep: the selectors read from the command line (a wrong one is
exit 2), the exact set printed with each secret's state and why, the confirmation (never
assumed on a non-terminal without ``--yes``), the reason (required), the progress while it
runs (``SweepLines``, the terminal's ``SweepNotifier``: one line per secret that changes,
on stderr) and the summary. ``--dry-run`` prints the plan and changes nothing. The core
(``commands.sweeps``) does everything else, as it does for Slack.
"""

from __future__ import annotations

import argparse
from typing import TextIO

from ecs_secret_bot.commands.sweeps import (
    ItemState,
    SweepItem,
    SweepPlan,
    SweepRunner,
    SweepSelector,
    SweepSnapshot,
    SweepStatus,
    parse_tag,
    plan_sweep,
)
from ecs_secret_bot.commands.tracker import RotationOutcome, RotationTracker
from ecs_secret_bot.errors import InvalidInput
from ecs_secret_bot.terminal.answers import Answer, Context
from ecs_secret_bot.terminal.exit_codes import ExitCode
from ecs_secret_bot.terminal.render import table

__all__ = ["SweepLines", "plan_text", "run_approved_sweep", "snapshot_text", "sweep"]


class _Quiet:
    """The sweep's rotations end in its own lines (``SweepLines``), not one line each."""

    async def rotation_finished(self, outcome: RotationOutcome) -> None:
        del outcome


class SweepLines:
    """The terminal's ``SweepNotifier``: a line per secret whose state changed, and counts."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._seen: dict[str, ItemState] = {}

    async def sweep_changed(self, snapshot: SweepSnapshot) -> None:
        """Print what changed since the last snapshot."""
        changed = False
        for item in snapshot.items:
            if self._seen.get(item.key) is item.state:
                continue
            first = item.key not in self._seen
            self._seen[item.key] = item.state
            if first and item.state in (ItemState.REFUSED, ItemState.SKIPPED, ItemState.READY):
                continue  # the plan printed them
            why = f": {item.reason}" if item.reason and item.state is not ItemState.RUNNING else ""
            print(f"  {item.short_name} ({item.region}): {item.state}{why}", file=self.out)
            changed = True
        if changed:
            c = snapshot.counts
            print(
                f"  [{c.done} done, {c.failed} failed, {c.skipped} skipped, {c.waiting} waiting]",
                file=self.out,
                flush=True,
            )


def _selector(args: argparse.Namespace) -> SweepSelector:
    return SweepSelector(
        instances=tuple(dict.fromkeys(args.instance)),
        tags=tuple(parse_tag(t) for t in args.tag),
        match=args.match or "",
        region=args.region or None,
    )


def _rows(items: tuple[SweepItem, ...]) -> list[list[str]]:
    rows = []
    for i in items:
        where = f"{i.instance_id} ({i.instance_name})" if i.instance_name else i.instance_id
        rows.append([str(i.state), i.region, i.short_name, where, i.user or "?", i.kind, i.reason])
    return rows


def plan_text(plan: SweepPlan) -> str:
    """Return the exact set a sweep takes, each secret with its state and why."""
    ready = len(plan.runnable)
    lines = [
        f"Sweep {plan.selector.describe()}: {len(plan.items)} secrets, {ready} to rotate "
        "with KMS-generated values."
    ]
    if plan.items:
        headers = ["state", "region", "secret", "instance", "user", "kind", "why"]
        lines.append(table(headers, _rows(plan.items)))
    lines += [f"Not searched: {p}" for p in plan.region_problems]
    if plan.approval_rule:
        lines.append(
            f"It needs one approval, held by rule {plan.approval_rule} (the strictest of its "
            f"secrets' rules): {plan.approval_needs}."
        )
    elif ready:
        lines.append("No approval rule holds it: it runs at once.")
    return "\n".join(lines)


def snapshot_text(snapshot: SweepSnapshot) -> str:
    """Return the summary of a sweep: its status, counts and each secret's end."""
    c = snapshot.counts
    lines = [
        f"Sweep {snapshot.sweep_id} {snapshot.status}: {c.done} completed, {c.failed} failed, "
        f"{c.skipped} skipped, {c.waiting} waiting."
    ]
    if snapshot.note and snapshot.status not in (SweepStatus.FINISHED, SweepStatus.STOPPED):
        lines.append(snapshot.note)  # why it never ran (a finished one's note is the counts)
    if snapshot.status is SweepStatus.AWAITING_APPROVAL:
        lines.append(
            f"Held for approval {snapshot.approval_id} (rule {snapshot.approval_rule}); an "
            f"approver runs it with `ecs-secret approve {snapshot.approval_id}`."
        )
    lines.append(
        table(
            ["state", "region", "secret", "instance", "user", "kind", "why"], _rows(snapshot.items)
        )
    )
    return "\n".join(lines)


def _code(snapshot: SweepSnapshot) -> tuple[ExitCode, str]:
    if snapshot.status is SweepStatus.AWAITING_APPROVAL:
        return ExitCode.PENDING, "held"
    if snapshot.status in (SweepStatus.CHANGED, SweepStatus.DENIED, SweepStatus.EXPIRED):
        return ExitCode.STATE, "failed"
    if snapshot.counts.failed:
        return ExitCode.CLOUD, "failed"
    return ExitCode.OK, "done"


def _runner(ctx: Context, concurrency: int | None = None) -> SweepRunner:
    core = ctx.session.core
    return SweepRunner(
        core,
        tracker=RotationTracker(core, _Quiet()),
        notifier=SweepLines(ctx.progress),
        concurrency=concurrency,
    )


async def _until_done(runner: SweepRunner, snapshot: SweepSnapshot) -> SweepSnapshot:
    if snapshot.status in (SweepStatus.RUNNING, SweepStatus.STOPPING):
        try:
            snapshot = await runner.wait(snapshot.sweep_id)
        finally:
            await runner.drain(0)  # Ctrl-C: storage keeps the rest for the next runner
            await runner.tracker.drain(0)
    return snapshot


async def run_approved_sweep(sweep_id: str, ctx: Context) -> Answer:
    """Run a sweep whose approval this terminal completed, and wait for its end."""
    runner = _runner(ctx)
    snapshot = await _until_done(runner, await runner.approved(sweep_id))
    code, outcome = _code(snapshot)
    return Answer(snapshot, snapshot_text(snapshot), code, outcome)


def _reason(args: argparse.Namespace, ctx: Context) -> str:
    if args.reason.strip():
        return str(args.reason)
    if not ctx.prompter.interactive:
        raise InvalidInput(
            "A sweep needs a reason (the incident, the ticket).",
            field="reason",
            next_step="Give it with --reason TEXT.",
        )
    return ctx.prompter.line("Reason (the incident, the ticket): ", field_name="reason")


async def sweep(args: argparse.Namespace, ctx: Context) -> Answer:
    """Plan the sweep, show it, confirm, then run it (or hold it) and show its end."""
    session = ctx.session
    selector = _selector(args)
    if args.dry_run:
        plan = await plan_sweep(selector, actor=session.actor, core=session.core)
        code = ExitCode.PENDING if plan.approval_rule else ExitCode.OK
        if not plan.runnable:
            code = ExitCode.STATE
        text = plan_text(plan) + "\nDry run: nothing was done."
        return Answer(plan, text, code, "dry_run")
    if not args.yes and not ctx.prompter.interactive:
        raise InvalidInput(
            "A sweep asks for confirmation, and stdin is not a terminal.",
            field="yes",
            next_step="Look at the set with --dry-run, then run it with --yes.",
        )
    reason = _reason(args, ctx)
    plan = await plan_sweep(selector, actor=session.actor, core=session.core)
    shown = ctx.live or ctx.progress
    print(plan_text(plan), file=shown, flush=True)
    if plan.runnable and not args.yes:
        question = f"Rotate these {len(plan.runnable)} secrets now?"
        if not ctx.prompter.confirm(question):
            raise InvalidInput("Not confirmed; nothing was done.", field="confirm")
    runner = _runner(ctx, args.concurrency)
    snapshot = await _until_done(
        runner, await runner.start(plan, actor=session.actor, reason=reason)
    )
    code, outcome = _code(snapshot)
    return Answer(snapshot, snapshot_text(snapshot), code, outcome)
