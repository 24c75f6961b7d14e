"""The call log: which API calls the sandbox received, per action and region, and from whom.

Benchmarks and tests count cloud calls with it. Every request that names a known
action is counted, whatever its outcome (signature refused, fault injected, error or
success): each is a call the client made. Each call is also counted, by action and
``User-Agent``, in a tally of the whole process (every sandbox it ran), so that a test
suite can say that no client it names (the bot sends ``ecs-secret-bot/<version>``) ever
made a call, such as GetSecretValue, in any of its sandboxes. On request
(``keep_answers``) the log also keeps the text of every answer, so that a test can show a
value it planted never reached the bot.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import ClassVar

__all__ = ["Answer", "CallLog"]


@dataclass(frozen=True)
class Answer:
    """What the sandbox answered to one call: the action, the caller's agent, the body."""

    action: str
    user_agent: str
    body: str


class CallLog(Mapping[tuple[str, str], int]):
    """Counts of calls keyed by ``(action, region)``; read it like a dict."""

    _process: ClassVar[Counter[tuple[str, str]]] = Counter()
    """Calls by ``(action, User-Agent)`` over every sandbox of this process."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()
        self._answers: list[Answer] | None = None

    def record(self, action: str, region: str, *, user_agent: str = "") -> None:
        """Count one call of ``action`` in ``region``, made by ``user_agent``."""
        self._counts[(action, region)] += 1
        CallLog._process[(action, user_agent)] += 1

    def total(self, action: str | None = None, *, region: str | None = None) -> int:
        """Return the number of calls, optionally of one action and/or in one region."""
        return sum(
            count
            for (one_action, one_region), count in self._counts.items()
            if (action is None or one_action == action) and (region is None or one_region == region)
        )

    @classmethod
    def in_process(cls, action: str | None = None, *, agent: str = "") -> int:
        """Return the calls every sandbox of this process received (of ``action``, by an
        agent whose ``User-Agent`` contains ``agent``)."""
        return sum(
            count
            for (one_action, user_agent), count in cls._process.items()
            if (action is None or one_action == action) and agent in user_agent
        )

    def keep_answers(self) -> None:
        """Keep, from now on, the text of every answer (for tests; it may hold values)."""
        if self._answers is None:
            self._answers = []

    def answered(self, action: str, body: str, *, user_agent: str = "") -> None:
        """Keep one answer, if answers are kept."""
        if self._answers is not None:
            self._answers.append(Answer(action, user_agent, body))

    def answers(self, *, agent: str = "") -> list[Answer]:
        """Return the answers kept, oldest first (to agents whose ``User-Agent`` has ``agent``)."""
        return [a for a in self._answers or () if agent in a.user_agent]

    def clear(self) -> None:
        """Forget every call counted (and answer kept) so far in this sandbox."""
        self._counts.clear()
        if self._answers is not None:
            self._answers.clear()

    def as_list(self) -> list[dict[str, str | int]]:
        """Return the counts as JSON-ready rows, sorted by action then region."""
        return [
            {"action": action, "region": region, "count": count}
            for (action, region), count in sorted(self._counts.items())
        ]

    def __getitem__(self, key: tuple[str, str]) -> int:
        return self._counts.get(key, 0)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._counts)

    def __len__(self) -> int:
        return len(self._counts)
