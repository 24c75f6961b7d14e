"""The same kind of minimal bolt app, in Socket Mode, against FakeSocketModeServer.

bolt's AsyncSocketModeHandler (slack_sdk's aiohttp client) asks FakeSlackAPI's
`apps.connections.open` for a URL, connects to the fake websocket, gets `hello`, and
acks the envelopes the test pushes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fakes import (
    FakeSlackAPI,
    FakeSocketModeServer,
    block_actions_payload,
    event_callback_body,
    slash_command_body,
    view_submission_payload,
    workspace,
)
from fakes.serving import connect_socket_mode
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient


def build_app(slack_api: FakeSlackAPI, seen: asyncio.Queue[dict[str, Any]]) -> AsyncApp:
    """Build a tiny app that records what reached it."""
    app = AsyncApp(client=AsyncWebClient(token=workspace.BOT_TOKEN, base_url=slack_api.url))

    @app.command("/ecs-secret")
    async def command(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack(f"Working on `{body['text']}`")

    @app.action("restore")
    async def restore(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await seen.put({"action": body["actions"][0]["value"]})

    @app.view("delete_secret")
    async def submit(ack: AsyncAck) -> None:
        await ack(response_action="errors", errors={"days": "Between 7 and 30 days"})

    @app.event("app_home_opened")
    async def home(body: dict[str, Any], request: AsyncBoltRequest) -> None:
        retry = request.headers.get("x-slack-retry-num", [None])[0]
        await seen.put({"event_id": body["event_id"], "retry": retry})

    return app


@pytest.fixture
def seen() -> asyncio.Queue[dict[str, Any]]:
    return asyncio.Queue()


@pytest.fixture
async def handler(
    slack_api: FakeSlackAPI,
    socket_mode_server: FakeSocketModeServer,
    seen: asyncio.Queue[dict[str, Any]],
) -> AsyncIterator[AsyncSocketModeHandler]:
    async with connect_socket_mode(build_app(slack_api, seen)) as connected:
        await socket_mode_server.wait_until_connected()
        yield connected


async def test_the_handler_connects_through_apps_connections_open(
    handler: AsyncSocketModeHandler,
    slack_api: FakeSlackAPI,
    socket_mode_server: FakeSocketModeServer,
) -> None:
    (opened,) = slack_api.calls_to("apps.connections.open")

    assert opened.token == workspace.APP_TOKEN
    assert socket_mode_server.urls_issued == 1
    assert socket_mode_server.open_connections == 1


async def test_slash_command_envelope_is_acked_with_the_response_payload(
    handler: AsyncSocketModeHandler,
    slack_api: FakeSlackAPI,
    socket_mode_server: FakeSocketModeServer,
) -> None:
    envelope_id = await socket_mode_server.send_body(slash_command_body("rotate web-3-root"))

    ack = await socket_mode_server.wait_for_ack(envelope_id)

    assert ack == {
        "envelope_id": envelope_id,
        "payload": {"text": "Working on `rotate web-3-root`"},
    }
    assert socket_mode_server.sent[-1]["accepts_response_payload"] is True
    assert "Working on `rotate web-3-root`" in slack_api.all_recorded_text()


async def test_interactive_envelopes_are_acked(
    handler: AsyncSocketModeHandler,
    socket_mode_server: FakeSocketModeServer,
    seen: asyncio.Queue[dict[str, Any]],
) -> None:
    clicked = await socket_mode_server.send_body(block_actions_payload("restore", value="old"))
    submitted = await socket_mode_server.send_body(view_submission_payload())

    assert await socket_mode_server.wait_for_ack(clicked) == {"envelope_id": clicked}
    assert (await socket_mode_server.wait_for_ack(submitted))["payload"] == {
        "response_action": "errors",
        "errors": {"days": "Between 7 and 30 days"},
    }
    assert await asyncio.wait_for(seen.get(), 5) == {"action": "old"}


async def test_an_event_delivered_twice_is_seen_twice_and_acked_twice(
    handler: AsyncSocketModeHandler,
    socket_mode_server: FakeSocketModeServer,
    seen: asyncio.Queue[dict[str, Any]],
) -> None:
    body = event_callback_body(event_id="Ev0TWICE")

    first = await socket_mode_server.send_body(body)
    second = await socket_mode_server.send_body(body, retry_attempt=1, retry_reason="timeout")

    assert await socket_mode_server.wait_for_ack(first) == {"envelope_id": first}
    assert await socket_mode_server.wait_for_ack(second) == {"envelope_id": second}
    deliveries = [await asyncio.wait_for(seen.get(), 5) for _ in range(2)]
    # bolt turns the envelope's retry_attempt into the HTTP-style x-slack-retry-num header.
    assert sorted(deliveries, key=lambda d: d["retry"]) == [
        {"event_id": "Ev0TWICE", "retry": "0"},
        {"event_id": "Ev0TWICE", "retry": "1"},
    ]


async def test_disconnect_makes_the_client_reconnect_with_a_new_url(
    handler: AsyncSocketModeHandler,
    slack_api: FakeSlackAPI,
    socket_mode_server: FakeSocketModeServer,
) -> None:
    await socket_mode_server.send_disconnect()

    await slack_api.wait_for_calls("apps.connections.open", count=2)
    await socket_mode_server.wait_until_connected(total=2)
    envelope_id = await socket_mode_server.send_body(slash_command_body("whoami"))
    assert (await socket_mode_server.wait_for_ack(envelope_id))["envelope_id"] == envelope_id
    assert socket_mode_server.connections_opened == 2
