"""Transcripts of an operator watching ``serve``: ``GET /metrics``, and log lines in JSON.

The bot runs as a process of its own (``fakes.serve_process``), its cloud a sandbox beside
it; ``/metrics`` is read with prometheus_client's own parser, and its counters are seen to
move as people type and the cloud is called. A custom value used as a canary never shows
in a log line (text or JSON) or on ``/metrics``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from fakes import FakeSlackAPI
from fakes import workspace as ws
from fakes.bot import SEC, SRE, bot_policies
from fakes.payloads import (
    block_actions_payload,
    checkboxes_state,
    input_state,
    select_state,
    slash_command_body,
)
from fakes.serve_process import ServeProcess, serve_config
from fakes.socket_mode import FakeSocketModeServer
from prometheus_client.parser import text_string_to_metric_families

from ecs_secret_bot.bot.ids import Action, Block, Callback
from ecs_secret_bot.sandbox import Sandbox

CANARY = "Canary9Metrics7Qx"
P = "ecs_secret_bot"


@pytest.fixture
async def cloud() -> AsyncIterator[Sandbox]:
    sandbox = Sandbox(seed=True, rotation_delay=0.5)
    await sandbox.start(port=0, grace=0.5)
    try:
        yield sandbox
    finally:
        await sandbox.stop()


@pytest.fixture
def config(tmp_path: Path, cloud: Sandbox, slack_api: FakeSlackAPI) -> Path:
    slack_api.set_usergroup(SRE, [ws.ALICE_ID], handle="sre")
    slack_api.set_usergroup(SEC, [ws.ADMIN_ID], handle="security")
    return serve_config(tmp_path, cloud_url=cloud.url, policies=bot_policies())


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(bot: ServeProcess) -> tuple[Samples, str]:
    """Return every sample of ``GET /metrics`` by name and labels, and the raw page."""
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{bot.port}/metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            text = await response.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples, text


def value(samples: Samples, metric: str, /, **labels: str) -> float:
    """Return the sum of the samples of ``metric`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, got), v in samples.items() if n == metric and wanted <= got)


async def until_scraped(
    bot: ServeProcess, metric: str, /, *, at_least: float, **labels: str
) -> Samples:
    deadline = time.monotonic() + 15
    while True:
        samples, _ = await scrape(bot)
        if value(samples, metric, **labels) >= at_least:
            return samples
        assert time.monotonic() < deadline, f"{metric}{labels} stayed below {at_least}"
        await asyncio.sleep(0.1)


async def test_metrics_parse_and_their_counters_move_with_requests_and_cloud_calls(
    config: Path, slack_api: FakeSlackAPI, cloud: Sandbox
) -> None:
    bot = await ServeProcess.start(config, slack=slack_api)
    try:
        # the duties' first tick takes the lease; the backlog is read from storage
        before = await until_scraped(bot, f"{P}_duty_lease_holder", at_least=1)
        assert value(before, f"{P}_duty_lease_holder") == 1
        assert value(before, f"{P}_replica_info") == 1
        assert value(before, f"{P}_approvals_waiting") == 0
        assert value(before, f"{P}_pending_deletions") == 0
        assert value(before, f"{P}_requests_total") == 0

        assert (await bot.command("help")).status == 200
        assert (await bot.command("list")).status == 200
        assert (await bot.command("rotate")).status == 200  # no name: refused, with usage
        after = await until_scraped(bot, f"{P}_requests_total", at_least=3, kind="command")
        # every attempt the sandbox saw is counted (the duties' reconciliation's included)
        deadline = time.monotonic() + 15
        while value(after, f"{P}_cloud_calls_total", action="ListSecrets") != cloud.calls.total(
            "ListSecrets"
        ):
            assert time.monotonic() < deadline, "the cloud calls were never all counted"
            await asyncio.sleep(0.1)
            after, _ = await scrape(bot)
    finally:
        stopped = await bot.terminate()
    assert stopped.returncode == 0, stopped.stderr
    assert value(after, f"{P}_requests_total", kind="command", name="help", outcome="ok") == 1
    assert value(after, f"{P}_requests_total", kind="command", name="list", outcome="ok") == 1
    refused = value(after, f"{P}_requests_total", kind="command", name="rotate", outcome="refused")
    assert refused == 1
    assert value(after, f"{P}_ack_seconds_count", kind="command") == 3
    assert value(after, f"{P}_ack_seconds_bucket", kind="command", le="3.0") == 3
    assert value(after, f"{P}_cloud_calls_total", service="kms", retry="false") >= 1
    assert value(after, f"{P}_cloud_calls_total", action="ListSecrets", code="ok") >= 1
    assert value(after, f"{P}_cloud_call_seconds_count", action="ListSecrets") >= 1


async def test_a_scrape_is_fast_and_calls_no_cloud(
    config: Path, slack_api: FakeSlackAPI, cloud: Sandbox
) -> None:
    bot = await ServeProcess.start(config, slack=slack_api)
    try:
        await scrape(bot)  # the first tick's reconciliation is over by the second scrape
        await asyncio.sleep(0.5)
        calls = sum(cloud.calls.total(name) for name in ("ListSecrets", "DescribeSecret"))
        started = time.monotonic()
        for _ in range(20):
            _, text = await scrape(bot)
        took = (time.monotonic() - started) / 20
        after = sum(cloud.calls.total(name) for name in ("ListSecrets", "DescribeSecret"))
    finally:
        await bot.terminate()
    assert after == calls
    assert took < 0.5, f"a scrape took {took:.3f}s"
    assert f"# TYPE {P}_requests_total counter" in text
    assert f"# TYPE {P}_ack_seconds histogram" in text


def delete_values(mode: str, *, days: str = "30", name: str = "") -> dict[str, Any]:
    return {
        Block.DELETE_MODE: {Action.DELETE_MODE: select_state(mode, type="radio_buttons")},
        Block.DAYS: {Action.DAYS: input_state(days, type="number_input")},
        Block.CONFIRM_NAME: {Action.CONFIRM_NAME: input_state(name)},
        Block.REASON: {Action.REASON: input_state("clean-up")},
    }


async def ask_to_delete(bot: ServeProcess, text: str, values: dict[str, Any]) -> None:
    """Type the delete command, fill the modal, review, and click the danger button."""
    opened = len(bot.slack.calls_to("views.open"))
    await bot.command(text)
    await bot.slack.wait_for_calls("views.open", count=opened + 1)
    answer = (await bot.submit(bot.modal(), values)).json()
    assert answer["response_action"] == "update", answer
    await bot.click(Action.DELETE_GO, view=bot.modal(), block_id=Block.DELETE_GO, value="go")


async def test_the_backlog_gauges_show_what_waits_in_storage(
    config: Path, slack_api: FakeSlackAPI
) -> None:
    bot = await ServeProcess.start(config, slack=slack_api)
    try:
        # an immediate deletion waits for the security team; another is scheduled in 10 days
        await ask_to_delete(
            bot, "delete batch-7-root --now", delete_values("now", name="batch-7-root")
        )
        await ask_to_delete(
            bot, "delete web-4-ecs-user-key --days 10", delete_values("schedule", days="10")
        )
        held = await until_scraped(bot, f"{P}_approvals_waiting", at_least=1)
        samples = await until_scraped(bot, f"{P}_pending_deletions", at_least=1)
    finally:
        stopped = await bot.terminate()
    assert stopped.returncode == 0, stopped.stderr
    go = {"kind": "action", "name": "delete_go"}
    assert value(held, f"{P}_requests_total", **go, outcome="held_for_approval") == 1
    assert value(samples, f"{P}_approvals_waiting") == 1
    assert value(samples, f"{P}_pending_deletions") == 1
    in_ten_days = time.time() + 10 * 86_400
    nearest = value(samples, f"{P}_next_deletion_timestamp_seconds")
    assert abs(nearest - in_ten_days) < 3_600


async def rotate_with_canary(bot: ServeProcess) -> None:
    """Rotate web-3-root with the canary as its custom value, as a person would."""
    await bot.command("rotate web-3-root")
    await bot.slack.wait_for(
        "views.update",
        lambda c: c.payload.get("view", {}).get("callback_id") == Callback.ROTATE,
        timeout=15,
    )
    switch = {Block.USE_CUSTOM: {Action.USE_CUSTOM: checkboxes_state(["custom"])}}
    modal = bot.modal()
    await bot.driver.post(
        block_actions_payload(
            Action.USE_CUSTOM,
            user_id=ws.ALICE_ID,
            view=modal,
            block_id=Block.USE_CUSTOM,
            action_type="checkboxes",
            state_values=switch,
            action={"selected_options": [{"value": "custom"}]},
        )
    )
    await bot.slack.wait_for(
        "views.update", lambda c: Block.PASSWORD in str(c.payload.get("view", {})), timeout=15
    )
    values = {
        **switch,
        Block.PASSWORD: {Action.PASSWORD: input_state(CANARY)},
        Block.REASON: {Action.REASON: input_state("screenshot leak")},
    }
    answer = (await bot.submit(bot.modal(), values)).json()
    assert answer["response_action"] == "update", answer
    await bot.slack.wait_for(
        "chat.update",
        lambda c: "KMS accepted the custom" in c.payload.get("text", ""),
        timeout=20,
    )


async def test_socket_mode_serves_health_and_metrics_on_its_port(
    config: Path, slack_api: FakeSlackAPI, socket_mode_server: FakeSocketModeServer
) -> None:
    # ready: /healthz answered on --port, though Slack's requests come over the websocket
    bot = await ServeProcess.start(config, slack=slack_api, env={"SLACK_APP_TOKEN": ws.APP_TOKEN})
    try:
        await socket_mode_server.wait_until_connected(timeout=15)
        envelope = await socket_mode_server.send_body(slash_command_body("help"))
        await socket_mode_server.wait_for_ack(envelope)
        samples = await until_scraped(bot, f"{P}_requests_total", at_least=1, name="help")
    finally:
        stopped = await bot.terminate()
    assert stopped.returncode == 0, stopped.stderr
    assert "Socket Mode; serving /healthz and /metrics" in stopped.stdout
    assert value(samples, f"{P}_requests_total", kind="command", outcome="ok") == 1
    assert value(samples, f"{P}_ack_seconds_count", kind="command") == 1


@pytest.mark.parametrize("log_format", ["json", "text"])
async def test_a_custom_value_shows_in_no_log_line_and_not_on_metrics(
    config: Path, slack_api: FakeSlackAPI, cloud: Sandbox, log_format: str
) -> None:
    bot = await ServeProcess.start(config, slack=slack_api, args=["--log-format", log_format])
    try:
        await rotate_with_canary(bot)
        assert (await bot.command("rotate")).status == 200  # a refusal: one log line at least
        samples, page = await scrape(bot)
    finally:
        stopped = await bot.terminate()
    assert stopped.returncode == 0, stopped.stderr
    assert cloud.calls.total("PutSecretValue") == 1
    assert value(samples, f"{P}_cloud_calls_total", action="PutSecretValue", code="ok") == 1
    lines = stopped.stderr.splitlines()
    assert lines
    assert CANARY not in stopped.stderr and CANARY not in stopped.stdout
    assert CANARY not in page
    if log_format == "json":
        parsed = [json.loads(line) for line in lines]  # every line is one object
        assert all({"time", "level", "logger", "message"} <= set(p) for p in parsed)
        in_request = [p for p in parsed if p.get("request_id")]
        assert any(p["logger"] == "ecs_secret_bot.bot.errors" for p in in_request), lines
    else:
        assert not lines[0].startswith("{")


async def test_a_log_format_serve_does_not_know_is_refused(
    config: Path, slack_api: FakeSlackAPI
) -> None:
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "ecs_secret_bot.cli", "serve", "--log-format", "xml"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    assert "--log-format" in err.decode() and "'text', 'json'" in err.decode()
