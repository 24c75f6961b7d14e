"""Builders of the requests Slack sends to the app, from recorded samples.

Owns one builder per kind of inbound request the bot handles. Each loads a sample
recorded in `tests/payloads/*.json` (opsdroid's `responses/` habit), fills in the
fields a test cares about, and returns the HTTP body exactly as Slack POSTs it:

- slash commands: a form (`command=/ecs-secret&text=...`);
- interactivity (block_actions, view_submission, view_closed, block_suggestion): a
  form with one field, `payload=<JSON>`;
- Events API (event_callback, url_verification): a JSON object.

`socket_mode_envelope_of(body)` turns any of these bodies into the envelope type and
payload Socket Mode delivers for it, so one builder serves both transports.

Every `trigger_id` they carry is minted in `triggers.TRIGGERS` at build time, for the
person who acted (and the view they acted in), so fake Slack lets the app exchange it
once within 3 seconds, as Slack does.

Never signs anything (see `signing`) and never talks to a server.
"""

from __future__ import annotations

import copy
import itertools
import json
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from . import workspace as ws
from .slack_messages import Message
from .triggers import TRIGGERS

__all__ = [
    "PAYLOADS_DIR",
    "UNREACHABLE_RESPONSE_URL",
    "app_home_opened_event",
    "block_actions_payload",
    "block_suggestion_payload",
    "checkboxes_state",
    "event_callback_body",
    "input_state",
    "load_payload",
    "new_trigger_id",
    "parse_body",
    "select_state",
    "slash_command_body",
    "socket_mode_envelope_of",
    "url_verification_body",
    "view_closed_payload",
    "view_submission_payload",
]

PAYLOADS_DIR = Path(__file__).resolve().parent.parent / "payloads"

#: The `response_url` builders use unless given one: loopback port 9 refuses at once,
#: so an app that answers through it fails fast and never reaches the real Slack.
#: Pass `FakeSlackAPI.response_url()` to capture such answers.
UNREACHABLE_RESPONSE_URL = "http://127.0.0.1:9/hooks/commands/T0ECSTEAM/0/unreachable"

_event_numbers = itertools.count(1)


def load_payload(name: str) -> dict[str, Any]:
    """Return a fresh copy of the recorded sample `tests/payloads/<name>.json`."""
    with (PAYLOADS_DIR / f"{name}.json").open(encoding="utf-8") as sample:
        data: dict[str, Any] = json.load(sample)
    return data


def new_trigger_id(
    *, user_id: str | None = None, view_id: str | None = None, age: float = 0.0
) -> str:
    """Return a trigger id never handed out before, issued `age` seconds ago.

    `user_id` is who acted, `view_id` the modal they acted in (so `views.push` knows
    where to stack). An `age` over 3 seconds makes a trigger Slack calls expired.
    """
    return TRIGGERS.mint(user_id=user_id, view_id=view_id, age=age)


def _action_ts() -> str:
    return f"{time.time():.6f}"


def _interactive_body(payload: Mapping[str, Any]) -> str:
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


def _user(user_id: str, team_id: str) -> dict[str, str]:
    name = ws.user_name(user_id)
    return {"id": user_id, "username": name, "name": name, "team_id": team_id}


def _team(team_id: str) -> dict[str, str]:
    return {"id": team_id, "domain": ws.TEAM_DOMAIN}


# ---------------------------------------------------------------------- slash commands


def slash_command_body(
    text: str = "",
    *,
    command: str = "/ecs-secret",
    user_id: str = ws.ALICE_ID,
    user_name: str | None = None,
    channel_id: str = ws.INCIDENT_CHANNEL_ID,
    channel_name: str | None = None,
    team_id: str = ws.TEAM_ID,
    team_domain: str = ws.TEAM_DOMAIN,
    trigger_id: str | None = None,
    response_url: str = UNREACHABLE_RESPONSE_URL,
    api_app_id: str = ws.API_APP_ID,
) -> str:
    """Return the form body Slack POSTs when `user_id` types `command text` in a channel."""
    fields = load_payload("slash_command")
    fields.update(
        command=command,
        text=text,
        user_id=user_id,
        user_name=user_name or ws.user_name(user_id),
        channel_id=channel_id,
        channel_name=channel_name or ws.channel_name(channel_id),
        team_id=team_id,
        team_domain=team_domain,
        trigger_id=trigger_id or new_trigger_id(user_id=user_id),
        response_url=response_url,
        api_app_id=api_app_id,
    )
    return urllib.parse.urlencode(fields)


# ---------------------------------------------------------------------- interactivity


def block_actions_payload(
    action_id: str,
    *,
    value: str | None = None,
    block_id: str = "actions",
    action_type: str = "button",
    text: str | None = None,
    user_id: str = ws.ALICE_ID,
    team_id: str = ws.TEAM_ID,
    channel_id: str = ws.INCIDENT_CHANNEL_ID,
    message: Message | Mapping[str, Any] | None = None,
    view: Mapping[str, Any] | None = None,
    state_values: Mapping[str, Any] | None = None,
    trigger_id: str | None = None,
    response_url: str = UNREACHABLE_RESPONSE_URL,
    action: Mapping[str, Any] | None = None,
) -> str:
    """Return the form body Slack POSTs when a user clicks or picks in a block.

    The click happens on `message` in `channel_id` (a `Message` from `FakeSlackAPI`,
    a Slack message dict, or a placeholder), or inside `view` (a modal or App Home, as
    `FakeSlackAPI.view()` returns it). For selects (`action_type="static_select"`...)
    `value` becomes the `selected_option`. `action` adds or overrides action fields.
    """
    payload = load_payload("block_actions")
    view_id = str(view.get("id", "")) if view is not None else None
    payload.update(
        user=_user(user_id, team_id),
        team=_team(team_id),
        trigger_id=trigger_id or new_trigger_id(user_id=user_id, view_id=view_id),
    )
    element: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id,
        "type": action_type,
        "action_ts": _action_ts(),
    }
    if action_type == "button":
        element["text"] = {"type": "plain_text", "text": text or action_id, "emoji": True}
        if value is not None:
            element["value"] = value
    elif action_type.endswith("select") or action_type in ("radio_buttons", "overflow"):
        if value is not None:
            element["selected_option"] = _option(value, text)
    elif value is not None:
        element["value"] = value
    element.update(action or {})
    payload["actions"] = [element]

    if view is not None:
        view_copy = copy.deepcopy(dict(view))
        if state_values is not None:
            view_copy["state"] = {"values": copy.deepcopy(dict(state_values))}
        payload["container"] = {"type": "view", "view_id": view_copy.get("id", "")}
        payload["view"] = view_copy
        for key in ("channel", "message", "state", "response_url"):
            payload.pop(key, None)
        return _interactive_body(payload)

    slack_message = message.as_slack() if isinstance(message, Message) else message
    slack_message = dict(slack_message or payload["message"])
    if isinstance(message, Message):
        channel_id = message.channel
    payload["container"] = {
        "type": "message",
        "message_ts": slack_message["ts"],
        "channel_id": channel_id,
        "is_ephemeral": False,
    }
    payload["channel"] = {"id": channel_id, "name": ws.channel_name(channel_id)}
    payload["message"] = slack_message
    payload["state"] = {"values": copy.deepcopy(dict(state_values or {}))}
    payload["response_url"] = response_url
    return _interactive_body(payload)


def view_submission_payload(
    *,
    callback_id: str | None = None,
    values: Mapping[str, Any] | None = None,
    view: Mapping[str, Any] | None = None,
    private_metadata: str | None = None,
    user_id: str = ws.ALICE_ID,
    team_id: str = ws.TEAM_ID,
    trigger_id: str | None = None,
    response_urls: Iterable[Mapping[str, str]] = (),
) -> str:
    """Return the form body Slack POSTs when a user submits a modal.

    `view` is the modal as it was opened (`FakeSlackAPI.view(view_id)`), else the
    recorded sample; `values` is its `state.values` (`{block_id: {action_id: state}}`,
    see `input_state` and friends).
    """
    payload = load_payload("view_submission")
    submitted = copy.deepcopy(dict(view)) if view is not None else payload["view"]
    if callback_id is not None:
        submitted["callback_id"] = callback_id
    if private_metadata is not None:
        submitted["private_metadata"] = private_metadata
    if values is not None:
        submitted["state"] = {"values": copy.deepcopy(dict(values))}
    submitted.setdefault("state", {"values": {}})
    payload.update(
        user=_user(user_id, team_id),
        team=_team(team_id),
        trigger_id=trigger_id or new_trigger_id(user_id=user_id, view_id=submitted.get("id")),
        view=submitted,
        response_urls=[dict(url) for url in response_urls],
    )
    return _interactive_body(payload)


def view_closed_payload(
    *,
    view: Mapping[str, Any],
    user_id: str = ws.ALICE_ID,
    team_id: str = ws.TEAM_ID,
    is_cleared: bool = False,
) -> str:
    """Return the form body Slack POSTs when a user closes a modal that asked to be told.

    Slack sends it only for a view opened with `notify_on_close: true`; `is_cleared`
    says the whole stack of views went (https://docs.slack.dev/surfaces/modals,
    https://api.slack.com/reference/interaction-payloads/views).
    """
    payload = load_payload("view_closed")
    payload.update(
        user=_user(user_id, team_id),
        team=_team(team_id),
        view=copy.deepcopy(dict(view)),
        is_cleared=is_cleared,
    )
    return _interactive_body(payload)


def block_suggestion_payload(
    action_id: str,
    *,
    value: str = "",
    block_id: str | None = None,
    view: Mapping[str, Any] | None = None,
    user_id: str = ws.ALICE_ID,
    team_id: str = ws.TEAM_ID,
) -> str:
    """Return the form body Slack POSTs when a user types `value` in an external select."""
    payload = load_payload("block_suggestion")
    suggested_in = copy.deepcopy(dict(view)) if view is not None else payload["view"]
    payload.update(
        user=_user(user_id, team_id),
        team=_team(team_id),
        action_id=action_id,
        block_id=block_id or action_id,
        value=value,
        view=suggested_in,
        container={"type": "view", "view_id": suggested_in.get("id", "")},
    )
    return _interactive_body(payload)


def input_state(value: str | None, *, type: str = "plain_text_input") -> dict[str, Any]:
    """Return the state of a text or number input holding `value`."""
    return {"type": type, "value": value}


def select_state(
    value: str | None, *, type: str = "static_select", text: str | None = None
) -> dict[str, Any]:
    """Return the state of a single select or radio group with `value` picked."""
    return {"type": type, "selected_option": None if value is None else _option(value, text)}


def checkboxes_state(values: Iterable[str], *, type: str = "checkboxes") -> dict[str, Any]:
    """Return the state of checkboxes (or a multi select) with `values` ticked."""
    return {"type": type, "selected_options": [_option(value, None) for value in values]}


def _option(value: str, text: str | None) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text or value, "emoji": True}, "value": value}


# ---------------------------------------------------------------------- Events API


def app_home_opened_event(
    *,
    user_id: str = ws.ALICE_ID,
    tab: str = "home",
    view: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return an `app_home_opened` event (with the published `view` if there is one)."""
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user_id,
        "channel": "D" + user_id[1:],
        "tab": tab,
        "event_ts": _action_ts(),
    }
    if view is not None:
        event["view"] = copy.deepcopy(dict(view))
    return event


def event_callback_body(
    event: Mapping[str, Any] | None = None,
    *,
    event_id: str | None = None,
    event_time: int | None = None,
    team_id: str = ws.TEAM_ID,
    api_app_id: str = ws.API_APP_ID,
) -> str:
    """Return the JSON body Slack POSTs to deliver `event` (default: Alice opens App Home).

    Pass the same `event_id` twice to model Slack delivering one event twice.
    """
    payload = load_payload("event_callback")
    payload.update(
        team_id=team_id,
        context_team_id=team_id,
        api_app_id=api_app_id,
        event=copy.deepcopy(dict(event)) if event is not None else app_home_opened_event(),
        event_id=event_id or f"Ev{next(_event_numbers):010d}",
        event_time=event_time if event_time is not None else int(time.time()),
    )
    payload["authorizations"][0]["team_id"] = team_id
    return json.dumps(payload)


def url_verification_body(challenge: str | None = None) -> str:
    """Return the JSON body Slack POSTs to check the request URL."""
    payload = load_payload("url_verification")
    if challenge is not None:
        payload["challenge"] = challenge
    return json.dumps(payload)


# ---------------------------------------------------------------------- reading bodies


def parse_body(body: str) -> dict[str, Any]:
    """Return the payload a body carries: form fields, the `payload=` JSON, or the JSON."""
    return socket_mode_envelope_of(body, allow_url_verification=True)[1]


def socket_mode_envelope_of(
    body: str, *, allow_url_verification: bool = False
) -> tuple[str, dict[str, Any]]:
    """Return the Socket Mode envelope type and payload that stand for HTTP `body`."""
    if body.lstrip().startswith("{"):
        data: dict[str, Any] = json.loads(body)
        if data.get("type") == "url_verification" and not allow_url_verification:
            raise ValueError("url_verification is never sent over Socket Mode")
        return "events_api", data
    fields = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
    if "payload" in fields:
        return "interactive", json.loads(fields["payload"])
    if "command" in fields:
        return "slash_commands", fields
    raise ValueError(f"not a Slack request body: {body[:80]!r}")
