"""One change at a time per secret: the claim every executor runs under.

Two people who click Restore on one secret at the same moment send two requests with two
request ids, which idempotency does not join. The secret's claim does: an executor takes it
before it re-checks the secret and gives it back once the outcome is recorded, so at most
one change of a secret reaches the cloud at a time. Whoever comes while it is held is told
what is under way and for whom (``ChangeInProgress``); whoever comes after re-checks and
finds the secret as the first change left it (restored: nothing to restore).

The claim is a storage lease named after the secret (compare-and-set, across processes),
whose owner says which request holds it; a claim left by a process that died lapses after
``CLAIM_TTL``, longer than any executor's cloud calls with their retries take.

Never calls the cloud, never decides who may do what.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from ecs_secret_bot.commands.approval.requests import ActionRequest, when
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.errors import Conflict, NextStep, Subcommand
from ecs_secret_bot.storage import leases

__all__ = [
    "CLAIM_TTL",
    "ChangeInProgress",
    "Holder",
    "claim_name",
    "holder",
    "holding",
    "one_at_a_time",
]

logger = logging.getLogger(__name__)

CLAIM_TTL = timedelta(minutes=2)
_PREFIX = "secret|"
_WHAT = {
    "kms:CreateSecret": "its creation",
    "kms:DeleteSecret": "a deletion",
    "kms:PutSecretValue": "a rotation",
    "kms:RestoreSecret": "a restore",
    "kms:RotateSecret": "a rotation",
    "kms:UpdateSecretRotationPolicy": "a change of its rotation policy",
}


@dataclass(frozen=True)
class Holder:
    """The request that holds a secret's claim: what it does, for whom, since when."""

    action: str
    requested_by: str
    since: datetime
    until: datetime

    @property
    def what(self) -> str:
        """Return the change in words, e.g. ``a restore``."""
        return _WHAT.get(self.action, self.action)


class ChangeInProgress(Conflict):
    """Another request is changing the secret right now; ``holder`` is that request."""

    def __init__(self, user_message: str, *, next_step: NextStep, holder: Holder) -> None:
        super().__init__(user_message, next_step=next_step)
        self.holder = holder


def claim_name(region: str, secret_name: str) -> str:
    """Return the name of a secret's claim."""
    return f"{_PREFIX}{region}|{secret_name}"


def _owner(token: str, action: str, requested_by: str) -> str:
    return f"{token} {action} {requested_by}"


async def holder(core: Core, region: str, secret_name: str) -> Holder | None:
    """Return the request holding the secret's claim, or None if nobody does (any more)."""
    lease = await leases.get_lease(core.db, claim_name(region, secret_name))
    if lease is None or lease.expires_at <= core.clock():
        return None
    _, action, requested_by = (lease.owner.split(" ", 2) + ["", ""])[:3]
    return Holder(action, requested_by, since=lease.acquired_at, until=lease.expires_at)


@asynccontextmanager
async def holding(core: Core, request: ActionRequest, *, requested_by: str) -> AsyncIterator[None]:
    """Hold the claim of the secret ``request`` changes; raise ChangeInProgress if held."""
    name = claim_name(request.region, request.secret_name)
    owner = _owner(uuid.uuid4().hex, request.action, requested_by)
    for _ in range(3):  # a claim given back between our two statements: try again
        if await leases.acquire_lease(core.db, name, owner=owner, now=core.clock(), ttl=CLAIM_TTL):
            break
        current = await holder(core, request.region, request.secret_name)
        if current is None:
            continue
        short = request.secret_name.removeprefix("acs/ecs/")
        raise ChangeInProgress(
            f"{short} is being changed right now: {current.what} by {current.requested_by}, "
            f"since {when(current.since)}.",
            next_step=NextStep(
                "Wait for its answer, then {command} shows the secret as it left it (a change "
                f"that was cut short gives its claim back by {when(current.until)}).",
                Subcommand("show", (short,)),
            ),
            holder=current,
        )
    else:
        raise Conflict(
            f"{request.secret_name.removeprefix('acs/ecs/')} is being changed right now.",
            next_step="Wait for its answer, then look at the secret again.",
        )
    try:
        yield
    finally:
        # Shielded: a stop that cancels the request still gives the claim back. A claim the
        # database cannot take back now lapses by itself: its failure never hides the answer.
        try:
            await asyncio.shield(leases.release_lease(core.db, name, owner=owner))
        except Exception:
            logger.warning("could not give back the claim %s; it lapses", name, exc_info=True)


class _Cleared(Protocol):
    """What the claim needs of a cleared request (``pipeline.Execution``)."""

    @property
    def request(self) -> ActionRequest: ...

    @property
    def requested_by(self) -> str: ...


E = TypeVar("E", bound=_Cleared)
T = TypeVar("T")


def one_at_a_time(run: Callable[[Core, E], Awaitable[T]]) -> Callable[[Core, E], Awaitable[T]]:
    """Return ``run`` holding, while it runs, the claim of the secret it changes."""

    async def claimed(core: Core, execution: E) -> T:
        async with holding(core, execution.request, requested_by=execution.requested_by):
            return await run(core, execution)

    return claimed
