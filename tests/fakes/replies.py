"""Small helpers shared by the fake Web API methods to word replies as Slack does.

Owns the reply type, `error` (`{"ok": false, "error": ...}` with Slack's optional
`response_metadata.messages`), `problem` (one `[ERROR] ... [json-pointer:...]` line)
and `text_of` (a payload field as a string, whatever the client sent).

Never holds state.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Reply", "error", "problem", "text_of"]

Reply = dict[str, Any]


def error(code: str, *messages: str) -> Reply:
    """Return Slack's failure reply with `code` and optional explanations."""
    reply: Reply = {"ok": False, "error": code}
    if messages:
        reply["response_metadata"] = {"messages": list(messages)}
    return reply


def problem(message: str, pointer: str) -> str:
    """Return one explanation worded as Slack words them in `response_metadata.messages`."""
    return f"[ERROR] {message} [json-pointer:{pointer}]"


def text_of(value: object) -> str:
    """Return `value` if it is a string, else the empty string."""
    return value if isinstance(value, str) else ""
