"""Secret names with or without ``acs/ecs/``, and the ARNs policies see."""

from __future__ import annotations

import pytest

from ecs_secret_bot.commands.names import (
    collection_arn,
    full_secret_name,
    secret_arn,
    short_secret_name,
)
from ecs_secret_bot.errors import InvalidInput


@pytest.mark.parametrize(
    ("typed", "full"),
    [
        ("web-3-root", "acs/ecs/web-3-root"),
        ("acs/ecs/web-3-root", "acs/ecs/web-3-root"),
        ("  team/db@prod ", "acs/ecs/team/db@prod"),
    ],
)
def test_short_and_full_names_are_the_same_secret(typed: str, full: str) -> None:
    assert full_secret_name(typed) == full
    assert short_secret_name(full) == full.removeprefix("acs/ecs/")


@pytest.mark.parametrize(
    ("typed", "fragment"),
    [
        ("", "A secret name is needed"),
        ("acs/ecs/", "needs a name after"),
        ("web 3", "does not allow ' '"),
        ("web#3", "does not allow '#'"),
        ("x" * 190, "KMS allows 192"),
    ],
)
def test_bad_names_say_what_is_wrong(typed: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        full_secret_name(typed)
    assert fragment in caught.value.user_message


def test_arns() -> None:
    assert (
        secret_arn("cn-hangzhou", "*", "acs/ecs/web-3-root")
        == "acs:kms:cn-hangzhou:*:secret/acs/ecs/web-3-root"
    )
    assert collection_arn("cn-shanghai", "1234567890123456") == (
        "acs:kms:cn-shanghai:1234567890123456:secret"
    )
