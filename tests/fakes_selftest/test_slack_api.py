"""FakeSlackAPI answers slack_sdk's real AsyncWebClient the way Slack does."""

from __future__ import annotations

import asyncio
import json

import pytest
from fakes import RESPONSE_URL_METHOD, FakeSlackAPI, UserKind, new_trigger_id, workspace
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

MODAL = {
    "type": "modal",
    "callback_id": "rotate_secret",
    "title": {"type": "plain_text", "text": "Rotate secret"},
    "submit": {"type": "plain_text", "text": "Confirm rotation"},
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "web-3-root"}}],
}


@pytest.fixture
def client(slack_api: FakeSlackAPI) -> AsyncWebClient:
    return AsyncWebClient(token=workspace.BOT_TOKEN, base_url=slack_api.url)


async def test_post_message_is_recorded_with_token_and_gets_increasing_ts(
    slack_api: FakeSlackAPI, client: AsyncWebClient
) -> None:
    first = await client.chat_postMessage(channel=workspace.INCIDENT_CHANNEL_ID, text="one")
    second = await client.chat_postMessage(channel=workspace.INCIDENT_CHANNEL_ID, text="two")

    assert first["ok"] and first["channel"] == workspace.INCIDENT_CHANNEL_ID
    assert float(second["ts"]) > float(first["ts"])
    calls = slack_api.calls_to("chat.postMessage")
    assert [call.payload["text"] for call in calls] == ["one", "two"]
    assert calls[0].headers["authorization"] == f"Bearer {workspace.BOT_TOKEN}"
    assert calls[0].token == workspace.BOT_TOKEN
    assert [m.text for m in slack_api.messages(workspace.INCIDENT_CHANNEL_ID)] == ["one", "two"]


async def test_form_encoded_calls_are_parsed_like_json_ones(
    slack_api: FakeSlackAPI, client: AsyncWebClient
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]
    await client.api_call(
        "chat.postMessage",
        data={"channel": workspace.INCIDENT_CHANNEL_ID, "text": "x", "blocks": json.dumps(blocks)},
    )

    call = slack_api.last_call("chat.postMessage")
    assert call.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert call.payload["blocks"] == blocks


async def test_chat_update_edits_the_posted_message_only(
    slack_api: FakeSlackAPI, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel=workspace.INCIDENT_CHANNEL_ID, text="triggered")
    await client.chat_update(channel=posted["channel"], ts=posted["ts"], text="completed")

    (message,) = slack_api.messages(workspace.INCIDENT_CHANNEL_ID)
    assert message.text == "completed"
    assert [edit["text"] for edit in message.edits] == ["triggered"]
    with pytest.raises(SlackApiError) as refused:
        await client.chat_update(channel=workspace.INCIDENT_CHANNEL_ID, ts="1.000001", text="x")
    assert refused.value.response["error"] == "message_not_found"


async def test_dm_posts_land_in_the_dm_channel(
    slack_api: FakeSlackAPI, client: AsyncWebClient
) -> None:
    opened = await client.conversations_open(users=workspace.ALICE_ID)
    posted = await client.chat_postMessage(channel=workspace.ALICE_ID, text="hello")
    ephemeral = await client.chat_postEphemeral(
        channel=workspace.INCIDENT_CHANNEL_ID, user=workspace.BOB_ID, text="only you"
    )

    assert posted["channel"] == opened["channel"]["id"] == "D0ALICE"
    assert ephemeral["message_ts"]
    (only_bob,) = slack_api.messages(workspace.INCIDENT_CHANNEL_ID)
    assert only_bob.ephemeral_to == workspace.BOB_ID


async def test_views_open_update_publish_keep_ids_and_hashes(
    slack_api: FakeSlackAPI, client: AsyncWebClient
) -> None:
    opened = await client.views_open(trigger_id=new_trigger_id(), view=MODAL)
    view = opened["view"]
    assert view["id"].startswith("V") and view["hash"] and view["callback_id"] == "rotate_secret"

    updated = await client.views_update(view_id=view["id"], hash=view["hash"], view=MODAL)
    assert updated["view"]["id"] == view["id"]
    assert updated["view"]["hash"] != view["hash"]
    with pytest.raises(SlackApiError) as stale:
        await client.views_update(view_id=view["id"], hash=view["hash"], view=MODAL)
    assert stale.value.response["error"] == "hash_conflict"

    home = {"type": "home", "blocks": []}
    first = await client.views_publish(user_id=workspace.ALICE_ID, view=home)
    again = await client.views_publish(user_id=workspace.ALICE_ID, view=home)
    assert first["view"]["id"] == again["view"]["id"]
    assert slack_api.home_view(workspace.ALICE_ID)["type"] == "home"


async def test_views_that_slack_would_refuse_are_refused(client: AsyncWebClient) -> None:
    too_long = {**MODAL, "title": {"type": "plain_text", "text": "Rotate the secret of web-3 now"}}

    with pytest.raises(SlackApiError) as refused:
        await client.views_open(trigger_id=new_trigger_id(), view=too_long)

    assert refused.value.response["error"] == "invalid_arguments"
    assert "/view/title/text" in refused.value.response["response_metadata"]["messages"][0]


@pytest.mark.parametrize(
    ("user_id", "flags"),
    [
        (workspace.ALICE_ID, {"is_restricted": False, "is_bot": False, "deleted": False}),
        (workspace.GUEST_ID, {"is_restricted": True, "is_ultra_restricted": False}),
        (workspace.SINGLE_CHANNEL_GUEST_ID, {"is_restricted": True, "is_ultra_restricted": True}),
        (workspace.OTHER_BOT_USER_ID, {"is_bot": True}),
        (workspace.DELETED_USER_ID, {"deleted": True}),
        (workspace.ADMIN_ID, {"is_admin": True}),
    ],
)
async def test_users_info_reports_the_kind_of_account(
    client: AsyncWebClient, user_id: str, flags: dict[str, bool]
) -> None:
    user = (await client.users_info(user=user_id))["user"]

    assert {key: user[key] for key in flags} == flags
    assert user["tz"] and isinstance(user["tz_offset"], int)


async def test_added_users_groups_and_channels_are_served(
    slack_api: FakeSlackAPI, client: AsyncWebClient
) -> None:
    slack_api.add_user("U0CAROL", name="carol", kind=UserKind.GUEST, tz="Europe/Paris")
    slack_api.set_usergroup("S01SRE", [workspace.ALICE_ID, "U0CAROL"])
    slack_api.add_channel("C0OLD", name="old", is_archived=True)

    carol = (await client.users_info(user="U0CAROL"))["user"]
    members = await client.usergroups_users_list(usergroup="S01SRE")
    channel = await client.conversations_info(channel=workspace.SECOPS_CHANNEL_ID)

    assert carol["tz"] == "Europe/Paris" and carol["is_restricted"]
    assert members["users"] == [workspace.ALICE_ID, "U0CAROL"]
    assert channel["channel"]["name"] == "secops" and channel["channel"]["is_private"]
    for call, error in [
        (client.usergroups_users_list(usergroup="S0NONE"), "no_such_subteam"),
        (client.users_info(user="U0NOBODY"), "user_not_found"),
        (client.conversations_info(channel="C0NOWHERE"), "channel_not_found"),
        (client.chat_postMessage(channel="C0OLD", text="x"), "is_archived"),
    ]:
        with pytest.raises(SlackApiError) as refused:
            await call
        assert refused.value.response["error"] == error


async def test_auth_test_describes_the_bot(client: AsyncWebClient) -> None:
    me = await client.auth_test()

    assert (me["user_id"], me["bot_id"], me["team_id"]) == (
        workspace.BOT_USER_ID,
        workspace.BOT_ID,
        workspace.TEAM_ID,
    )


async def test_calls_without_a_token_are_not_authed(slack_api: FakeSlackAPI) -> None:
    anonymous = AsyncWebClient(base_url=slack_api.url)

    with pytest.raises(SlackApiError) as refused:
        await anonymous.chat_postMessage(channel=workspace.INCIDENT_CHANNEL_ID, text="x")

    assert refused.value.response["error"] == "not_authed"


async def test_respond_scripts_a_reply_for_some_calls_then_falls_back(
    slack_api: FakeSlackAPI, client: AsyncWebClient
) -> None:
    slack_api.fail("chat.postMessage", "channel_not_found", times=1)

    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel=workspace.INCIDENT_CHANNEL_ID, text="x")
    assert refused.value.response["error"] == "channel_not_found"
    assert (await client.chat_postMessage(channel=workspace.INCIDENT_CHANNEL_ID, text="x"))["ok"]


async def test_respond_can_compute_the_reply_from_the_call(
    slack_api: FakeSlackAPI, client: AsyncWebClient
) -> None:
    slack_api.respond("users.info", lambda call: {"ok": True, "user": {"id": call.payload["user"]}})

    assert (await client.users_info(user="U0ANY"))["user"] == {"id": "U0ANY"}


@pytest.mark.slack_response("conversations.info", {"ok": False, "error": "missing_scope"})
async def test_slack_response_marker_scripts_the_reply(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as refused:
        await client.conversations_info(channel=workspace.INCIDENT_CHANNEL_ID)

    assert refused.value.response["error"] == "missing_scope"


async def test_rate_limited_call_is_retried_by_the_sdk_after_retry_after(
    slack_api: FakeSlackAPI,
) -> None:
    slack_api.rate_limit("chat.postMessage", retry_after=0, times=1)
    client = AsyncWebClient(
        token=workspace.BOT_TOKEN,
        base_url=slack_api.url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )

    response = await client.chat_postMessage(channel=workspace.INCIDENT_CHANNEL_ID, text="x")

    assert response["ok"]
    assert len(slack_api.calls_to("chat.postMessage")) == 2


async def test_rate_limit_without_retry_surfaces_429_and_retry_after(
    slack_api: FakeSlackAPI, client: AsyncWebClient
) -> None:
    slack_api.rate_limit("chat.postMessage", retry_after=7)

    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel=workspace.INCIDENT_CHANNEL_ID, text="x")

    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "7"
    assert limited.value.response["error"] == "ratelimited"


async def test_wait_for_sees_calls_made_later(
    slack_api: FakeSlackAPI, client: AsyncWebClient
) -> None:
    async def later() -> None:
        await asyncio.sleep(0.05)
        await client.chat_postMessage(channel=workspace.INCIDENT_CHANNEL_ID, text="first")
        await client.chat_postMessage(channel=workspace.INCIDENT_CHANNEL_ID, text="second")

    task = asyncio.create_task(later())
    call = await slack_api.wait_for("chat.postMessage", lambda c: c.payload["text"] == "second")
    await task

    assert call.payload["text"] == "second"
    with pytest.raises(AssertionError, match="chat.update"):
        await slack_api.wait_for("chat.update", timeout=0.05)


async def test_response_urls_are_served_and_recorded(slack_api: FakeSlackAPI) -> None:
    url = slack_api.response_url(
        channel_id=workspace.INCIDENT_CHANNEL_ID, user_id=workspace.ALICE_ID
    )

    response = await AsyncWebhookClient(url).send(text="Only you can see this")

    assert response.status_code == 200 and response.body == "ok"
    assert slack_api.last_call(RESPONSE_URL_METHOD).payload["text"] == "Only you can see this"
    (message,) = slack_api.messages(workspace.INCIDENT_CHANNEL_ID)
    assert message.ephemeral_to == workspace.ALICE_ID


async def test_all_recorded_text_finds_values_however_they_were_encoded(
    slack_api: FakeSlackAPI, client: AsyncWebClient
) -> None:
    secret = 'p@ss "word" \\ ü+&='
    await client.api_call(
        "chat.postMessage",
        data={
            "channel": workspace.INCIDENT_CHANNEL_ID,
            "blocks": json.dumps([{"type": "section", "text": {"type": "mrkdwn", "text": secret}}]),
        },
    )
    await client.views_open(
        trigger_id=new_trigger_id(), view={**MODAL, "private_metadata": json.dumps({"v": secret})}
    )

    text = slack_api.all_recorded_text()
    assert text.count(secret) >= 2
    assert "never-sent" not in text


async def test_the_sdk_warns_when_a_message_has_no_text_fallback(client: AsyncWebClient) -> None:
    # With filterwarnings=error this UserWarning fails any test whose bot code posts or
    # updates a message with blocks only: always give chat.* calls a `text` fallback.
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]

    with pytest.warns(UserWarning, match="top-level `text` argument is missing"):
        await client.chat_postMessage(channel=workspace.INCIDENT_CHANNEL_ID, blocks=blocks)
