"""Background duties: what the bot does when nobody is typing, on exactly one replica.

One tick does, in order: reminders before planned deletions (``reminders``); expiry of
approval requests; the card of a request nobody could post (made at a terminal, or refused
where it was asked), each request on its own so one that cannot be posted never holds up the
others, tried again later and later and given up after ``CARD_ATTEMPTS`` failed tries (the
requester told); each card brought up to date once per vote or end (votes may come from a
terminal); a re-announcement of requests waiting too long (``cards``); reconciliation of
pending deletions with KMS (restored or deleted elsewhere, ``unknown`` rows left by a crash,
deletions scheduled outside the bot: ``reconcile``); handing the process's
``RotationTracker`` the follow-ups whose replica stopped beating (a replica that died, or a
restart); and the audit log's daily anchor. All state is in the database, every "done" is a
compare-and-set, and only the holder of the ``duties`` lease runs a tick (``runner``), its
writes fenced by the lease's token, so a restart neither drops nor repeats a duty and
several replicas on one database do each once.

What people see goes through a ``Notifier`` (the Slack layer implements it; the end of a
rotation goes through the tracker's own notifier). The clock is injected, so tests move
time instead of sleeping. Never follows a rotation itself; never talks Slack; never
decides policy.
"""

from __future__ import annotations

from ecs_secret_bot.commands.duties.cards import (
    ANNOUNCE_AFTER,
    CARD_ATTEMPTS,
    CARD_MEMORY,
    CARD_RETRIES_FOR,
)
from ecs_secret_bot.commands.duties.lease import LEASE, DutyLease, duty_lease
from ecs_secret_bot.commands.duties.notifier import Notifier
from ecs_secret_bot.commands.duties.reconcile import RECONCILE_CONCURRENCY, Reconciler
from ecs_secret_bot.commands.duties.runner import DutyRunner
from ecs_secret_bot.commands.duties.tick import Tick
from ecs_secret_bot.commands.ticks import TickReport

__all__ = [
    "ANNOUNCE_AFTER",
    "CARD_ATTEMPTS",
    "CARD_MEMORY",
    "CARD_RETRIES_FOR",
    "LEASE",
    "RECONCILE_CONCURRENCY",
    "DutyLease",
    "DutyRunner",
    "Notifier",
    "Reconciler",
    "Tick",
    "TickReport",
    "duty_lease",
]
