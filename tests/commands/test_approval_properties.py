"""Invariants of the approval workflow over random click sequences (hypothesis, real SQLite)."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_approval_workflow import (
    BOTH,
    CUSTOM,
    FORCE_DELETE,
    GUEST,
    KEY,
    MATE,
    PEOPLE,
    SEC1,
    SEC2,
    SRE2,
    Clock,
    Directory,
    workflow,
)

from ecs_secret_bot.commands.approval.requests import ActionRequest
from ecs_secret_bot.storage.db import open_database

VOTERS = [BOTH, SEC1, SEC2, SRE2, MATE, GUEST]
STEPS = st.lists(
    st.tuples(
        # approvals weigh more, so that many sequences get as far as a claim
        st.sampled_from(
            ["approve"] * 5 + ["claim", "claim_many"] * 2 + ["deny", "finish", "wait", "expire"]
        ),
        st.integers(0, len(VOTERS) - 1),
    ),
    min_size=1,
    max_size=16,
)


async def run(request: ActionRequest, steps: list[tuple[str, int]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = await open_database(Path(folder) / "bot.db", data_key=KEY)
        try:
            clock = Clock()
            flow = workflow(db, clock, Directory(PEOPLE))
            row = await flow.open_request(BOTH, request)  # the requester is in every set
            wins = 0
            for op, who in steps:
                actor = VOTERS[who]
                if op == "approve":
                    await flow.approve(row.id, actor)
                elif op == "deny":
                    await flow.deny(row.id, actor)
                elif op == "claim":
                    wins += (await flow.claim_execution(row.id, request)).won
                elif op == "claim_many":
                    claims = await asyncio.gather(
                        *(flow.claim_execution(row.id, request) for _ in range(5))
                    )
                    wins += sum(c.won for c in claims)
                elif op == "finish":
                    await flow.finish(row.id, ok=who % 2 == 0, outcome=f"result {who}")
                elif op == "wait":
                    clock.advance(timedelta(minutes=50))
                else:
                    await flow.expire_due()
                latest = await flow.get(row.id)
                # A request is never approved by its requester.
                assert BOTH.principal not in latest.approved_by
                assert BOTH.principal not in flow.progress(latest).assignment
                if latest.status in ("approved", "executed"):
                    assert flow.progress(latest).complete
                # An approval never executes twice.
                assert wins <= 1
                if latest.status == "executed":
                    assert wins == 1
            event(f"ended {latest.status}")
        finally:
            await db.close()


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.sampled_from([FORCE_DELETE, CUSTOM]), STEPS)
def test_never_self_approved_never_executed_twice(
    asked: ActionRequest, steps: list[tuple[str, int]]
) -> None:
    asyncio.run(run(asked, steps))
