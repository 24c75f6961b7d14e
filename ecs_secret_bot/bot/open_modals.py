"""Modals the person has open: updating them as Slack allows, where they may be gone or newer.

Owns ``OpenModals``: ``views.update`` by view id (or by the ``external_id`` of a view the
app pushed in a submission's ack, whose id it never learns), sent with the view's
``hash`` where the person may be changing it too, and the newest hash this process holds
of each view (from ``views.open`` and ``views.update`` answers), so that two quick clicks
on one modal update it one after the other instead of conflicting. Slack's answers that
are facts about the person, not failures, come back as ``False``:

- ``not_found``: the person closed the modal (Slack keeps no closed view);
- ``hash_conflict``: the view changed since that hash (another replica, another click);
  the newer view is left as it is.

Any other refusal is an error for the caller's reporter. Never builds a view and never
decides what to say when a modal is gone: the caller tells the person another way.

Example::

    if not await services.modals.update(view, view_id=view_id, hash=known_hash):
        await tell(services.client, where, text)   # the modal is gone or newer
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

__all__ = ["GONE", "OpenModals"]

logger = logging.getLogger(__name__)

GONE = frozenset({"not_found", "hash_conflict"})
"""Slack's answers to ``views.update`` that say the modal is closed or newer."""


class OpenModals:
    """Updates modals through ``client``, remembering the newest hash of the last views."""

    def __init__(self, client: AsyncWebClient, *, remember: int = 2000) -> None:
        self.client = client
        self._remember = remember
        self._hashes: OrderedDict[str, str] = OrderedDict()
        self._turns: dict[str, tuple[asyncio.Lock, int]] = {}

    def opened(self, reply: Any) -> str:
        """Remember the hash of a view ``views.open`` returned; return the view's id."""
        view = reply.get("view") if hasattr(reply, "get") else None
        if not isinstance(view, dict):
            return ""
        view_id = str(view.get("id") or "")
        self._keep(view_id, view.get("hash"))
        return view_id

    def hash_of(self, view_id: str, seen: str | None = None) -> str | None:
        """Return the newest hash of ``view_id`` this process knows, else ``seen``."""
        return self._hashes.get(view_id, seen)

    @asynccontextmanager
    async def turn(self, view_id: str) -> AsyncIterator[None]:
        """Hold ``view_id`` so that updates of one modal go one at a time, in arrival order."""
        lock, users = self._turns.get(view_id, (asyncio.Lock(), 0))
        self._turns[view_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._turns[view_id]
            if users > 1:
                self._turns[view_id] = (lock, users - 1)
            else:
                del self._turns[view_id]

    async def update(
        self,
        view: dict[str, Any],
        *,
        view_id: str = "",
        external_id: str = "",
        hash: str | None = None,
    ) -> bool:
        """Replace an open modal's view; return False when it is gone or newer than ``hash``."""
        target = {"view_id": view_id} if view_id else {"external_id": external_id}
        try:
            reply = await self.client.views_update(view=view, hash=hash, **target)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "")
            if error not in GONE:
                raise
            logger.info("views.update %s: %s, left as it is", view_id or external_id, error)
            return False
        updated = reply.get("view")
        if isinstance(updated, dict):
            self._keep(str(updated.get("id") or view_id), updated.get("hash"))
        return True

    def _keep(self, view_id: str, hash: object) -> None:
        if not view_id or not isinstance(hash, str) or not hash:
            return
        self._hashes[view_id] = hash
        self._hashes.move_to_end(view_id)
        while len(self._hashes) > self._remember:
            self._hashes.popitem(last=False)
