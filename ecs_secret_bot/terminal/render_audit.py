"""What ``ecs-secret audit`` prints: one line per request, its entries, CSV, or the chain's proof.

Owns ``audit_text`` (a table of requests: when, who, what, which secret, the decision, the
outcome, the approvers; with ``verbose`` each request's raw entries under it; or the same as
CSV, one row per request, or per entry with ``verbose``), ``audit_json`` (the ``--json``
extra: the requests, each naming its entries) and ``proof_text`` (what ``--verify``
found). Never holds a secret value: entries never do.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from ecs_secret_bot.commands.queries import AuditLine, AuditProof, AuditRequest, AuditTrail
from ecs_secret_bot.terminal.render import jsonable, table, when

__all__ = ["audit_json", "audit_text", "proof_text"]

_REQUEST_HEADERS = ["WHEN", "WHO", "ACTION", "SECRET", "REGION", "DECISION", "OUTCOME", "APPROVERS"]
_ENTRY_HEADERS = ["SEQ", "AT", "ACTOR", "DECISION", "OUTCOME", "REASON"]
_CSV_REQUEST = [
    "request",
    "at",
    "requester",
    "action",
    "region",
    "secret",
    "channel",
    "decision",
    "outcome",
    "approvers",
]
_CSV_ENTRY = [
    "request",
    "seq",
    "at",
    "actor",
    "action",
    "region",
    "secret",
    "channel",
    "decision",
    "reason",
    "outcome",
    "cloud_request_id",
    "approval_id",
]


def _secret(request: AuditRequest) -> str:
    return request.secret_name or (request.entries[0].resource if request.entries else "") or "-"


def _request_cells(r: AuditRequest) -> list[str]:
    return [
        ("! " if r.altered else "") + when(r.at),
        r.requester,
        r.action,
        _secret(r),
        r.region or "-",
        r.decision,
        r.outcome,
        ", ".join(r.approvers) or "-",
    ]


def _entry_cells(e: AuditLine) -> list[str]:
    seq = str(e.seq) if e.intact else f"!{e.seq}"
    return [seq, f"{e.at:%Y-%m-%d %H:%M:%S} UTC", e.actor, e.decision, e.outcome, e.reason]


def _warning(trail: AuditTrail) -> list[str]:
    altered = [str(seq) for r in trail.requests for seq in r.altered]
    if not altered:
        return []
    return [
        f"! entries {', '.join(altered)} no longer match their MAC: they were changed after "
        "they were written (ecs-secret audit --verify)"
    ]


def _indented(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def _csv(rows: Sequence[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows(rows)
    return out.getvalue().rstrip("\n")


def audit_text(trail: AuditTrail, *, verbose: bool = False, fmt: str = "text") -> str:
    """Return the requests as a table (with their entries when ``verbose``) or as CSV."""
    if fmt == "csv":
        if verbose:
            rows = [
                [r.id, str(e.seq), e.at.isoformat(), e.actor, e.action, e.region, e.secret_name]
                + [e.channel_id, e.decision, e.reason, e.outcome, e.request_id, e.approval_id]
                for r in trail.requests
                for e in r.entries
            ]
            return _csv([_CSV_ENTRY, *rows])
        rows = [
            [r.id, r.at.isoformat(), r.requester, r.action, r.region, r.secret_name]
            + [r.channel_id, r.decision, r.outcome, " ".join(r.approvers)]
            for r in trail.requests
        ]
        return _csv([_CSV_REQUEST, *rows])
    if not trail.requests:
        return "The audit log has no entries you may see."
    more = ["(older requests not shown: use --limit or --since)"] if trail.more else []
    more += _warning(trail)
    if not verbose:
        rows = [_request_cells(r) for r in trail.requests]
        return "\n".join([table(_REQUEST_HEADERS, rows), *more])
    parts = []
    for r in trail.requests:
        where = f" ({r.region})" if r.region else ""
        approvers = f"; approved by {', '.join(r.approvers)}" if r.approvers else ""
        parts.append(
            f"{r.id}: {when(r.at)}  {r.requester}  {r.action} {_secret(r)}{where}: "
            f"{r.decision}, {r.outcome}{approvers}"
        )
        parts.append(_indented(table(_ENTRY_HEADERS, [_entry_cells(e) for e in r.entries])))
    return "\n".join(parts + more)


def audit_json(trail: AuditTrail) -> dict[str, Any]:
    """Return the ``--json`` extra: each request, naming its entries by number."""
    requests = []
    for request in trail.requests:
        body = jsonable(request)
        body["entries"] = [entry.seq for entry in request.entries]
        requests.append(body)
    return {"requests": requests, "more": trail.more}


def proof_text(proof: AuditProof) -> str:
    """Return what checking the chain found, and what it cannot tell without an anchor."""
    keyed = (
        "every entry is MAC-ed"
        if proof.keyed_from <= 1
        else f"entries from {proof.keyed_from} on are MAC-ed, those before have unkeyed links"
    )
    if not proof.ok:
        written = f", written {when(proof.first_bad_at)}" if proof.first_bad_at else ""
        return (
            f"The audit log does NOT verify from entry {proof.first_bad_seq}{written}: "
            f"{proof.problem}.\n{proof.entries} entries before it verified ({keyed})."
        )
    lines = [
        f"The audit log verifies: {proof.entries} entries ({keyed}).",
        f"Head: {proof.head}",
    ]
    if proof.anchor:
        lines.append(f"The anchor {proof.anchor} is in it: nothing up to it was cut or rewritten.")
    else:
        lines.append(
            "Whether the newest entries were cut off shows only against an anchor kept "
            "elsewhere: --anchor SEQ:HASH from the daily audit line."
        )
    return "\n".join(lines)
