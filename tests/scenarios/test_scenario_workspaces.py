"""Transcripts of one bot installed in two workspaces (OAuth install mode).

Installed through the real HTTP flow: ``GET /slack/install`` (state issued, cookie set) ->
the installer clicks Allow in Slack (``FakeOAuth.authorize``: a code) -> ``GET
/slack/oauth_redirect?code&state`` (state used once, code exchanged once with
``oauth.v2.access``, tokens kept encrypted). Then each workspace's requests, and the
records they leave, go through that workspace's token only.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import aiohttp
import pytest
from fakes import FakeSlackAPI
from fakes import workspace as ws
from fakes.bot import REDIRECT_URI, BotHarness, running_bot

from ecs_secret_bot.bot.ids import Action, Block, Callback

TEAM_A = ws.TEAM_ID
TEAM_B = "T0BETA"
BETA_CHANNEL = "C0BETAONLY"


@pytest.fixture
async def two_teams(tmp_path: Path, slack_api: FakeSlackAPI) -> AsyncIterator[BotHarness]:
    """A bot in OAuth install mode over a fake Slack of two workspaces, installed in both."""
    oauth = slack_api.enable_oauth()
    beta = slack_api.add_workspace(TEAM_B, name="Beta Corp")
    beta.add_channel(BETA_CHANNEL, name="beta-ops")
    async with running_bot(tmp_path, slack_api, oauth=oauth) as bot:
        for team in (TEAM_A, TEAM_B):
            page = await install(bot, team)
            assert page.status == 200, page.text
        yield bot


class Page:
    """What the installer's browser got back."""

    def __init__(self, status: int, text: str) -> None:
        self.status = status
        self.text = text


class Browser:
    """The installer's browser: keeps the bot's cookie (set Secure: the bot is served over
    https in production, and aiohttp would not send it back over the test's plain http)."""

    def __init__(self, http: aiohttp.ClientSession, port: int) -> None:
        self.http = http
        self.port = port
        self.cookie = ""

    async def get(self, path: str, **params: str) -> Page:
        url = f"http://127.0.0.1:{self.port}{path}"
        headers = {"Cookie": self.cookie} if self.cookie else {}
        async with self.http.get(url, params=params, headers=headers) as response:
            for value in response.headers.getall("Set-Cookie", []):
                self.cookie = value.split(";", 1)[0]
            return Page(response.status, await response.text())


async def start_install(browser: Browser) -> tuple[str, list[str]]:
    """Open the "Add to Slack" page; return the state and scopes of its Slack link."""
    page = await browser.get("/slack/install")
    assert page.status == 200
    html = page.text
    link = unquote(re.search(r'href="(https://slack.com/oauth/v2/authorize\?[^"]+)"', html)[1])
    query = parse_qs(urlparse(link.replace("&amp;", "&")).query)
    assert query["redirect_uri"] == [REDIRECT_URI]
    return query["state"][0], query["scope"][0].split(",")


async def finish_install(browser: Browser, *, code: str, state: str) -> Page:
    """Come back from Slack to the bot's Redirect URL with ``code`` and ``state``."""
    return await browser.get("/slack/oauth_redirect", code=code, state=state)


async def install(bot: BotHarness, team: str) -> Page:
    """Install the app in ``team`` as its admin would, through the browser."""
    oauth = bot.slack.oauth
    assert oauth is not None
    async with aiohttp.ClientSession() as http:
        browser = Browser(http, bot.port)
        state, scopes = await start_install(browser)
        code = oauth.authorize(team, redirect_uri=REDIRECT_URI, scopes=scopes)
        return await finish_install(browser, code=code, state=state)


def team_of_call(bot: BotHarness, call: object) -> str | None:
    oauth = bot.slack.oauth
    assert oauth is not None
    return oauth.team_of(getattr(call, "token", None))


async def rotate(bot: BotHarness, team: str, channel: str, secret: str) -> None:
    """Run ``/ecs-secret rotate <secret>`` in ``team`` to its completed message."""
    response = await bot.command(f"rotate {secret}", user=ws.ADMIN_ID, team=team, channel=channel)
    assert response.status == 200, response.body
    await bot.slack.wait_for(
        "views.update",
        lambda c: (
            c.payload.get("view", {}).get("callback_id") == Callback.ROTATE
            and team_of_call(bot, c) == team
        ),
    )
    modal = bot.modal(team=team)
    reason = {Block.REASON: {Action.REASON: {"type": "plain_text_input", "value": "leaked"}}}
    submitted = await bot.submit(modal, reason, user=ws.ADMIN_ID, team=team)
    assert submitted.status == 200 and submitted.json()["response_action"] == "update", (
        submitted.body
    )
    await bot.slack.wait_for(
        "chat.update",
        lambda c: (
            "Rotation completed" in c.payload.get("text", "")
            and c.payload.get("channel") == channel
        ),
        timeout=15,
    )


async def test_installed_in_two_workspaces_each_rotation_uses_its_own_token(
    two_teams: BotHarness,
) -> None:
    bot = two_teams
    oauth = bot.slack.oauth
    assert oauth is not None and oauth.tokens_of(TEAM_A) and oauth.tokens_of(TEAM_B)
    await rotate(bot, TEAM_A, ws.INCIDENT_CHANNEL_ID, "web-3-root")
    await rotate(bot, TEAM_B, BETA_CHANNEL, "web-4-ecs-user-key")
    # Every call the bot made (but the code exchanges) carried one team's token, and each
    # message of a rotation went through the token of the workspace it was asked in.
    for call in bot.slack.calls:
        if call.method not in ("oauth.v2.access", "auth.test", "response_url"):
            assert team_of_call(bot, call) in (TEAM_A, TEAM_B), call.method
    for team, channel in ((TEAM_A, ws.INCIDENT_CHANNEL_ID), (TEAM_B, BETA_CHANNEL)):
        sent = [
            c
            for c in bot.slack.calls
            if c.method in ("chat.postMessage", "chat.update") and c.payload["channel"] == channel
        ]
        assert sent and {team_of_call(bot, c) for c in sent} == {team}
        (message,) = [m for m in bot.slack.messages(channel, team=team) if not m.ephemeral_to]
        assert message.text.startswith("Rotation completed")
    # Team A's token cannot reach team B's channel: Slack says it does not exist.
    assert not bot.slack.messages(BETA_CHANNEL, team=TEAM_A)
