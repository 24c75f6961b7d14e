"""The data key's text format: 64 hex digits or base64 of 32 bytes, never echoed back."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecs_secret_bot.errors import StorageFault, StorageProblem, storage_error
from ecs_secret_bot.storage import generate_data_key, parse_data_key


@given(st.binary(min_size=32, max_size=32))
def test_every_spelling_of_a_key_parses(key: bytes) -> None:
    spellings = [
        key.hex(),
        key.hex().upper(),
        base64.b64encode(key).decode(),
        base64.b64encode(key).decode().rstrip("="),
        base64.urlsafe_b64encode(key).decode(),
        f"  {base64.b64encode(key).decode()}\n",
    ]
    for text in spellings:
        assert parse_data_key(text) == key


def test_generated_keys_parse_and_differ() -> None:
    first, second = generate_data_key(), generate_data_key()
    assert first != second
    assert len(parse_data_key(first)) == 32


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "is empty"),
        ("   \n", "is empty"),
        (base64.b64encode(b"x" * 16).decode(), "decodes to 16 bytes"),
        ("ab" * 31, "decodes to 46 bytes"),  # 62 hex digits read as base64
        ("correct horse battery staple", "is not a data key"),
        ("A" * 43 + "!", "is not a data key"),
    ],
)
def test_bad_keys_are_named_without_echoing_them(text: str, problem: str) -> None:
    with pytest.raises(StorageFault, match=problem) as caught:
        parse_data_key(text)
    message = str(caught.value)
    assert message.startswith("ECS_SECRET_BOT_DATA_KEY")
    assert caught.value.problem is StorageProblem.KEY_MALFORMED
    assert "openssl" not in message  # storage states the problem; the advice is worded above
    assert "openssl rand -base64 32" in storage_error(caught.value).next_step.text
    if text.strip():
        assert text.strip() not in message


def test_the_source_is_named() -> None:
    with pytest.raises(StorageFault, match="^the key file k"):
        parse_data_key("nope", source="the key file k")
