"""The reminders before planned deletions: each sent once, whichever replica holds the lease.

Owns the reminder duty. Each reminder is claimed (a compare-and-set insert, under the lease's
fence) before it is posted, and unclaimed when the post fails, so a later tick sends it.

At most once when a holder dies mid-send, on purpose: the claim is committed before the
request leaves for Slack, so a holder killed in the microseconds between the two loses that
reminder, while one killed after Slack received the post (the whole round trip, by far the
wider window) leaves exactly one message. The opposite order (post, then mark) would repeat
the reminder whenever a holder died during that round trip. Slack's chat.postMessage takes no
idempotency key, and the bot may not read channel history, so no order gives exactly once
across a crash; a refused or failed post is retried (at least once where we know it failed).
Never talks Slack.
"""

from __future__ import annotations

import logging

from ecs_secret_bot.commands.durations import format_duration
from ecs_secret_bot.commands.duties.tick import Tick
from ecs_secret_bot.storage import pending

__all__ = ["reminders"]

logger = logging.getLogger(__name__)


async def reminders(tick: Tick) -> None:
    """Send every reminder that came due, the nearest window first, each once."""
    core, fence = tick.core, tick.fence
    now = core.clock()
    windows = sorted(core.settings.reminders_before)  # the nearest first
    labels = [format_duration(w) for w in windows]
    for index, (window, label) in enumerate(zip(windows, labels, strict=True)):
        due = await pending.due_for_reminder(core.db, now=now, within=window, reminder=label)
        # A nearer reminder makes the farther ones moot: one message, not two.
        won = await pending.claim_reminders(
            core.db, [row.id for row in due], label, also=labels[index + 1 :], now=now, fence=fence
        )
        for row in due:
            if row.id not in won:
                continue  # another runner took it
            try:
                await tick.notifier.remind(row, label=label)
            except Exception:
                logger.exception("reminder %s for %s failed; will retry", label, row.secret_name)
                await pending.unmark_reminder(core.db, row.id, label, fence=fence)
                raise
            tick.report.reminders += 1
