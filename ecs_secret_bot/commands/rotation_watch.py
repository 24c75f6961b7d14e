"""How a rotation ended, read from every signal KMS gives without decrypting anything.

KMS rotates an ECS secret asynchronously: RotateSecret (or PutSecretValue) returns at once,
then a Cloud Assistant command sets the credential on the instance, and KMS's own account
of a failure goes to CloudMonitor (``Secret:RotateSecret:Failure``), not to the API. What
the API does show, and what each look reads:

* the new version's stages (ListSecretVersionIds, deprecated versions included):
  ``ACSCurrent`` means completed; ``ACSPending`` means under way (where KMS shows it at
  all: undocumented for ECS secrets, so nothing here relies on seeing it); a version KMS
  keeps with no stage, or one seen ``ACSPending`` and then gone, means KMS gave it up;
* ``AutomaticRotation`` (DescribeSecret): turning ``Invalid`` after the trigger means a
  failure; a secret that was ``Invalid`` already cannot show a new failure this way, so
  the stages above are what can;
* ``LastRotationDate``, compared with when the rotation was triggered;
* the deadline: past it, the rotation is *not confirmed*, which is said as such, with what
  was seen and where to look next.

A failure is explained by re-running the pre-flight (a Stopped instance, an offline agent).
Owns ``RotationStatus``, ``Before``, ``probe_rotation`` and ``watch_rotation``, and the
words of what was seen (facts, in no front end's syntax). Never records, audits or
reports: ``tracker`` does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from ecs_secret_bot.commands.gateway import CloudGateway, SecretDetail
from ecs_secret_bot.commands.preflight import run_preflight
from ecs_secret_bot.errors import CloudError

__all__ = [
    "CHECK_AGENT",
    "CHECK_EVENT",
    "CHECK_HISTORY",
    "Before",
    "RotationStatus",
    "State",
    "probe_rotation",
    "watch_rotation",
]

State = Literal["completed", "failed", "timed_out", "in_progress"]

CURRENT, PENDING = "ACSCurrent", "ACSPending"
CHECK_AGENT = (
    "the instance's Cloud Assistant (its agent online, the command ACS-KMS-RotateECSSecret "
    "in its command history)"
)
CHECK_HISTORY = "the secret's rotation history in the KMS console"
CHECK_EVENT = "the CloudMonitor event Secret:RotateSecret:Failure, which carries KMS's reason"
_CLOCK_SLACK = timedelta(seconds=2)
"""KMS's clock and ours may differ a little, and LastRotationDate has whole seconds."""


@dataclass(frozen=True)
class RotationStatus:
    """Where one triggered rotation stands, and what KMS showed of it."""

    state: State
    region: str
    name: str
    version_id: str
    reason: str = ""
    """One line: why it failed, or what was seen by the deadline (kept and audited)."""
    seen: tuple[str, ...] = ()
    """Each signal KMS showed at the last look, as a sentence."""
    checks: tuple[str, ...] = ()
    """Where a person can look next (``CHECK_*``), in no front end's syntax."""

    @property
    def finished(self) -> bool:
        """Say whether the rotation reached an end (completed, failed or timed out)."""
        return self.state != "in_progress"


@dataclass(frozen=True)
class Before:
    """What KMS showed of the secret when the rotation was triggered."""

    invalid: bool = False
    """``AutomaticRotation`` read ``Invalid`` already."""
    triggered_at: datetime | None = None
    """When it was triggered (the bot's clock), to tell whether LastRotationDate moved."""


@dataclass(frozen=True)
class _Look:
    stages: tuple[str, ...] | None
    """The new version's stages; None while KMS does not list it."""
    automatic_rotation: str
    last_rotation: datetime | None


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


class _Watch:
    """The looks at one rotation so far, and what they mean."""

    def __init__(
        self, gateway: CloudGateway, region: str, name: str, version_id: str, before: Before
    ) -> None:
        self.gateway = gateway
        self.region, self.name, self.version_id = region, name, version_id
        self.before = before
        self.last: _Look | None = None
        self.seen_pending = False

    def status(self, state: State, reason: str = "", **more: tuple[str, ...]) -> RotationStatus:
        return RotationStatus(state, self.region, self.name, self.version_id, reason, **more)

    async def look(self) -> RotationStatus:
        """Look once: completed, failed or still in progress."""
        try:
            versions = await self.gateway.list_secret_versions(
                self.region, self.name, include_deprecated=True
            )
            mine = next((v for v in versions if v.version_id == self.version_id), None)
            if mine is not None and CURRENT in mine.stages:
                return self.status("completed")
            detail = await self.gateway.describe_secret(self.region, self.name)
        except CloudError as exc:
            if exc.code == "Forbidden.ResourceNotFound":
                return self.status("failed", "the secret no longer exists in KMS")
            raise
        stages = mine.stages if mine is not None else None
        self.last = _Look(stages, detail.automatic_rotation, detail.last_rotation)
        if detail.automatic_rotation == "Invalid" and not self.before.invalid:
            return await self.failed("KMS marked the secret's rotation Invalid", detail)
        if stages is not None and not stages:
            return await self.failed(
                "KMS keeps the new version with no stage, neither ACSPending nor ACSCurrent",
                detail,
            )
        if stages is None and self.seen_pending:
            return await self.failed(
                "the new version was ACSPending, then KMS dropped it without making it current",
                detail,
            )
        self.seen_pending = self.seen_pending or PENDING in (stages or ())
        return self.status("in_progress")

    async def failed(self, fact: str, detail: SecretDetail) -> RotationStatus:
        """Return a failure, explained by the instance's state where it explains it."""
        if detail.ecs is not None:
            report = await run_preflight(self.gateway, self.region, detail.ecs.instance_id)
            broken = next((c for c in report.checks if not c.ok), None)
            if broken is not None:
                reason = f"{fact}: {broken.detail} {broken.next_step}".strip()
                return self.status("failed", reason, seen=self.signals(), checks=(CHECK_EVENT,))
        reason = f"{fact}; the instance is Running and its agent online now, so only KMS knows why"
        return self.status(
            "failed", reason, seen=self.signals(), checks=(CHECK_EVENT, CHECK_AGENT, CHECK_HISTORY)
        )

    def not_confirmed(self) -> RotationStatus:
        """Return the time-out: what the last look showed, and where to look next."""
        seen = self.signals()
        reason = "KMS did not show the new version as ACSCurrent by the deadline"
        if seen:
            reason += ": " + "; ".join(seen)
        return self.status(
            "timed_out",
            reason + ". The rotation may still finish.",
            seen=seen,
            checks=(CHECK_AGENT, CHECK_HISTORY, CHECK_EVENT),
        )

    def signals(self) -> tuple[str, ...]:
        """Say what the last look showed, one sentence per signal."""
        look = self.last
        if look is None:
            return ()
        if look.stages is None:
            version = "KMS never listed the new version"
        elif PENDING in look.stages:
            version = "the new version stayed ACSPending"
        elif look.stages:
            version = f"the new version carries {', '.join(look.stages)}"
        else:
            version = "the new version carries no stage"
        return (version, self._last_rotation(look), self._automatic(look))

    def _last_rotation(self, look: _Look) -> str:
        if look.last_rotation is None:
            return "LastRotationDate is not set"
        triggered = self.before.triggered_at
        if triggered is not None and look.last_rotation < triggered - _CLOCK_SLACK:
            return f"LastRotationDate did not change (still {_when(look.last_rotation)})"
        return f"LastRotationDate reads {_when(look.last_rotation)}"

    def _automatic(self, look: _Look) -> str:
        if self.before.invalid and look.automatic_rotation == "Invalid":
            return "AutomaticRotation stayed Invalid, as it was before the rotation"
        return f"AutomaticRotation reads {look.automatic_rotation or 'nothing'}"


async def probe_rotation(
    gateway: CloudGateway,
    region: str,
    name: str,
    version_id: str,
    *,
    before: Before | None = None,
) -> RotationStatus:
    """Look once: completed, failed or still in progress."""
    return await _Watch(gateway, region, name, version_id, before or Before()).look()


async def watch_rotation(
    gateway: CloudGateway,
    region: str,
    name: str,
    version_id: str,
    *,
    deadline: datetime,
    clock: Callable[[], datetime],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    first_delay: float = 1.0,
    max_delay: float = 15.0,
    growth: float = 2.0,
    before: Before | None = None,
) -> RotationStatus:
    """Look until the rotation finishes or ``deadline`` passes; never raises on time-out."""
    watch = _Watch(gateway, region, name, version_id, before or Before())
    delay = first_delay
    while True:
        await sleep(delay)
        current = await watch.look()
        if current.finished:
            return current
        now = clock()
        if now >= deadline:
            return watch.not_confirmed()
        delay = min(max_delay, delay * growth, max(0.0, (deadline - now).total_seconds()) or delay)
