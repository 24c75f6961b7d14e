"""Installing the bot in several fake workspaces, as their admins would, over real HTTP.

Owns the two-workspace set-up of the OAuth scenarios: ``installed_bot`` (a bot in OAuth
install mode over a fake Slack of teams ``TEAM_A`` and ``TEAM_B``, installed in both), the
installer's ``Browser`` (``GET /slack/install``: the state and its cookie -> Slack's "Allow"
(``FakeOAuth.authorize``: a code) -> ``GET /slack/oauth_redirect?code&state``), and what the
tests read back: which team a recorded call's token belongs to, and whether a token is
found in clear in the database at rest. Never patches anything.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import aiohttp

from . import workspace as ws
from .at_rest import stored_bytes
from .bot import BOT_POLICIES, REDIRECT_URI, SEC, SRE, BotHarness, running_bot
from .slack_api import FakeSlackAPI

__all__ = [
    "BETA_CHANNEL",
    "TEAM_A",
    "TEAM_B",
    "Browser",
    "Page",
    "finish_install",
    "install",
    "installed_bot",
    "start_install",
    "team_of_call",
    "tokens_in_clear",
]

TEAM_A = ws.TEAM_ID


TEAM_B = "T0BETA"


BETA_CHANNEL = "C0BETAONLY"


@asynccontextmanager
async def installed_bot(
    tmp_path: Path,
    slack_api: FakeSlackAPI,
    *,
    policies: str = BOT_POLICIES,
    database_url: str = "",
) -> AsyncIterator[BotHarness]:
    """A bot in OAuth install mode over a fake Slack of two workspaces, installed in both
    (on PostgreSQL with ``database_url``, else SQLite)."""
    oauth = slack_api.enable_oauth()
    beta = slack_api.add_workspace(TEAM_B, name="Beta Corp")
    beta.add_channel(BETA_CHANNEL, name="beta-ops")
    beta.set_usergroup(SRE, [ws.ALICE_ID], handle="sre")
    beta.set_usergroup(SEC, [ws.ADMIN_ID], handle="security")
    async with running_bot(
        tmp_path, slack_api, oauth=oauth, policies=policies, database_url=database_url
    ) as bot:
        for team in (TEAM_A, TEAM_B):
            page = await install(bot, team)
            assert page.status == 200, page.text
            assert "Installed in" in page.text
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


async def install(bot: BotHarness, team: str, *, expires_in: int | None = None) -> Page:
    """Install the app in ``team`` as its admin would, through the browser."""
    oauth = bot.slack.oauth
    assert oauth is not None
    async with aiohttp.ClientSession() as http:
        browser = Browser(http, bot.port)
        state, scopes = await start_install(browser)
        code = oauth.authorize(
            team, redirect_uri=REDIRECT_URI, scopes=scopes, expires_in=expires_in
        )
        return await finish_install(browser, code=code, state=state)


def team_of_call(bot: BotHarness, call: object) -> str | None:
    oauth = bot.slack.oauth
    assert oauth is not None
    return oauth.team_of(getattr(call, "token", None))


async def tokens_in_clear(bot: BotHarness, tokens: list[str]) -> list[str]:
    """Return which tokens are found in clear in the database at rest (either engine)."""
    held = await stored_bytes(bot.services.core.db, path=bot.db_path)
    return [token for token in tokens if token.encode() in held]
