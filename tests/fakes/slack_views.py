"""Views of fake Slack: the modals and App Home tabs the app opens, updates and publishes.

Owns `ViewRegistry`, which answers `views.open`, `views.push`, `views.update` and
`views.publish` as strictly as Slack does where it matters:

- `views.open`/`views.push` exchange a `trigger_id` from `triggers.TRIGGERS`: valid
  for 3 seconds and once (`expired_trigger_id`, `exchanged_trigger_id`,
  `invalid_trigger_id`). `views.push` goes onto the modal the trigger's interaction
  came from (`not_found` if that modal is gone), at most 3 views a stack
  (`push_limit_reached`). https://docs.slack.dev/reference/methods/views.open,
  https://docs.slack.dev/reference/methods/views.push
- A modal lives until the person closes it (`close`, with the `view_closed` payload
  Slack sends when the view asked for `notify_on_close`) or the app's answer to a
  submission closes it (`acknowledge`: an empty ack closes the view, `clear` the stack,
  `update`/`push` replace or stack views). https://docs.slack.dev/surfaces/modals
- `views.update` of a view that is not open, or unknown, answers `not_found`; with a
  `hash` other than the view's current one, `hash_conflict`. Each view has a `hash`
  that changes with every update. https://docs.slack.dev/reference/methods/views.update
- A view Slack would refuse (see `view_rules`) is refused with `invalid_arguments`.

Never speaks HTTP; `FakeWorkspace` routes calls here.
"""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import workspace as ws
from .recording import RecordedCall
from .replies import Reply, error, problem, text_of
from .triggers import TRIGGERS, Trigger, TriggerBook
from .view_rules import MAX_MODAL_BLOCKS, MAX_MODAL_TITLE, MAX_PRIVATE_METADATA, view_problems

__all__ = [
    "MAX_MODAL_BLOCKS",
    "MAX_MODAL_TITLE",
    "MAX_PRIVATE_METADATA",
    "MAX_STACK",
    "ViewRegistry",
    "view_problems",
]

#: How many views one modal can stack ("Currently the limit is 3", views.push).
MAX_STACK = 3


class _Refused(Exception):
    """Slack's refusal of a call, raised from deep in a handler."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.get("error"))
        self.reply = reply


def _answering(handler: Callable[[RecordedCall], Reply]) -> Callable[[RecordedCall], Reply]:
    def answer(call: RecordedCall) -> Reply:
        try:
            return handler(call)
        except _Refused as refused:
            return refused.reply

    return answer


@dataclass
class _Modal:
    """The stack of views one person sees in one modal, root first."""

    user_id: str | None
    stack: list[str] = field(default_factory=list)


class ViewRegistry:
    """The views the app has shown, by view id, as last opened or updated."""

    def __init__(
        self,
        *,
        team_id: str,
        app_id: str,
        bot_id: str,
        knows_user: Callable[[str], bool],
        triggers: TriggerBook = TRIGGERS,
    ) -> None:
        self.team_id = team_id
        self.app_id = app_id
        self.bot_id = bot_id
        self.triggers = triggers
        self.views: dict[str, dict[str, Any]] = {}
        self.home_view_ids: dict[str, str] = {}
        self._knows_user = knows_user
        self._modals: dict[str, _Modal] = {}  # by root view id, only while open
        self._ids = itertools.count(1)
        self._hashes = itertools.count(1)

    def handlers(self) -> dict[str, Callable[[RecordedCall], Reply]]:
        """Return the Web API methods this registry answers."""
        handlers = {
            "views.open": self._open,
            "views.push": self._push,
            "views.update": self._update,
            "views.publish": self._publish,
        }
        return {method: _answering(handler) for method, handler in handlers.items()}

    # ------------------------------------------------------------------ what the person sees

    def is_open(self, view_id: str) -> bool:
        """Return whether `view_id` is a modal view the person still has open."""
        return self._modal_of(view_id) is not None

    def user_of(self, view_id: str) -> str | None:
        """Return who the modal holding `view_id` was opened for, if Slack said so."""
        modal = self._modal_of(view_id)
        return modal.user_id if modal is not None else None

    def close(self, view_id: str, *, clear: bool = False) -> list[dict[str, Any]]:
        """Close `view_id` (and the views pushed above it) as the person would.

        With `clear`, or when `view_id` is the root, the whole modal goes. Return the
        views closed, top first; nothing if `view_id` was not open.
        """
        modal = self._modal_of(view_id)
        if modal is None:
            return []
        cut = 0 if clear else modal.stack.index(view_id)
        closed = modal.stack[cut:]
        del modal.stack[cut:]
        if not modal.stack:
            self._modals = {root: m for root, m in self._modals.items() if m is not modal}
        return [copy.deepcopy(self.views[closed_id]) for closed_id in reversed(closed)]

    def acknowledge(
        self, view_id: str, ack: Mapping[str, Any] | None, *, submitted_hash: str | None = None
    ) -> None:
        """Apply the app's answer to the submission of `view_id`, as Slack does.

        No `response_action` closes the submitted view; `clear` closes the modal;
        `update` replaces the view (unless the app already updated it since the
        person submitted `submitted_hash`); `push` stacks a new view; `errors` keeps it.
        """
        modal = self._modal_of(view_id)
        if modal is None:
            return
        action = (ack or {}).get("response_action")
        new_view = (ack or {}).get("view")
        if action is None:
            self.close(view_id)
        elif action == "clear":
            self.close(view_id, clear=True)
        elif action == "update" and isinstance(new_view, Mapping):
            current = self.views[view_id]
            if submitted_hash is None or current["hash"] == submitted_hash:
                self._store(
                    new_view,
                    view_id=view_id,
                    previous_view_id=current["previous_view_id"],
                    root_view_id=current["root_view_id"],
                )
        elif action == "push" and isinstance(new_view, Mapping) and len(modal.stack) < MAX_STACK:
            pushed = self._new_id()
            self._store(
                new_view, view_id=pushed, previous_view_id=view_id, root_view_id=modal.stack[0]
            )
            modal.stack.append(pushed)

    # ------------------------------------------------------------------ Web API methods

    def _open(self, call: RecordedCall) -> Reply:
        view = self._view_argument(call, expected_type="modal")
        trigger = self._exchange(call)
        view_id = self._new_id()
        self._modals[view_id] = _Modal(trigger.user_id, [view_id])
        return {"ok": True, "view": self._store(view, view_id=view_id, root_view_id=view_id)}

    def _push(self, call: RecordedCall) -> Reply:
        view = self._view_argument(call, expected_type="modal")
        trigger = self._exchange(call)
        modal = self._modal_of(trigger.view_id or "")
        if modal is None:
            return error("not_found")
        if len(modal.stack) >= MAX_STACK:
            return error("push_limit_reached")
        view_id = self._new_id()
        stored = self._store(
            view, view_id=view_id, previous_view_id=modal.stack[-1], root_view_id=modal.stack[0]
        )
        modal.stack.append(view_id)
        return {"ok": True, "view": stored}

    def _update(self, call: RecordedCall) -> Reply:
        payload = call.payload
        view_id = text_of(payload.get("view_id"))
        external_id = text_of(payload.get("external_id"))
        current = self.views.get(view_id) if view_id else None
        if current is None and external_id:
            matches = [v for v in self.views.values() if v["external_id"] == external_id]
            current = matches[-1] if matches else None
        if current is None or not self.is_open(current["id"]):
            return error("not_found")
        if payload.get("hash") and payload["hash"] != current["hash"]:
            return error("hash_conflict")
        view = self._view_argument(call, expected_type=current["type"])
        stored = self._store(
            view,
            view_id=current["id"],
            previous_view_id=current["previous_view_id"],
            root_view_id=current["root_view_id"],
        )
        return {"ok": True, "view": stored}

    def _publish(self, call: RecordedCall) -> Reply:
        payload = call.payload
        user_id = text_of(payload.get("user_id"))
        if not self._knows_user(user_id):
            return error("user_not_found")
        view = self._view_argument(call, expected_type="home")
        view_id = self.home_view_ids.get(user_id)
        if view_id and payload.get("hash") and payload["hash"] != self.views[view_id]["hash"]:
            return error("hash_conflict")
        view_id = view_id or self._new_id()
        self.home_view_ids[user_id] = view_id
        return {"ok": True, "view": self._store(view, view_id=view_id)}

    # ------------------------------------------------------------------ helpers

    def _view_argument(self, call: RecordedCall, *, expected_type: str) -> Mapping[str, Any]:
        view = call.payload.get("view")
        if not isinstance(view, Mapping):
            raise _Refused(error("invalid_arguments", problem("missing required field: view", "/")))
        problems = view_problems(view, expected_type=expected_type)
        if problems:
            raise _Refused(error("invalid_arguments", *problems))
        return view

    def _exchange(self, call: RecordedCall) -> Trigger:
        payload = call.payload
        trigger_id = text_of(payload.get("trigger_id")) or text_of(
            payload.get("interactivity_pointer")
        )
        if not trigger_id:
            missing = problem("missing required field: trigger_id", "/")
            raise _Refused(error("invalid_arguments", missing))
        trigger, refused = self.triggers.exchange(trigger_id)
        if trigger is None:
            raise _Refused(error(refused or "invalid_trigger_id"))
        return trigger

    def _modal_of(self, view_id: str) -> _Modal | None:
        for modal in self._modals.values():
            if view_id in modal.stack:
                return modal
        return None

    def _new_id(self) -> str:
        # View ids are unique across Slack: another team's are numbered apart.
        if self.team_id != ws.TEAM_ID:
            return f"V{self.team_id[-4:]}{next(self._ids):06d}"
        return f"V{next(self._ids):010d}"

    def _store(
        self,
        view: Mapping[str, Any],
        *,
        view_id: str,
        previous_view_id: str | None = None,
        root_view_id: str | None = None,
    ) -> dict[str, Any]:
        stored: dict[str, Any] = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view.get("type"),
            "blocks": copy.deepcopy(list(view.get("blocks") or [])),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{next(self._hashes):08x}",
            "title": copy.deepcopy(view.get("title")),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": copy.deepcopy(view.get("close")),
            "submit": copy.deepcopy(view.get("submit")),
            "previous_view_id": previous_view_id,
            "root_view_id": root_view_id or view_id,
            "app_id": self.app_id,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        self.views[view_id] = stored
        return copy.deepcopy(stored)
