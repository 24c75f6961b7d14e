"""``/ecs-secret sweep``: its selectors, and each mistake said with the usage."""

from __future__ import annotations

import pytest

from ecs_secret_bot.bot.parse import USAGE, Command, UsageError, parse_command


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sweep --instance i-bp1web3", Command("sweep", instances=("i-bp1web3",))),
        (
            "sweep --instance i-a1 --instance=i-b2 --instance i-a1",
            Command("sweep", instances=("i-a1", "i-b2")),
        ),
        (
            "sweep --tag env=prod --tag team=web --region cn-shanghai",
            Command("sweep", tags=(("env", "prod"), ("team", "web")), region="cn-shanghai"),
        ),
        ("sweep --match 'web-*' --dry-run", Command("sweep", match="web-*", dry_run=True)),
        (
            "sweep --tag k=v=w --match web-?",
            Command("sweep", tags=(("k", "v=w"),), match="web-?"),
        ),
    ],
)
def test_sweep_selectors(text: str, expected: Command) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("sweep", "needs at least one selector"),
        ("sweep --region cn-hangzhou", "needs at least one selector"),
        ("sweep web-3", "takes options only"),
        ("sweep --tag env", "write a tag as `key=value`"),
        ("sweep --tag =prod", "write a tag as `key=value`"),
        ("sweep --instance web-3", "is not an instance id"),
        ("sweep --instance", "`--instance` needs a value"),
        ("sweep --match a --match b", "`--match` is given twice"),
        ("sweep --match a --days 7", "`--days` is not an option of `sweep`"),
        ("rotate web-3 --tag env=prod", "`--tag` is not an option of `rotate`"),
    ],
)
def test_sweep_mistakes_say_what_and_how(text: str, said: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_command(text)
    assert said in caught.value.user_message
    if text.startswith("sweep"):
        assert USAGE["sweep"] in caught.value.next_step.text


def test_help_sweep_gives_its_usage_and_what_it_does() -> None:
    from ecs_secret_bot.bot.views.messages import help_message

    text, _ = help_message(["help", "sweep"], "sweep")
    assert USAGE["sweep"] in text and "one approved request" in text
    text, _ = help_message(["help", "rotate"])
    assert "sweep" not in text  # only what the caller may use
