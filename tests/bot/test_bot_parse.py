"""The slash-command grammar: what parses to what, and each mistake's message."""

from __future__ import annotations

import pytest

from ecs_secret_bot.bot.parse import Command, UsageError, parse_command


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Command("help")),
        ("help rotate", Command("help", topic="rotate")),
        ("rotate web-3-root", Command("rotate", secret="web-3-root")),
        ('rotate "acs/ecs/web 3"', Command("rotate", secret="acs/ecs/web 3")),
        (
            "rotate \u201cweb-3\u201d --region cn-shanghai",
            Command("rotate", secret="web-3", region="cn-shanghai"),
        ),
        (
            "rotate web-3 --region=cn-shanghai --dry-run",
            Command("rotate", secret="web-3", region="cn-shanghai", dry_run=True),
        ),
        ("delete old --days 7", Command("delete", secret="old", days=7)),
        ("delete old --now --dry-run", Command("delete", secret="old", now=True, dry_run=True)),
        (
            "rotation web-3 on 14d",
            Command("rotation", secret="web-3", enabled=True, interval="14d"),
        ),
        ("rotation web-3 OFF", Command("rotation", secret="web-3", enabled=False)),
        ("list web-", Command("list", filter="web-")),
        ("audit", Command("audit")),
        (
            "audit web-3 --region cn-hangzhou",
            Command("audit", secret="web-3", region="cn-hangzhou"),
        ),
        ("WHOAMI", Command("whoami")),
        ("create --dry-run", Command("create", dry_run=True)),
    ],
)
def test_parses(text: str, expected: Command) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("frob", "`frob` is not a subcommand"),
        ("rotate", "`rotate` needs one secret name"),
        ("rotate a b", "did not understand `b`"),
        ('rotate "web-3', "quote is not closed"),
        ("rotate web --region", "`--region` needs a value"),
        ("rotate web --force", "`--force` is not an option of `rotate`"),
        ("list --dry-run", "`--dry-run` is for commands that change something"),
        ("delete old --days 31", "7 to 30"),
        ("delete old --days seven", "7 to 30"),
        ("delete old --days \u0667", "7 to 30"),  # ARABIC-INDIC DIGIT SEVEN
        ("delete old --days \uff17", "7 to 30"),  # FULLWIDTH DIGIT SEVEN
        ("delete old --days +7", "7 to 30"),
        ("lst", "`lst` is not a subcommand. Did you mean `list`?"),
        ("pendng", "Did you mean `pending`?"),
        ("delete old --days 7 --now", "not both"),
        ("rotate web --days 7", "`--days` is not an option of `rotate`"),
        ("rotation web maybe", "`on` or `off`"),
        ("rotation web off 7d", "`off` takes no interval"),
        ("whoami me", "no arguments"),
        ("rotate a --region x --region y", "given twice"),
        ("x" * 3000, "characters long"),
    ],
)
def test_mistakes_are_named_with_the_usage(text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_command(text)
    assert message in caught.value.user_message
    step = caught.value.next_step.text
    assert "Usage" in step or "help" in step
