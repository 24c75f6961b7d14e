"""``ecs-secret`` checks its arguments before it asks anything: a wrong window, name, region,
instance or interval is refused before a value is asked for or a name is typed to confirm.
And the small holes: digits are ASCII digits, ``--limit`` is 1 to 200, a mistyped
subcommand gets "did you mean"; a configuration nested thousands deep is a configuration
error (exit 7), not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_runner import CliResult, run_cli, sandbox_env
from terminal_harness import Terminal

from ecs_secret_bot.cli import terminal_main


def refused(result: CliResult, *words: str) -> None:
    assert result.code == 2, str(result)
    for word in words:
        assert word in result.err, str(result)
    # nothing was asked: no confirmation prompt, and _no_prompt never ran (it would be a bug)
    assert "Type the secret's name" not in result.err, str(result)
    assert "unexpected error" not in result.err, str(result)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["delete", "web-3-root", "--days", "3"], ["7 to 30 days ahead, not 3"]),
        (["delete", "web-3-root", "--days", "31", "--json"], []),
        (["delete", "no such/name!", "--days", "7"], ["name"]),
        (["delete", "web-3-root", "--region", "xx-nowhere-1"], ["xx-nowhere-1"]),
        (["delete", "web-3-root", "--now", "--region", "xx-nowhere-1"], ["xx-nowhere-1"]),
    ],
)
async def test_deletion_arguments_are_checked_before_the_name_is_asked(
    terminal: Terminal, args: list[str], words: list[str]
) -> None:
    result = await terminal.inproc(*args, stdin="web-3-root\n", tty=True)
    refused(result, *words)
    assert terminal.sandbox.calls.total("DescribeSecret") == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["create", "web-9-root", "--instance", "not-an-instance"], ["not an ECS instance id"]),
        (["create", "web-9-root", "--instance", "i-abc", "--rotate-every", "1h"], ["6h"]),
        (["create", "bad name!", "--instance", "i-abc"], ["name"]),
        (["create", "web-9-root", "--instance", "i-abc", "--region", "xx-no-1"], ["xx-no-1"]),
        (["create", "web-9-root", "--instance", "i-abc", "--tag", "aliyun:x=1"], ["reserved"]),
        (["rotate", "web-3-root", "--custom", "--region", "xx-no-1"], ["xx-no-1"]),
        (["rotate", "bad name!", "--custom"], ["name"]),
    ],
)
async def test_value_arguments_are_checked_before_the_value_is_asked(
    terminal: Terminal, args: list[str], words: list[str]
) -> None:
    # tty: the value would be asked for without echo; the harness fails any such prompt
    result = await terminal.inproc(*args, tty=True)
    refused(result, *words)


@pytest.mark.parametrize(
    "args",
    [
        ["delete", "web-3-root", "--days", "\u0667"],  # ARABIC-INDIC DIGIT SEVEN
        ["delete", "web-3-root", "--days", "\uff17"],  # FULLWIDTH DIGIT SEVEN
        ["delete", "web-3-root", "--days", "+7"],
        ["audit", "--limit", "-1"],
        ["audit", "--limit", "0"],
        ["audit", "--limit", "201"],
        ["audit", "--limit", "\u0665"],
    ],
)
def test_numbers_are_ascii_digits_in_range(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = terminal_main(args)
    assert code == 2
    err = capsys.readouterr().err
    assert "usage: ecs-secret" in err and "Traceback" not in err


def test_a_mistyped_subcommand_gets_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    assert terminal_main(["lst"]) == 2
    assert "did you mean 'list'?" in capsys.readouterr().err
    assert terminal_main(["--json", "pendng"]) == 2
    assert "did you mean 'pending'?" in capsys.readouterr().err
    assert terminal_main(["rotation", "web-3-root", "of"]) == 2
    assert "did you mean 'off'?" in capsys.readouterr().err
    assert terminal_main(["xyzzy"]) == 2
    assert "did you mean" not in capsys.readouterr().err


async def test_a_configuration_nested_thousands_deep_exits_7_without_a_traceback(
    tmp_path: Path,
) -> None:
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    result = await run_cli("--config", str(deep), "whoami", cwd=tmp_path, env=sandbox_env())
    assert result.code == 7, str(result)
    assert "deep.toml: is nested too deeply" in result.err
    assert "Traceback" not in result.err and len(result.err.splitlines()) <= 3
