"""Trigger ids of fake Slack: minted with each interaction, good for 3 seconds and once.

Owns `TriggerBook` and the process-wide `TRIGGERS` that the payload builders mint
from and `FakeSlackAPI` exchanges against, so a test that builds a slash command or a
click gets a `trigger_id` the fake knows, with the time it was issued, the person who
acted and the view (if any) the interaction came from.

Slack's rules, as documented:

- "They expire in three seconds. [...] they can be used only once."
  (https://api.slack.com/docs/triggers); `views.open` and `views.push` answer
  `expired_trigger_id`, `exchanged_trigger_id` or `invalid_trigger_id`
  (https://docs.slack.dev/reference/methods/views.open,
  https://docs.slack.dev/reference/methods/views.push).
- `views.push` takes "a valid trigger_id generated from an interaction within the
  existing modal" (https://docs.slack.dev/reference/methods/views.push).

Never speaks HTTP and never knows about views; `slack_views.ViewRegistry` asks it.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["TRIGGERS", "TRIGGER_TTL", "Trigger", "TriggerBook"]

#: How long a trigger id can be exchanged, in seconds.
TRIGGER_TTL = 3.0


@dataclass
class Trigger:
    """One trigger id: when Slack issued it, for whom, from which view, and if it was used."""

    trigger_id: str
    issued_at: float
    user_id: str | None = None
    view_id: str | None = None
    exchanged: bool = False


class TriggerBook:
    """Every trigger id minted in this process, and whether it was exchanged."""

    def __init__(
        self, *, ttl: float = TRIGGER_TTL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        self._triggers: dict[str, Trigger] = {}
        self._numbers = itertools.count(1)

    def mint(
        self, *, user_id: str | None = None, view_id: str | None = None, age: float = 0.0
    ) -> str:
        """Return a new trigger id shaped like Slack's, issued `age` seconds ago."""
        trigger_id = f"{next(self._numbers)}.{int(time.time())}.{uuid.uuid4().hex}"
        issued_at = self.clock() - age
        self._triggers[trigger_id] = Trigger(trigger_id, issued_at, user_id, view_id)
        return trigger_id

    def get(self, trigger_id: str) -> Trigger | None:
        """Return what the book knows of `trigger_id`, or None if it never minted it."""
        return self._triggers.get(trigger_id)

    def age(self, trigger_id: str) -> float:
        """Return how many seconds ago `trigger_id` was issued."""
        trigger = self._triggers[trigger_id]
        return self.clock() - trigger.issued_at

    def exchange(self, trigger_id: str) -> tuple[Trigger | None, str | None]:
        """Use `trigger_id` once: return (trigger, None), or (None, Slack's error code)."""
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            return None, "invalid_trigger_id"
        if trigger.exchanged:
            return None, "exchanged_trigger_id"
        if self.clock() - trigger.issued_at > self.ttl:
            return None, "expired_trigger_id"
        trigger.exchanged = True
        return trigger, None


#: The book every payload builder and every `FakeSlackAPI` in this process share.
TRIGGERS = TriggerBook()
