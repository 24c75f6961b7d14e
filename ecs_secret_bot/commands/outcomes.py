"""What the operations answer: one frozen result type per operation, plus the two answers
every mutating operation may give instead (held for approval; a dry run's report).

Results hold names, ids, times and request ids, never a value. They are flat (strings,
numbers, booleans, datetimes, tuples of strings) so that ``encode``/``decode`` can keep the
first answer of an idempotent request in storage and give it again to a repeat.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Union

__all__ = [
    "CreateResult",
    "DeleteResult",
    "DryRunReport",
    "HeldForApproval",
    "OperationResult",
    "RestoreResult",
    "RotateResult",
    "RotationPolicyResult",
    "decode",
    "encode",
]


@dataclass(frozen=True)
class HeldForApproval:
    """The request waits for approval; nothing ran yet."""

    approval_id: str
    action: str
    resource: str
    region: str
    secret_name: str
    rule: str
    needs: str
    """What it needs, e.g. ``1 approval from security``."""
    expires_at: datetime | None
    announce_channel: str
    """Where the approval card goes (the request's channel, else ``[approval] channel``)."""
    approvers: tuple[str, ...]
    """The approver principals and patterns of the rule, for mentions."""
    notify_dm: bool
    requested_by: str
    reason: str = ""


@dataclass(frozen=True)
class DryRunReport:
    """What a mutating request would do, and nothing done."""

    action: str
    resource: str
    region: str
    secret_name: str
    allowed: bool
    decision: str
    """The policy decision's reason."""
    approval_rule: str
    """The rule that would hold it, or empty."""
    preflight: tuple[str, ...]
    """One line per pre-flight check, starting with ``ok:`` or ``failed:``."""
    cloud_call: str
    """The exact call it would make, without values."""
    summary: str


@dataclass(frozen=True)
class CreateResult:
    """A dynamic ECS secret was created."""

    region: str
    secret_name: str
    arn: str
    instance_id: str
    user_name: str
    kind: str
    automatic_rotation: bool
    rotation_interval: str
    next_rotation: datetime | None
    request_id: str
    requested_by: str
    approved_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class RotateResult:
    """A rotation was triggered; ``watch`` tells when it really finished."""

    region: str
    secret_name: str
    instance_id: str
    instance_name: str
    version_id: str
    custom: bool
    request_id: str
    requested_by: str
    rotation_id: int
    """The storage row that follows this rotation until it finishes."""
    deadline: datetime
    approved_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class RotationPolicyResult:
    """Automatic rotation was turned on or off."""

    region: str
    secret_name: str
    enabled: bool
    interval: str
    request_id: str
    requested_by: str
    approved_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeleteResult:
    """A deletion was scheduled (``planned_delete_time``) or done at once."""

    region: str
    secret_name: str
    immediately: bool
    planned_delete_time: datetime | None
    pending_id: int | None
    request_id: str
    requested_by: str
    approved_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class RestoreResult:
    """A scheduled deletion was cancelled."""

    region: str
    secret_name: str
    request_id: str
    requested_by: str
    pending_id: int | None
    approved_by: tuple[str, ...] = ()


OperationResult = CreateResult | RotateResult | RotationPolicyResult | DeleteResult | RestoreResult
_TYPES: dict[str, type[OperationResult | HeldForApproval]] = {
    cls.__name__: cls
    for cls in (
        CreateResult,
        RotateResult,
        RotationPolicyResult,
        DeleteResult,
        RestoreResult,
        HeldForApproval,
    )
}


def encode(result: OperationResult | HeldForApproval) -> dict[str, Any]:
    """Return a JSON-ready dict of a result (datetimes as ISO text)."""
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(result):
        value = getattr(result, f.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        fields[f.name] = value
    return {"type": type(result).__name__, "fields": fields}


def decode(data: dict[str, Any]) -> OperationResult | HeldForApproval:
    """Rebuild a result from ``encode``'s dict."""
    cls = _TYPES[data["type"]]
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, raw in data["fields"].items():
        hint = hints[name]
        if raw is not None and _is(hint, datetime):
            raw = datetime.fromisoformat(raw)
        elif isinstance(raw, list):
            raw = tuple(raw)
        values[name] = raw
    return cls(**values)


def _is(hint: Any, kind: type) -> bool:
    if hint is kind:
        return True
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        return kind in typing.get_args(hint)
    return False
