"""Crafted requests from outside (issue 12, item 12): answered 400, 401 or 413, never 5xx;
unsigned bodies never buffered beyond what a signed Slack request can be; a request naming
no user refused plainly; a modal whose sealed context was edited refused."""

from __future__ import annotations

import asyncio
import time
import urllib.parse

import pytest
from fakes import workspace as ws
from fakes.bot import BotHarness
from fakes.payloads import input_state, select_state
from test_scenario_delete_and_approvals import delete_values

from ecs_secret_bot.bot.http import MAX_BODY
from ecs_secret_bot.bot.ids import Action, Block, Callback


async def raw_request(port: int, head: str, body: bytes = b"", *, timeout: float = 3.0) -> str:
    """Send ``head`` (and ``body``) over a plain socket; return the status line and headers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode() + body)
        await writer.drain()
        async with asyncio.timeout(timeout):
            answer = await reader.readuntil(b"\r\n\r\n")
        return answer.decode(errors="replace")
    finally:
        writer.close()


def head(*, length: int | None, timestamp: str, chunked: bool = False) -> str:
    lines = [
        "POST /slack/events HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/x-www-form-urlencoded",
        f"X-Slack-Request-Timestamp: {timestamp}",
        "X-Slack-Signature: v0=" + "0" * 64,
    ]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {length}")
    return "\r\n".join(lines) + "\r\n\r\n"


@pytest.mark.parametrize("timestamp", ["abc", "1796554811.5", "9" * 5000, "", "-1"])
async def test_a_malformed_timestamp_is_refused_not_a_server_error(
    bot: BotHarness, timestamp: str
) -> None:
    response = await bot.driver.post(
        "command=/ecs-secret&text=help", headers={"X-Slack-Request-Timestamp": timestamp}
    )
    assert response.status in (400, 401), (response.status, response.body[:200])


async def test_an_unsigned_body_is_refused_before_it_is_read(bot: BotHarness) -> None:
    now = str(int(time.time()))
    # 50 MB announced, nothing sent: answered at once, not after waiting for the body
    answer = await raw_request(bot.port, head(length=50_000_000, timestamp=now))
    assert answer.startswith("HTTP/1.1 413"), answer
    # a stale timestamp: refused from the headers alone
    stale = str(int(time.time()) - 3600)
    answer = await raw_request(bot.port, head(length=50_000_000, timestamp=stale))
    assert answer.startswith("HTTP/1.1 401"), answer


async def test_a_chunked_body_is_read_no_further_than_a_slack_request_can_be(
    bot: BotHarness,
) -> None:
    now = str(int(time.time()))
    chunk = b"a" * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(MAX_BODY // 65536 + 2))
    answer = await raw_request(bot.port, head(length=None, timestamp=now, chunked=True), chunks)
    assert answer.startswith("HTTP/1.1 413"), answer


async def test_a_submission_with_every_field_at_its_cap_is_still_taken(bot: BotHarness) -> None:
    await bot.command("create")
    await bot.slack.wait_for("views.open")
    modal = bot.modal()
    capped = {
        b["block_id"]: {
            b["element"]["action_id"]: input_state("k" * b["element"].get("max_length", 3000))
        }
        for b in modal["blocks"]
        if b.get("type") == "input" and b["element"]["type"] == "plain_text_input"
    }
    capped[Block.KIND] = {Action.KIND: select_state("SSHKey", type="radio_buttons")}
    capped[Block.REGION] = {Action.REGION: select_state("cn-hangzhou")}
    capped[Block.INSTANCE] = {
        Action.INSTANCE: select_state("i-bp1sbxweb3000000001", type="external_select")
    }
    answer = await bot.submit(modal, capped)
    assert answer.status == 200, answer.body[:200]  # read, checked, answered in the modal


async def test_a_request_naming_no_user_is_refused_plainly(bot: BotHarness) -> None:
    fields = dict(
        urllib.parse.parse_qsl(
            "command=/ecs-secret&text=whoami&team_id=T0ECSTEAM&channel_id=C0INCIDENTS"
        )
    )
    response = await bot.driver.post(urllib.parse.urlencode(fields))
    assert response.status == 400
    assert "names no user" in response.body
    assert "went wrong" not in bot.slack.all_recorded_text()


async def test_a_modal_whose_context_was_edited_is_refused(bot: BotHarness) -> None:
    await bot.command("delete web-3-root --days 10")
    await bot.slack.wait_for("views.open")
    modal = bot.modal()
    assert modal["callback_id"] == Callback.DELETE
    edited = {
        **modal,
        "private_metadata": modal["private_metadata"].replace(
            ws.INCIDENT_CHANNEL_ID, ws.GENERAL_CHANNEL_ID
        ),
    }
    assert edited["private_metadata"] != modal["private_metadata"]

    refused = await bot.submit(edited, delete_values("schedule", days="10"))
    assert refused.status == 400 and "altered" in refused.body

    taken = await bot.submit(modal, delete_values("schedule", days="10"))
    assert taken.status == 200 and taken.json()["response_action"] == "update"
