"""Transcripts of one bot installed in two workspaces (OAuth install mode): each
workspace's requests, and the records they leave, go through that workspace's token only,
and a binding naming a workspace matches there only.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeSlackAPI
from fakes import workspace as ws
from fakes.bot import BOT_POLICIES, SEC, SRE, BotHarness, running_bot
from fakes.installing import BETA_CHANNEL, TEAM_A, TEAM_B, installed_bot, team_of_call
from fakes.payloads import input_state, select_state
from fakes.policies import access_toml

from ecs_secret_bot.bot.ids import Action, Block, Callback
from ecs_secret_bot.bot.notifier import SlackNotifier
from ecs_secret_bot.commands.duties import DutyRunner
from ecs_secret_bot.commands.records import PendingDeletion

pytestmark = pytest.mark.both_engines


@pytest.fixture
async def two_teams(
    tmp_path: Path, slack_api: FakeSlackAPI, storage_url: str
) -> AsyncIterator[BotHarness]:
    """A bot installed in two workspaces, under the bot tests' policies, on ``engine``."""
    async with installed_bot(tmp_path, slack_api, database_url=storage_url) as bot:
        yield bot


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
    tmp_path: Path, slack_api: FakeSlackAPI, storage_url: str
) -> None:
    policies = access_toml(
        admins=[f"slack:user:{TEAM_A}/{ws.ADMIN_ID}"],
        readers=[f"slack:usergroup:{TEAM_B}/{SRE}"],
        channel=ws.SECOPS_CHANNEL_ID,
        delete_approvers=[f"slack:usergroup:{SEC}"],
    )
    async with installed_bot(
        tmp_path, slack_api, policies=policies, database_url=storage_url
    ) as bot:
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


async def test_the_duties_remind_each_workspace_through_its_token_and_skip_an_uninstalled_one(
    tmp_path: Path, slack_api: FakeSlackAPI, caplog: pytest.LogCaptureFixture, storage_url: str
) -> None:
    policies = BOT_POLICIES + '\n[reminders]\nbefore = ["31d"]\n'
    async with installed_bot(
        tmp_path, slack_api, policies=policies, database_url=storage_url
    ) as bot:
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


def delete_now(name: str) -> dict[str, Any]:
    return {
        Block.DELETE_MODE: {Action.DELETE_MODE: select_state("now", type="radio_buttons")},
        Block.DAYS: {Action.DAYS: input_state("30", type="number_input")},
        Block.CONFIRM_NAME: {Action.CONFIRM_NAME: input_state(name)},
        Block.REASON: {Action.REASON: input_state("clean-up")},
    }


def pending_row(*, team_id: str) -> PendingDeletion:
    """Return a pending deletion of ``team_id``'s workspace, due in a day."""
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
