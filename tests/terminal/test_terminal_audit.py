"""``ecs-secret audit``: a line per request, ``--verbose``, ``--format csv``, the filters,
``--json`` with the raw entries and the requests beside them, and ``--verify``, whose exit
code says whether the chain (and the anchor) hold."""

from __future__ import annotations

import csv
import io
import sqlite3

from cli_runner import CliResult
from terminal_harness import LOGIN, Terminal

ME = f"local:user:{LOGIN}"


def ok(result: CliResult) -> CliResult:
    assert result.code == 0, str(result)
    return result


async def two_requests(terminal: Terminal) -> None:
    ok(await terminal.inproc("rotate", "web-3-root", "--reason", "leaked"))
    ok(await terminal.inproc("delete", "web-4-ecs-user-key", "--days", "7", "--yes"))


async def test_one_line_per_request_and_the_entries_with_verbose(terminal: Terminal) -> None:
    await two_requests(terminal)
    lines = ok(await terminal.inproc("audit")).out.splitlines()
    assert lines[0].split() == [
        "WHEN",
        "WHO",
        "ACTION",
        "SECRET",
        "REGION",
        "DECISION",
        "OUTCOME",
        "APPROVERS",
    ]
    assert len(lines) == 3
    assert "kms:DeleteSecret" in lines[1] and "web-4-ecs-user-key" in lines[1]
    assert "kms:RotateSecret" in lines[2] and "rotation completed" in lines[2]
    assert "acs:kms:" not in "\n".join(lines)
    verbose = ok(await terminal.inproc("audit", "web-3-root", "--verbose")).out
    assert verbose.startswith("req-") and ": allowed, rotation completed" in verbose
    assert [line.split()[0] for line in verbose.splitlines()[2:]] == ["1", "2", "3"]


async def test_csv_is_one_row_per_request_or_per_entry(terminal: Terminal) -> None:
    await two_requests(terminal)
    rows = list(
        csv.DictReader(io.StringIO(ok(await terminal.inproc("audit", "--format", "csv")).out))
    )
    assert [(r["action"], r["secret"], r["requester"]) for r in rows] == [
        ("kms:DeleteSecret", "web-4-ecs-user-key", ME),
        ("kms:RotateSecret", "web-3-root", ME),
    ]
    entries = ok(await terminal.inproc("audit", "--format", "csv", "--verbose")).out
    assert len(list(csv.DictReader(io.StringIO(entries)))) == 5


async def test_filters_and_their_mistakes(terminal: Terminal) -> None:
    await two_requests(terminal)
    assert len(ok(await terminal.inproc("audit", "--secret", "web-3-root")).out.splitlines()) == 2
    assert "no entries" in ok(await terminal.inproc("audit", "--actor", "slack:user:U1")).out
    assert len(ok(await terminal.inproc("audit", "--since", "1h")).out.splitlines()) == 3
    assert "no entries" in ok(await terminal.inproc("audit", "--since", "2999-01-01")).out
    assert "no entries" in ok(await terminal.inproc("audit", "--channel", "C0NOWHERE")).out
    bad = await terminal.inproc("audit", "--since", "last tuesday")
    assert bad.code == 2 and "neither a duration nor a date" in bad.err
    twice = await terminal.inproc("audit", "web-3-root", "--secret", "db-1-root")
    assert twice.code == 2


async def test_json_has_the_raw_entries_and_the_requests(terminal: Terminal) -> None:
    await two_requests(terminal)
    body = ok(await terminal.inproc("audit", "--json")).json
    assert [e["seq"] for e in body["result"]] == [5, 4, 3, 2, 1]
    assert {"correlation_id", "detail", "secret_name"} <= set(body["result"][0])
    requests = body["requests"]
    assert [(r["action"], r["entries"]) for r in requests] == [
        ("kms:DeleteSecret", [4, 5]),
        ("kms:RotateSecret", [1, 2, 3]),
    ]
    assert body["more"] is False


def forge(db: str) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("UPDATE audit_log SET actor = 'local:user:mallory' WHERE seq = 2")
    finally:
        conn.close()


async def test_verify_exits_7_naming_the_first_bad_entry(terminal: Terminal) -> None:
    await two_requests(terminal)
    fine = ok(await terminal.inproc("audit", "--verify"))
    assert "The audit log verifies: 5 entries" in fine.out
    head = next(line for line in fine.out.splitlines() if line.startswith("Head: "))[6:]
    anchored = ok(await terminal.inproc("audit", "--verify", "--anchor", head, "--json"))
    assert anchored.json["result"]["anchor_found"] is True
    forge(str(terminal.db))
    broken = await terminal.inproc("audit", "--verify")
    assert broken.code == 7, str(broken)
    assert "does NOT verify from entry 2, written " in broken.out
    assert "entry 2 was changed after it was written" in broken.out
    # and the listing marks the forged entry, without a full --verify
    listed = ok(await terminal.inproc("audit")).out.splitlines()
    assert listed[2].startswith("! ") and "kms:RotateSecret" in listed[2]
    assert listed[-1].startswith("! entries 2 no longer match their MAC")
    entries = ok(await terminal.inproc("audit", "--verbose", "web-3-root")).out
    assert "!2  " in entries and "local:user:mallory" in entries
