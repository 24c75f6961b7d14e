"""Benchmark one background-duty tick with 100 deletions due among 10,000 and 100,000.

Run from the repository root: ``python bench/duties.py``. It opens a throw-away database
and a real ``Core`` through ``runtime`` (its gateway points at an unused loopback port: a
tick that only reminds makes no cloud call) and a ``DutyRunner`` with a notifier that does
nothing, then measures in the same run:

* one tick (lease renewal, reminders for the 100 rows due, expiry and staleness checks,
  rotation follow-ups), median of many runs, at 10,000 and then 100,000 pending rows
  (target: under 50 ms, and flat between the two sizes);
* the reference: the bare indexed due query (``pending.due_for_reminder``) on the same
  100,000 rows; ``ratio`` is the 100k tick over it.

Between runs the 100 reminders are forgotten again, outside the measured time, so every
measured tick does the full work. The last line is one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.duties import DutyRunner
from ecs_secret_bot.commands.tracker import RotationTracker
from ecs_secret_bot.config import parse_settings
from ecs_secret_bot.runtime import open_core
from ecs_secret_bot.storage import pending
from ecs_secret_bot.storage.pending import NewPending, PendingDeletion

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
DUE = 100
RUNS = 40
SIZES = (10_000, 100_000)


class QuietNotifier:
    """Receives what the duties say and drops it."""

    async def remind(self, row: PendingDeletion, *, label: str) -> None:
        del row, label

    async def deletion_closed(self, row: object) -> None: ...
    async def deletion_discovered(self, row: object) -> None: ...
    async def approval_unannounced(self, row: object) -> None: ...
    async def approval_undeliverable(self, row: object) -> None: ...
    async def approval_expired(self, row: object) -> None: ...
    async def approval_changed(self, row: object) -> None: ...
    async def approval_stale(self, row: object) -> None: ...
    async def rotation_finished(self, outcome: object) -> None: ...


class NoDirectory:
    async def lookup(self, principal: str) -> None:
        del principal


def rows(start: int, stop: int) -> list[NewPending]:
    """The first DUE rows are planned within a day; the rest weeks ahead or settled."""
    out = []
    for i in range(start, stop):
        if i < DUE:
            status, planned = "pending", NOW + timedelta(hours=1, seconds=60 * i)
        elif i % 2:
            status, planned = "pending", NOW + timedelta(days=4 + i % 26, seconds=i % 86_400)
        else:
            status, planned = "deleted", NOW - timedelta(days=1 + i % 300)
        out.append(
            NewPending(
                region="cn-hangzhou",
                secret_name=f"acs/ecs/bench-{i}-root",
                scheduled_by="slack:user:UBENCH",
                channel_id="CBENCH",
                planned_delete_time=planned,
                status=status,
            )
        )
    return out


async def measure(folder: Path) -> dict[str, float]:
    settings = parse_settings(
        {
            "cloud": {"kms_endpoint": "http://127.0.0.1:9", "ecs_endpoint": "http://127.0.0.1:9"},
            "storage": {"path": str(folder / "bench.db")},
        },
        source=folder / "bench.toml",
    )
    async with open_core(settings, directory=NoDirectory(), clock=lambda: NOW) as core:
        return await _ticks(core)


async def _ticks(core: Core) -> dict[str, float]:
    db = core.db
    quiet = QuietNotifier()
    runner = DutyRunner(
        core,
        quiet,
        owner="bench",
        reconcile_every=timedelta(days=365),
        tracker=RotationTracker(core, quiet),
    )
    runner.reconciler.last_pass = NOW  # reconciliation runs every 10 minutes, not every tick
    due = [i + 1 for i in range(DUE)]  # the ids of the due rows (inserted first)
    figures: dict[str, float] = {}
    filled = 0
    for size in SIZES:
        await pending.record_pending_batch(db, rows(filled, size), now=NOW)
        filled = size
        times = []
        for _ in range(RUNS):
            for pending_id in due:
                for label in ("1d", "3d"):
                    await pending.unmark_reminder(db, pending_id, label)
            start = time.perf_counter()
            report = await runner.tick()
            times.append((time.perf_counter() - start) * 1000)
            assert report.reminders == DUE, report
        figures[f"tick_ms_{size // 1000}k"] = statistics.median(times)
        tick_ms = figures[f"tick_ms_{size // 1000}k"]
        print(f"one tick, {DUE} due among {size:,} rows: {tick_ms:.2f} ms")
    reference = []
    for _ in range(RUNS * 5):
        start = time.perf_counter()
        await pending.due_for_reminder(db, now=NOW, within=timedelta(days=1), reminder="1d")
        reference.append((time.perf_counter() - start) * 1000)
    figures["reference_ms_100k"] = statistics.median(reference)
    print(f"reference, the bare due query on 100,000 rows: {figures['reference_ms_100k']:.3f} ms")
    return figures


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        figures = asyncio.run(measure(Path(folder)))
    ratio = figures["tick_ms_100k"] / figures["reference_ms_100k"]
    line = {
        "bench": "duties",
        "due": DUE,
        **{k: round(v, 3) for k, v in figures.items()},
        "flatness_100k_over_10k": round(figures["tick_ms_100k"] / figures["tick_ms_10k"], 2),
        "target_tick_ms": 50,
        "ratio": round(ratio, 2),
    }
    print(json.dumps(line))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
