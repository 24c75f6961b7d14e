"""Transcripts of installing the bot in workspaces and of removing it (OAuth install mode).

Installed through the real HTTP flow (``fakes.installing``): state issued and used once,
code exchanged once, tokens kept encrypted. An uninstall forgets a workspace's tokens at
once; wrong input at any step gets a page that says what went wrong.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from fakes import RESPONSE_URL_METHOD, FakeSlackAPI
from fakes import workspace as ws
from fakes.bot import REDIRECT_URI, BotHarness
from fakes.installing import (
    TEAM_A,
    TEAM_B,
    Browser,
    finish_install,
    install,
    installed_bot,
    start_install,
    tokens_in_clear,
)
from test_scenario_workspaces import pending_row

from ecs_secret_bot.bot.app import NOT_INSTALLED
from ecs_secret_bot.bot.notifier import SlackNotifier
from ecs_secret_bot.commands import workspaces
from ecs_secret_bot.launch import serve_start

pytestmark = pytest.mark.both_engines


@pytest.fixture
async def two_teams(
    tmp_path: Path, slack_api: FakeSlackAPI, storage_url: str
) -> AsyncIterator[BotHarness]:
    """A bot installed in two workspaces, under the bot tests' policies, on ``engine``."""
    async with installed_bot(tmp_path, slack_api, database_url=storage_url) as bot:
        yield bot


async def test_uninstall_forgets_the_tokens_and_refuses_the_workspace(
    two_teams: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    bot = two_teams
    oauth = bot.slack.oauth
    assert oauth is not None
    canaries = oauth.tokens_of(TEAM_A) + oauth.tokens_of(TEAM_B)
    assert len(canaries) == 2
    assert not await tokens_in_clear(bot, canaries)

    # Slack: the app is removed from team B (its tokens revoked), then the event.
    oauth.revoke(TEAM_B)
    uninstalled = await bot.event({"type": "app_uninstalled"}, team=TEAM_B)
    assert uninstalled.status == 200
    assert await workspaces.find_installation(bot.services.core, TEAM_B) is None
    assert await workspaces.find_installation(bot.services.core, TEAM_A) is not None
    assert not await tokens_in_clear(bot, canaries)

    # Later requests from team B are refused, with what to do; team A goes on.
    refused = await bot.command("whoami", user=ws.ADMIN_ID, team=TEAM_B)
    assert refused.status == 200
    told = await bot.slack.wait_for(RESPONSE_URL_METHOD)
    assert told.payload["text"] == NOT_INSTALLED
    fine = (await bot.command("whoami", user=ws.ADMIN_ID, team=TEAM_A)).json()
    assert "AliyunKMSSecretAdminAccess" in str(fine["blocks"])

    # A record of team B that outlives the request: its reminder is skipped, said once.
    row = pending_row(team_id=TEAM_B)
    calls = len(bot.slack.calls)
    with caplog.at_level(logging.WARNING):
        notifier = SlackNotifier(bot.services)
        await notifier.remind(row, label="1d")
        await notifier.remind(row, label="1d")
    assert len(bot.slack.calls) == calls
    said = [r for r in caplog.records if "no installation for workspace T0BETA" in r.message]
    assert len(said) == 1


async def test_tokens_revoked_forgets_the_bot_tokens(two_teams: BotHarness) -> None:
    bot = two_teams
    event = {"type": "tokens_revoked", "tokens": {"bot": ["U0ECSBOT"]}}
    assert (await bot.event(event, team=TEAM_A)).status == 200
    assert await workspaces.find_installation(bot.services.core, TEAM_A) is None
    assert await workspaces.find_installation(bot.services.core, TEAM_B) is not None


async def test_wrong_install_input_gets_a_clear_answer(two_teams: BotHarness) -> None:
    bot = two_teams
    oauth = bot.slack.oauth
    assert oauth is not None
    async with aiohttp.ClientSession() as http:
        browser = Browser(http, bot.port)
        state, scopes = await start_install(browser)
        # A state this bot never issued.
        code = oauth.authorize(TEAM_B, redirect_uri=REDIRECT_URI, scopes=scopes)
        forged = await finish_install(browser, code=code, state="forged-state")
        assert forged.status == 400  # bolt: the state is not this browser's
        # The right state, once; then again with the same code.
        assert (await finish_install(browser, code=code, state=state)).status == 200
        state, _ = await start_install(browser)
        reused = await finish_install(browser, code=code, state=state)
        assert reused.status == 401 and "already used or expired" in reused.text
        # A state used up already.
        again = await finish_install(browser, code=code, state=state)
        assert again.status in (400, 401) and "Start again from" in again.text
        # A code past its 10 minutes.
        state, _ = await start_install(browser)
        late = oauth.authorize(TEAM_B, redirect_uri=REDIRECT_URI, scopes=scopes)
        oauth.now_offset += 601
        expired = await finish_install(browser, code=late, state=state)
        assert expired.status == 401 and "Slack did not accept" in expired.text
    assert [c.payload.get("code") for c in bot.slack.calls_to("oauth.v2.access")][-2:] == [
        code,
        late,
    ]


def test_the_install_scopes_are_the_manifests() -> None:
    import yaml

    from ecs_secret_bot.bot.installations import BOT_SCOPES

    manifest = yaml.safe_load((Path(__file__).parents[2] / "manifest.yml").read_text())
    assert list(BOT_SCOPES) == manifest["oauth_config"]["scopes"]["bot"]
    redirect_urls = manifest["oauth_config"]["redirect_urls"]
    assert all(url.endswith("/slack/oauth_redirect") for url in redirect_urls)
    assert {"app_uninstalled", "tokens_revoked"} <= set(
        manifest["settings"]["event_subscriptions"]["bot_events"]
    )


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"SLACK_CLIENT_ID": "1.2"}, "SLACK_CLIENT_SECRET is not set"),
        ({"SLACK_CLIENT_SECRET": "s"}, "SLACK_CLIENT_ID is not set"),
        (
            {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "s", "SLACK_BOT_TOKEN": "xoxb-1"},
            "unset SLACK_BOT_TOKEN",
        ),
        (
            {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "s", "SLACK_APP_TOKEN": "xapp-1"},
            "OAuth install mode serves HTTP",
        ),
        (
            {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "s", "SLACK_REDIRECT_URI": "bot"},
            "SLACK_REDIRECT_URI 'bot' is not a URL",
        ),
    ],
)
def test_oauth_mode_says_what_is_missing(tmp_path: Path, env: dict[str, str], said: str) -> None:
    start = serve_start(
        {"SLACK_SIGNING_SECRET": "x", **env},
        port="3000",
        host="127.0.0.1",
        grace=1.0,
        config_path=tmp_path / "none.toml",
        named=False,
        sandbox=True,
    )
    assert isinstance(start, str) and said in start
    assert "OAuth install mode (the app installed in several workspaces) needs" in start


def test_oauth_mode_starts_without_a_bot_token(tmp_path: Path) -> None:
    secret = "client-secret-canary"
    env = {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": secret, "SLACK_SIGNING_SECRET": "x"}
    start = serve_start(
        env,
        port="3000",
        host="127.0.0.1",
        grace=1.0,
        config_path=tmp_path / "none.toml",
        named=False,
        sandbox=True,
    )
    assert not isinstance(start, str), start
    assert start.slack.oauth and not start.slack.bot_token and secret not in repr(start.slack)


async def test_with_token_rotation_a_token_about_to_expire_is_refreshed(
    two_teams: BotHarness,
) -> None:
    bot = two_teams
    oauth = bot.slack.oauth
    store = bot.services.installations
    assert oauth is not None and store is not None
    # Reinstalled with token rotation on: its token lasts 5 minutes, less than the margin.
    assert (await install(bot, TEAM_B, expires_in=300)).status == 200
    kept = await workspaces.find_installation(bot.services.core, TEAM_B)
    assert kept is not None and kept.bot_refresh_token.startswith("xoxe-")
    fresh = await store.bot_token(TEAM_B)
    assert fresh != kept.bot_token and oauth.team_of(fresh) == TEAM_B
    again = await workspaces.find_installation(bot.services.core, TEAM_B)
    assert again is not None and again.bot_token == fresh
    assert again.bot_refresh_token not in ("", kept.bot_refresh_token)
    assert not await tokens_in_clear(bot, [kept.bot_token, fresh, again.bot_refresh_token])
