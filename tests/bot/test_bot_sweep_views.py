"""The sweep's Block Kit: every secret's line, collapsed past a screenful, always within
Slack's limits (the checker's and fake Slack's), a required reason, Stop with a confirm."""

from __future__ import annotations

from dataclasses import replace

import bot_samples
import pytest
import sweep_samples as s
from fakes.view_rules import block_problems, view_problems

from ecs_secret_bot.bot.ids import Action, Block, Callback
from ecs_secret_bot.bot.metadata import SweepMeta
from ecs_secret_bot.bot.views.approvals import approval_card
from ecs_secret_bot.bot.views.limits import problems
from ecs_secret_bot.bot.views.sweep import (
    item_line,
    sweep_dry_run_message,
    sweep_message,
    sweep_modal,
)
from ecs_secret_bot.commands.sweeps import ItemState, SweepStatus

KEY = b"k" * 32
META = SweepMeta(instances=("i-bp1web3",), channel_id="C0INCIDENT", digest="d", key=KEY)
LONG_REASON = "the instance was not Running when checked (status Stopped); " * 6


def mixed(count: int) -> list:
    states = [ItemState.READY, ItemState.SKIPPED, ItemState.REFUSED]
    return [
        s.item(n, states[n % 3], reason="" if n % 3 == 0 else LONG_REASON) for n in range(count)
    ]


def all_text(blocks: list) -> str:
    return "\n".join(str(b.get("text", {}).get("text", "")) for b in blocks)


@pytest.mark.parametrize("count", [0, 1, 4, 39, 40, 41, 200, 1000])
def test_the_modal_lists_the_set_within_slacks_limits(count: int) -> None:
    view = sweep_modal(s.plan(mixed(count), rule="sweep-approval"), META)
    assert problems(view, kind="modal") == []
    assert view_problems(view, expected_type="modal") == []
    assert view["callback_id"] == Callback.SWEEP
    if count > 40:
        assert f"…and {count - 40} more:" in str(view["blocks"])


def test_the_modal_shows_instance_user_kind_and_why_refused_or_skipped_first() -> None:
    items = [
        s.item(0),
        s.item(1, ItemState.SKIPPED, reason="instance i-bp1fleet00001 is Stopped"),
        s.item(2, ItemState.REFUSED, reason="no policy allows kms:RotateSecret on it"),
    ]
    view = sweep_modal(s.plan(items, rule="sweep-approval"), META)
    text = all_text(view["blocks"])
    assert text.index("refused") < text.index("skipped") < text.index("will rotate")
    assert "`i-bp1fleet00001` (fleet-001) · `root` · password" in text
    assert "Stopped" in text and "no policy allows" in text
    assert "rule `sweep-approval`" in text
    assert view["submit"]["text"] == "Rotate 1 secret"
    reason = next(b for b in view["blocks"] if b.get("block_id") == Block.REASON)
    assert reason["optional"] is False
    assert SweepMeta.load(view["private_metadata"], key=KEY) == META


def test_nothing_to_rotate_has_nothing_to_submit() -> None:
    refused = [s.item(1, ItemState.REFUSED, reason="no policy allows it")]
    for view in (sweep_modal(s.plan(refused), META), sweep_modal(s.plan([]), META)):
        assert "submit" not in view
        assert not any(b.get("type") == "input" for b in view["blocks"])


def test_a_changed_set_is_said_above_the_new_one_with_the_reason_kept() -> None:
    view = sweep_modal(s.plan([s.item(0)]), META, note="The set changed.", reason="INC-9")
    assert view["blocks"][0]["text"]["text"].startswith(":warning: The set changed.")
    reason = next(b for b in view["blocks"] if b.get("block_id") == Block.REASON)
    assert reason["element"]["initial_value"] == "INC-9"


@pytest.mark.parametrize("count", [0, 3, 200])
def test_the_dry_run_is_a_message_within_limits(count: int) -> None:
    text, blocks = sweep_dry_run_message(s.plan(mixed(count)))
    assert problems(blocks, kind="message") == []
    assert block_problems(blocks, "/blocks") == [] and len(blocks) <= 50
    assert "Dry run, nothing changed" in all_text(blocks)


@pytest.mark.parametrize("count", [1, 4, 200, 1000])
@pytest.mark.parametrize("status", list(SweepStatus))
def test_the_channel_message_is_within_limits_in_every_state(
    count: int, status: SweepStatus
) -> None:
    states = list(ItemState)
    items = [s.item(n, states[n % len(states)], reason=LONG_REASON) for n in range(count)]
    text, blocks = sweep_message(s.snapshot(items, status=status))
    assert problems(blocks, kind="message") == []
    assert block_problems(blocks, "/blocks") == [] and len(blocks) <= 50
    assert text


def test_running_has_stop_with_a_confirm_and_the_end_mentions_the_requester() -> None:
    items = [s.item(0, ItemState.COMPLETED), s.item(1, ItemState.RUNNING), s.item(2)]
    _, blocks = sweep_message(s.snapshot(items))
    [stop] = [b for b in blocks if b.get("block_id") == Block.SWEEP_ACTIONS][0]["elements"]
    assert (stop["action_id"], stop["value"], stop["style"]) == (
        Action.SWEEP_STOP,
        "sw-1",
        "danger",
    )
    assert stop["confirm"]["title"]["text"] == "Stop this sweep?"
    assert "*1 done* · 0 failed · 0 skipped · 2 waiting" in all_text(blocks)
    done = [
        s.item(0, ItemState.COMPLETED),
        s.item(1, ItemState.COMPLETED),
        s.item(2, ItemState.SKIPPED, reason="instance stopped"),
        s.item(3, ItemState.STOPPED),
    ]
    text, blocks = sweep_message(
        s.snapshot(done, status=SweepStatus.STOPPED, stopped_by="slack:user:U0BOB")
    )
    assert not any(b.get("block_id") == Block.SWEEP_ACTIONS for b in blocks)
    assert "<@U0ALICE>" in text and "2 rotated" in text
    assert "1 stopped by <@U0BOB> before they started (untouched)" in text


def test_item_lines_escape_what_people_and_the_cloud_typed() -> None:
    line = item_line(s.item(1, ItemState.FAILED, reason="<!channel> & co"))
    assert "&lt;!channel&gt; &amp; co" in line and "<!channel>" not in line


def test_the_card_of_a_sweep_lists_its_secrets_collapsed() -> None:
    members = [
        {"secret_name": f"acs/ecs/fleet-{n:03d}-root", "region": "cn-hangzhou", "resource": "r"}
        for n in range(200)
    ]
    row = replace(
        bot_samples.approval_row(reason="INC-1234"),
        action="kms:RotateSecret",
        secret_name="acs/ecs/fleet-000-root",
        rule="sweep-approval",
        params={"params": {"sweep_id": "sw-1", "members": members}},
    )
    text, blocks = approval_card(row, progress="0/1", approvers=("slack:usergroup:S01SEC",))
    assert problems(blocks, kind="message") == [] and block_problems(blocks, "/blocks") == []
    said = all_text(blocks)
    assert "rotate 200 secrets with KMS-generated values" in text
    assert "`fleet-039-root`" in said and "`fleet-040-root`" not in said
    assert "…and 160 more." in str(blocks)
    actions = [b for b in blocks if b.get("block_id") == Block.APPROVAL_ACTIONS]
    assert [e["action_id"] for e in actions[0]["elements"]] == [Action.APPROVE, Action.DENY]
