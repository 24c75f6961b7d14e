"""How ``ecs-secret`` reports what went wrong: a bug is a reference, never a traceback."""

from __future__ import annotations

import io

from ecs_secret_bot.terminal.report import report_error


def test_a_bug_is_reported_as_a_reference_and_exits_1() -> None:
    out, err = io.StringIO(), io.StringIO()
    code = report_error(
        KeyError("acs/ecs/web-3-root"), command="show", as_json=True, out=out, err=err
    )
    assert code == 1 and out.getvalue() == ""
    line = err.getvalue()
    assert line.startswith("ecs-secret show: unexpected error KeyError (reference ")
    assert "acs/ecs/web-3-root" not in line and "Traceback" not in line
