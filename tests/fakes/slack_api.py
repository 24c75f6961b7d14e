"""A fake Slack Web API: a real aiohttp server on 127.0.0.1, port 0.

Owns `FakeSlackAPI`, which the app reaches exactly as it reaches Slack, through
`AsyncWebClient(base_url=fake.url)` (`POST {base_url}{method}`, form or JSON body,
`Authorization: Bearer xoxb-...`), plus the `response_url` endpoints that bolt's
`respond()` posts to. It records every call, answers from a `FakeWorkspace` (people,
channels, user groups, messages, views) unless a test scripted the reply, and is as
strict as Slack where it matters:

- per-method rate limits (`rate_limits`): HTTP 429 with `Retry-After`;
- trigger ids good for 3 seconds and once (`triggers`, `slack_views`);
- modals the person closed (`close_view`, which also gives the `view_closed` payload
  to send when the view asked for it) or that the app's submission ack closed
  (`view_submitted`): `views.update`/`views.push` answer `not_found`;
- stale view hashes: `hash_conflict`;
- posts where the bot is not a member: `not_in_channel` (public channel) or
  `channel_not_found` (private), see `slack_state`;
- several workspaces (`enable_oauth`, `add_workspace`): `oauth.v2.access` as
  `slack_oauth.FakeOAuth` answers it, and every other call answered from the workspace
  of its token, so team A's token cannot see team B's channels (`channel_not_found`), an
  unknown token is `invalid_auth` and a revoked one `token_revoked`.

Never patches slack_sdk or bolt, and never decides anything for the bot: a test reads
what the bot sent (`calls_to`, `wait_for`, `messages`) and asserts on it.

Example::

    async with FakeSlackAPI() as slack:
        slack.respond("chat.postMessage", {"ok": False, "error": "channel_not_found"})
        client = AsyncWebClient(token="xoxb-test", base_url=slack.url)
        ...
        call = await slack.wait_for("chat.update", lambda c: "completed" in c.payload["text"])
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import workspace as ws
from .payloads import view_closed_payload
from .rate_limits import Limit, RateLimiter
from .recording import RecordedCall, record_request
from .scripted import CannedBody, CannedReply, ScriptedReplies
from .slack_messages import Message
from .slack_oauth import FakeOAuth
from .slack_state import FakeWorkspace
from .workspace import UserKind

if TYPE_CHECKING:
    from .socket_mode import FakeSocketModeServer

__all__ = ["CannedBody", "FakeSlackAPI", "RESPONSE_URL_METHOD"]

#: `RecordedCall.method` of a POST to a `response_url` (what bolt's `respond()` does).
RESPONSE_URL_METHOD = "response_url"

# Methods Slack answers without a token.
_TOKENLESS_METHODS = frozenset({"api.test"})


class FakeSlackAPI:
    """A loopback Slack Web API that records calls and answers like Slack."""

    def __init__(
        self,
        *,
        workspace: FakeWorkspace | None = None,
        rate_limits: Mapping[str, Limit] | None = None,
    ) -> None:
        """Serve `workspace` (the seeded one by default) under `rate_limits` (Slack's tiers)."""
        self.workspace = workspace or FakeWorkspace()
        self.rate_limiter = RateLimiter(rate_limits)
        self.calls: list[RecordedCall] = []
        self._scripted = ScriptedReplies()
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._socket_mode: FakeSocketModeServer | None = None
        self._response_urls: dict[str, tuple[str | None, str | None, str | None]] = {}
        self._response_url_ids = itertools.count(1)
        self.oauth: FakeOAuth | None = None
        self.teams: dict[str, FakeWorkspace] = {self.workspace.team_id: self.workspace}

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start serving on 127.0.0.1 at a free port."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/hooks/{path:.*}", self._handle_response_url)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Stop serving and release the port."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlackAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """Return the TCP port the fake listens on."""
        if self._port is None:
            raise RuntimeError("FakeSlackAPI is not started")
        return self._port

    @property
    def url(self) -> str:
        """Return the Web API base URL to give `AsyncWebClient(base_url=...)` (ends in /)."""
        return f"http://127.0.0.1:{self.port}/api/"

    # ------------------------------------------------------------------ scripting replies

    def respond(
        self,
        method: str,
        body: CannedBody,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        times: int | None = None,
    ) -> None:
        """Answer `method` with `body` instead of the default, `times` times or always.

        Replies limited by `times` are used first, oldest first; after them the latest
        unlimited reply applies; after that the fake's default behaviour. A scripted
        reply wins over rate limits and does not count against them.
        """
        self._scripted.add(method, body, status=status, headers=headers, times=times)

    def fail(self, method: str, error: str, *, times: int | None = None) -> None:
        """Answer `method` with `{"ok": false, "error": error}`."""
        self.respond(method, {"ok": False, "error": error}, times=times)

    def rate_limit(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with HTTP 429 and `Retry-After`."""
        self.respond(
            method,
            {"ok": False, "error": "ratelimited"},
            status=429,
            headers={"Retry-After": str(retry_after)},
            times=times,
        )

    def reset_responses(self, method: str | None = None) -> None:
        """Forget scripted replies for `method`, or for every method."""
        self._scripted.reset(method)

    def set_rate_limit(self, method: str, limit: Limit | None) -> None:
        """Hold `method` to `limit` from now on (None: never throttle it)."""
        self.rate_limiter.set_limit(method, limit)

    # ------------------------------------------------------------------ the workspace

    def add_user(
        self,
        user_id: str,
        *,
        name: str,
        kind: UserKind = UserKind.MEMBER,
        tz: str = ws.DEFAULT_TZ,
        real_name: str | None = None,
        email: str | None = None,
    ) -> dict[str, Any]:
        """Add a user that `users.info` knows (member, guest, bot, deleted...)."""
        return self.workspace.add_user(
            user_id, name=name, kind=kind, tz=tz, real_name=real_name, email=email
        )

    def add_channel(
        self,
        channel_id: str,
        *,
        name: str,
        is_private: bool = False,
        is_member: bool = True,
        is_archived: bool = False,
    ) -> dict[str, Any]:
        """Add a channel that `conversations.info` knows."""
        return self.workspace.add_channel(
            channel_id,
            name=name,
            is_private=is_private,
            is_member=is_member,
            is_archived=is_archived,
        )

    def set_usergroup(
        self, usergroup_id: str, user_ids: Iterable[str], *, handle: str | None = None
    ) -> dict[str, Any]:
        """Define the members `usergroups.users.list` returns for `usergroup_id`."""
        return self.workspace.set_usergroup(usergroup_id, user_ids, handle=handle)

    def enable_oauth(self, oauth: FakeOAuth | None = None) -> FakeOAuth:
        """Install per workspace from now on: only tokens ``oauth`` issued are good."""
        self.oauth = oauth or FakeOAuth()
        return self.oauth

    def add_workspace(self, team_id: str, *, name: str | None = None) -> FakeWorkspace:
        """Add another team (seeded like the first: same people, same channel ids)."""
        workspace = FakeWorkspace(
            team_id=team_id, team_domain=team_id.lower(), team_name=name or f"Team {team_id}"
        )
        self.teams[team_id] = workspace
        return workspace

    def set_bot_membership(self, channel_id: str, is_member: bool) -> None:
        """Invite the bot to `channel_id` (True) or remove it from there (False)."""
        self.workspace.set_bot_membership(channel_id, is_member)

    def attach_socket_mode(self, server: FakeSocketModeServer) -> None:
        """Make `apps.connections.open` hand out `server`'s websocket URL."""
        self._socket_mode = server
        self.workspace.socket_mode_url = server.issue_url

    def response_url(
        self,
        *,
        channel_id: str | None = None,
        user_id: str | None = None,
        kind: str = "commands",
        team: str | None = None,
    ) -> str:
        """Return a fresh `response_url` served by this fake, for a payload builder.

        With `channel_id` (and `user_id` for ephemeral replies), what the app posts there
        also shows up in `messages()` (of workspace `team`, else the first).
        """
        number = next(self._response_url_ids)
        team_id = team or self.workspace.team_id
        path = f"{kind}/{team_id}/{number}/fake{number:06d}"
        self._response_urls[path] = (channel_id, user_id, team)
        return f"http://127.0.0.1:{self.port}/hooks/{path}"

    # ------------------------------------------------------------------ what people do with views

    def close_view(self, view_id: str, *, clear: bool = False) -> str | None:
        """Close `view_id` as its person would (with `clear`, the whole modal).

        Return the body of the `view_closed` request Slack then sends the app when the
        view was opened with `notify_on_close: true` (else None); POST it to the app.
        Raise if the view is not open.
        """
        registry = self.workspace.view_registry
        if not registry.is_open(view_id):
            raise AssertionError(f"view {view_id} is not open")
        user_id = registry.user_of(view_id) or ws.ALICE_ID
        closed = registry.close(view_id, clear=clear)
        top = closed[0]
        if not top["notify_on_close"]:
            return None
        return view_closed_payload(view=top, user_id=user_id, is_cleared=len(closed) > 1)

    def view_submitted(self, view: Mapping[str, Any], ack: Mapping[str, Any] | None) -> None:
        """Apply the app's `ack` to the submission of `view` (as submitted), as Slack does."""
        view_id = str(view.get("id", ""))
        submitted_hash = view.get("hash")
        self.workspace.view_registry.acknowledge(
            view_id, ack, submitted_hash=submitted_hash if isinstance(submitted_hash, str) else None
        )

    def is_view_open(self, view_id: str) -> bool:
        """Return whether the person still has the modal view `view_id` open."""
        return self.workspace.view_registry.is_open(view_id)

    # ------------------------------------------------------------------ inspection

    def calls_to(self, method: str) -> list[RecordedCall]:
        """Return the recorded calls of `method`, oldest first."""
        return [call for call in self.calls if call.method == method]

    def last_call(self, method: str) -> RecordedCall:
        """Return the latest call of `method`; fail the test if there was none."""
        calls = self.calls_to(method)
        if not calls:
            raise AssertionError(f"no {method} call; calls so far: {self._methods_called()}")
        return calls[-1]

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[RecordedCall], bool] | None = None,
        *,
        timeout: float = 5.0,
    ) -> RecordedCall:
        """Return the first call of `method` matching `predicate`, waiting if need be."""
        calls = await self.wait_for_calls(method, count=1, predicate=predicate, timeout=timeout)
        return calls[0]

    async def wait_for_calls(
        self,
        method: str,
        *,
        count: int,
        predicate: Callable[[RecordedCall], bool] | None = None,
        timeout: float = 5.0,
    ) -> list[RecordedCall]:
        """Return the first `count` calls of `method` matching `predicate`, waiting if need be."""

        def matching() -> list[RecordedCall]:
            return [
                call
                for call in self.calls
                if call.method == method and (predicate is None or predicate(call))
            ]

        try:
            async with asyncio.timeout(timeout):
                async with self._changed:
                    await self._changed.wait_for(lambda: len(matching()) >= count)
        except TimeoutError:
            raise AssertionError(
                f"expected {count} matching {method} call(s) within {timeout}s, "
                f"got {len(matching())}; calls so far: {self._methods_called()}"
            ) from None
        return matching()[:count]

    def messages(
        self,
        channel: str | None = None,
        *,
        include_ephemeral: bool = True,
        team: str | None = None,
    ) -> list[Message]:
        """Return the messages the app posted (live ones, as last edited), oldest first.

        ``team``: in that workspace (default: the first).
        """
        workspace = self.teams[team] if team is not None else self.workspace
        return [
            message
            for message in workspace.messages
            if not message.deleted
            and (channel is None or message.channel == channel)
            and (include_ephemeral or message.ephemeral_to is None)
        ]

    def view(self, view_id: str) -> dict[str, Any]:
        """Return the view with `view_id` as the app last opened, pushed or updated it."""
        return copy.deepcopy(self.workspace.views[view_id])

    def home_view(self, user_id: str) -> dict[str, Any]:
        """Return the App Home view last published for `user_id`."""
        return self.view(self.workspace.home_view_ids[user_id])

    def all_recorded_text(self) -> str:
        """Return every payload recorded (Web API, response_url, Socket Mode acks) as text."""
        parts = [call.text() for call in self.calls]
        if self._socket_mode is not None:
            parts.append(self._socket_mode.all_recorded_text())
        return "\n".join(parts)

    def clear_calls(self) -> None:
        """Forget the calls recorded so far (the workspace state stays)."""
        self.calls.clear()

    def _methods_called(self) -> list[str]:
        return [call.method for call in self.calls]

    # ------------------------------------------------------------------ HTTP handlers

    async def _handle_api(self, request: web.Request) -> web.Response:
        call = await record_request(request, method=request.match_info["method"])
        await self._record(call)
        canned = self._scripted.take(call.method)
        if canned is not None:
            return _canned_response(canned, call)
        if call.method == "oauth.v2.access" and self.oauth is not None:
            names = {team: w.team_name for team, w in self.teams.items()}
            return web.json_response(self.oauth.access(call, team_names=names))
        if call.method not in _TOKENLESS_METHODS and call.token is None:
            return web.json_response({"ok": False, "error": "not_authed"})
        workspace = self.workspace
        if self.oauth is not None and call.method not in _TOKENLESS_METHODS:
            team = self.oauth.team_of(call.token)
            if team is None or team not in self.teams:
                revoked = self.oauth.was_revoked(call.token)
                return web.json_response(
                    {"ok": False, "error": "token_revoked" if revoked else "invalid_auth"}
                )
            workspace = self.teams[team]
        if "_invalid_json" in call.payload:
            return web.json_response({"ok": False, "error": "invalid_json"})
        channel = call.payload.get("channel")
        wait = self.rate_limiter.take(
            call.method, channel=channel if isinstance(channel, str) else ""
        )
        if wait is not None:
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(wait)},
            )
        return web.json_response(workspace.reply(call))

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        call = await record_request(request, method=RESPONSE_URL_METHOD)
        payload = call.payload
        path = request.match_info["path"]
        await self._record(call)
        canned = self._scripted.take(RESPONSE_URL_METHOD)
        if canned is not None:
            return _canned_response(canned, call)
        channel_id, user_id, team = self._response_urls.get(path, (None, None, None))
        if channel_id is not None and not payload.get("delete_original"):
            in_channel = payload.get("response_type") == "in_channel"
            workspace = self.teams[team] if team else self.workspace
            workspace.board.post(
                channel_id,
                text=str(payload.get("text") or ""),
                blocks=payload.get("blocks"),
                ephemeral_to=None if in_channel else user_id,
            )
        return web.Response(text="ok", content_type="text/plain")

    async def _record(self, call: RecordedCall) -> None:
        self.calls.append(call)
        async with self._changed:
            self._changed.notify_all()


def _canned_response(canned: CannedReply, call: RecordedCall) -> web.Response:
    return web.json_response(canned.body_for(call), status=canned.status, headers=canned.headers)
