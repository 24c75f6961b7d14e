"""FakeSlackAPI installs an app as Slack does: codes used once, in time, with the right
credentials and Redirect URL; tokens good for their own workspace only."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import pytest
from fakes import FakeSlackAPI, workspace
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

REDIRECT = "https://bot.example.com/slack/oauth_redirect"


async def refusal(call: Awaitable[Any]) -> str:
    """Return the error code Slack answered `call` with."""
    with pytest.raises(SlackApiError) as refused:
        await call
    return str(refused.value.response["error"])


def exchange(slack: FakeSlackAPI, **fields: str) -> Awaitable[Any]:
    """Call oauth.v2.access with the app's credentials in the form (Slack takes both ways)."""
    return AsyncWebClient(base_url=slack.url).api_call("oauth.v2.access", data=fields)


async def token_for(slack: FakeSlackAPI, team: str) -> str:
    oauth = slack.oauth
    assert oauth is not None
    code = oauth.authorize(team, redirect_uri=REDIRECT, scopes=["chat:write"])
    reply = await exchange(
        slack,
        client_id=oauth.client_id,
        client_secret=oauth.client_secret,
        code=code,
        redirect_uri=REDIRECT,
    )
    assert reply["team"]["id"] == team and reply["scope"] == "chat:write"
    return str(reply["access_token"])


async def test_a_code_is_exchanged_once_in_time_with_the_apps_credentials(
    slack_api: FakeSlackAPI,
) -> None:
    oauth = slack_api.enable_oauth()
    code = oauth.authorize(workspace.TEAM_ID, redirect_uri=REDIRECT)
    secret = oauth.client_secret

    def access(**changed: str) -> Awaitable[Any]:
        args = {"client_id": oauth.client_id, "client_secret": secret, "code": code}
        return exchange(slack_api, **{**args, "redirect_uri": REDIRECT, **changed})

    assert await refusal(access(client_id="9.9")) == "invalid_client_id"
    assert await refusal(access(client_secret="wrong")) == "bad_client_secret"
    assert await refusal(access(redirect_uri="https://elsewhere/cb")) == "bad_redirect_uri"
    assert await refusal(access(code="made-up")) == "invalid_code"
    assert (await access())["ok"]
    assert await refusal(access()) == "code_already_used"
    code = oauth.authorize(workspace.TEAM_ID, redirect_uri=REDIRECT)
    oauth.now_offset += 601
    assert await refusal(access()) == "code_expired"


async def test_a_token_reaches_its_own_workspace_only(slack_api: FakeSlackAPI) -> None:
    slack_api.enable_oauth()
    beta = slack_api.add_workspace("T0BETA")
    beta.add_channel("C0BETAONLY", name="beta-ops")
    alpha = AsyncWebClient(
        token=await token_for(slack_api, workspace.TEAM_ID), base_url=slack_api.url
    )
    other = AsyncWebClient(token=await token_for(slack_api, "T0BETA"), base_url=slack_api.url)

    assert (await alpha.auth_test())["team_id"] == workspace.TEAM_ID
    assert (await other.auth_test())["team_id"] == "T0BETA"
    assert await refusal(alpha.chat_postMessage(channel="C0BETAONLY", text="hi")) == (
        "channel_not_found"
    )
    assert (await other.chat_postMessage(channel="C0BETAONLY", text="hi"))["ok"]
    assert [m.text for m in slack_api.messages("C0BETAONLY", team="T0BETA")] == ["hi"]
    stranger = AsyncWebClient(token=workspace.BOT_TOKEN, base_url=slack_api.url)
    assert await refusal(stranger.auth_test()) == "invalid_auth"
    assert slack_api.oauth is not None
    slack_api.oauth.revoke("T0BETA")
    assert await refusal(other.auth_test()) == "token_revoked"
