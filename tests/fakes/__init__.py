"""Loopback fakes of Slack for the whole test suite, driven through the real libraries.

- `FakeSlackAPI`: the Slack Web API (and `response_url`s) on 127.0.0.1, port 0, as
  strict as Slack where it matters: rate limits (`Limit`, `TIER_1`..`TIER_4`,
  `POSTING`), trigger ids good for 3 seconds and once (`TRIGGERS`), closed modals,
  stale view hashes, channels the bot is not in.
- `FakeSocketModeServer`: the Socket Mode websocket endpoint on 127.0.0.1, port 0.
- payload builders: what Slack POSTs for slash commands, clicks, modal submissions,
  closed modals, suggestions and events, from samples in `tests/payloads/`.
- `signed_headers` and `SlackClientDriver`: sign and send those bodies over HTTP.
- `workspace`: the ids of the pretend team, people and channels the fakes share.

Never imports the bot: the bot is tested through these, not the other way round.
Tests import from here: `from fakes import FakeSlackAPI, slash_command_body`.
"""

from __future__ import annotations

from . import workspace
from .payloads import (
    UNREACHABLE_RESPONSE_URL,
    app_home_opened_event,
    block_actions_payload,
    block_suggestion_payload,
    checkboxes_state,
    event_callback_body,
    input_state,
    load_payload,
    new_trigger_id,
    parse_body,
    select_state,
    slash_command_body,
    socket_mode_envelope_of,
    url_verification_body,
    view_closed_payload,
    view_submission_payload,
)
from .rate_limits import DEFAULT_LIMITS, POSTING, TIER_1, TIER_2, TIER_3, TIER_4, Limit
from .recording import RecordedCall
from .signing import (
    SIGNING_SECRET,
    DriverResponse,
    SlackClientDriver,
    sign,
    signed_headers,
)
from .slack_api import RESPONSE_URL_METHOD, FakeSlackAPI
from .slack_messages import Message
from .slack_oauth import FakeOAuth
from .slack_state import FakeWorkspace
from .socket_mode import FakeSocketModeServer
from .triggers import TRIGGER_TTL, TRIGGERS
from .workspace import UserKind

__all__ = [
    "FakeOAuth",
    "DEFAULT_LIMITS",
    "DriverResponse",
    "FakeSlackAPI",
    "FakeSocketModeServer",
    "FakeWorkspace",
    "Limit",
    "Message",
    "POSTING",
    "RESPONSE_URL_METHOD",
    "RecordedCall",
    "SIGNING_SECRET",
    "SlackClientDriver",
    "TIER_1",
    "TIER_2",
    "TIER_3",
    "TIER_4",
    "TRIGGERS",
    "TRIGGER_TTL",
    "UNREACHABLE_RESPONSE_URL",
    "UserKind",
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
    "sign",
    "signed_headers",
    "slash_command_body",
    "socket_mode_envelope_of",
    "url_verification_body",
    "view_closed_payload",
    "view_submission_payload",
    "workspace",
]
