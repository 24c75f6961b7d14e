"""Payload builders make what Slack sends, and signing passes slack_sdk's real verifier."""

from __future__ import annotations

import time
import urllib.parse

from fakes import (
    SIGNING_SECRET,
    Message,
    app_home_opened_event,
    block_actions_payload,
    block_suggestion_payload,
    event_callback_body,
    input_state,
    parse_body,
    select_state,
    sign,
    signed_headers,
    slash_command_body,
    socket_mode_envelope_of,
    url_verification_body,
    view_submission_payload,
    workspace,
)
from slack_sdk.signature import SignatureVerifier

SLASH_COMMAND_FIELDS = {
    "token",
    "team_id",
    "team_domain",
    "channel_id",
    "channel_name",
    "user_id",
    "user_name",
    "command",
    "text",
    "api_app_id",
    "is_enterprise_install",
    "response_url",
    "trigger_id",
}


def test_signature_is_accepted_by_slack_sdk_verifier() -> None:
    body = slash_command_body("whoami")
    headers = signed_headers(body, SIGNING_SECRET)

    verifier = SignatureVerifier(SIGNING_SECRET)
    assert verifier.is_valid(
        body=body,
        timestamp=headers["X-Slack-Request-Timestamp"],
        signature=headers["X-Slack-Signature"],
    )
    assert not SignatureVerifier("another-secret").is_valid(
        body=body,
        timestamp=headers["X-Slack-Request-Timestamp"],
        signature=headers["X-Slack-Signature"],
    )


def test_old_timestamps_are_signed_but_refused_by_the_verifier() -> None:
    stale = int(time.time()) - 10 * 60
    body = slash_command_body("whoami")

    assert not SignatureVerifier(SIGNING_SECRET).is_valid(
        body=body, timestamp=str(stale), signature=sign(body, SIGNING_SECRET, stale)
    )


def test_slash_command_body_is_a_form_with_every_field_slack_sends() -> None:
    body = slash_command_body("rotate web-3-root --dry-run", channel_id=workspace.SECOPS_CHANNEL_ID)

    fields = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
    assert set(fields) == SLASH_COMMAND_FIELDS
    assert fields["command"] == "/ecs-secret"
    assert fields["text"] == "rotate web-3-root --dry-run"
    assert fields["channel_name"] == "secops"
    assert fields["user_name"] == "alice"
    assert socket_mode_envelope_of(body) == ("slash_commands", fields)
    assert signed_headers(body, "s")["Content-Type"] == "application/x-www-form-urlencoded"


def test_each_command_gets_a_fresh_trigger_id() -> None:
    first, second = (parse_body(slash_command_body("create")) for _ in range(2))

    assert first["trigger_id"] != second["trigger_id"]


def test_block_actions_on_a_posted_message() -> None:
    posted = Message(
        channel=workspace.SECOPS_CHANNEL_ID, ts="1.000002", text="x", blocks=[], user="U"
    )

    envelope_type, payload = socket_mode_envelope_of(
        block_actions_payload("restore", value="acs/ecs/old", message=posted, user_id="U0BOB")
    )

    assert envelope_type == "interactive"
    assert payload["type"] == "block_actions"
    assert payload["container"] == {
        "type": "message",
        "message_ts": "1.000002",
        "channel_id": workspace.SECOPS_CHANNEL_ID,
        "is_ephemeral": False,
    }
    assert payload["channel"] == {"id": workspace.SECOPS_CHANNEL_ID, "name": "secops"}
    assert payload["user"]["id"] == "U0BOB"
    (action,) = payload["actions"]
    assert (action["action_id"], action["value"], action["type"]) == (
        "restore",
        "acs/ecs/old",
        "button",
    )


def test_block_actions_in_a_modal_carry_the_view_and_no_channel() -> None:
    view = {"id": "V1", "type": "modal", "state": {"values": {}}}

    payload = parse_body(
        block_actions_payload(
            "use_custom",
            action_type="static_select",
            value="custom",
            view=view,
            state_values={"mode": {"use_custom": select_state("custom")}},
        )
    )

    assert payload["container"] == {"type": "view", "view_id": "V1"}
    assert "channel" not in payload and "response_url" not in payload
    assert payload["actions"][0]["selected_option"]["value"] == "custom"
    assert payload["view"]["state"]["values"]["mode"]["use_custom"]["type"] == "static_select"


def test_view_submission_submits_the_opened_view_with_state() -> None:
    opened = {"id": "V9", "type": "modal", "callback_id": "rotate", "private_metadata": "{}"}

    payload = parse_body(
        view_submission_payload(view=opened, values={"days": {"value": input_state("7")}})
    )

    assert payload["type"] == "view_submission"
    assert payload["view"]["id"] == "V9"
    assert payload["view"]["callback_id"] == "rotate"
    assert payload["view"]["state"]["values"]["days"]["value"]["value"] == "7"


def test_block_suggestion_names_the_action_and_the_typed_text() -> None:
    payload = parse_body(block_suggestion_payload("instance", value="web"))

    assert (payload["type"], payload["action_id"], payload["value"]) == (
        "block_suggestion",
        "instance",
        "web",
    )
    assert payload["container"]["type"] == "view"


def test_event_callback_and_url_verification_are_json() -> None:
    event = app_home_opened_event(user_id=workspace.BOB_ID)
    body = event_callback_body(event, event_id="Ev42")

    envelope_type, payload = socket_mode_envelope_of(body)
    assert envelope_type == "events_api"
    assert payload["type"] == "event_callback" and payload["event_id"] == "Ev42"
    assert payload["event"] == event and event["channel"] == "D0BOB"
    assert signed_headers(body, "s")["Content-Type"] == "application/json"
    assert parse_body(url_verification_body("abc")) == {
        "token": "deprecated-verification-token",
        "challenge": "abc",
        "type": "url_verification",
    }
