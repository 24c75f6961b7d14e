"""Transcripts of one bot installed in two workspaces (OAuth install mode).

Installed through the real HTTP flow: ``GET /slack/install`` (state issued, cookie set) ->
the installer clicks Allow in Slack (``FakeOAuth.authorize``: a code) -> ``GET
/slack/oauth_redirect?code&state`` (state used once, code exchanged once with
``oauth.v2.access``, tokens kept encrypted). Then each workspace's requests, and the
records they leave, go through that workspace's token only.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import aiohttp
import pytest
from fakes import RESPONSE_URL_METHOD, FakeSlackAPI
from fakes import workspace as ws
from fakes.bot import BOT_POLICIES, REDIRECT_URI, SEC, SRE, BotHarness, running_bot
from fakes.payloads import input_state, select_state
from fakes.policies import access_toml

from ecs_secret_bot.bot.app import NOT_INSTALLED
from ecs_secret_bot.bot.ids import Action, Block, Callback
from ecs_secret_bot.bot.notifier import SlackNotifier
from ecs_secret_bot.commands import workspaces
from ecs_secret_bot.commands.duties import DutyRunner
from ecs_secret_bot.commands.records import PendingDeletion
from ecs_secret_bot.launch import serve_start

TEAM_A = ws.TEAM_ID
TEAM_B = "T0BETA"
BETA_CHANNEL = "C0BETAONLY"


@asynccontextmanager
async def installed_bot(
    tmp_path: Path, slack_api: FakeSlackAPI, *, policies: str = BOT_POLICIES
) -> AsyncIterator[BotHarness]:
    """A bot in OAuth install mode over a fake Slack of two workspaces, installed in both."""
    oauth = slack_api.enable_oauth()
    beta = slack_api.add_workspace(TEAM_B, name="Beta Corp")
    beta.add_channel(BETA_CHANNEL, name="beta-ops")
    beta.set_usergroup(SRE, [ws.ALICE_ID], handle="sre")
    beta.set_usergroup(SEC, [ws.ADMIN_ID], handle="security")
    async with running_bot(tmp_path, slack_api, oauth=oauth, policies=policies) as bot:
        for team in (TEAM_A, TEAM_B):
            page = await install(bot, team)
            assert page.status == 200, page.text
            assert "Installed in" in page.text
        yield bot


@pytest.fixture
async def two_teams(tmp_path: Path, slack_api: FakeSlackAPI) -> AsyncIterator[BotHarness]:
    """A bot installed in two workspaces, under the bot tests' policies."""
    async with installed_bot(tmp_path, slack_api) as bot:
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


async def test_a_binding_naming_team_a_does_not_match_the_same_user_in_team_b(
    tmp_path: Path, slack_api: FakeSlackAPI
) -> None:
    policies = access_toml(
        admins=[f"slack:user:{TEAM_A}/{ws.ADMIN_ID}"],
        readers=[f"slack:usergroup:{TEAM_B}/{SRE}"],
        channel=ws.SECOPS_CHANNEL_ID,
        delete_approvers=[f"slack:usergroup:{SEC}"],
    )
    async with installed_bot(tmp_path, slack_api, policies=policies) as bot:
        in_a = (await bot.command("whoami", user=ws.ADMIN_ID, team=TEAM_A)).json()
        in_b = (await bot.command("whoami", user=ws.ADMIN_ID, team=TEAM_B)).json()
        assert "AliyunKMSSecretAdminAccess" in str(in_a["blocks"])
        assert "AliyunKMSSecretAdminAccess" not in str(in_b["blocks"])
        # Alice is in the SRE group of both workspaces; only team B's group is bound.
        alice_a = (await bot.command("whoami", team=TEAM_A)).json()
        alice_b = (await bot.command("whoami", team=TEAM_B)).json()
        assert "AliyunKMSReadOnlyAccess" not in str(alice_a["blocks"])
        assert "AliyunKMSReadOnlyAccess" in str(alice_b["blocks"])
        # Each workspace's groups were asked about with that workspace's token.
        asked = bot.slack.calls_to("usergroups.users.list")
        assert {team_of_call(bot, c) for c in asked if c.payload["usergroup"] == SEC} == {
            TEAM_A,
            TEAM_B,
        }
        assert {team_of_call(bot, c) for c in asked if c.payload["usergroup"] == SRE} == {TEAM_B}


async def test_uninstall_forgets_the_tokens_and_refuses_the_workspace(
    two_teams: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    bot = two_teams
    oauth = bot.slack.oauth
    assert oauth is not None
    canaries = oauth.tokens_of(TEAM_A) + oauth.tokens_of(TEAM_B)
    assert len(canaries) == 2
    assert not tokens_in_clear(bot.db_path, canaries)

    # Slack: the app is removed from team B (its tokens revoked), then the event.
    oauth.revoke(TEAM_B)
    uninstalled = await bot.event({"type": "app_uninstalled"}, team=TEAM_B)
    assert uninstalled.status == 200
    assert await workspaces.find_installation(bot.services.core, TEAM_B) is None
    assert await workspaces.find_installation(bot.services.core, TEAM_A) is not None
    assert not tokens_in_clear(bot.db_path, canaries)

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


def tokens_in_clear(db_path: Path, tokens: list[str]) -> list[str]:
    """Return which tokens are found in clear in the database's files."""
    found = []
    for path in db_path.parent.iterdir():
        if path.is_file() and path.name.startswith(db_path.name):
            content = path.read_bytes()
            found += [f"{t} in {path.name}" for t in tokens if t.encode() in content]
    return found


def pending_row(*, team_id: str) -> PendingDeletion:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    return PendingDeletion(
        id=1,
        region="cn-hangzhou",
        secret_name="acs/ecs/web-3-root",
        scheduled_by=f"slack:user:{ws.ADMIN_ID}",
        channel_id=BETA_CHANNEL,
        message_ts=None,
        planned_delete_time=now + timedelta(days=1),
        status="pending",
        reminders_sent=frozenset(),
        created_at=now,
        updated_at=now,
        note="",
        team_id=team_id,
    )


async def test_with_one_token_a_principal_naming_its_workspace_matches_there(
    tmp_path: Path, slack_api: FakeSlackAPI
) -> None:
    policies = access_toml(
        admins=[f"slack:usergroup:{TEAM_A}/{SEC}"],
        readers=[f"slack:user:{TEAM_B}/{ws.BOB_ID}"],
        channel=ws.SECOPS_CHANNEL_ID,
        delete_approvers=[f"slack:usergroup:{SEC}"],
    )
    async with running_bot(tmp_path, slack_api, policies=policies) as bot:
        admin = (await bot.command("whoami", user=ws.ADMIN_ID)).json()
        assert "AliyunKMSSecretAdminAccess" in str(admin["blocks"])
        bob = (await bot.command("whoami", user=ws.BOB_ID)).json()  # bound in team B only
        assert "AliyunKMSReadOnlyAccess" not in str(bob["blocks"])


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
    assert not tokens_in_clear(bot.db_path, [kept.bot_token, fresh, again.bot_refresh_token])


async def test_an_approval_in_team_b_goes_through_team_bs_token(two_teams: BotHarness) -> None:
    bot = two_teams
    here = {"team": TEAM_B}
    # Alice (SRE) asks in team B for an immediate deletion, which security must approve.
    await bot.command("delete batch-7-root --now", channel=BETA_CHANNEL, **here)
    await bot.slack.wait_for("views.open", lambda c: team_of_call(bot, c) == TEAM_B)
    answer = (await bot.submit(bot.modal(team=TEAM_B), delete_now("batch-7-root"), **here)).json()
    assert answer["response_action"] == "update", answer
    await bot.click(
        Action.DELETE_GO, view=bot.modal(team=TEAM_B), block_id=Block.DELETE_GO, value="go", **here
    )
    card_call = await bot.slack.wait_for(
        "chat.postMessage", lambda c: "Approval request" in c.payload.get("text", "")
    )
    assert card_call.payload["channel"] == BETA_CHANNEL
    # The approvers' DM pointing to the card: in team B, with team B's token.
    dm = await bot.slack.wait_for(
        "chat.postMessage", lambda c: c.payload.get("channel") == ws.ADMIN_ID
    )
    assert team_of_call(bot, dm) == TEAM_B
    (card,) = [m for m in bot.slack.messages(BETA_CHANNEL, team=TEAM_B) if "Approval" in m.text]
    approve = next(
        e["value"]
        for b in card.blocks
        for e in b.get("elements", [])
        if e.get("action_id") == Action.APPROVE
    )
    await bot.click(Action.APPROVE, value=approve, message=card, user=ws.ADMIN_ID, **here)
    await bot.slack.wait_for("chat.update", lambda c: c.payload.get("channel") == BETA_CHANNEL)
    await bot.slack.wait_for(
        "chat.postMessage", lambda c: "deleted immediately" in c.payload.get("text", "")
    )
    sent = [c for c in bot.slack.calls if c.method.startswith(("chat.", "views."))]
    assert sent and {team_of_call(bot, c) for c in sent} == {TEAM_B}
    assert not bot.slack.messages(team=TEAM_A)
    # The request remembers its workspace, for what the duties say about it later.
    rows = await bot.services.core.db.fetchall("SELECT team_id FROM approvals")
    assert [row["team_id"] for row in rows] == [TEAM_B]


def delete_now(name: str) -> dict[str, Any]:
    return {
        Block.DELETE_MODE: {Action.DELETE_MODE: select_state("now", type="radio_buttons")},
        Block.DAYS: {Action.DAYS: input_state("30", type="number_input")},
        Block.CONFIRM_NAME: {Action.CONFIRM_NAME: input_state(name)},
        Block.REASON: {Action.REASON: input_state("clean-up")},
    }


async def test_the_duties_remind_each_workspace_through_its_token_and_skip_an_uninstalled_one(
    tmp_path: Path, slack_api: FakeSlackAPI, caplog: pytest.LogCaptureFixture
) -> None:
    policies = BOT_POLICIES + '\n[reminders]\nbefore = ["31d"]\n'
    async with installed_bot(tmp_path, slack_api, policies=policies) as bot:
        for team, channel, name in (
            (TEAM_A, ws.INCIDENT_CHANNEL_ID, "web-4-ecs-user-key"),
            (TEAM_B, BETA_CHANNEL, "win-app-1-admin"),
        ):
            await schedule(bot, team=team, channel=channel, name=name)
        runner = DutyRunner(
            bot.services.core,
            SlackNotifier(bot.services),
            owner="test",
            reconcile_every=timedelta(days=1),
            tracker=bot.services.tracker,
        )
        assert (await runner.tick()).reminders == 2
        reminders = [c for c in bot.slack.calls_to("chat.postMessage") if "Reminder" in str(c)]
        by_channel = {c.payload["channel"]: team_of_call(bot, c) for c in reminders}
        assert by_channel[ws.INCIDENT_CHANNEL_ID] == TEAM_A
        assert by_channel[BETA_CHANNEL] == TEAM_B

        # Team B uninstalls; a record of its own comes due: skipped, said once in the log.
        assert bot.slack.oauth is not None
        bot.slack.oauth.revoke(TEAM_B)
        assert (await bot.event({"type": "app_uninstalled"}, team=TEAM_B)).status == 200
        await schedule(bot, team=TEAM_A, channel=ws.INCIDENT_CHANNEL_ID, name="web-3-root")
        row = dataclasses.replace(pending_row(team_id=TEAM_B), message_ts="1796570000.000001")
        calls = len(bot.slack.calls)
        with caplog.at_level(logging.WARNING):
            await SlackNotifier(bot.services).deletion_closed(row)
            assert (await runner.tick()).reminders == 1  # team A's new one
            await SlackNotifier(bot.services).deletion_closed(row)
        after = bot.slack.calls[calls:]
        assert {team_of_call(bot, c) for c in after if c.method.startswith("chat.")} == {TEAM_A}
        said = [r for r in caplog.records if "no installation for workspace T0BETA" in r.message]
        assert len(said) == 1


async def schedule(bot: BotHarness, *, team: str, channel: str, name: str) -> None:
    """Schedule ``name``'s deletion in 10 days from ``channel`` of ``team``."""
    here = {"team": team}
    await bot.command(f"delete {name} --days 10", channel=channel, **here)
    await bot.slack.wait_for(
        "views.open", lambda c: team_of_call(bot, c) == team and name in str(c.payload)
    )
    values = delete_now(name)
    values[Block.DELETE_MODE] = {Action.DELETE_MODE: select_state("schedule", type="radio_buttons")}
    values[Block.DAYS] = {Action.DAYS: input_state("10", type="number_input")}
    answer = (await bot.submit(bot.modal(team=team), values, **here)).json()
    assert answer["response_action"] == "update", answer
    await bot.click(
        Action.DELETE_GO, view=bot.modal(team=team), block_id=Block.DELETE_GO, value="go", **here
    )
    await bot.slack.wait_for(
        "chat.postMessage",
        lambda c: (
            "scheduled for deletion" in c.payload.get("text", "")
            and c.payload.get("channel") == channel
            and name.rsplit("/", 1)[-1] in c.payload.get("text", "")
        ),
    )
