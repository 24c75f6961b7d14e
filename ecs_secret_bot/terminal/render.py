"""What ``ecs-secret`` prints: aligned tables and sentences, or one JSON object.

Owns ``jsonable`` (any result of the core as JSON values: dataclasses as objects, times as
ISO 8601, durations as ``7d``, next steps in the terminal's words), ``table`` and the text
of each result type of the core (the audit's, which takes options, in ``render_audit``).
Results never hold a secret value, so nothing printed here can. Errors are ``report``'s.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from ecs_secret_bot.commands.durations import format_duration
from ecs_secret_bot.commands.outcomes import (
    CreateResult,
    DeleteResult,
    DryRunReport,
    HeldForApproval,
    RestoreResult,
    RotationPolicyResult,
)
from ecs_secret_bot.commands.queries import (
    ApprovalItem,
    ApprovalsListing,
    PendingListing,
    SecretListing,
    SecretRow,
    SecretView,
    WhoAmI,
)
from ecs_secret_bot.errors import NextStep
from ecs_secret_bot.terminal.report import next_step_text

__all__ = [
    "jsonable",
    "short",
    "table",
    "text_of",
    "when",
]


def jsonable(value: Any) -> Any:
    """Return ``value`` as JSON values (dicts, lists, strings, numbers, booleans, null)."""
    if isinstance(value, NextStep):
        return next_step_text(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(jsonable(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def when(moment: datetime | None) -> str:
    """Spell a moment in UTC to the minute, or ``-``."""
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "-"


def short(name: str) -> str:
    """Return a secret name without ``acs/ecs/``."""
    return name.removeprefix("acs/ecs/")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Return rows under headers, columns aligned on the widest cell."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(headers), *(line(r) for r in rows)])


# --- one function per result type ---------------------------------------------------------


def _created(r: CreateResult) -> str:
    rotation = f"on, every {r.rotation_interval}" if r.automatic_rotation else "off"
    return (
        f"Created {r.secret_name} in {r.region}: {r.kind} of {r.user_name} on {r.instance_id}.\n"
        f"Automatic rotation: {rotation}. KMS request id {r.request_id}."
    )


def _policy(r: RotationPolicyResult) -> str:
    state = f"on, every {r.interval}" if r.enabled else "off"
    return f"Automatic rotation of {short(r.secret_name)} is now {state}."


def _deleted(r: DeleteResult) -> str:
    name = short(r.secret_name)
    if r.immediately:
        return f"{name} was deleted immediately; it cannot be restored."
    return (
        f"{name} is scheduled for deletion on {when(r.planned_delete_time)}.\n"
        f"Until then: ecs-secret restore {name}"
    )


def _restored(r: RestoreResult) -> str:
    return f"{short(r.secret_name)} is restored: its deletion is cancelled."


def _held(r: HeldForApproval) -> str:
    expires = f", until {when(r.expires_at)}" if r.expires_at else ""
    return (
        f"Held for approval: {r.action} on {short(r.secret_name)} waits for {r.needs} "
        f"(rule {r.rule}{expires}). Nothing ran yet.\n"
        f"Approval id {r.approval_id}. An approver runs it with `ecs-secret approve "
        f"{r.approval_id}`, or with Approve in Slack (/ecs-secret approvals, App Home)."
    )


def _dry_run(r: DryRunReport) -> str:
    lines = [
        f"Dry run: {r.action} on {r.resource}",
        f"  policy:    {'allowed' if r.allowed else 'not allowed'}: {r.decision}",
        f"  approval:  {r.approval_rule or 'none needed'}",
    ]
    lines += [f"  pre-flight {line}" for line in r.preflight]
    lines += [f"  cloud call: {r.cloud_call}", r.summary]
    return "\n".join(lines)


def _state(s: SecretRow) -> str:
    return f"deletes {when(s.planned_deletion)}" if s.planned_deletion else s.state


def _listing(r: SecretListing) -> str:
    # ListSecrets names no instance or user: the instance is the one the bot last rotated it
    # on, if it did; the user is known only to `show` (DescribeSecret).
    rows = [
        [
            s.short_name,
            s.region,
            _state(s),
            s.instance_id or "?",
            "?",
            when(s.created),
            when(s.updated),
        ]
        for s in r.rows
    ]
    headers = ["NAME", "REGION", "STATE", "INSTANCE", "USER", "CREATED", "UPDATED"]
    parts = [table(headers, rows)]
    if not rows:
        # "No secrets" only where a region answered; a region that failed says why below.
        listed = any(region.status in ("listed", "partial") for region in r.regions)
        none = "No dynamic ECS secrets" + (f" match {r.name_filter!r}." if r.name_filter else ".")
        parts = [none] if listed else []
    for region in r.regions:
        if region.status != "listed":
            detail = region.reason + (f" ({region.code})" if region.code else "")
            step = next_step_text(region.next_step)
            parts.append(f"{region.region}: {region.status}: {detail} {step}".rstrip())
    return "\n".join(parts)


def _secret(v: SecretView) -> str:
    interval = format_duration(v.rotation_interval) if v.rotation_interval else "-"
    instance = " ".join(x for x in (v.instance_id, v.instance_name, v.instance_status) if x)
    pairs = [
        ("name", v.name),
        ("region", v.region),
        ("arn", v.arn),
        ("kind", f"{v.sub_type} of {v.user_name or 'an unknown user (KMS does not record it)'}"),
        ("instance", instance + (f" ({v.instance_os})" if v.instance_os else "")),
        ("public IP", ", ".join(v.instance_public_ips) or "-"),
        ("rotation", f"{v.automatic_rotation}, every {interval}"),
        ("last rotation", when(v.last_rotation)),
        ("next rotation", when(v.next_rotation)),
        ("deletion", when(v.planned_deletion) if v.planned_deletion else "not scheduled"),
        ("created", when(v.created)),
        ("description", v.description or "-"),
    ]
    if v.tags:
        pairs.append(("tags", ", ".join(f"{k}={val}" for k, val in v.tags)))
    if v.active_rotation is not None:
        a = v.active_rotation
        pairs.append(("rotating", f"{a.status} since {when(a.started_at)} by {a.requested_by}"))
    width = max(len(k) for k, _ in pairs)
    lines = [f"{k.ljust(width)}  {val}" for k, val in pairs]
    return "\n".join(lines + [f"note: {n}" for n in v.notes])


def _pending(r: PendingListing) -> str:
    if not r.rows:
        text = "No deletions are scheduled."
    else:
        text = table(
            ["ID", "NAME", "REGION", "DELETES AT", "LEFT", "SCHEDULED BY", "YOU MAY"],
            [
                [
                    str(p.id),
                    p.short_name,
                    p.region,
                    when(p.planned_delete_time),
                    p.time_left,
                    p.scheduled_by,
                    p.restore_label.lower() or "-",
                ]
                for p in r.rows
            ],
        )
    notes = [f"{region}: not listed: {why}" for region, why in r.skipped]
    return "\n".join([text, *notes])


def _approval_rows(items: Sequence[ApprovalItem]) -> list[list[str]]:
    return [
        [
            a.id,
            a.action.removeprefix("kms:"),
            a.short_name,
            a.requester,
            a.status,
            a.progress,
            when(a.expires_at),
        ]
        for a in items
    ]


def _approvals(r: ApprovalsListing) -> str:
    headers = ["ID", "ACTION", "SECRET", "REQUESTER", "STATUS", "PROGRESS", "EXPIRES"]
    parts = ["Waiting for your approval:"]
    parts.append(table(headers, _approval_rows(r.waiting_for_me)) if r.waiting_for_me else "  none")
    parts.append("\nYour requests:")
    parts.append(table(headers, _approval_rows(r.mine)) if r.mine else "  none")
    return "\n".join(parts)


def _whoami(w: WhoAmI) -> str:
    lines = [f"You are {w.principal} (at a terminal: no channel, no guardrail)."]
    if w.groups:
        lines.append(f"Groups: {', '.join(w.groups)}")
    if not w.bound:
        lines.append(f"No policy is bound to you. {w.next_step}")
        return "\n".join(lines)
    lines.append(f"Policies: {', '.join(w.policies)}")
    lines.append(f"On {w.resource}:")
    lines.append(table(["ACTION", "YOU MAY"], [[a.label, a.verdict] for a in w.actions]))
    return "\n".join(lines)


def text_of(result: Any) -> str:
    """Return the text of any result the core gives the terminal."""
    for kind, render in _RENDERERS:
        if isinstance(result, kind):
            return render(result)
    return str(result)


_RENDERERS: tuple[tuple[type[Any], Callable[[Any], str]], ...] = (
    (CreateResult, _created),
    (RotationPolicyResult, _policy),
    (DeleteResult, _deleted),
    (RestoreResult, _restored),
    (HeldForApproval, _held),
    (DryRunReport, _dry_run),
    (SecretListing, _listing),
    (SecretView, _secret),
    (PendingListing, _pending),
    (ApprovalsListing, _approvals),
    (WhoAmI, _whoami),
)
