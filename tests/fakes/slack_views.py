"""Views of fake Slack: the modals and App Home tabs the app opens, updates and publishes.

Owns `ViewRegistry`, which answers `views.open`, `views.push`, `views.update` and
`views.publish` like Slack: each view gets an id and a hash, an update with a stale
hash is refused (`hash_conflict`), App Home keeps one view per user, and a view that
Slack would refuse (see `view_rules`) is refused with `invalid_arguments` and
Slack-style explanations.

Never speaks HTTP; `FakeWorkspace` routes calls here.
"""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Callable, Mapping
from typing import Any

from .recording import RecordedCall
from .replies import Reply, error, problem, text_of
from .view_rules import MAX_MODAL_BLOCKS, MAX_MODAL_TITLE, MAX_PRIVATE_METADATA, view_problems

__all__ = [
    "MAX_MODAL_BLOCKS",
    "MAX_MODAL_TITLE",
    "MAX_PRIVATE_METADATA",
    "ViewRegistry",
    "view_problems",
]


class ViewRegistry:
    """The views the app has shown, by view id, as last opened or updated."""

    def __init__(
        self, *, team_id: str, app_id: str, bot_id: str, knows_user: Callable[[str], bool]
    ) -> None:
        self.team_id = team_id
        self.app_id = app_id
        self.bot_id = bot_id
        self.views: dict[str, dict[str, Any]] = {}
        self.home_view_ids: dict[str, str] = {}
        self._knows_user = knows_user
        self._ids = itertools.count(1)
        self._hashes = itertools.count(1)

    def handlers(self) -> dict[str, Callable[[RecordedCall], Reply]]:
        """Return the Web API methods this registry answers."""
        return {
            "views.open": self._open,
            "views.push": self._open,
            "views.update": self._update,
            "views.publish": self._publish,
        }

    def _open(self, call: RecordedCall) -> Reply:
        if not call.payload.get("trigger_id"):
            return error("invalid_arguments", problem("missing required field: trigger_id", "/"))
        view = call.payload.get("view")
        if not isinstance(view, Mapping):
            return error("invalid_arguments", problem("missing required field: view", "/"))
        problems = view_problems(view, expected_type="modal")
        if problems:
            return error("invalid_arguments", *problems)
        return {"ok": True, "view": self._store(view, view_id=self._new_id())}

    def _update(self, call: RecordedCall) -> Reply:
        payload = call.payload
        view_id = text_of(payload.get("view_id"))
        external_id = text_of(payload.get("external_id"))
        current = self.views.get(view_id) if view_id else None
        if current is None and external_id:
            matches = [v for v in self.views.values() if v["external_id"] == external_id]
            current = matches[-1] if matches else None
        if current is None:
            return error("not_found")
        if payload.get("hash") and payload["hash"] != current["hash"]:
            return error("hash_conflict")
        view = payload.get("view")
        if not isinstance(view, Mapping):
            return error("invalid_arguments", problem("missing required field: view", "/"))
        problems = view_problems(view, expected_type=current["type"])
        if problems:
            return error("invalid_arguments", *problems)
        return {"ok": True, "view": self._store(view, view_id=current["id"])}

    def _publish(self, call: RecordedCall) -> Reply:
        payload = call.payload
        user_id = text_of(payload.get("user_id"))
        if not self._knows_user(user_id):
            return error("user_not_found")
        view = payload.get("view")
        if not isinstance(view, Mapping):
            return error("invalid_arguments", problem("missing required field: view", "/"))
        problems = view_problems(view, expected_type="home")
        if problems:
            return error("invalid_arguments", *problems)
        view_id = self.home_view_ids.get(user_id)
        if view_id and payload.get("hash") and payload["hash"] != self.views[view_id]["hash"]:
            return error("hash_conflict")
        view_id = view_id or self._new_id()
        self.home_view_ids[user_id] = view_id
        return {"ok": True, "view": self._store(view, view_id=view_id)}

    def _new_id(self) -> str:
        return f"V{next(self._ids):010d}"

    def _store(self, view: Mapping[str, Any], *, view_id: str) -> dict[str, Any]:
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
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.app_id,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        self.views[view_id] = stored
        return copy.deepcopy(stored)
