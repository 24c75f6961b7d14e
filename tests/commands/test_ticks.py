"""The duties' schedule: a tick is due one interval after the previous one started."""

from __future__ import annotations

from datetime import timedelta

from ecs_secret_bot.commands.ticks import TickSchedule


def test_a_tick_that_overruns_its_interval_makes_the_next_one_late() -> None:
    now = [100.0]
    schedule = TickSchedule(timedelta(seconds=30), clock=lambda: now[0])
    assert schedule.start() == 0.0  # the first tick is never late
    now[0] += 30.0
    assert schedule.start() == 0.0  # on time
    now[0] += 30.0 + 7.5  # the tick before took 7.5 s, then the loop waited 30
    assert schedule.start() == 7.5
    now[0] += 10.0  # early (a restart, a stop): not negative
    assert schedule.start() == 0.0
