"""Benchmark the storage layer on both engines: the reminder query at 10k and 100k rows, and
audit appends.

Run from the repository root: ``python bench/storage.py``. It builds a throw-away SQLite
database in a temporary folder, and a throw-away PostgreSQL server of its own (as the tests
do: ``tests/fakes/postgres.py``, on loopback, ``fsync=off``), and measures on each, in the
same run (each figure's key ends in ``_sqlite`` or ``_postgres``):

* the time to find the deletions due for a reminder in the next hour
  (``pending.due_for_reminder``), median of many runs, at 10,000 and then 100,000 pending
  deletion rows (target: under 5 ms, and flat: the due set is the same 100 rows at both
  sizes, so only the table around them grows);
* audit appends per second through ``audit.append_audit``, one awaited call at a time, each
  chained by HMAC-SHA256 to the one before, on a log of 100,000 entries (target: over
  2,000/s on SQLite; on PostgreSQL each append is a transaction holding the replicas' write
  lock, a few round trips over loopback);
* the reference: the same due query on a plain indexed table through the standard
  ``sqlite3`` module, synchronously, on the same 100,000 rows; ``ratio`` is ours over it.

Without PostgreSQL's server programs the ``_postgres`` figures are left out, saying why.
The last line printed is one JSON object: ``{"bench": "storage", ..., "ratio": ...}``.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ecs_secret_bot.storage import Database, audit, open_database, open_pg_database, pending
from ecs_secret_bot.storage._codec import to_text
from ecs_secret_bot.storage.audit import AuditEntry
from ecs_secret_bot.storage.pending import NewPending

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fakes.postgres import PostgresServer, missing_reason  # noqa: E402

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(hours=1)
SMALL, LARGE = 10_000, 100_000
DUE = 100  # rows planned within the next hour, at every table size
REMINDED = 40  # of which this many already had the "1h" reminder
RUNS = 300
APPENDS = 3_000
KEY = bytes(range(32))


def rows(start: int, stop: int) -> list[NewPending]:
    """Return deterministic rows: the due set first, then future and settled deletions."""
    out = []
    for i in range(start, stop):
        if i < DUE:
            status, planned = "pending", NOW + timedelta(seconds=30 * (i + 1))
        elif i % 5 < 2:  # 40 %: scheduled, 1 to 30 days ahead
            status, planned = "pending", NOW + timedelta(days=1 + i % 29, seconds=i % 86_400)
        else:  # 60 %: history, already restored or deleted
            status = "restored" if i % 2 else "deleted"
            planned = NOW - timedelta(days=1 + i % 300, seconds=i % 86_400)
        out.append(
            NewPending(
                region="cn-hangzhou" if i % 3 else "cn-shanghai",
                secret_name=f"acs/ecs/bench-{i}-root",
                scheduled_by=f"U{i % 97:05d}",
                channel_id=f"C{i % 13:04d}",
                planned_delete_time=planned,
                status=status,
            )
        )
    return out


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


async def time_async(call: Callable[[], Awaitable[object]], runs: int) -> list[float]:
    for _ in range(20):
        await call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return samples


def time_sync(call: Callable[[], object], runs: int) -> list[float]:
    for _ in range(20):
        call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


async def due_query(db: Database) -> list[pending.PendingDeletion]:
    return await pending.due_for_reminder(db, now=NOW, within=WINDOW, reminder="1h")


def reference(folder: Path) -> tuple[list[float], list[float], float]:
    """Time the due query on a plain indexed sqlite3 table at 10k and 100k rows."""
    conn = sqlite3.connect(folder / "reference.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(
        "CREATE TABLE pending (id INTEGER PRIMARY KEY, region TEXT, secret_name TEXT,"
        " scheduled_by TEXT, channel_id TEXT, message_ts TEXT, planned_delete_time TEXT,"
        " status TEXT, created_at TEXT, updated_at TEXT, note TEXT)"
    )
    conn.execute("CREATE INDEX pending_due ON pending (status, planned_delete_time)")
    query = (
        "SELECT * FROM pending WHERE status = 'pending' AND planned_delete_time > ?"
        " AND planned_delete_time <= ? ORDER BY planned_delete_time LIMIT 500"
    )
    bounds = (to_text(NOW), to_text(NOW + WINDOW))

    def fill(start: int, stop: int) -> None:
        stamp = to_text(NOW)
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO pending VALUES (NULL, ?, ?, ?, ?, NULL, ?, ?, ?, ?, '')",
            [
                (
                    r.region,
                    r.secret_name,
                    r.scheduled_by,
                    r.channel_id,
                    to_text(r.planned_delete_time),
                    r.status,
                    stamp,
                    stamp,
                )
                for r in rows(start, stop)
            ],
        )
        conn.execute("COMMIT")

    fill(0, SMALL)
    small = time_sync(lambda: conn.execute(query, bounds).fetchall(), RUNS)
    fill(SMALL, LARGE)
    large = time_sync(lambda: conn.execute(query, bounds).fetchall(), RUNS)
    started = time.perf_counter()
    for n in range(APPENDS):
        conn.execute(
            "INSERT INTO pending (secret_name, status) VALUES (?, 'deleted')", (f"ref-{n}",)
        )
    inserts_per_s = APPENDS / (time.perf_counter() - started)
    conn.close()
    return small, large, inserts_per_s


async def measure(db: Database) -> dict[str, float]:
    """Return one engine's figures, measured on ``db`` (empty when given)."""
    await pending.record_pending_batch(db, rows(0, SMALL), now=NOW)
    for row in (await due_query(db))[:REMINDED]:
        await pending.mark_reminder_sent(db, row.id, "1h", now=NOW)
    due_small = await due_query(db)
    small = await time_async(lambda: due_query(db), RUNS)

    for start in range(SMALL, LARGE, 30_000):
        batch = rows(start, min(start + 30_000, LARGE))
        await pending.record_pending_batch(db, batch, now=NOW)
    due_large = await due_query(db)
    large = await time_async(lambda: due_query(db), RUNS)
    assert len(due_small) == len(due_large) == DUE - REMINDED, (len(due_small), len(due_large))

    fill_started = time.perf_counter()
    for start in range(0, LARGE, 20_000):
        await audit.append_audit_batch(
            db,
            [
                (
                    AuditEntry(
                        actor=f"U{n % 97:05d}",
                        action="kms:DeleteSecret",
                        resource=f"acs:kms:cn-hangzhou:*:secret/acs/ecs/bench-{n}-root",
                        channel_id="C0001",
                        decision="allow",
                        reason="AliyunKMSSecretAdminAccess",
                        outcome="scheduled",
                        request_id=f"REQ-{n}",
                    ),
                    NOW,
                )
                for n in range(start, start + 20_000)
            ],
        )
    fill_s = time.perf_counter() - fill_started

    entry = AuditEntry(
        actor="U00001",
        action="kms:RotateSecret",
        resource="acs:kms:cn-hangzhou:*:secret/acs/ecs/web-3-root",
        channel_id="C0INCIDENTS",
        decision="allow",
        reason="OnCallRotate",
        outcome="rotation triggered",
        request_id="REQ-bench",
        detail={"instance": "i-web3"},
    )
    append_started = time.perf_counter()
    for n in range(APPENDS):
        await audit.append_audit(db, entry, at=NOW + timedelta(microseconds=n))
    appends_per_s = APPENDS / (time.perf_counter() - append_started)

    verify_started = time.perf_counter()
    check = await audit.verify_audit_chain(db)
    verify_s = time.perf_counter() - verify_started
    assert check.ok and check.checked == LARGE + APPENDS, check
    return {
        "due_query_ms_10k": median_ms(small),
        "due_query_ms_100k": median_ms(large),
        "due_query_p95_ms_100k": round(sorted(large)[int(RUNS * 0.95)] * 1000, 3),
        "audit_appends_per_s": round(appends_per_s),
        "audit_fill_s": round(fill_s, 1),
        "audit_verify_s": round(verify_s, 3),
        "flatness_100k_over_10k": round(median_ms(large) / median_ms(small), 2),
    }


async def on_postgres() -> tuple[dict[str, float], str]:
    """Measure on a throwaway PostgreSQL; empty figures and why, where none can run."""
    reason = missing_reason()
    if reason is not None:
        return {}, reason
    with PostgresServer() as server:
        url = server.create_database()
        db = await open_pg_database(url, data_key=KEY)
        try:
            return await measure(db), ""
        finally:
            await db.close()


async def main() -> int:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp:
        folder = Path(tmp)
        async with await open_database(folder / "bench.db", data_key=KEY) as db:
            sqlite = await measure(db)
        ref_small, ref_large, ref_inserts = reference(folder)

    postgres, why_not = await on_postgres()
    figures: dict[str, object] = {"bench": "storage", "due_rows": DUE - REMINDED}
    figures["audit_entries"] = LARGE + APPENDS
    for engine, measured in (("sqlite", sqlite), ("postgres", postgres)):
        figures.update({f"{name}_{engine}": value for name, value in measured.items()})
    if why_not:
        figures["postgres_skipped"] = why_not
    figures.update(
        reference_due_query_ms_10k=median_ms(ref_small),
        reference_due_query_ms_100k=median_ms(ref_large),
        reference_plain_inserts_per_s=round(ref_inserts),
        ratio=round(sqlite["due_query_ms_100k"] / median_ms(ref_large), 2),
        total_s=round(time.perf_counter() - started, 1),
    )
    lines = [f"due-for-reminder query, next hour ({DUE - REMINDED} rows due), median of {RUNS}:"]
    for engine, measured in (("sqlite", sqlite), ("postgres", postgres)):
        if not measured:
            lines.append(f"{engine}: not measured ({why_not})")
            continue
        ok_time = measured["due_query_ms_100k"] < 5
        ok_flat = measured["flatness_100k_over_10k"] < 1.5
        ok_appends = measured["audit_appends_per_s"] > 2000
        lines += [
            f"{engine}:",
            f"  10k rows:  {measured['due_query_ms_10k']} ms;"
            f" 100k rows: {measured['due_query_ms_100k']} ms"
            f"   target < 5 ms: {'ok' if ok_time else 'MISSED'};"
            f" 100k/10k = {measured['flatness_100k_over_10k']}:"
            f" {'flat' if ok_flat else 'NOT FLAT'}",
            f"  audit appends, chained, one at a time on {LARGE:,} entries: "
            f"{measured['audit_appends_per_s']}/s   target > 2,000/s: "
            f"{'ok' if ok_appends else 'MISSED'}"
            f" (filled in {measured['audit_fill_s']} s;"
            f" verified in {measured['audit_verify_s']} s)",
        ]
    lines.append(
        f"plain sqlite3 reference: due query {figures['reference_due_query_ms_10k']} ms (10k),"
        f" {figures['reference_due_query_ms_100k']} ms (100k);"
        f" inserts {figures['reference_plain_inserts_per_s']}/s;"
        f" ratio (SQLite engine / plain sqlite3, 100k): {figures['ratio']}"
    )
    print("\n".join(lines), flush=True)
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
