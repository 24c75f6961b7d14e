"""Transcript: an incident where the cloud answers slowly and twenty people act at once.

Every KMS and ECS call of the sandbox takes 5 seconds (its latency fault). Twenty on-call
engineers each run ``/ecs-secret rotate`` on their own secret within one second: every
modal opens on its ``trigger_id`` (which fake Slack, like Slack, refuses after 3 seconds),
fills in once its secret is described, and every rotation runs once when submitted.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from fakes import FakeSlackAPI
from fakes import workspace as ws
from fakes.bot import SRE, BotHarness, running_bot
from fakes.payloads import input_state
from fakes.triggers import TRIGGERS

from ecs_secret_bot.bot.ids import Action, Block, Callback
from ecs_secret_bot.bot.metadata import ModalMeta
from ecs_secret_bot.cloud.retry import RetryPolicy

PEOPLE = [f"U0ONCALL{n:02d}" for n in range(20)]
LATENCY = 5.0
# an attempt must outlast the latency, as the real client's read timeout (10 s) does
PATIENT = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, attempt_timeout=15)


def secret(n: int) -> str:
    return f"web-3-app{n:02d}"


async def command_all(bot: BotHarness) -> list[tuple[str, float]]:
    """Send the twenty commands within a second; return each trigger id and its ack time."""

    async def one(n: int, person: str) -> tuple[str, float]:
        await asyncio.sleep(n * 0.04)
        trigger_id = TRIGGERS.mint(user_id=person)
        response = await bot.command(f"rotate {secret(n)}", user=person, trigger_id=trigger_id)
        assert response.status == 200 and response.body == "", response.body
        return trigger_id, response.elapsed

    return await asyncio.gather(*(one(n, person) for n, person in enumerate(PEOPLE)))


def filled(bot: BotHarness) -> list[dict[str, object]]:
    modals = [bot.slack.view(v) for v, view in bot.slack.workspace.views.items()]
    return [m for m in modals if m.get("callback_id") == Callback.ROTATE]


async def test_twenty_rotations_while_every_cloud_call_takes_five_seconds(
    tmp_path: Path, slack_api: FakeSlackAPI
) -> None:
    for n, person in enumerate(PEOPLE):
        slack_api.add_user(person, name=f"oncall-{n:02d}")
    async with running_bot(tmp_path, slack_api, retry=PATIENT) as bot:
        slack_api.set_usergroup(SRE, [ws.ALICE_ID, *PEOPLE], handle="sre")
        for n in range(len(PEOPLE)):
            bot.sandbox.add_ecs_secret(
                "cn-hangzhou",
                f"acs/ecs/{secret(n)}",
                instance_id="i-bp1sbxweb3000000001",
                user_name=f"app{n:02d}",
            )
        bot.sandbox.faults.add(kind="latency", latency=LATENCY)
        started = time.monotonic()

        # twenty commands in a second -> twenty modals open, each within 3 s of its command
        sent = await command_all(bot)
        assert time.monotonic() - started < 3.0
        await bot.slack.wait_for_calls("views.open", count=len(PEOPLE), timeout=5)
        for trigger_id, ack_seconds in sent:
            assert ack_seconds < 1.0
            trigger = TRIGGERS.get(trigger_id)
            assert trigger is not None and trigger.exchanged, "views.open came too late"
        assert sum(1 for v in bot.slack.workspace.views.values() if v["type"] == "modal") == 20

        # each fills in once its secret is described (two rounds of 5 s calls)
        async with asyncio.timeout(4 * LATENCY):
            while len(filled(bot)) < len(PEOPLE):
                await asyncio.sleep(0.2)

        # each person submits their modal -> each rotation runs once
        reason = {Block.REASON: {Action.REASON: input_state("leaked in a screenshot")}}
        owners = {
            ModalMeta.load(m["private_metadata"], key=bot.services.metadata_key).name[-2:]: m
            for m in filled(bot)
        }
        acks = await asyncio.gather(
            *(bot.submit(modal, reason, user=PEOPLE[int(n)]) for n, modal in owners.items())
        )
        assert all(a.status == 200 and a.elapsed < 3.0 for a in acks)
        await bot.slack.wait_for_calls(
            "chat.postMessage",
            count=len(PEOPLE),
            predicate=lambda c: "Rotation triggered" in c.payload.get("text", ""),
            timeout=8 * LATENCY,
        )
        assert bot.sandbox.calls.total("RotateSecret") == len(PEOPLE)
        bot.sandbox.faults.clear()  # let the follow-ups finish at the sandbox's own pace
        told = " ".join(str(c.payload.get("text", "")) for c in bot.slack.calls)
        assert "went wrong" not in told
