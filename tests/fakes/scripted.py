"""Replies a test scripts for fake Slack, in place of what the workspace would answer.

Owns `CannedBody` and `ScriptedReplies`: per method, replies limited to a number of
calls (used first, oldest first) and unlimited ones (the latest wins), each a JSON
body or a function of the call, with an HTTP status and headers.

Never speaks HTTP and never decides a default answer: `slack_api.FakeSlackAPI` asks
it first and falls back to its workspace.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .recording import RecordedCall

__all__ = ["CannedBody", "CannedReply", "ScriptedReplies"]

#: A scripted reply: a JSON object, or a function of the call that returns one.
CannedBody = Mapping[str, Any] | Callable[[RecordedCall], Mapping[str, Any]]


@dataclass
class CannedReply:
    """One scripted reply, and how many more calls it answers (None: every call)."""

    body: CannedBody
    status: int
    headers: Mapping[str, str]
    remaining: int | None

    def body_for(self, call: RecordedCall) -> dict[str, Any]:
        """Return the JSON body to answer `call` with."""
        return dict(self.body(call) if callable(self.body) else self.body)


class ScriptedReplies:
    """The replies scripted so far, by method."""

    def __init__(self) -> None:
        self._replies: defaultdict[str, list[CannedReply]] = defaultdict(list)

    def add(
        self,
        method: str,
        body: CannedBody,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        times: int | None = None,
    ) -> None:
        """Answer `method` with `body`, `times` times or always."""
        if times is not None and times < 1:
            raise ValueError("times must be at least 1, or None for every call")
        self._replies[method].append(CannedReply(body, status, dict(headers or {}), times))

    def take(self, method: str) -> CannedReply | None:
        """Return the reply for the next call of `method`, using one up; None if none."""
        replies = self._replies.get(method, [])
        for reply in replies:  # limited replies first, oldest first
            if reply.remaining is not None and reply.remaining > 0:
                reply.remaining -= 1
                return reply
        for reply in reversed(replies):  # then the latest unlimited one
            if reply.remaining is None:
                return reply
        return None

    def reset(self, method: str | None = None) -> None:
        """Forget scripted replies for `method`, or for every method."""
        if method is None:
            self._replies.clear()
        else:
            self._replies.pop(method, None)
