"""What the fakes remember of the traffic they saw, and how to search it for leaks.

Owns `RecordedCall` (one request the app made to fake Slack), `record_request`, which
reads an HTTP request into one as Slack reads it (query plus form or JSON body, the
JSON-holding form fields decoded), and `flatten_text`, which turns any recorded
payload into plain text in which a secret can be searched for even when it was
JSON-encoded inside a form field or escaped inside a string.

Never decides what to answer; the servers in `slack_api` and `socket_mode` do.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

__all__ = ["RecordedCall", "flatten_text", "frozen_headers", "record_request"]

# Form fields in which Slack expects JSON; decoded so payloads look the same either way.
_JSON_FIELDS = frozenset(
    {"attachments", "blocks", "metadata", "option_groups", "options", "unfurls", "view"}
)


def frozen_headers(headers: Mapping[str, str]) -> CIMultiDictProxy[str]:
    """Return a read-only, case-insensitive copy of `headers`."""
    return CIMultiDictProxy(CIMultiDict(headers))


@dataclass(frozen=True)
class RecordedCall:
    """One HTTP request that reached a fake: a Web API method or a `response_url`.

    `payload` merges the query string and the body (form fields, or a JSON object), as
    Slack reads them; form fields that Slack expects to hold JSON (`blocks`, `view`...)
    are decoded, so a payload looks the same whether slack_sdk sent JSON or a form.
    `headers` is case-insensitive (`call.headers["authorization"]`).
    """

    method: str
    payload: dict[str, Any]
    headers: CIMultiDictProxy[str] = field(repr=False)
    http_method: str = "POST"
    path: str = ""
    raw_body: str = field(default="", repr=False)

    @property
    def token(self) -> str | None:
        """Return the token the call was made with (bearer header or `token` field)."""
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth.removeprefix("Bearer ").strip() or None
        token = self.payload.get("token")
        return token if isinstance(token, str) and token else None

    def text(self) -> str:
        """Return everything this call carried as one searchable string."""
        parts = [self.raw_body, urllib.parse.unquote_plus(self.raw_body)]
        parts.append(json.dumps(self.payload, ensure_ascii=False, default=str))
        parts.extend(flatten_text(self.payload))
        return "\n".join(parts)


def flatten_text(value: object) -> Iterator[str]:
    """Yield every string inside `value`, decoding strings that are themselves JSON.

    Keys are yielded too. Together with the raw body and the JSON dump that
    `RecordedCall.text` adds, a search for a secret finds it however it was encoded.
    """
    if isinstance(value, str):
        yield value
        stripped = value.strip()
        if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
            try:
                decoded = json.loads(stripped)
            except ValueError:
                return
            yield from flatten_text(decoded)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from flatten_text(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from flatten_text(item)
    elif value is not None:
        yield str(value)


async def record_request(request: web.Request, *, method: str) -> RecordedCall:
    """Return `request` as a `RecordedCall` of `method`."""
    payload, raw_body = await _read_payload(request)
    return RecordedCall(
        method=method,
        payload=payload,
        headers=frozen_headers(request.headers),
        http_method=request.method,
        path=request.path,
        raw_body=raw_body,
    )


async def _read_payload(request: web.Request) -> tuple[dict[str, Any], str]:
    """Return (payload, raw body) of a request as Slack reads it: query plus body."""
    payload: dict[str, Any] = dict(request.query)
    raw_body = ""
    if request.can_read_body:
        if request.content_type == "multipart/form-data":
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    payload[key] = f"<file {value.filename}>"
                elif isinstance(value, str):
                    payload[key] = value
                else:
                    payload[key] = bytes(value).decode(errors="replace")
        else:
            raw_body = await request.text()
            if request.content_type == "application/json":
                try:
                    body = json.loads(raw_body) if raw_body else {}
                except ValueError:
                    body = {"_invalid_json": raw_body}
                if isinstance(body, dict):
                    payload.update(body)
            else:
                payload.update(urllib.parse.parse_qsl(raw_body, keep_blank_values=True))
    for key in _JSON_FIELDS & payload.keys():
        value = payload[key]
        if isinstance(value, str) and value.strip()[:1] in ("{", "["):
            try:
                payload[key] = json.loads(value)
            except ValueError:
                pass  # Slack would refuse it; the raw string stays for the test to see
    return payload, raw_body
