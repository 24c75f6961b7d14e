"""The token of each Web API call's workspace: named by the request or the record, never
another's; a call for a workspace the app is not in is refused before anything is sent."""

from __future__ import annotations

import asyncio

import pytest
from fakes import FakeSlackAPI

from ecs_secret_bot.bot.workspaces import (
    WorkspaceClient,
    WorkspaceNotInstalled,
    current_team,
    in_workspace,
    set_workspace,
)


class Tokens:
    """Installed workspaces and their tokens, as the core's installations give them."""

    def __init__(self, tokens: dict[str, str]) -> None:
        self.tokens = tokens

    async def bot_token(self, team_id: str) -> str | None:
        return self.tokens.get(team_id)

    async def only_team(self) -> str | None:
        return next(iter(self.tokens)) if len(self.tokens) == 1 else None


async def test_each_call_carries_its_workspaces_token(slack_api: FakeSlackAPI) -> None:
    client = WorkspaceClient(
        tokens=Tokens({"T0A": "xoxb-a", "T0B": "xoxb-b"}), base_url=slack_api.url
    )
    with in_workspace("T0A"):
        await client.auth_test()
        with in_workspace("T0B"):
            await client.auth_test()
        await client.auth_test()
    assert [c.token for c in slack_api.calls] == ["xoxb-a", "xoxb-b", "xoxb-a"]
    assert current_team() == ""


async def test_a_call_in_no_installed_workspace_is_refused_before_it_is_sent(
    slack_api: FakeSlackAPI, caplog: pytest.LogCaptureFixture
) -> None:
    client = WorkspaceClient(
        tokens=Tokens({"T0A": "xoxb-a", "T0B": "xoxb-b"}), base_url=slack_api.url
    )
    for team in ("T0GONE", "T0GONE", ""):  # uninstalled; then no workspace named, with two
        with in_workspace(team), pytest.raises(WorkspaceNotInstalled):
            await client.chat_postMessage(channel="C1", text="hi")
    assert slack_api.calls == []
    assert len([r for r in caplog.records if "workspace T0GONE" in r.message]) == 1
    detached = WorkspaceClient(base_url=slack_api.url)
    with pytest.raises(WorkspaceNotInstalled):
        await detached.auth_test()


async def test_with_one_installation_a_call_naming_no_workspace_goes_there(
    slack_api: FakeSlackAPI,
) -> None:
    client = WorkspaceClient(tokens=Tokens({"T0A": "xoxb-a"}), base_url=slack_api.url)
    await client.auth_test()
    await client.auth_test(token="xoxb-named")  # a call naming its own token keeps it
    assert [c.token for c in slack_api.calls] == ["xoxb-a", "xoxb-named"]


async def test_a_requests_workspace_follows_the_tasks_it_starts() -> None:
    async def request(team: str) -> list[str]:
        set_workspace(team)
        await asyncio.sleep(0)
        started = asyncio.create_task(asyncio.sleep(0, result=current_team()))
        return [current_team(), await started]

    first, second = await asyncio.gather(
        asyncio.create_task(request("T0A")), asyncio.create_task(request("T0B"))
    )
    assert (first, second) == (["T0A", "T0A"], ["T0B", "T0B"])
    assert current_team() == ""
