"""Transcripts of the incident sweep in Slack, through the real HTTP endpoint, signed, with
the strict fake Slack and the sandbox cloud:

- ``/ecs-secret sweep --tag incident=inc-42`` -> a working modal, then the exact set (4
  secrets of 3 instances in 2 regions, one instance Stopped: skipped, with why) -> a reason
  -> one approval card -> approved -> one channel message edited in place to the summary:
  3 rotated, 1 skipped;
- Stop on a running sweep leaves the secrets not yet started untouched;
- a person allowed to rotate only ``prod-*`` sees the others refused in the modal, and
  they are never rotated;
- wrong input is said in the ack; ``--dry-run`` lists privately and changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeSlackAPI
from fakes import workspace as ws
from fakes.bot import SEC, SRE, BotHarness, running_bot
from fakes.payloads import input_state
from fakes.policies import access_toml, binding

from ecs_secret_bot.bot.ids import Action, Block, Callback
from ecs_secret_bot.cloud.retry import RetryPolicy
from ecs_secret_bot.sandbox import seed_fleet

HZ, SH = "cn-hangzhou", "cn-shanghai"
INCIDENT = {"incident": "inc-42"}
GATED = access_toml(
    admins=[f"slack:user:{ws.ADMIN_ID}", f"slack:usergroup:{SRE}", f"slack:usergroup:{SEC}"],
    readers=[f"slack:user:{ws.BOB_ID}"],
    channel=ws.SECOPS_CHANNEL_ID,
    delete_approvers=[f"slack:usergroup:{SEC}"],
    more=f"""
[[approval.rules]]
name = "rotation-review"
actions = ["kms:RotateSecret"]
approvers = ["slack:usergroup:{SEC}"]
min_approvals = 1
expires_after = "2h"
""",
)
PROD_ONLY = access_toml(
    admins=[f"slack:user:{ws.ADMIN_ID}"],
    channel=ws.SECOPS_CHANNEL_ID,
    delete_approvers=[f"slack:usergroup:{SEC}"],
    more=binding([f"slack:user:{ws.BOB_ID}"], ["ProdRotate"])
    + """
[access.policies.ProdRotate]
Version = "1"
[[access.policies.ProdRotate.Statement]]
Effect = "Allow"
Action = ["kms:ListSecrets", "ecs:DescribeInstances"]
Resource = ["*"]
[[access.policies.ProdRotate.Statement]]
Effect = "Allow"
Action = ["kms:RotateSecret", "kms:DescribeSecret"]
Resource = ["acs:kms:*:*:secret/acs/ecs/prod-*"]
""",
)


def reason(text: str) -> dict[str, Any]:
    return {Block.REASON: {Action.REASON: input_state(text)}}


def incident_hosts(bot: BotHarness) -> None:
    """Three instances tagged for the incident: two in Shanghai, one of them Stopped."""
    sb = bot.sandbox
    sb.add_instance(HZ, "i-bp1inc42weba0000001", name="web-a", tags=INCIDENT)
    sb.add_instance(SH, "i-uf6inc42webb0000002", name="web-b", tags=INCIDENT)
    sb.add_instance(SH, "i-uf6inc42webc0000003", name="web-c", tags=INCIDENT, status="Stopped")
    sb.add_ecs_secret(HZ, "web-a-root", instance_id="i-bp1inc42weba0000001")
    sb.add_ecs_secret(HZ, "web-a-deploy", instance_id="i-bp1inc42weba0000001", user_name="deploy")
    sb.add_ecs_secret(SH, "web-b-root", instance_id="i-uf6inc42webb0000002")
    sb.add_ecs_secret(SH, "web-c-root", instance_id="i-uf6inc42webc0000003")


def button_of(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any]:
    for block in blocks:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return dict(element)
    raise AssertionError(f"no {action_id} button in {blocks}")


def text_of(view: dict[str, Any]) -> str:
    return "\n".join(str(b.get("text", {}).get("text", "")) for b in view["blocks"])


async def sweep_modal(bot: BotHarness, command: str, *, user: str = ws.ALICE_ID) -> dict[str, Any]:
    response = await bot.command(command, user=user)
    assert response.status == 200 and response.body == ""
    opened = await bot.slack.wait_for("views.open")
    assert opened.payload["view"]["callback_id"] == Callback.LOADING  # at once, before the cloud
    return await bot.wait_modal(Callback.SWEEP, timeout=10)


@pytest.fixture
async def gated(tmp_path: Path, slack_api: FakeSlackAPI) -> AsyncIterator[BotHarness]:
    # rotations take a second: the message is posted while they run, then edited
    async with running_bot(tmp_path, slack_api, policies=GATED, rotation_delay=1.0) as harness:
        yield harness


async def test_one_approval_then_one_message_edited_to_the_summary(gated: BotHarness) -> None:
    bot = gated
    incident_hosts(bot)
    modal = await sweep_modal(bot, "sweep --tag incident=inc-42")
    shown = text_of(modal)
    assert "*4* ECS secrets match: *3* to rotate, 1 skipped" in shown
    assert "`web-c-root` (cn-shanghai) · `i-uf6inc42webc0000003` (web-c)" in shown
    assert "Stopped" in shown.split("`web-c-root`")[1].split("\n")[0]
    assert "rule `rotation-review`" in shown and modal["submit"]["text"] == "Rotate 3 secrets"

    # the reason is required: said in the modal, nothing runs
    empty = (await bot.submit(modal, reason("  "))).json()
    assert empty["response_action"] == "errors" and Block.REASON in empty["errors"]

    answer = (await bot.submit(modal, reason("INC-42: web hosts compromised"))).json()
    assert answer["response_action"] == "update"
    card_call = await bot.slack.wait_for(
        "chat.postMessage", lambda c: "Approval request" in c.payload.get("text", ""), timeout=10
    )
    assert card_call.payload["channel"] == ws.INCIDENT_CHANNEL_ID
    card_text = str(card_call.payload["blocks"])
    assert "rotate 3 secrets" in card_call.payload["text"]
    assert "`web-a-root`" in card_text and "`web-c-root`" not in card_text
    assert "INC-42: web hosts compromised" in card_text
    await bot.slack.wait_for(
        "views.update", lambda c: "needs one approval" in str(c.payload.get("view"))
    )
    assert bot.sandbox.calls.total("RotateSecret") == 0

    card = next(m for m in bot.slack.messages(ws.INCIDENT_CHANNEL_ID) if "Approval" in m.text)
    approve = button_of(card.blocks, Action.APPROVE)["value"]
    await bot.click(Action.APPROVE, value=approve, message=card, user=ws.ADMIN_ID)
    final = await bot.slack.wait_for(
        "chat.update", lambda c: "the sweep is over" in c.payload.get("text", ""), timeout=20
    )
    assert "<@U0ALICE>" in final.payload["text"]
    assert "3 rotated, 0 failed or not confirmed, 1 skipped or refused" in final.payload["text"]
    assert bot.sandbox.calls.total("RotateSecret") == 3
    channel = bot.slack.messages(ws.INCIDENT_CHANNEL_ID)
    sweeps = [m for m in channel if m.text.startswith("Incident sweep")]
    assert len(sweeps) == 1, [m.text for m in sweeps]  # one message, edited in place
    assert sweeps[0].ts == final.payload["ts"] and sweeps[0].edits
    # the card, the approval's reply and the sweep's message: no secret's end is said in a
    # message of its own
    assert len(channel) == 3, " ||| ".join(m.text[:90] for m in channel)
    assert any(m.text == "Approved by <@U01ADMIN>; it runs now." for m in channel)
    cards = [c for c in bot.slack.calls_to("chat.postMessage") if "Approval request" in str(c)]
    assert len(cards) == 1
    for name, region in (("web-a-root", HZ), ("web-a-deploy", HZ), ("web-b-root", SH)):
        assert bot.sandbox.secret(region, name).last_rotation is not None
    assert bot.sandbox.secret(SH, "web-c-root").last_rotation is None


@pytest.fixture
async def slow(tmp_path: Path, slack_api: FakeSlackAPI) -> AsyncIterator[BotHarness]:
    async with running_bot(tmp_path, slack_api, rotation_delay=2.0) as harness:
        yield harness


async def test_stop_leaves_the_secrets_not_yet_started_untouched(slow: BotHarness) -> None:
    bot = slow
    fleet = seed_fleet(bot.sandbox, regions=(HZ, SH), instances=3, secrets_per_instance=4)
    modal = await sweep_modal(bot, "sweep --tag fleet=sweep")
    assert "*12* to rotate" in text_of(modal).replace("ECS secrets match: ", "")
    await bot.submit(modal, reason("INC-7: fleet keys leaked"))  # no rule holds these: it runs
    await bot.slack.wait_for(
        "chat.postMessage", lambda c: "Incident sweep" in c.payload.get("text", ""), timeout=10
    )
    message = next(
        m for m in bot.slack.messages(ws.INCIDENT_CHANNEL_ID) if m.text.startswith("Incident sweep")
    )
    stop = button_of(message.blocks, Action.SWEEP_STOP)
    assert stop["style"] == "danger" and stop["confirm"]["confirm"]["text"] == "Stop the sweep"

    # Bob may not stop Alice's sweep: told so, privately; nothing changes
    await bot.click(Action.SWEEP_STOP, value=stop["value"], message=message, user=ws.BOB_ID)
    refused = await bot.slack.wait_for(
        "response_url", lambda c: c.payload.get("response_type") == "ephemeral", timeout=5
    )
    assert "stop" in refused.payload["text"].lower()

    await bot.click(Action.SWEEP_STOP, value=stop["value"], message=message, user=ws.ALICE_ID)
    final = await bot.slack.wait_for(
        "chat.update", lambda c: "the sweep is over" in c.payload.get("text", ""), timeout=20
    )
    started = bot.sandbox.calls.total("RotateSecret")
    assert 1 <= started <= 5  # at most five at once; Stop came before the rest
    assert f"{12 - started} stopped by <@U0ALICE>" in final.payload["text"]
    rotated = [s for s in fleet.secrets if bot.sandbox.secret(s.region, s.name).last_rotation]
    assert len(rotated) == started
    await asyncio.sleep(0.5)
    assert bot.sandbox.calls.total("RotateSecret") == started  # nothing started after Stop


@pytest.fixture
async def prod_only(tmp_path: Path, slack_api: FakeSlackAPI) -> AsyncIterator[BotHarness]:
    async with running_bot(tmp_path, slack_api, policies=PROD_ONLY) as harness:
        yield harness


async def test_a_person_allowed_prod_only_sees_the_others_refused(prod_only: BotHarness) -> None:
    bot = prod_only
    sb = bot.sandbox
    sb.add_instance(HZ, "i-bp1prodweb00000001", name="prod-web", tags=INCIDENT)
    sb.add_ecs_secret(HZ, "prod-web-root", instance_id="i-bp1prodweb00000001")
    sb.add_ecs_secret(HZ, "staging-web-root", instance_id="i-bp1prodweb00000001")
    modal = await sweep_modal(bot, "sweep --instance i-bp1prodweb00000001", user=ws.BOB_ID)
    shown = text_of(modal)
    line = next(x for x in shown.split("\n") if "`staging-web-root`" in x)
    assert "*refused*" in line
    assert "*1* to rotate, 1 refused" in shown
    await bot.submit(modal, reason("INC-9"), user=ws.BOB_ID)
    await bot.slack.wait_for(
        "chat.update", lambda c: "the sweep is over" in c.payload.get("text", ""), timeout=20
    )
    assert sb.calls.total("RotateSecret") == 1
    assert sb.secret(HZ, "prod-web-root").last_rotation is not None
    assert sb.secret(HZ, "staging-web-root").last_rotation is None


async def test_wrong_input_is_said_in_the_ack_and_the_dry_run_changes_nothing(
    bot: BotHarness,
) -> None:
    for text, said in (
        ("sweep", "needs at least one selector"),
        ("sweep --tag env", "write a tag as `key=value`"),
        ("sweep --instance web-3", "is not an instance id"),
        ("sweep --match 'web-*' --days 7", "`--days` is not an option of `sweep`"),
    ):
        answer = (await bot.command(text)).json()
        assert answer["response_type"] == "ephemeral" and said in answer["text"], text
    region = (await bot.command("sweep --match web-* --region eu-nowhere-1")).json()
    assert "eu-nowhere-1" in region["text"]
    assert not bot.slack.calls_to("views.open")

    await bot.command("sweep --instance i-bp1sbxweb3000000001 --dry-run")
    listing = await bot.slack.wait_for("response_url", timeout=10)
    assert listing.payload["response_type"] == "ephemeral"
    assert "Dry run, nothing changed" in str(listing.payload["blocks"])
    assert "`web-3-root`" in str(listing.payload["blocks"])
    assert bot.sandbox.calls.total("RotateSecret") == 0
    assert not bot.slack.calls_to("views.open")


async def test_a_set_that_changed_before_submission_is_shown_again(bot: BotHarness) -> None:
    incident_hosts(bot)
    modal = await sweep_modal(bot, "sweep --tag incident=inc-42")
    assert modal["submit"]["text"] == "Rotate 3 secrets"
    bot.sandbox.set_instance_status(SH, "i-uf6inc42webb0000002", "Stopped")  # meanwhile
    await bot.submit(modal, reason("INC-42"))
    again = await bot.slack.wait_for(
        "views.update", lambda c: "The set changed" in str(c.payload.get("view")), timeout=10
    )
    view = again.payload["view"]
    assert view["submit"]["text"] == "Rotate 2 secrets"
    field = next(b for b in view["blocks"] if b.get("block_id") == Block.REASON)
    assert field["element"]["initial_value"] == "INC-42"  # what was typed is kept
    assert bot.sandbox.calls.total("RotateSecret") == 0
    assert not [m for m in bot.slack.messages(ws.INCIDENT_CHANNEL_ID) if "sweep" in m.text]


@pytest.fixture
async def patient(tmp_path: Path, slack_api: FakeSlackAPI) -> AsyncIterator[BotHarness]:
    # backoff over more than a second, as the bot's default retry policy does
    retry = RetryPolicy(max_attempts=8, base_delay=0.2, max_delay=1.0, attempt_timeout=5)
    async with running_bot(tmp_path, slack_api, retry=retry) as harness:
        yield harness


async def test_kms_throttling_is_retried_and_every_secret_still_rotates(
    patient: BotHarness,
) -> None:
    bot = patient
    fleet = seed_fleet(bot.sandbox, regions=(HZ, SH), instances=3, secrets_per_instance=4)
    bot.sandbox.kms_qps = 2  # KMS's quota, as the sandbox can set it: 429 Rejected.Throttling
    modal = await sweep_modal(bot, "sweep --tag fleet=sweep")
    assert "*12* ECS secrets match: *12* to rotate." in text_of(modal)  # none dropped
    await bot.submit(modal, reason("INC-8"))
    final = await bot.slack.wait_for(
        "chat.update", lambda c: "the sweep is over" in c.payload.get("text", ""), timeout=40
    )
    assert "12 rotated, 0 failed" in final.payload["text"]
    assert bot.sandbox.throttle.refused > 0
    assert all(bot.sandbox.secret(s.region, s.name).last_rotation for s in fleet.secrets)
