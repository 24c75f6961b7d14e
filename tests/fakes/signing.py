"""Signing Slack requests, and a client that POSTs them to the app like Slack does.

Owns `sign` and `signed_headers` (Slack's v0 scheme: `v0=` + hex HMAC-SHA256 of
`v0:{timestamp}:{body}` keyed with the signing secret; written out here rather than
borrowed from slack_sdk, so the app's real `SignatureVerifier` checks an independent
implementation), and `SlackClientDriver`, which sends a signed body to
`http://127.0.0.1:PORT/slack/events` over real HTTP and times the answer.

Never builds payloads (see `payloads`) and never runs the app.

Example::

    async with SlackClientDriver(port, signing_secret=secret) as slack:
        status, body, elapsed = await slack.post(slash_command_body("whoami"))
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .recording import flatten_text

__all__ = [
    "DriverResponse",
    "SIGNING_SECRET",
    "SlackClientDriver",
    "content_type_of",
    "sign",
    "signed_headers",
]

#: The signing secret the fixtures give the app under test.
SIGNING_SECRET = "ecs-secret-bot-test-signing-secret"


def sign(body: str, secret: str, timestamp: int | str) -> str:
    """Return the `X-Slack-Signature` value of `body` sent at `timestamp`."""
    base = f"v0:{timestamp}:{body}".encode()
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return f"v0={digest}"


def content_type_of(body: str) -> str:
    """Return the Content-Type Slack sends with `body` (JSON for events, else a form)."""
    if body.lstrip().startswith("{"):
        return "application/json"
    return "application/x-www-form-urlencoded"


def signed_headers(body: str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Return the headers Slack sends with `body`, signed with `secret` (now by default)."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": content_type_of(body),
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign(body, secret, ts),
    }


@dataclass(frozen=True)
class DriverResponse:
    """The app's answer to one request; unpacks as `(status, body, elapsed)`."""

    status: int
    body: str
    elapsed: float
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.status, self.body, self.elapsed))

    def json(self) -> Any:
        """Return the body parsed as JSON (bolt answers acks with a payload in JSON)."""
        return json.loads(self.body)


class SlackClientDriver:
    """Sends signed requests to the app's `/slack/events` as Slack would."""

    def __init__(
        self,
        target: int | str,
        *,
        signing_secret: str = SIGNING_SECRET,
        path: str = "/slack/events",
        timeout: float = 10.0,
    ) -> None:
        """Aim at `target`: a port on 127.0.0.1, or a full URL."""
        self.url = target if isinstance(target, str) else f"http://127.0.0.1:{target}{path}"
        self.signing_secret = signing_secret
        self.responses: list[DriverResponse] = []
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> SlackClientDriver:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(
        self,
        body: str,
        *,
        secret: str | None = None,
        timestamp: int | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> DriverResponse:
        """POST `body` signed (with `secret`, at `timestamp`, if given) and return the answer.

        `retry_num`/`retry_reason` add Slack's `X-Slack-Retry-*` headers, as on a
        redelivered event; `headers` add or override anything (e.g. a forged signature).
        """
        sent_headers = signed_headers(body, secret or self.signing_secret, timestamp)
        if retry_num is not None:
            sent_headers["X-Slack-Retry-Num"] = str(retry_num)
            sent_headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        sent_headers.update(headers or {})
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        started = time.perf_counter()
        async with self._session.post(self.url, data=body.encode(), headers=sent_headers) as resp:
            text = await resp.text()
            response = DriverResponse(
                status=resp.status,
                body=text,
                elapsed=time.perf_counter() - started,
                headers=dict(resp.headers),
            )
        self.responses.append(response)
        return response

    def all_response_text(self) -> str:
        """Return every answer body the app gave as one searchable string (for leak tests)."""
        return "\n".join(
            part for response in self.responses for part in flatten_text(response.body)
        )
