"""The incident sweep: rotate every secret a compromise touches, as one approved request.

The public surface the front ends use::

    plan = await plan_sweep(selector, actor=actor, core=core)       # the exact set; a dry run
    runner = SweepRunner(core, tracker=tracker, notifier=notifier, concurrency=5)
    snapshot = await runner.start(plan, actor=actor, reason="INC-1234")  # runs, or one approval
    await runner.approved(sweep_id)            # its approval completed (ApprovalStep.sweep_id)
    await runner.stop(snapshot.sweep_id, actor=actor)
    await runner.resume()                      # at start-up: what storage holds unfinished
"""

from ecs_secret_bot.commands.sweeps.model import (
    FINAL_ITEM_STATES,
    FINAL_SWEEP_STATUSES,
    ItemState,
    SweepCounts,
    SweepItem,
    SweepNotifier,
    SweepPlan,
    SweepSelector,
    SweepSnapshot,
    SweepStatus,
    set_digest,
)
from ecs_secret_bot.commands.sweeps.plan import parse_tag, plan_sweep
from ecs_secret_bot.commands.sweeps.runner import (
    DEFAULT_CONCURRENCY,
    MAX_CONCURRENCY,
    SweepRunner,
    check_concurrency,
)

__all__ = [
    "DEFAULT_CONCURRENCY",
    "FINAL_ITEM_STATES",
    "FINAL_SWEEP_STATUSES",
    "MAX_CONCURRENCY",
    "ItemState",
    "SweepCounts",
    "SweepItem",
    "SweepNotifier",
    "SweepPlan",
    "SweepRunner",
    "SweepSelector",
    "SweepSnapshot",
    "SweepStatus",
    "check_concurrency",
    "parse_tag",
    "plan_sweep",
    "set_digest",
]
