"""The entries of one request, found and summed up: who asked what, decided how, ended how.

Owns ``AuditLine`` (one stored entry as people read it: its region and short secret name
spelled out, for CreateSecret too), ``AuditRequest`` (the line a request gets) and
``group_requests``. Entries belong to one request when they share a correlation id (every
entry one request writes), an approval id (the request's votes and its run after approval)
or a cloud request id (a rotation's follow-up shares the id of the call it follows).
Entries written before correlation ids existed are paired the one way they can be: a
``started`` entry with the next outcome of the same actor, action and resource. Pure
functions over entries: never reads storage itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ecs_secret_bot.commands.names import short_secret_name
from ecs_secret_bot.storage.audit import AuditRow

__all__ = ["AuditLine", "AuditRequest", "group_requests"]

_VOTES = ("approve", "deny")
_COUNTED_VOTES = ("recorded", "approved")
_ENDS = ("executed", "failed", "outcome unknown")


def _where(resource: str) -> tuple[str, str]:
    """Return (region, short secret name) of an ARN; empty parts where it has none."""
    parts = resource.split(":", 4)
    region = parts[2] if len(parts) == 5 and parts[0] == "acs" else ""
    _, found, name = resource.partition(":secret/")
    return region, short_secret_name(name) if found else ""


@dataclass(frozen=True)
class AuditLine:
    """One audit entry as people read it: its region and short secret name spelled out."""

    seq: int
    at: datetime
    actor: str
    action: str
    resource: str
    region: str
    """The region of the resource's ARN; empty when the resource is not an ARN."""
    secret_name: str
    """The secret's short name (for CreateSecret, the new secret's); empty when none."""
    channel_id: str
    decision: str
    reason: str
    outcome: str
    request_id: str
    """The cloud's request id of the call this entry records, if any."""
    approval_id: str
    correlation_id: str = ""
    """Shared by every entry of one request (empty on entries written before schema 4)."""
    detail: Mapping[str, Any] = field(default_factory=dict)
    """The entry's non-secret details (parameters, who approved)."""
    intact: bool = True
    """Its contents match its MAC; False: it was changed after it was written."""

    @classmethod
    def of(cls, row: AuditRow) -> AuditLine:
        """Return the stored entry as people read it."""
        region, name = _where(row.subject or row.resource)
        if not name:  # a CreateSecret entry written before entries named their secret
            params = row.detail.get("params")
            if isinstance(params, Mapping) and isinstance(params.get("secret"), str):
                region, name = _where(params["secret"])
        return cls(
            seq=row.seq,
            at=row.at,
            actor=row.actor,
            action=row.action,
            resource=row.resource,
            region=region or _where(row.resource)[0],
            secret_name=name,
            channel_id=row.channel_id,
            decision=row.decision,
            reason=row.reason,
            outcome=row.outcome,
            request_id=row.request_id,
            approval_id=row.approval_id,
            correlation_id=row.correlation_id,
            detail=dict(row.detail),
            intact=row.intact,
        )

    @property
    def is_vote(self) -> bool:
        """Say whether it records an approver's vote rather than a step of the request."""
        return bool(self.approval_id) and self.decision in _VOTES


@dataclass(frozen=True)
class AuditRequest:
    """One request, as one line: who asked what about which secret, the decision, the end."""

    id: str
    """The request's correlation id, else its approval id, else ``#<first entry>``."""
    at: datetime
    """When it was made (its first entry)."""
    requester: str
    action: str
    region: str
    secret_name: str
    """The secret's short name; empty for entries about no secret."""
    channel_id: str
    decision: str
    """``allowed``, ``denied``, ``held``, ``approved``, ``denied by approver``, ``withdrawn``."""
    outcome: str
    """How it ended, or where it stands: the last step's outcome."""
    approvers: tuple[str, ...]
    entries: tuple[AuditLine, ...]
    """Its raw entries, oldest first."""

    @property
    def last_at(self) -> datetime:
        """Return the time of its newest entry."""
        return self.entries[-1].at

    @property
    def altered(self) -> tuple[int, ...]:
        """Return the entries no longer matching their MAC: changed after being written."""
        return tuple(entry.seq for entry in self.entries if not entry.intact)


class _Groups:
    """Union-find over entries, by the ids they share."""

    def __init__(self) -> None:
        self.parent: dict[object, object] = {}

    def find(self, item: object) -> object:
        self.parent.setdefault(item, item)
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def join(self, a: object, b: object) -> None:
        self.parent[self.find(a)] = self.find(b)


def _pair_unkeyed(lines: list[AuditLine], groups: _Groups) -> None:
    """Join each old ``started`` entry to the next outcome of the same step."""
    waiting: dict[tuple[str, str, str, str], int] = {}
    for line in lines:
        if line.correlation_id:
            continue
        step = (line.actor, line.action, line.resource, line.approval_id)
        if line.outcome == "started":
            waiting[step] = line.seq
        elif step in waiting and line.outcome.startswith(_ENDS):
            groups.join(line.seq, waiting.pop(step))


def _decision(steps: list[AuditLine], votes: list[AuditLine]) -> str:
    if any(s.decision == "deny" and s.outcome == "refused" for s in steps):
        return "denied"
    outcomes = [v.outcome for v in votes]
    if "denied" in outcomes:
        return "denied by approver"
    if "withdrawn" in outcomes:
        return "withdrawn"
    held = votes or any(s.decision == "held" or s.approval_id for s in steps)
    if not held:
        return "allowed"
    if "approved" in outcomes or any(s.decision == "allow" for s in steps):
        return "approved"
    return "held"


def _summary(key: str, lines: list[AuditLine]) -> AuditRequest:
    votes = [line for line in lines if line.is_vote]
    steps = [line for line in lines if not line.is_vote] or lines
    first, last = steps[0], steps[-1]
    approvers: list[str] = [
        v.actor for v in votes if v.decision == "approve" and v.outcome in _COUNTED_VOTES
    ]
    for step in steps:
        listed = step.detail.get("approved_by")
        approvers += [str(p) for p in listed] if isinstance(listed, list) else []
    named = next((line for line in lines if line.secret_name), first)
    region, secret_name = named.region, named.secret_name
    secrets = {(line.region, line.secret_name) for line in lines if line.secret_name}
    if len(secrets) > 1:  # a sweep: one request about many secrets
        regions = {where for where, _ in secrets}
        region = regions.pop() if len(regions) == 1 else ""
        secret_name = f"{len(secrets)} secrets"
    outcome = last.outcome
    if outcome == "started":
        outcome = "started; no outcome recorded"
    return AuditRequest(
        id=key,
        at=first.at,
        requester=first.actor,
        action=first.action,
        region=region,
        secret_name=secret_name,
        channel_id=first.channel_id,
        decision=_decision(steps, votes),
        outcome=outcome,
        approvers=tuple(dict.fromkeys(approvers)),
        entries=tuple(lines),
    )


def group_requests(lines: Iterable[AuditLine]) -> list[AuditRequest]:
    """Group entries into requests; return them newest first (by their newest entry)."""
    ordered = sorted(lines, key=lambda line: line.seq)
    groups = _Groups()
    for line in ordered:
        groups.find(line.seq)
        for kind, value in (
            ("c", line.correlation_id),
            ("a", line.approval_id),
            ("r", line.request_id),
        ):
            if value:
                groups.join(line.seq, (kind, value))
    _pair_unkeyed(ordered, groups)
    members: dict[object, list[AuditLine]] = {}
    for line in ordered:
        members.setdefault(groups.find(line.seq), []).append(line)
    requests = []
    for group in members.values():
        key = next((line.correlation_id for line in group if line.correlation_id), "")
        key = key or next((line.approval_id for line in group if line.approval_id), "")
        requests.append(_summary(key or f"#{group[0].seq}", group))
    requests.sort(key=lambda request: request.entries[-1].seq, reverse=True)
    return requests
