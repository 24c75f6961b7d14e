"""A minimal bolt AsyncApp, served over real HTTP, talks to the fakes end to end.

The app's Web API client points at FakeSlackAPI; requests arrive signed by
SlackClientDriver at bolt's own aiohttp endpoint, `POST /slack/events`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fakes import (
    RESPONSE_URL_METHOD,
    FakeSlackAPI,
    SlackClientDriver,
    block_actions_payload,
    event_callback_body,
    input_state,
    slash_command_body,
    url_verification_body,
    view_submission_payload,
    workspace,
)
from fakes.serving import serve_http
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltRequest, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

MODAL = {
    "type": "modal",
    "callback_id": "delete_secret",
    "title": {"type": "plain_text", "text": "Delete secret"},
    "submit": {"type": "plain_text", "text": "Schedule"},
    "blocks": [
        {
            "type": "input",
            "block_id": "days",
            "label": {"type": "plain_text", "text": "Days"},
            "element": {"type": "number_input", "is_decimal_allowed": False, "action_id": "value"},
        }
    ],
}


def build_app(slack_api: FakeSlackAPI, signing_secret: str, seen: list[dict[str, Any]]) -> AsyncApp:
    """Build a tiny app in the shape the bot will have: ack first, then call Slack."""
    app = AsyncApp(
        client=AsyncWebClient(token=workspace.BOT_TOKEN, base_url=slack_api.url),
        signing_secret=signing_secret,
    )

    @app.command("/ecs-secret")
    async def command(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack(f"Working on `{body['text']}`")
        await client.views_open(trigger_id=body["trigger_id"], view=MODAL)
        await respond("modal opened")

    @app.action("restore")
    async def restore(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.chat_update(
            channel=body["container"]["channel_id"],
            ts=body["container"]["message_ts"],
            text=f"restored by <@{body['user']['id']}>",
        )

    @app.view("delete_secret")
    async def submit(ack: AsyncAck, view: dict[str, Any]) -> None:
        days = view["state"]["values"]["days"]["value"]["value"]
        if not 7 <= int(days) <= 30:
            await ack(response_action="errors", errors={"days": "Between 7 and 30 days"})
            return
        await ack()

    @app.event("app_home_opened")
    async def home(body: dict[str, Any], request: AsyncBoltRequest) -> None:
        # bolt normalises header names to lower case and values to lists.
        retry = request.headers.get("x-slack-retry-num", [None])[0]
        seen.append({"event_id": body["event_id"], "retry": retry})

    return app


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until `condition()` holds (for work the app does after its ack)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.fixture
def seen() -> list[dict[str, Any]]:
    return []


@pytest.fixture
async def slack(
    slack_api: FakeSlackAPI, signing_secret: str, seen: list[dict[str, Any]]
) -> AsyncIterator[SlackClientDriver]:
    async with serve_http(build_app(slack_api, signing_secret, seen)) as port:
        async with SlackClientDriver(port, signing_secret=signing_secret) as driver:
            yield driver


async def test_signed_slash_command_is_acked_then_opens_a_modal(
    slack: SlackClientDriver, slack_api: FakeSlackAPI
) -> None:
    response_url = slack_api.response_url(
        channel_id=workspace.INCIDENT_CHANNEL_ID, user_id=workspace.ALICE_ID
    )

    status, body, elapsed = await slack.post(
        slash_command_body("delete old-batch-root", response_url=response_url)
    )

    assert status == 200 and elapsed < 3
    assert "Working on `delete old-batch-root`" in body
    assert "Working on `delete old-batch-root`" in slack.all_response_text()
    opened = await slack_api.wait_for("views.open")
    assert opened.payload["view"]["callback_id"] == "delete_secret"
    assert (await slack_api.wait_for(RESPONSE_URL_METHOD)).payload["text"] == "modal opened"
    assert slack_api.calls_to("auth.test"), "bolt checks the bot token with auth.test"


async def test_forged_signature_is_refused(
    slack: SlackClientDriver, slack_api: FakeSlackAPI
) -> None:
    status, _, _ = await slack.post(slash_command_body("whoami"), secret="not-the-secret")

    assert status == 401
    assert not slack_api.calls_to("views.open")


async def test_stale_timestamp_is_refused(slack: SlackClientDriver) -> None:
    status, _, _ = await slack.post(
        slash_command_body("whoami"), timestamp=int(time.time()) - 6 * 60
    )

    assert status == 401


async def test_block_action_is_acked_and_updates_the_clicked_message(
    slack: SlackClientDriver, slack_api: FakeSlackAPI
) -> None:
    client = AsyncWebClient(token=workspace.BOT_TOKEN, base_url=slack_api.url)
    await client.chat_postMessage(channel=workspace.INCIDENT_CHANNEL_ID, text="pending deletion")
    (posted,) = slack_api.messages(workspace.INCIDENT_CHANNEL_ID)

    status, _, _ = await slack.post(
        block_actions_payload("restore", value="old-batch-root", message=posted, user_id="U0BOB")
    )

    assert status == 200
    await slack_api.wait_for("chat.update")
    assert posted.text == "restored by <@U0BOB>"


async def test_view_submission_errors_go_back_in_the_ack(slack: SlackClientDriver) -> None:
    bad = view_submission_payload(view=MODAL, values={"days": {"value": input_state("3")}})
    good = view_submission_payload(view=MODAL, values={"days": {"value": input_state("14")}})

    refused = await slack.post(bad)
    accepted = await slack.post(good)

    assert refused.status == 200
    assert refused.json() == {
        "response_action": "errors",
        "errors": {"days": "Between 7 and 30 days"},
    }
    assert (accepted.status, accepted.body) == (200, "")


async def test_url_verification_echoes_the_challenge(slack: SlackClientDriver) -> None:
    response = await slack.post(url_verification_body("challenge-123"))

    assert response.status == 200
    assert response.json() == {"challenge": "challenge-123"}


async def test_a_redelivered_event_reaches_the_app_twice_with_retry_headers(
    slack: SlackClientDriver, seen: list[dict[str, Any]]
) -> None:
    body = event_callback_body(event_id="Ev0TWICE")

    first = await slack.post(body)
    second = await slack.post(body, retry_num=1, retry_reason="http_timeout")

    assert (first.status, second.status) == (200, 200)
    await until(lambda: len(seen) == 2)  # event listeners run after bolt's automatic ack
    assert seen == [
        {"event_id": "Ev0TWICE", "retry": None},
        {"event_id": "Ev0TWICE", "retry": "1"},
    ]
