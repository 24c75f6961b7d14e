"""What an approval is about, frozen; and the outcomes the workflow hands back.

Owns ``ActionRequest`` (action, resource, region, secret, non-secret parameters and the
request's condition keys) with its fingerprint, which binds an approval to exactly what was
asked; the way a request is stored in and read back from an approval row; the typed
outcomes of a vote and of an execution claim; and the sentences that tell a latecomer what
already happened. Never touches storage itself and never holds a secret value in clear
where it could be printed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Protocol

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.approval.rules import Tally
from ecs_secret_bot.storage.approvals import ApprovalRow

__all__ = [
    "INTERRUPTED",
    "ActionRequest",
    "ActorDirectory",
    "ExecutionClaim",
    "VoteOutcome",
    "VoteResult",
    "closed_message",
    "members_of",
    "request_of",
    "stored_params",
    "sweep_of",
    "when",
]

INTERRUPTED = "started at "
"""How the outcome of a claimed execution begins until its result is recorded."""


def _frozen(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


@dataclass(frozen=True)
class ActionRequest:
    """One operation exactly as asked: what runs after approval is this and nothing else."""

    action: str
    resource: str
    region: str = ""
    secret_name: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    """Non-secret parameters of the operation (JSON values): days, interval, instance..."""
    request_keys: Mapping[str, Any] = field(default_factory=dict)
    """Condition keys of the request: ``kms:ForceDeleteWithoutRecovery``..."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _frozen(self.params))
        object.__setattr__(self, "request_keys", _frozen(self.request_keys))

    def fingerprint(self) -> str:
        """Return the SHA-256 of the request, canonically serialised."""
        body = json.dumps(
            {
                "action": self.action,
                "resource": self.resource,
                "region": self.region,
                "secret_name": self.secret_name,
                "params": dict(self.params),
                "request_keys": dict(self.request_keys),
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(body.encode("utf-8")).hexdigest()


def stored_params(request: ActionRequest, actor: Actor) -> dict[str, Any]:
    """Return what an approval row keeps of a request (and of where it was asked)."""
    return {
        "params": dict(request.params),
        "request_keys": dict(request.request_keys),
        "asked_in": {"channel_name": actor.channel_name, "team_id": actor.team_id},
    }


def request_of(row: ApprovalRow) -> ActionRequest:
    """Return the request an approval row holds, as it was frozen."""
    return ActionRequest(
        action=row.action,
        resource=row.resource,
        region=row.region,
        secret_name=row.secret_name,
        params=row.params.get("params", {}),
        request_keys=row.params.get("request_keys", {}),
    )


def sweep_of(row: ApprovalRow) -> str:
    """Return the id of the sweep an approval request holds, or "" for a single request."""
    return str(row.params.get("params", {}).get("sweep_id", ""))


def members_of(request: ActionRequest) -> tuple[ActionRequest, ...]:
    """Return the secrets a sweep's request covers (each as a single rotation); () otherwise."""
    return tuple(
        ActionRequest(
            action=request.action,
            resource=str(m["resource"]),
            region=str(m["region"]),
            secret_name=str(m["secret_name"]),
            request_keys=m.get("request_keys", {}),
        )
        for m in request.params.get("members", ())
    )


class ActorDirectory(Protocol):
    """Fresh facts about a principal, for checks made when nobody is clicking.

    The Slack layer implements it with ``users.info`` and ``usergroups.users.list``::

        class SlackDirectory:
            async def lookup(self, principal: str) -> Actor | None:
                user = await client.users_info(user=principal.rsplit(":", 1)[-1])
                return Actor(principal, groups=await groups_of(user), is_guest=...)
    """

    async def lookup(self, principal: str) -> Actor | None:
        """Return the principal with its groups and membership facts, or None if unknown."""
        ...


class VoteResult(StrEnum):
    """What a click on Approve or Deny did."""

    RECORDED = "recorded"
    """Counted; the request still waits for other approvals."""
    APPROVED = "approved"
    """This approval completed the request: it may run now."""
    DENIED = "denied"
    """This denial ended the request."""
    WITHDRAWN = "withdrawn"
    """The requester withdrew the request."""
    REFUSED = "refused"
    """This person may not vote on it; nothing changed."""
    DUPLICATE = "duplicate"
    """This person already voted; nothing changed."""
    CLOSED = "closed"
    """Too late: the request was already decided, expired, executed or failed."""
    EXPIRED = "expired"
    """The request passed its expiry; this click closed it."""


@dataclass(frozen=True)
class VoteOutcome:
    """The result of one vote, with a sentence for the person who clicked."""

    result: VoteResult
    message: str
    approval: ApprovalRow
    tally: Tally | None = None

    @property
    def changed(self) -> bool:
        """Say whether the request's card needs updating."""
        return self.result in (
            VoteResult.RECORDED,
            VoteResult.APPROVED,
            VoteResult.DENIED,
            VoteResult.WITHDRAWN,
            VoteResult.EXPIRED,
        )


@dataclass(frozen=True)
class ExecutionClaim:
    """The right to run an approved request, won by exactly one caller."""

    won: bool
    message: str
    approval: ApprovalRow
    request: ActionRequest | None = None
    """What to run, exactly as approved (only when ``won``)."""
    payload: bytes | None = field(default=None, repr=False)
    """The custom value held with the request, if any (only when ``won``)."""


def when(moment: datetime | None) -> str:
    """Spell a moment for people: ``2025-06-01 14:00 UTC``."""
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "an unknown time"


def closed_message(row: ApprovalRow) -> str:
    """Tell someone arriving late what already happened to the request."""
    approvers = ", ".join(row.approved_by) or "nobody"
    if row.status == "approved":
        return f"It was already approved by {approvers}."
    if row.status == "denied":
        if row.outcome:
            return f"It was already closed: {row.outcome}."
        return f"It was already denied by {', '.join(row.denied_by) or 'someone'}."
    if row.status == "expired":
        return f"It expired at {when(row.expires_at)}."
    if row.status == "executed":
        if row.outcome.startswith(INTERRUPTED):
            return f"It was approved by {approvers} and is already running ({row.outcome})."
        return f"It was approved by {approvers} and has already run: {row.outcome}."
    if row.status == "failed":
        return f"It was closed without running: {row.outcome}."
    return "It is still waiting for approval."
