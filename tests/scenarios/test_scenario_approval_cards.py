"""Transcripts: an approval card always reaches its approvers (issue 12, item 3).

It is posted where the request was made, else in ``[approval] channel``, never to the
requester alone; each eligible approver gets a DM pointing to it; the requester is told
truthfully where it went. A card no channel takes is tried again a bounded number of times,
each request on its own, and the requester is told when the bot gives up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from fakes import FakeSlackAPI
from fakes import workspace as ws
from fakes.bot import SEC, SRE, BotHarness, running_bot
from fakes.policies import access_toml
from fakes.recording import RecordedCall
from fakes.slack_messages import Message
from test_scenario_delete_and_approvals import button_of, delete_values
from test_scenario_duties import duties, later

from ecs_secret_bot.bot.ids import Action, Block
from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.duties import CARD_ATTEMPTS
from ecs_secret_bot.commands.operations.delete import delete_secret
from ecs_secret_bot.commands.outcomes import HeldForApproval
from ecs_secret_bot.commands.requests import DeleteRequest

SEC2, SEC3 = "U0SEC2", "U0SEC3"
pytestmark = pytest.mark.both_engines


def policies(*, dm_limit: int | None = None) -> str:
    return access_toml(
        admins=[f"slack:user:{ws.ADMIN_ID}", f"slack:usergroup:{SRE}", f"slack:usergroup:{SEC}"],
        readers=[f"slack:user:{ws.BOB_ID}"],
        channel=ws.SECOPS_CHANNEL_ID,
        dm_limit=dm_limit,
        delete_approvers=[f"slack:usergroup:{SEC}"],
        restore_approvers=[f"slack:usergroup:{SRE}"],
    )


@pytest.fixture
async def bot(
    tmp_path: Path, slack_api: FakeSlackAPI, storage_url: str
) -> AsyncIterator[BotHarness]:
    async with running_bot(
        tmp_path, slack_api, policies=policies(), database_url=storage_url
    ) as harness:
        yield harness


async def ask_to_delete_now(bot: BotHarness, name: str, *, channel: str) -> None:
    """Alice asks, in ``channel``, to delete ``name`` at once (security must approve)."""
    await bot.command(f"delete {name} --now", channel=channel)
    await bot.slack.wait_for("views.open", lambda c: name in str(c.payload))
    await bot.submit(bot.modal(), delete_values("now", name=name))
    await bot.click(Action.DELETE_GO, view=bot.modal(), block_id=Block.DELETE_GO, value="go")


def is_card(call: RecordedCall) -> bool:
    return "Approval request" in str(call.payload.get("text", ""))


async def told_alice(bot: BotHarness, words: str) -> str:
    """Wait for what Alice alone is told (ephemeral or DM) containing ``words``."""

    def to_alice(call: RecordedCall) -> bool:
        ephemeral = call.method == "chat.postEphemeral" and call.payload.get("user") == ws.ALICE_ID
        dm = call.method == "chat.postMessage" and call.payload.get("channel") == ws.ALICE_ID
        return (ephemeral or dm) and words in str(call.payload.get("text", ""))

    for _ in range(100):
        found = [c for c in bot.slack.calls if to_alice(c)]
        if found:
            return str(found[0].payload["text"])
        await asyncio.sleep(0.05)
    raise AssertionError(f"Alice was never told {words!r}")


def has_button(blocks: object, action_id: str) -> bool:
    """Say whether Block Kit ``blocks`` carry a button or element with ``action_id``."""
    if not isinstance(blocks, list):
        return False
    elements = [e for b in blocks for e in (b.get("elements") or []) + [b.get("accessory") or {}]]
    return any(isinstance(e, dict) and e.get("action_id") == action_id for e in elements)


def buttons_to_alice(bot: BotHarness) -> list[RecordedCall]:
    """Return what reached Alice alone with an Approve button on it."""
    return [
        c
        for c in bot.slack.calls
        if (c.method == "response_url")
        or (c.method == "chat.postEphemeral" and c.payload.get("user") == ws.ALICE_ID)
        or (c.method == "chat.postMessage" and c.payload.get("channel") == ws.ALICE_ID)
        if has_button(c.payload.get("blocks"), Action.APPROVE)
    ]


async def posted_card(bot: BotHarness, channel: str) -> Message:
    """Wait until an approval card is posted (Slack took it) in ``channel``; return it."""
    await bot.slack.wait_for(
        "chat.postMessage", lambda c: is_card(c) and c.payload.get("channel") == channel
    )
    for _ in range(100):
        cards = [m for m in bot.slack.messages(channel) if "Approval request" in m.text]
        if cards:
            return cards[-1]
        await asyncio.sleep(0.02)
    raise AssertionError(f"no approval card in {channel}")


async def test_each_eligible_approver_gets_a_dm_pointing_to_the_card(bot: BotHarness) -> None:
    # security: the admin, a guest, a bot, a deactivated account, and Alice who asks
    group = [ws.ADMIN_ID, ws.GUEST_ID, ws.OTHER_BOT_USER_ID, ws.DELETED_USER_ID, ws.ALICE_ID]
    bot.slack.set_usergroup(SEC, group, handle="security")

    await ask_to_delete_now(bot, "batch-7-root", channel=ws.INCIDENT_CHANNEL_ID)

    await posted_card(bot, ws.INCIDENT_CHANNEL_ID)
    dm = await bot.slack.wait_for(
        "chat.postMessage", lambda c: "waits for you" in str(c.payload.get("text", ""))
    )
    assert dm.payload["channel"] == ws.ADMIN_ID
    assert f"<#{ws.INCIDENT_CHANNEL_ID}>" in dm.payload["text"]
    assert "Open the request" in dm.payload["text"]  # the card's permalink
    notice = await told_alice(bot, "needs approval")
    assert f"I posted it in <#{ws.INCIDENT_CHANNEL_ID}>" in notice
    assert "sent 1 approver(s) a direct message" in notice
    await bot.services.tasks.drain(2.0)
    dms = [c for c in bot.slack.calls_to("chat.postMessage") if "waits for you" in c.text()]
    assert [c.payload["channel"] for c in dms] == [ws.ADMIN_ID]
    assert not buttons_to_alice(bot)


async def test_direct_messages_stop_at_the_configured_number(
    tmp_path: Path, slack_api: FakeSlackAPI
) -> None:
    async with running_bot(tmp_path, slack_api, policies=policies(dm_limit=1)) as bot:
        for user_id in (SEC2, SEC3):
            bot.slack.add_user(user_id, name=user_id.lower())
        bot.slack.set_usergroup(SEC, [ws.ADMIN_ID, SEC2, SEC3], handle="security")
        await ask_to_delete_now(bot, "batch-7-root", channel=ws.INCIDENT_CHANNEL_ID)
        await told_alice(bot, "needs approval")
        await bot.services.tasks.drain(2.0)
        dms = [c for c in bot.slack.calls_to("chat.postMessage") if "waits for you" in c.text()]
        assert len(dms) == 1


async def test_a_card_refused_where_it_was_asked_goes_to_the_approval_channel(
    bot: BotHarness,
) -> None:
    await ask_to_delete_now(bot, "batch-7-root", channel=ws.OUTSIDE_CHANNEL_ID)

    card = await posted_card(bot, ws.SECOPS_CHANNEL_ID)
    notice = await told_alice(bot, "needs approval")
    assert f"could not post it in <#{ws.OUTSIDE_CHANNEL_ID}> (I am not a member there)" in notice
    assert f"so I posted it in <#{ws.SECOPS_CHANNEL_ID}>" in notice
    assert not buttons_to_alice(bot)

    # approved there, it runs; its result goes where the card is, and Alice hears where
    approve = button_of(card.blocks, Action.APPROVE)["value"]
    await bot.click(Action.APPROVE, value=approve, message=card, user=ws.ADMIN_ID)
    heard = await told_alice(bot, "approved by")
    assert f"the details are in <#{ws.SECOPS_CHANNEL_ID}>" in heard
    deleted = [m for m in bot.slack.messages() if "deleted immediately" in m.text]
    assert [m.channel for m in deleted] == [ws.SECOPS_CHANNEL_ID]


async def test_a_card_no_channel_takes_is_retried_and_the_requester_hears_when_it_lands(
    bot: BotHarness,
) -> None:
    bot.slack.set_bot_membership(ws.SECOPS_CHANNEL_ID, False)
    await ask_to_delete_now(bot, "batch-7-root", channel=ws.OUTSIDE_CHANNEL_ID)

    notice = await told_alice(bot, "needs approval")
    assert f"could not post it in <#{ws.OUTSIDE_CHANNEL_ID}>" in notice
    assert f"nor <#{ws.SECOPS_CHANNEL_ID}>" in notice
    assert "no approver has seen it yet" in notice and "try again" in notice
    assert "I posted it" not in notice
    assert not buttons_to_alice(bot)

    later(bot, timedelta(minutes=2))
    report = await duties(bot).tick()
    assert report.announced == 0 and any("card of" in e for e in report.errors)
    bot.slack.set_bot_membership(ws.SECOPS_CHANNEL_ID, True)  # someone invites the bot
    later(bot, timedelta(minutes=4))
    assert (await duties(bot).tick()).announced == 1
    await posted_card(bot, ws.SECOPS_CHANNEL_ID)
    assert "now posted in" in await told_alice(bot, "now posted in")
    assert (await duties(bot).tick()).announced == 0


async def test_a_card_that_cannot_be_posted_holds_up_no_other_and_is_given_up(
    bot: BotHarness,
) -> None:
    # an older request, made in #inc-1234 by someone whose front end never posted its card
    older = await delete_secret(
        DeleteRequest("web-3-root", immediately=True),
        actor=Actor(
            principal=f"slack:user:{ws.BOB_ID}",
            groups=frozenset({f"slack:usergroup:{SRE}"}),
            channel_id=ws.INCIDENT_CHANNEL_ID,
            channel_name="inc-1234",
        ),
        core=bot.services.core,
    )
    assert isinstance(older, HeldForApproval)
    # a newer one that no channel takes
    bot.slack.set_bot_membership(ws.SECOPS_CHANNEL_ID, False)
    await ask_to_delete_now(bot, "batch-7-root", channel=ws.OUTSIDE_CHANNEL_ID)
    await told_alice(bot, "needs approval")

    later(bot, timedelta(minutes=2))
    assert (await duties(bot).tick()).announced == 1  # the older one, despite the newer
    card = await posted_card(bot, ws.INCIDENT_CHANNEL_ID)

    for minutes in (4, 8, 16, 32, 64):
        later(bot, timedelta(minutes=minutes))
        await duties(bot).tick()
    gave_up = await told_alice(bot, "stopped trying")
    assert f"<#{ws.OUTSIDE_CHANNEL_ID}>" in gave_up and f"<#{ws.SECOPS_CHANNEL_ID}>" in gave_up
    tries = [
        c
        for c in bot.slack.calls_to("chat.postMessage")
        if is_card(c) and c.payload["channel"] == ws.OUTSIDE_CHANNEL_ID
    ]
    assert len(tries) == CARD_ATTEMPTS
    cards_tried = len([c for c in bot.slack.calls_to("chat.postMessage") if is_card(c)])
    later(bot, timedelta(hours=1, minutes=30))
    await duties(bot).tick()
    assert len([c for c in bot.slack.calls_to("chat.postMessage") if is_card(c)]) == cards_tried
    held = button_of(card.blocks, Action.APPROVE)
    assert held["value"] == older.approval_id
