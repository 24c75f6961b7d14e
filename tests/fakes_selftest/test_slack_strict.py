"""FakeSlackAPI refuses what Slack refuses: old or reused triggers, closed modals, stale
hashes, channels the bot is not in, calls over the rate limit."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any

import pytest
from fakes import (
    DEFAULT_LIMITS,
    POSTING,
    TIER_2,
    TIER_4,
    FakeSlackAPI,
    Limit,
    SlackClientDriver,
    new_trigger_id,
    parse_body,
    slash_command_body,
    workspace,
)
from fakes.rate_limits import RateLimiter
from fakes.serving import serve_http
from fakes.triggers import TriggerBook
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "rotate_secret",
    "title": {"type": "plain_text", "text": "Rotate secret"},
    "close": {"type": "plain_text", "text": "Cancel"},
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "web-3-root"}}],
}
TOLD = {**MODAL, "notify_on_close": True}


@pytest.fixture
def client(slack_api: FakeSlackAPI) -> AsyncWebClient:
    return AsyncWebClient(token=workspace.BOT_TOKEN, base_url=slack_api.url)


async def refusal(call: Awaitable[Any]) -> str:
    """Return the error code Slack answered `call` with."""
    with pytest.raises(SlackApiError) as refused:
        await call
    return str(refused.value.response["error"])


async def open_modal(client: AsyncWebClient, view: dict[str, Any] = MODAL) -> dict[str, Any]:
    opened = await client.views_open(trigger_id=new_trigger_id(user_id=workspace.BOB_ID), view=view)
    return dict(opened["view"])


# ---------------------------------------------------------------------- trigger ids


async def test_a_trigger_opens_one_modal_then_is_exchanged(client: AsyncWebClient) -> None:
    trigger_id = new_trigger_id()

    assert (await client.views_open(trigger_id=trigger_id, view=MODAL))["ok"]
    assert await refusal(client.views_open(trigger_id=trigger_id, view=MODAL)) == (
        "exchanged_trigger_id"
    )


async def test_a_trigger_older_than_3_seconds_is_expired(client: AsyncWebClient) -> None:
    old = new_trigger_id(age=3.1)

    assert await refusal(client.views_open(trigger_id=old, view=MODAL)) == "expired_trigger_id"


async def test_a_trigger_slack_never_issued_is_invalid(client: AsyncWebClient) -> None:
    made_up = "12345.98765.abcd2358fdea"

    assert await refusal(client.views_open(trigger_id=made_up, view=MODAL)) == "invalid_trigger_id"


def test_the_trigger_book_counts_3_seconds_from_issue() -> None:
    now = [100.0]
    book = TriggerBook(clock=lambda: now[0])
    fresh, late = book.mint(), book.mint()

    now[0] += 2.9
    assert book.exchange(fresh)[1] is None
    now[0] += 0.2
    assert book.exchange(late) == (None, "expired_trigger_id")


async def test_a_slash_command_carries_a_trigger_the_fake_accepts_once(
    client: AsyncWebClient,
) -> None:
    trigger_id = parse_body(slash_command_body("rotate web-3-root"))["trigger_id"]

    assert (await client.views_open(trigger_id=trigger_id, view=MODAL))["ok"]
    assert await refusal(client.views_push(trigger_id=trigger_id, view=MODAL)) == (
        "exchanged_trigger_id"
    )


# ---------------------------------------------------------------------- closed modals


async def test_a_modal_the_person_closed_cannot_be_updated_or_pushed_onto(
    slack_api: FakeSlackAPI, client: AsyncWebClient
) -> None:
    view = await open_modal(client)
    click_in_modal = new_trigger_id(user_id=workspace.BOB_ID, view_id=view["id"])

    assert slack_api.close_view(view["id"]) is None  # no notify_on_close: Slack says nothing
    assert not slack_api.is_view_open(view["id"])
    assert await refusal(client.views_update(view_id=view["id"], view=MODAL)) == "not_found"
    assert await refusal(client.views_push(trigger_id=click_in_modal, view=MODAL)) == "not_found"


async def test_closing_a_view_that_asked_gives_the_view_closed_request(
    slack_api: FakeSlackAPI, client: AsyncWebClient
) -> None:
    view = await open_modal(client, TOLD)

    body = slack_api.close_view(view["id"])

    assert body is not None
    payload = parse_body(body)
    assert payload["type"] == "view_closed" and payload["is_cleared"] is False
    assert payload["user"]["id"] == workspace.BOB_ID  # who the trigger was for
    assert payload["view"]["id"] == view["id"] and payload["view"]["callback_id"] == "rotate_secret"


async def test_views_push_stacks_up_to_3_views_and_closing_pops_them(
    slack_api: FakeSlackAPI, client: AsyncWebClient
) -> None:
    root = await open_modal(client, TOLD)
    pushed = []
    for _ in range(2):
        top = pushed[-1] if pushed else root
        trigger_id = new_trigger_id(view_id=top["id"])
        pushed.append(dict((await client.views_push(trigger_id=trigger_id, view=TOLD))["view"]))
    too_many = new_trigger_id(view_id=pushed[-1]["id"])

    assert await refusal(client.views_push(trigger_id=too_many, view=MODAL)) == (
        "push_limit_reached"
    )
    assert pushed[0]["previous_view_id"] == root["id"] and pushed[1]["root_view_id"] == root["id"]
    slack_api.close_view(pushed[1]["id"])  # "Back": the view below shows again
    assert slack_api.is_view_open(pushed[0]["id"]) and not slack_api.is_view_open(pushed[1]["id"])
    body = slack_api.close_view(pushed[0]["id"], clear=True)  # the X: the whole modal goes
    assert body is not None and parse_body(body)["is_cleared"] is True
    assert not slack_api.is_view_open(root["id"])


@pytest.mark.parametrize(
    ("ack", "still_open"),
    [
        (None, False),
        ({"response_action": "clear"}, False),
        ({"response_action": "errors", "errors": {"days": "Between 7 and 30"}}, True),
        ({"response_action": "update", "view": {**MODAL, "callback_id": "working"}}, True),
    ],
)
async def test_the_apps_answer_to_a_submission_acts_on_the_modal(
    slack_api: FakeSlackAPI,
    client: AsyncWebClient,
    ack: dict[str, Any] | None,
    still_open: bool,
) -> None:
    view = await open_modal(client)

    slack_api.view_submitted(view, ack)

    assert slack_api.is_view_open(view["id"]) is still_open
    if still_open:
        assert (await client.views_update(view_id=view["id"], view=MODAL))["ok"]
    else:
        assert await refusal(client.views_update(view_id=view["id"], view=MODAL)) == "not_found"


async def test_an_update_ack_never_undoes_a_later_update_by_the_app(
    slack_api: FakeSlackAPI, client: AsyncWebClient
) -> None:
    submitted = await open_modal(client)
    await client.views_update(view_id=submitted["id"], view={**MODAL, "callback_id": "done"})

    slack_api.view_submitted(
        submitted, {"response_action": "update", "view": {**MODAL, "callback_id": "working"}}
    )

    assert slack_api.view(submitted["id"])["callback_id"] == "done"


# ---------------------------------------------------------------------- view hashes


async def test_every_update_changes_the_hash_and_a_stale_hash_conflicts(
    client: AsyncWebClient,
) -> None:
    view = await open_modal(client)

    first = (await client.views_update(view_id=view["id"], hash=view["hash"], view=MODAL))["view"]
    second = (await client.views_update(view_id=view["id"], view=MODAL))["view"]

    assert len({view["hash"], first["hash"], second["hash"]}) == 3
    assert await refusal(
        client.views_update(view_id=view["id"], hash=first["hash"], view=MODAL)
    ) == ("hash_conflict")
    assert (await client.views_update(view_id=view["id"], hash=second["hash"], view=MODAL))["ok"]


# ---------------------------------------------------------------------- channels


@pytest.mark.parametrize("method", ["chat_postMessage", "chat_postEphemeral"])
@pytest.mark.parametrize(
    ("channel", "error"),
    [
        (workspace.OUTSIDE_CHANNEL_ID, "not_in_channel"),
        (workspace.OUTSIDE_PRIVATE_CHANNEL_ID, "channel_not_found"),
        ("C0NOWHERE", "channel_not_found"),
        ("#hr", "channel_not_found"),
        ("#random", "not_in_channel"),
    ],
)
async def test_the_bot_cannot_post_where_it_is_not_a_member(
    client: AsyncWebClient, method: str, channel: str, error: str
) -> None:
    post = getattr(client, method)

    assert await refusal(post(channel=channel, user=workspace.ALICE_ID, text="x")) == error


async def test_the_bot_posts_once_invited_or_with_chat_write_public(
    slack_api: FakeSlackAPI, client: AsyncWebClient
) -> None:
    slack_api.workspace.scopes.add("chat:write.public")
    public = await client.chat_postMessage(channel=workspace.OUTSIDE_CHANNEL_ID, text="x")
    assert public["ok"]
    assert await refusal(
        client.chat_postMessage(channel=workspace.OUTSIDE_PRIVATE_CHANNEL_ID, text="x")
    ) == ("channel_not_found")

    slack_api.set_bot_membership(workspace.OUTSIDE_PRIVATE_CHANNEL_ID, True)
    posted = await client.chat_postMessage(channel=workspace.OUTSIDE_PRIVATE_CHANNEL_ID, text="x")
    assert posted["ok"]


async def test_a_private_channel_the_bot_left_is_invisible_to_it(
    slack_api: FakeSlackAPI, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel=workspace.SECOPS_CHANNEL_ID, text="card")
    slack_api.set_bot_membership(workspace.SECOPS_CHANNEL_ID, False)

    for call in (
        client.chat_update(channel=workspace.SECOPS_CHANNEL_ID, ts=posted["ts"], text="y"),
        client.conversations_info(channel=workspace.SECOPS_CHANNEL_ID),
        client.chat_postMessage(channel=workspace.SECOPS_CHANNEL_ID, text="x"),
    ):
        assert await refusal(call) == "channel_not_found"
    # a public channel stays readable: Slack only refuses to post there
    info = await client.conversations_info(channel=workspace.OUTSIDE_CHANNEL_ID)
    assert info["channel"]["is_member"] is False


async def test_dms_go_to_people_slack_knows(client: AsyncWebClient) -> None:
    assert (await client.chat_postMessage(channel=workspace.BOB_ID, text="x"))["channel"] == "D0BOB"
    assert await refusal(client.chat_postMessage(channel="U0NOBODY", text="x")) == (
        "channel_not_found"
    )
    assert await refusal(client.chat_postMessage(channel="D0NOBODY", text="x")) == (
        "channel_not_found"
    )


# ---------------------------------------------------------------------- rate limits


def test_methods_have_their_documented_tier() -> None:
    assert DEFAULT_LIMITS["usergroups.users.list"] is TIER_2
    assert DEFAULT_LIMITS["views.open"] is TIER_4
    assert DEFAULT_LIMITS["chat.postMessage"] is POSTING and POSTING.per_channel
    assert (TIER_2.per_minute, TIER_4.per_minute, POSTING.per_minute) == (20, 100, 60)


async def test_a_method_over_its_limit_answers_429_with_retry_after(
    slack_api: FakeSlackAPI, client: AsyncWebClient
) -> None:
    slack_api.set_rate_limit("users.info", Limit(per_minute=20, burst=2))

    for _ in range(2):
        assert (await client.users_info(user=workspace.ALICE_ID))["ok"]
    with pytest.raises(SlackApiError) as limited:
        await client.users_info(user=workspace.ALICE_ID)

    response = limited.value.response
    assert response.status_code == 429 and response["error"] == "ratelimited"
    assert response.headers["Retry-After"] == "3"  # 20 a minute: one every 3 seconds
    assert (await client.conversations_info(channel=workspace.INCIDENT_CHANNEL_ID))["ok"]


async def test_posting_is_limited_per_channel(
    slack_api: FakeSlackAPI, client: AsyncWebClient
) -> None:
    slack_api.set_rate_limit("chat.postMessage", Limit(per_minute=60, burst=1, per_channel=True))

    assert (await client.chat_postMessage(channel=workspace.INCIDENT_CHANNEL_ID, text="1"))["ok"]
    assert (await client.chat_postMessage(channel=workspace.GENERAL_CHANNEL_ID, text="2"))["ok"]
    assert await refusal(
        client.chat_postMessage(channel=workspace.INCIDENT_CHANNEL_ID, text="3")
    ) == ("ratelimited")


async def test_the_sdk_waits_out_retry_after_and_gets_through(slack_api: FakeSlackAPI) -> None:
    slack_api.set_rate_limit("views.publish", Limit(per_minute=60, burst=1))
    patient = AsyncWebClient(
        token=workspace.BOT_TOKEN,
        base_url=slack_api.url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    home = {"type": "home", "blocks": []}

    started = time.monotonic()
    await patient.views_publish(user_id=workspace.ALICE_ID, view=home)
    await patient.views_publish(user_id=workspace.ALICE_ID, view=home)

    assert time.monotonic() - started >= 0.9
    assert len(slack_api.calls_to("views.publish")) == 3


def test_the_bucket_refills_at_the_limits_pace() -> None:
    now = [0.0]
    limiter = RateLimiter({"m": Limit(per_minute=30, burst=2)}, clock=lambda: now[0])

    assert limiter.take("m") is None and limiter.take("m") is None
    assert limiter.take("m") == 2
    now[0] += 2.0
    assert limiter.take("m") is None
    limiter.enabled = False
    assert limiter.take("m") is None


async def test_scripted_replies_win_over_rate_limits(
    slack_api: FakeSlackAPI, client: AsyncWebClient
) -> None:
    slack_api.set_rate_limit("auth.test", Limit(per_minute=1, burst=1))
    slack_api.respond("auth.test", {"ok": True, "user_id": "U0SCRIPTED"}, times=3)

    for _ in range(3):
        assert (await client.auth_test())["user_id"] == "U0SCRIPTED"
    assert (await client.auth_test())["user_id"] == workspace.BOT_USER_ID


# ---------------------------------------------------------------------- through a bolt app


async def test_a_bolt_app_gets_the_view_closed_request_it_asked_for(
    slack_api: FakeSlackAPI, signing_secret: str
) -> None:
    app = AsyncApp(
        client=AsyncWebClient(token=workspace.BOT_TOKEN, base_url=slack_api.url),
        signing_secret=signing_secret,
    )
    closed: list[dict[str, Any]] = []

    @app.view_closed("rotate_secret")
    async def on_close(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        closed.append(body)

    @app.command("/ecs-secret")
    async def command(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=TOLD)

    async with serve_http(app) as port, SlackClientDriver(port) as driver:
        await driver.post(slash_command_body("rotate web-3-root"))
        opened = await slack_api.wait_for("views.open")
        view_id = slack_api.view(next(iter(slack_api.workspace.views)))["id"]
        body = slack_api.close_view(view_id)
        assert body is not None
        answer = await driver.post(body)

    assert opened.payload["view"]["notify_on_close"] is True
    assert answer.status == 200
    assert [(c["type"], c["view"]["id"], c["user"]["id"]) for c in closed] == [
        ("view_closed", view_id, workspace.ALICE_ID)
    ]
    assert closed[0]["is_cleared"] is False


# ---------------------------------------------------------------------- text limits


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


async def test_a_section_over_3000_characters_is_refused_in_views_and_messages(
    client: AsyncWebClient,
) -> None:
    long = {**MODAL, "blocks": [_section("x" * 3001)]}
    assert await refusal(open_modal(client, long)) == "invalid_arguments"
    assert await open_modal(client, {**MODAL, "blocks": [_section("x" * 3000)]})
    channel = workspace.INCIDENT_CHANNEL_ID
    too_long = [_section("y" * 3001)]
    assert await refusal(client.chat_postMessage(channel=channel, text="t", blocks=too_long)) == (
        "invalid_blocks"
    )
    posted = await client.chat_postMessage(channel=channel, text="t", blocks=[_section("ok")])
    assert await refusal(
        client.chat_update(channel=channel, ts=posted["ts"], text="t", blocks=too_long)
    ) == ("invalid_blocks")
    eleven = [{"type": "mrkdwn", "text": str(n)} for n in range(11)]
    crowded = [{"type": "context", "elements": eleven}]
    assert await refusal(client.chat_postMessage(channel=channel, text="t", blocks=crowded)) == (
        "invalid_blocks"
    )
