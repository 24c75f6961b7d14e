"""Starting the app as bolt documents it (issue 12, item 11): ``serve`` starts without a
warning, and Socket Mode turns request verification off instead of inventing a secret."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from fakes import FakeSlackAPI
from fakes import workspace as ws
from fakes.bot import wired_bot
from fakes.payloads import slash_command_body
from fakes.signing import SIGNING_SECRET
from slack_bolt.async_app import AsyncBoltRequest
from test_scenario_serve import CONFIG, _wait_healthy, free_port

from ecs_secret_bot.bot.app import build_app
from ecs_secret_bot.bot.services import SlackSettings


async def test_serve_starts_and_stops_without_a_warning(
    tmp_path: Path, slack_api: FakeSlackAPI
) -> None:
    config = tmp_path / "bot.toml"
    config.write_text(CONFIG.format(admin=ws.ADMIN_ID), encoding="utf-8")
    port = free_port()
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": ws.BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api.url,
        "ECS_SECRET_BOT_CONFIG": str(config),
    }
    env.pop("SLACK_APP_TOKEN", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "ecs_secret_bot.cli", "serve", "--sandbox", "--port", str(port)),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await _wait_healthy(port, proc)
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
    assert "token will be unused" not in err.decode()
    assert " WARNING " not in err.decode(), err.decode()


async def test_socket_mode_leaves_signatures_to_its_websocket(
    tmp_path: Path, slack_api: FakeSlackAPI
) -> None:
    async with wired_bot(tmp_path, slack_api) as wired:
        socket_app = build_app(
            SlackSettings(bot_token=ws.BOT_TOKEN, app_token=ws.APP_TOKEN, api_url=slack_api.url),
            wired.services,
        )
        http_app = build_app(
            SlackSettings(
                bot_token=ws.BOT_TOKEN, signing_secret=SIGNING_SECRET, api_url=slack_api.url
            ),
            wired.services,
        )
        body = slash_command_body("help", user_id=ws.ADMIN_ID)

        # Socket Mode: no signing secret, made up or not; the app token's websocket
        # authenticates what Slack sends, and bolt's verification is off, as bolt documents.
        answer = await socket_app.async_dispatch(AsyncBoltRequest(body=body, headers={}))
        assert answer.status == 200 and "/ecs-secret" in answer.body
        # HTTP mode: every request is signed, or refused.
        refused = await http_app.async_dispatch(AsyncBoltRequest(body=body, headers={}))
        assert refused.status == 401
