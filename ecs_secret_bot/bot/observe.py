"""What each Slack request was and how it ended, for the operator: its id, kind and outcome.

Owns the ``RequestObserver`` protocol (the metrics implement it, outside this layer, with
``MetricsPage`` and the duties' ``DutyObserver``: together, ``Telemetry``),
``observed`` (the scope each transport wraps a dispatch in: HTTP in ``http``, Socket Mode
in ``server``) and the request's ``RequestRecord``, reached through a context variable by
the code that learns how the request went: ``settle`` (the error reporter: refused,
failed or error; ``announce``: held for approval or dry run), ``CountedAck`` (the ack's
latency) and ``hold_current`` (work after the ack, which the request waits for).

A request is counted once, when it has ended: its dispatch, the listener that acked it (held
from its ack on: a modal's submission runs in it) and the work it left for after the ack
(``errors.later``). Its outcome is the gravest one settled: ``error`` (a bug, told by reference)
over ``failed`` (the cloud, storage or Slack) over ``refused`` (the request itself: denied,
invalid, not found, in conflict) over ``held_for_approval`` over ``dry_run`` over ``ok``.
Labels are bounded: the subcommand, action id, callback id or event type only where the bot
knows it, else ``other``. The request id bound for log lines (``telemetry.context``) is
Slack's own where there is one (the event id, the trigger id), else one made up here.
Never counts anything itself and never imports prometheus_client.
"""

from __future__ import annotations

import asyncio
import contextvars
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Any, Protocol

from ecs_secret_bot.bot.ids import Action, Callback, Event
from ecs_secret_bot.bot.parse import USAGE
from ecs_secret_bot.commands.ticks import DutyObserver
from ecs_secret_bot.errors import (
    AccessDenied,
    ApprovalError,
    BotError,
    Conflict,
    InvalidInput,
    NotFound,
    PreflightFailed,
)
from ecs_secret_bot.telemetry.context import bind_request_id, reset_request_id

__all__ = [
    "NO_OBSERVER",
    "MetricsPage",
    "Outcome",
    "RequestObserver",
    "RequestRecord",
    "Telemetry",
    "current",
    "hold_current",
    "observed",
    "outcome_of",
    "request_kind",
    "settle",
]


class Outcome(StrEnum):
    """How a request ended, least grave first."""

    OK = "ok"
    DRY_RUN = "dry_run"
    HELD = "held_for_approval"
    REFUSED = "refused"
    FAILED = "failed"
    ERROR = "error"


_GRAVITY = {outcome: rank for rank, outcome in enumerate(Outcome)}
_REFUSALS = (AccessDenied, InvalidInput, NotFound, Conflict, PreflightFailed, ApprovalError)
_ACTIONS = frozenset(Action)
_CALLBACKS = frozenset(Callback)
_EVENTS = frozenset(Event)


class RequestObserver(Protocol):
    """Hears how each Slack request went (the metrics implement it).

    Example (an observer that only logs)::

        class LogObserver:
            def request(self, *, kind: str, name: str, outcome: str) -> None:
                logger.info("%s %s: %s", kind, name, outcome)

            def acked(self, *, kind: str, seconds: float) -> None:
                logger.info("%s acked in %.3fs", kind, seconds)
    """

    def request(self, *, kind: str, name: str, outcome: str) -> None:
        """Note a request of ``kind`` (``name``: its subcommand, action...) that ended so."""
        ...

    def acked(self, *, kind: str, seconds: float) -> None:
        """Note how many seconds a request of ``kind`` waited for its ack."""
        ...


class MetricsPage(Protocol):
    """What ``GET /metrics`` answers (the metrics implement it)."""

    content_type: str

    async def render(self) -> bytes:
        """Return the page, in the Prometheus text format."""
        ...


class Telemetry(RequestObserver, MetricsPage, DutyObserver, Protocol):
    """All a served app reports to, and the page it shows (``telemetry.metrics.Metrics``)."""


class _Nobody:
    """The observer of an app nobody watches (tests, the default)."""

    def request(self, *, kind: str, name: str, outcome: str) -> None:
        """Forget it."""

    def acked(self, *, kind: str, seconds: float) -> None:
        """Forget it."""


NO_OBSERVER: RequestObserver = _Nobody()


def _family(action_id: str) -> str:
    """Return the known action id an element's id belongs to (``restore:12`` -> ``restore``)."""
    base = action_id.partition(":")[0]
    return base if base in _ACTIONS else "other"


def request_kind(body: Any) -> tuple[str, str]:
    """Return what ``body`` asks, as bounded labels: its kind and its name."""
    if not isinstance(body, dict):
        return "other", "other"
    if "command" in body:
        words = str(body.get("text") or "").split()
        sub = words[0].lower() if words else "help"
        return "command", sub if sub in USAGE else "other"
    kind = body.get("type")
    if kind in ("block_actions", "block_suggestion"):
        actions = body.get("actions")
        first = actions[0] if isinstance(actions, list) and actions else body
        action_id = first.get("action_id") if isinstance(first, dict) else ""
        name = _family(str(action_id or ""))
        return ("action" if kind == "block_actions" else "options"), name
    if kind in ("view_submission", "view_closed"):
        view = body.get("view")
        callback = view.get("callback_id") if isinstance(view, dict) else ""
        name = callback if callback in _CALLBACKS else "other"
        return ("view" if kind == "view_submission" else "view_closed"), str(name)
    if kind == "event_callback":
        event = body.get("event")
        event_type = event.get("type") if isinstance(event, dict) else ""
        return "event", str(event_type) if event_type in _EVENTS else "other"
    return "other", "other"


def _slack_id(body: Any) -> str:
    """Return Slack's own id of the request (event id, trigger id), or ""."""
    if not isinstance(body, dict):
        return ""
    for key in ("event_id", "trigger_id"):
        value = body.get(key)
        if isinstance(value, str) and value and len(value) <= 100:
            return value
    return ""


def outcome_of(error: BaseException | None) -> Outcome:
    """Return the outcome a reported error gives: refused, failed, or error (unknown)."""
    if isinstance(error, _REFUSALS):
        return Outcome.REFUSED
    if isinstance(error, BotError):
        return Outcome.FAILED
    return Outcome.ERROR


class RequestRecord:
    """One request: its labels, when it arrived, its outcome so far, what still runs for it."""

    def __init__(self, observer: RequestObserver, *, kind: str, name: str) -> None:
        self.observer = observer
        self.kind = kind
        self.name = name
        self.outcome = Outcome.OK
        self.arrived = time.perf_counter()
        self._holds = 0
        self._acked = False
        self._ended = False
        self._tasks: set[asyncio.Task[Any]] = set()

    def settle(self, outcome: Outcome) -> None:
        """Keep ``outcome`` if it is graver than the one so far."""
        if _GRAVITY[outcome] > _GRAVITY[self.outcome]:
            self.outcome = outcome

    def acked(self) -> None:
        """Note the ack (the first only), and hold the task that acked until it ends."""
        if not self._acked:
            self._acked = True
            self.observer.acked(kind=self.kind, seconds=time.perf_counter() - self.arrived)
        task = asyncio.current_task()
        if task is not None and task not in self._tasks and not task.done():
            self._tasks.add(task)
            self.hold()
            task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self.release()

    def hold(self) -> None:
        """Count one more piece of work the request waits for."""
        self._holds += 1

    def release(self) -> None:
        """Count one piece of work ended; the last one ends the request."""
        self._holds -= 1
        if self._holds <= 0 and not self._ended:
            self._ended = True
            self.observer.request(kind=self.kind, name=self.name, outcome=self.outcome)


_RECORD: contextvars.ContextVar[RequestRecord | None] = contextvars.ContextVar(
    "request_record", default=None
)


def current() -> RequestRecord | None:
    """Return the record of the request the running code serves, if any."""
    return _RECORD.get()


def settle(outcome: Outcome) -> None:
    """Settle the running request's outcome (kept if graver than the one so far)."""
    record = _RECORD.get()
    if record is not None:
        record.settle(outcome)


def hold_current() -> RequestRecord | None:
    """Hold the running request for work that starts later; return it, to release it."""
    record = _RECORD.get()
    if record is not None:
        record.hold()
    return record


@contextmanager
def observed(observer: RequestObserver, body: Any, *, slack_id: str = "") -> Iterator[None]:
    """Serve one request inside: its record and its id bound, counted once it has ended.

    The dispatch's own hold is given back one loop turn after it returns: the tasks it
    started (bolt runs a listener in one) take their first step, and their holds, first.
    """
    kind, name = request_kind(body)
    record = RequestRecord(observer, kind=kind, name=name)
    request_id = _slack_id(body) or slack_id or f"r-{secrets.token_hex(6)}"
    record_token = _RECORD.set(record)
    id_token = bind_request_id(request_id)
    record.hold()
    try:
        yield
    except Exception:
        record.settle(Outcome.ERROR)
        raise
    finally:
        reset_request_id(id_token)
        _RECORD.reset(record_token)
        asyncio.get_running_loop().call_soon(record.release)
