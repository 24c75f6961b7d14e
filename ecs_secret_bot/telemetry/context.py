"""The request a piece of work belongs to, for log lines: a context variable.

Owns ``bind_request_id`` and ``request_id``. The Slack layer binds the id of each request
it serves (Slack's own: the event id, the trigger id, or else one made up); every task the
request starts inherits it, as asyncio copies the context into each task it creates, so
the work after the ack logs under the same id. Imports nothing of ours.
"""

from __future__ import annotations

import contextvars

__all__ = ["bind_request_id", "request_id", "reset_request_id"]

_REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


def bind_request_id(value: str) -> contextvars.Token[str]:
    """Bind ``value`` as the running request's id; return what resets it."""
    return _REQUEST_ID.set(value)


def reset_request_id(token: contextvars.Token[str]) -> None:
    """Put back the id bound before ``bind_request_id`` returned ``token``."""
    _REQUEST_ID.reset(token)


def request_id() -> str:
    """Return the running request's id, or "" outside a request."""
    return _REQUEST_ID.get()
