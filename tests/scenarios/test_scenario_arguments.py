"""Arguments are checked before anything is asked in Slack too: a wrong window, name or
region is answered in the ack, and no modal opens to ask for what would then be refused."""

from __future__ import annotations

import asyncio

import pytest
from fakes.bot import BotHarness


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("delete web-3-root --days 3", "7 to 30"),
        ("delete web-3-root --days \u0667", "7 to 30"),  # an Arabic-Indic 7 is not 7
        ("delete web 3 --days 7", "did not understand"),
        ("delete web-3-root --region xx-nowhere-1", "xx-nowhere-1"),
        ("rotate web-3-root --region xx-nowhere-1", "xx-nowhere-1"),
        ("rotate acs/ecs/", "name"),
        ("create --region xx-nowhere-1", "xx-nowhere-1"),
        ("rotation web-3-root on \u0667d", "unit"),
        ("lst", "Did you mean `list`?"),
    ],
)
async def test_a_wrong_argument_is_answered_before_any_modal(
    bot: BotHarness, text: str, words: str
) -> None:
    response = await bot.command(text)
    assert response.status == 200
    await asyncio.sleep(0.2)  # whatever runs after the ack has had its chance
    said = response.body + bot.slack.all_recorded_text()
    assert words in said, said
    assert bot.slack.calls_to("views.open") == []
    for action in ("RotateSecret", "DeleteSecret", "UpdateSecretRotationPolicy"):
        assert bot.sandbox.calls.total(action) == 0
