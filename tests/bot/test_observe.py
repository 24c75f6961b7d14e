"""What a request is counted as: bounded labels, one count, the gravest outcome."""

from __future__ import annotations

import asyncio

import pytest
from fakes.payloads import (
    block_actions_payload,
    event_callback_body,
    parse_body,
    slash_command_body,
)

from ecs_secret_bot.bot import observe
from ecs_secret_bot.bot.ids import Action
from ecs_secret_bot.errors import AccessDenied, CloudError
from ecs_secret_bot.telemetry.context import request_id


class Heard:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str]] = []
        self.acks: list[str] = []

    def request(self, *, kind: str, name: str, outcome: str) -> None:
        self.requests.append((kind, name, outcome))

    def acked(self, *, kind: str, seconds: float) -> None:
        self.acks.append(kind)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (parse_body(slash_command_body("rotate web-3-root")), ("command", "rotate")),
        (parse_body(slash_command_body("")), ("command", "help")),
        (parse_body(slash_command_body("rotatee x")), ("command", "other")),  # bounded
        (parse_body(block_actions_payload(f"{Action.RESTORE}:12")), ("action", "restore")),
        (parse_body(block_actions_payload("made-up")), ("action", "other")),
        ({"type": "view_submission", "view": {"callback_id": "nope"}}, ("view", "other")),
        ({"type": "something_new"}, ("other", "other")),
    ],
    ids=["rotate", "empty", "typo", "restore-button", "unknown-action", "view", "unknown-type"],
)
def test_requests_are_labelled_with_what_the_bot_knows_only(
    body: dict[str, object], kind: tuple[str, str]
) -> None:
    assert observe.request_kind(body) == kind


async def test_a_request_counts_once_when_its_work_after_the_ack_ends() -> None:
    heard = Heard()
    body = parse_body(event_callback_body({"type": "app_home_opened", "user": "U0ALICE"}))
    with observe.observed(heard, body):
        assert request_id() == body["event_id"]
        record = observe.hold_current()  # work after the ack
        observe.settle(observe.outcome_of(AccessDenied("no")))
    await asyncio.sleep(0.01)
    assert heard.requests == []  # still running
    observe.settle(observe.Outcome.ERROR)  # outside the request: nothing to settle
    assert record is not None
    record.settle(observe.outcome_of(CloudError("down")))
    record.release()
    assert heard.requests == [("event", "app_home_opened", "failed")]
    assert request_id() == ""
