"""Property-based: random slash-command texts, random modal values and malformed payloads
thrown at the running bot. Never a 5xx, never a traceback in any reply, never a cloud call
for a request that is invalid before it reaches the core."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from fakes import view_submission_payload
from fakes.bot import BotHarness
from fakes.payloads import checkboxes_state, input_state, select_state
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecs_secret_bot.bot.ids import Action, Block, Callback
from ecs_secret_bot.bot.metadata import ModalMeta
from ecs_secret_bot.bot.parse import UsageError, parse_command

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
WORDS = st.sampled_from(
    [
        "rotate",
        "rotation",
        "delete",
        "restore",
        "list",
        "show",
        "help",
        "create",
        "pending",
        "audit",
        "whoami",
        "approvals",
        "on",
        "off",
        "--region",
        "--days",
        "--now",
        "--dry-run",
        "web-3-root",
        "cn-hangzhou",
        "7d",
        "31",
        '"',
        "'",
        "“",
        "<!channel>",
        "--region=x",
    ]
)
TEXTS = st.one_of(
    st.text(max_size=80),
    st.lists(st.one_of(WORDS, st.text(max_size=12)), max_size=6).map(" ".join),
)


def assert_clean(bot: BotHarness, status: int, body: str) -> None:
    assert status < 500, body
    assert "Traceback" not in body
    assert "Traceback" not in bot.slack.all_recorded_text()


@FUZZ
@given(text=TEXTS)
async def test_random_slash_texts(bot: BotHarness, text: str) -> None:
    try:
        parse_command(text)
        invalid = False
    except UsageError:
        invalid = True
    before = len(bot.sandbox.calls)
    total_before = sum(bot.sandbox.calls.total(a) for a in ("DescribeSecret", "ListSecrets"))
    status, body, _ = await bot.command(text)
    await bot.services.tasks.drain(5.0)
    assert_clean(bot, status, body)
    if invalid:
        assert len(bot.sandbox.calls) == before
        assert (
            sum(bot.sandbox.calls.total(a) for a in ("DescribeSecret", "ListSecrets"))
            == total_before
        )


VALUES = st.text(max_size=40)
SEALED = "<sealed by the bot>"


@FUZZ
@given(
    callback=st.sampled_from([Callback.CREATE, Callback.ROTATE, Callback.DELETE]),
    name=VALUES,
    password=VALUES,
    days=VALUES,
    mode=st.sampled_from(["now", "schedule", "", "x"]),
    custom=st.booleans(),
    metadata=st.one_of(VALUES, st.just(SEALED)),
)
async def test_random_modal_values(
    bot: BotHarness,
    callback: str,
    name: str,
    password: str,
    days: str,
    mode: str,
    custom: bool,
    metadata: str,
) -> None:
    values: dict[str, Any] = {
        Block.NAME: {Action.NAME: input_state(name)},
        Block.INSTANCE: {Action.INSTANCE: select_state(name or "i-x", type="external_select")},
        Block.PASSWORD: {Action.PASSWORD: input_state(password)},
        Block.DAYS: {Action.DAYS: input_state(days, type="number_input")},
        Block.DELETE_MODE: {Action.DELETE_MODE: select_state(mode or None, type="radio_buttons")},
        Block.CONFIRM_NAME: {Action.CONFIRM_NAME: input_state(name)},
        Block.USE_CUSTOM: {Action.USE_CUSTOM: checkboxes_state(["custom"] if custom else [])},
        Block.INTERVAL: {Action.INTERVAL: input_state(days)},
    }
    if metadata == SEALED:  # the context the bot itself sealed into a modal it opened
        metadata = ModalMeta(name="acs/ecs/web-3-root", key=bot.services.metadata_key).dump()
    body = view_submission_payload(callback_id=callback, values=values, private_metadata=metadata)
    puts = bot.sandbox.calls.total("PutSecretValue") + bot.sandbox.calls.total("CreateSecret")
    status, reply, _ = await bot.driver.post(body)
    await bot.services.tasks.drain(5.0)
    assert_clean(bot, status, reply)
    if callback == Callback.DELETE:
        assert bot.sandbox.calls.total("DeleteSecret") == 0  # the modal only leads to a review
    if len(password) < 8:
        now = bot.sandbox.calls.total("PutSecretValue") + bot.sandbox.calls.total("CreateSecret")
        assert now == puts


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@FUZZ
@given(
    kind=st.sampled_from(["payload", "form", "json", "bytes"]),
    data=JSONISH,
    ptype=st.sampled_from(["block_actions", "view_submission", "block_suggestion", "x", None]),
)
async def test_malformed_payloads(bot: BotHarness, kind: str, data: Any, ptype: str | None) -> None:
    if kind == "payload":
        inner = data if isinstance(data, dict) else {"x": data}
        if ptype:
            inner = {**inner, "type": ptype}
        body = urllib.parse.urlencode({"payload": json.dumps(inner)})
    elif kind == "form":
        body = urllib.parse.urlencode({"command": "/ecs-secret", "text": str(data)})
    elif kind == "json":
        body = json.dumps({"type": "event_callback", "event": data, "event_id": str(data)[:20]})
    else:
        body = "payload=" + str(data)
    status, reply, _ = await bot.driver.post(body)
    await bot.services.tasks.drain(5.0)
    assert_clean(bot, status, reply)
