"""Three replicas on one database: the failover of the duties, and fifty racing Approve clicks.

Three real ``ecs-secret-bot serve`` processes (``tests/fakes/replicas.py``, the harness of the
replica scenarios) share one database, one loopback fake Slack and one sandbox in this
process; the duties run every second under a 3 s lease (``[duties]``). Two figures:

- ``failover_s``: from the ``kill -9`` of the lease holder to the first duty tick on another
  replica (its taking of the lease, which starts the tick: ``acquired_at`` of the new lease
  row). Bounded by the lease TTL plus one interval; ``ratio`` is failover_s / that bound.
- ``approve_race_executions``: an immediate deletion held for approval; the approver's 50
  Approve clicks go to the three replicas in turn, all at once: DeleteSecret calls the sandbox
  received (must be 1).

``engine`` says which database the replicas shared: a throwaway PostgreSQL (started as the
tests start theirs, ``tests/fakes/postgres.py``) when the machine has its server programs,
else SQLite (one file, WAL), with why not.

Run from the repository root: ``python bench/replicas.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakes import FakeSlackAPI  # noqa: E402
from fakes import workspace as ws  # noqa: E402
from fakes.bot import SEC, SRE, bot_policies  # noqa: E402
from fakes.postgres import PostgresServer, missing_reason  # noqa: E402
from fakes.replicas import (  # noqa: E402
    Replicas,
    ask_to_delete,
    button_value,
    card,
    delete_values,
)
from fakes.serve_process import serve_config  # noqa: E402

from ecs_secret_bot.bot.ids import Action  # noqa: E402
from ecs_secret_bot.sandbox import Sandbox  # noqa: E402

INTERVAL, TTL = 1, 3
CLICKS = 50


async def approve_race(replicas: Replicas, slack: FakeSlackAPI, cloud: Sandbox) -> int:
    """Hold an immediate deletion for approval, click Approve fifty times; count executions."""
    await ask_to_delete(
        replicas.next(), "delete batch-7-root --now", delete_values("now", name="batch-7-root")
    )
    await slack.wait_for(
        "chat.postMessage", lambda c: "Approval request" in c.payload.get("text", ""), timeout=15
    )
    request = card(slack)
    approve = button_value(request, Action.APPROVE)
    await asyncio.gather(
        *(
            replica.click(Action.APPROVE, value=approve, message=request, user=ws.ADMIN_ID)
            for replica in replicas.spread(CLICKS)
        )
    )
    await slack.wait_for(
        "chat.postMessage", lambda c: "deleted immediately" in c.payload.get("text", ""), timeout=15
    )
    await asyncio.sleep(1.0)  # a second execution would have reached the cloud by now
    return cloud.calls.total("DeleteSecret")


async def failover(replicas: Replicas) -> float:
    """Kill the lease holder; return the seconds until another replica's first tick."""
    first = await replicas.holder()
    holder = replicas.owner_of(first)
    assert holder is not None
    await asyncio.sleep(INTERVAL * 1.5)  # the holder has ticked a few times
    killed = datetime.now(UTC)
    await replicas.kill(holder)
    second = await replicas.holder(other_than=first, timeout=TTL + INTERVAL + 30)
    return (second.acquired_at - killed).total_seconds()


@contextlib.contextmanager
def database() -> Iterator[tuple[str, str, str]]:
    """Yield (engine, database URL or "", why not PostgreSQL or "")."""
    reason = missing_reason()
    if reason is not None:
        yield "sqlite", "", reason
        return
    with PostgresServer() as server:
        yield "postgres", server.create_database(), ""


async def main() -> None:
    cloud = Sandbox(seed=True)
    await cloud.start(port=0, grace=0.5)
    try:
        async with FakeSlackAPI() as slack:
            slack.set_usergroup(SRE, [ws.ALICE_ID], handle="sre")
            slack.set_usergroup(SEC, [ws.ADMIN_ID], handle="security")
            with tempfile.TemporaryDirectory() as folder, database() as (engine, url, why_not):
                config = serve_config(
                    Path(folder),
                    cloud_url=cloud.url,
                    policies=bot_policies(),
                    extra=f'[duties]\ninterval = "{INTERVAL}s"\nlease_ttl = "{TTL}s"\n',
                    database_url=url,
                )
                replicas = await Replicas.start(config, slack=slack, count=3)
                try:
                    executions = await approve_race(replicas, slack, cloud)
                    failover_s = await failover(replicas)
                finally:
                    await replicas.stop()
    finally:
        await cloud.stop()
    where = (
        "a throwaway PostgreSQL" if engine == "postgres" else f"SQLite (no PostgreSQL: {why_not})"
    )
    print(f"engine: {where}; 3 replicas, [duties] interval {INTERVAL}s, TTL {TTL}s")
    print(f"failover_s: {failover_s:.2f} (bound: TTL + interval = {TTL + INTERVAL} s)")
    print(f"approve_race_executions: {executions} of {CLICKS} clicks (target: 1)")
    print(
        json.dumps(
            {
                "bench": "replicas",
                "engine": engine,
                "replicas": 3,
                "lease_ttl_s": TTL,
                "interval_s": INTERVAL,
                "failover_s": round(failover_s, 3),
                "approve_clicks": CLICKS,
                "approve_race_executions": executions,
                "ratio": round(failover_s / (TTL + INTERVAL), 3),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
