"""A fake Slack Socket Mode endpoint: a real websocket server on 127.0.0.1, port 0.

Owns `FakeSocketModeServer`. Bolt's `AsyncSocketModeHandler` (slack_sdk's aiohttp
Socket Mode client) gets its `ws://` URL from `apps.connections.open` on
`FakeSlackAPI` (see `FakeSlackAPI.attach_socket_mode`), connects, receives `hello`,
then the envelopes a test pushes; every acknowledgement it sends back is recorded.

Message formats follow slack_sdk's client (`slack_sdk/socket_mode/request.py`,
`response.py`): an envelope is `{"envelope_id", "type", "payload",
"accepts_response_payload"}` plus `"retry_attempt"`/`"retry_reason"` for
`events_api`; an ack is `{"envelope_id": ..., "payload": {...}?}`. Pings are answered
with pongs carrying the same data, as Slack does, so the client never sees the
connection as stale.

Never interprets payloads: what the app did with them is for the test to assert.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from . import workspace as ws
from .payloads import socket_mode_envelope_of
from .recording import flatten_text

__all__ = ["ENVELOPE_TYPES", "FakeSocketModeServer"]

#: Envelope `type`s Slack sends for what the bot handles.
ENVELOPE_TYPES = frozenset({"slash_commands", "interactive", "events_api"})

# Interactive payload types whose ack may carry a response body.
_RESPONSE_PAYLOAD_INTERACTIONS = frozenset({"view_submission", "block_suggestion"})


class FakeSocketModeServer:
    """A loopback Socket Mode server that pushes envelopes and records acks."""

    def __init__(self, *, app_id: str = ws.API_APP_ID) -> None:
        self.app_id = app_id
        self.sent: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []
        self.acks: list[dict[str, Any]] = []
        self.urls_issued = 0
        self.connections_opened = 0
        self._sockets: list[web.WebSocketResponse] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start serving websockets on 127.0.0.1 at a free port."""
        app = web.Application()
        app.router.add_get("/link/", self._handle_socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Close every connection (going away) and stop serving."""
        for socket in list(self._sockets):
            await socket.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSocketModeServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """Return the TCP port the server listens on."""
        if self._port is None:
            raise RuntimeError("FakeSocketModeServer is not started")
        return self._port

    def issue_url(self) -> str:
        """Return a fresh connection URL, as `apps.connections.open` does."""
        self.urls_issued += 1
        ticket = uuid.uuid4()
        return f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"

    @property
    def open_connections(self) -> int:
        """Return how many clients are connected now."""
        return len(self._sockets)

    async def wait_until_connected(
        self, *, count: int = 1, total: int | None = None, timeout: float = 5.0
    ) -> None:
        """Wait until `count` clients are connected (and `total` have ever connected)."""
        await self._wait(
            lambda: len(self._sockets) >= count and self.connections_opened >= (total or 0),
            timeout,
            f"{count} open Socket Mode connection(s), {total or count} opened in all",
        )

    # ------------------------------------------------------------------ pushing envelopes

    async def send_envelope(
        self,
        *,
        type: str,
        payload: dict[str, Any],
        envelope_id: str | None = None,
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        timeout: float = 5.0,
    ) -> str:
        """Push one envelope to the newest connection; return its `envelope_id`.

        `retry_attempt`/`retry_reason` go out with `events_api` envelopes only, as Slack
        sends them. `accepts_response_payload` defaults to what Slack sets for the type.
        """
        if type not in ENVELOPE_TYPES:
            raise ValueError(f"unknown envelope type {type!r}; expected one of {ENVELOPE_TYPES}")
        await self.wait_until_connected(timeout=timeout)
        envelope_id = envelope_id or str(uuid.uuid4())
        if accepts_response_payload is None:
            accepts_response_payload = type == "slash_commands" or (
                type == "interactive" and payload.get("type") in _RESPONSE_PAYLOAD_INTERACTIONS
            )
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": type,
            "accepts_response_payload": accepts_response_payload,
        }
        if type == "events_api":
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason
        self.sent.append(envelope)
        await self._sockets[-1].send_str(json.dumps(envelope))
        return envelope_id

    async def send_body(self, body: str, **options: Any) -> str:
        """Push what Slack would have POSTed as `body` (a payload builder's output)."""
        envelope_type, payload = socket_mode_envelope_of(body)
        return await self.send_envelope(type=envelope_type, payload=payload, **options)

    async def send_disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the clients to reconnect, as Slack does before it rotates its servers."""
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "fake-applink"}}
        for socket in list(self._sockets):
            await socket.send_str(json.dumps(message))

    # ------------------------------------------------------------------ reading acks

    async def wait_for_ack(self, envelope_id: str, *, timeout: float = 5.0) -> dict[str, Any]:
        """Return the first ack of `envelope_id` (with its `payload`, if any), waiting for it."""
        acks = await self.wait_for_acks(envelope_id, count=1, timeout=timeout)
        return acks[0]

    async def wait_for_acks(
        self, envelope_id: str, *, count: int, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """Return the first `count` acks of `envelope_id`, waiting for them."""
        await self._wait(
            lambda: len(self.acks_for(envelope_id)) >= count,
            timeout,
            f"{count} ack(s) of envelope {envelope_id}",
        )
        return self.acks_for(envelope_id)[:count]

    def acks_for(self, envelope_id: str) -> list[dict[str, Any]]:
        """Return the acks received for `envelope_id`, oldest first."""
        return [ack for ack in self.acks if ack.get("envelope_id") == envelope_id]

    def all_recorded_text(self) -> str:
        """Return everything the app sent over the websocket as one searchable string."""
        return "\n".join(
            part
            for message in self.received
            for part in (json.dumps(message, ensure_ascii=False), *flatten_text(message))
        )

    # ------------------------------------------------------------------ internals

    async def _handle_socket(self, request: web.Request) -> web.WebSocketResponse:
        # autoping: pings get a pong with the same data, which slack_sdk's stale check reads.
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self.connections_opened += 1
        self._sockets.append(socket)
        await socket.send_str(json.dumps(self._hello()))
        await self._notify()
        try:
            async for message in socket:
                if message.type is WSMsgType.TEXT:
                    data = json.loads(message.data)
                    self.received.append(data)
                    if isinstance(data, dict) and "envelope_id" in data:
                        self.acks.append(data)
                    await self._notify()
        finally:
            self._sockets.remove(socket)
            await self._notify()
        return socket

    def _hello(self) -> dict[str, Any]:
        return {
            "type": "hello",
            "num_connections": len(self._sockets),
            "debug_info": {
                "host": "fake-applink",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self.app_id},
        }

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _wait(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        try:
            async with asyncio.timeout(timeout):
                async with self._changed:
                    await self._changed.wait_for(ready)
        except TimeoutError:
            raise AssertionError(
                f"waited {timeout}s for {what}; acks so far: {self.acks}"
            ) from None
