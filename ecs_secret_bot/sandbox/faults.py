"""Fault injection: make chosen actions slow, throttled, failing or cut off, and rotations
fail, stick or drag.

A fault applies to one action (``"RotateSecret"``) or to all (``"*"``), for its next
``times`` calls or until cleared. Kinds that act on the call:

* ``latency``: wait ``latency`` seconds, then answer normally (latency faults add up
  and combine with one of the others);
* ``throttling``: 429 ``Rejected.Throttling`` ("QPS Limit Exceeded");
* ``server_error``: ``status`` 500 ``InternalFailure`` (default) or 503
  ``ServiceUnavailable``;
* ``drop``: close the connection without answering (the SDK raises
  ``UnretryableException``).

These act after the signature check, so a faulted call is still an authenticated one,
and before the action runs, so it changes nothing. Kinds that act on the change a
RotateSecret or PutSecretValue starts (the call itself succeeds; ``kms_state`` asks for
one when it begins a change):

* ``rotation_failure``: the Cloud Assistant command fails although the instance is fine:
  ``AutomaticRotation`` turns ``Invalid``, the new version loses ``ACSPending``, and the
  failure event says ``ExitCodeNonzero``;
* ``rotation_stuck``: the new version stays ``ACSPending`` and nothing else changes (no
  ``Invalid``, no event), as a command that never reports back;
* ``rotation_slow``: the change succeeds, after ``latency`` seconds instead of the
  sandbox's ``rotation_delay``.

    sb.faults.add(action="RotateSecret", kind="throttling", times=2)
    sb.faults.add(kind="latency", latency=0.2)      # every action, until cleared
    sb.faults.add(action="RotateSecret", kind="rotation_stuck", times=1)
    sb.faults.clear()
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any, Literal, cast

from ecs_secret_bot.sandbox.errors import ApiError

__all__ = ["ROTATION_KINDS", "Fault", "FaultKind", "Faults", "Outcome"]

FaultKind = Literal[
    "latency",
    "throttling",
    "server_error",
    "drop",
    "rotation_failure",
    "rotation_stuck",
    "rotation_slow",
]
ROTATION_KINDS: tuple[str, ...] = ("rotation_failure", "rotation_stuck", "rotation_slow")
_KINDS: tuple[str, ...] = ("latency", "throttling", "server_error", "drop", *ROTATION_KINDS)
_SERVER_ERRORS = {
    500: ("InternalFailure", "An internal error occurred. Try again later."),
    502: ("BadGateway", "The gateway received an invalid response. Try again later."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable. Try again later."),
}


@dataclass
class Fault:
    """One injected fault; ``times`` is how many more calls it affects (None: no limit)."""

    id: int
    action: str
    kind: FaultKind
    times: int | None
    latency: float
    status: int

    def as_dict(self) -> dict[str, Any]:
        """Return the fault as JSON-ready data."""
        return asdict(self)


@dataclass(frozen=True)
class Outcome:
    """What the faults decided for one call: a delay, then maybe an error or a drop."""

    delay: float = 0.0
    error: ApiError | None = None
    drop: bool = False


class Faults:
    """The active faults, consulted once per call."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(
        self,
        *,
        action: str = "*",
        kind: FaultKind | str,
        times: int | None = None,
        latency: float = 0.05,
        status: int = 500,
    ) -> Fault:
        """Inject a fault on ``action`` (or ``"*"``) for ``times`` calls (None: until cleared)."""
        if kind not in _KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {', '.join(_KINDS)}")
        if not isinstance(action, str) or not action:
            raise ValueError('action must be an action name such as "RotateSecret", or "*"')
        if times is not None and (isinstance(times, bool) or not isinstance(times, int)):
            raise ValueError("times must be a whole number or None")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for until cleared)")
        if isinstance(latency, bool) or not isinstance(latency, int | float) or latency < 0:
            raise ValueError("latency must be a number of seconds, zero or more")
        if kind == "server_error" and status not in _SERVER_ERRORS:
            raise ValueError(f"status must be one of {sorted(_SERVER_ERRORS)}")
        fault = Fault(
            id=next(self._ids),
            action=action,
            kind=cast(FaultKind, kind),
            times=times,
            latency=float(latency),
            status=status,
        )
        self._faults.append(fault)
        return fault

    def remove(self, fault_id: int) -> bool:
        """Remove one fault by id; return whether it was there."""
        before = len(self._faults)
        self._faults = [f for f in self._faults if f.id != fault_id]
        return len(self._faults) != before

    def clear(self, action: str | None = None) -> None:
        """Remove every fault (or every fault registered for ``action``)."""
        self._faults = [f for f in self._faults if action is not None and f.action != action]

    @property
    def active(self) -> list[Fault]:
        """Return the faults still in force, oldest first."""
        return list(self._faults)

    def take(self, action: str) -> Outcome:
        """Decide the fate of one call of ``action``, using up one of each applied fault."""
        delay = 0.0
        decisive: Fault | None = None
        used: list[Fault] = []
        for fault in self._faults:
            if fault.action not in ("*", action) or fault.kind in ROTATION_KINDS:
                continue
            if fault.kind == "latency":
                delay += fault.latency
                used.append(fault)
            elif decisive is None:
                decisive = fault
                used.append(fault)
        self._use(used)
        if decisive is None:
            return Outcome(delay=delay)
        if decisive.kind == "drop":
            return Outcome(delay=delay, drop=True)
        if decisive.kind == "throttling":
            error = ApiError(429, "Rejected.Throttling", "QPS Limit Exceeded")
        else:
            code, message = _SERVER_ERRORS[decisive.status]
            error = ApiError(decisive.status, code, message)
        return Outcome(delay=delay, error=error)

    def take_rotation(self, action: str) -> Fault | None:
        """Return the rotation fault for a change ``action`` starts (using it up), or None."""
        fault = next(
            (f for f in self._faults if f.kind in ROTATION_KINDS and f.action in ("*", action)),
            None,
        )
        if fault is not None:
            self._use([fault])
        return fault

    def _use(self, used: list[Fault]) -> None:
        for fault in used:
            if fault.times is not None:
                fault.times -= 1
        self._faults = [f for f in self._faults if f.times is None or f.times > 0]
