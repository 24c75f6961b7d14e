"""What the fakes remember of the traffic they saw, and how to search it for leaks.

Owns `RecordedCall` (one request the app made to fake Slack) and `flatten_text`, which
turns any recorded payload into plain text in which a secret can be searched for even
when it was JSON-encoded inside a form field or escaped inside a string.

Never decides what to answer; the servers in `slack_api` and `socket_mode` do.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

__all__ = ["RecordedCall", "flatten_text", "frozen_headers"]


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
