"""Several ``ecs-secret-bot serve`` processes on one database, one fake Slack, one sandbox.

``Replicas.start(config, slack=..., count=3)`` starts ``count`` real ``serve`` processes
(``serve_process.ServeProcess``) on one configuration, hence one database (an SQLite file,
or PostgreSQL: ``serve_config(database_url=...)``); ``next()`` hands
them out in turn, as a load balancer would; ``holder()`` says which of them holds the
duties' lease, read through the storage layer (so it reads whichever engine the
configuration names); ``kill()`` ends one with SIGKILL, as a crash would. Used by the replica
scenarios and by ``bench/replicas.py``, with what people do through any replica
(``ask_to_delete``, ``ask_to_rotate``, the approval ``card``). Nothing is mocked.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecs_secret_bot.bot.ids import Action, Block, Callback
from ecs_secret_bot.config import Settings, load_settings
from ecs_secret_bot.runtime import open_storage
from ecs_secret_bot.storage import Database, leases
from ecs_secret_bot.storage.leases import Lease

from . import workspace as ws
from .payloads import input_state, select_state
from .serve_process import ServeProcess, Stopped
from .slack_api import FakeSlackAPI
from .slack_messages import Message

__all__ = [
    "Replicas",
    "ask_to_delete",
    "ask_to_rotate",
    "button_value",
    "card",
    "delete_values",
]

DUTIES = "duties"


@dataclass
class Replicas:
    """Running replicas, the database they share, and who of them was killed."""

    processes: list[ServeProcess]
    settings: Settings
    db: Database
    killed: list[ServeProcess] = field(default_factory=list)
    _turn: itertools.count[int] = field(default_factory=itertools.count)

    @classmethod
    async def start(
        cls, config: Path, *, slack: FakeSlackAPI, count: int = 3, args: Sequence[str] = ()
    ) -> Replicas:
        """Start ``count`` serve processes on ``config``; wait until each answers /healthz."""
        first = await ServeProcess.start(config, slack=slack, args=args)  # creates the database
        rest = await asyncio.gather(
            *(ServeProcess.start(config, slack=slack, args=args) for _ in range(count - 1))
        )
        settings = load_settings(config)
        return cls([first, *rest], settings, await open_storage(settings))

    @property
    def live(self) -> list[ServeProcess]:
        """Return the replicas not killed."""
        return [p for p in self.processes if p not in self.killed]

    def next(self) -> ServeProcess:
        """Return the next live replica in turn (round robin)."""
        live = self.live
        return live[next(self._turn) % len(live)]

    def spread(self, count: int) -> list[ServeProcess]:
        """Return ``count`` replicas in turn."""
        return [self.next() for _ in range(count)]

    async def lease(self) -> Lease | None:
        """Return the duties' lease as the database holds it now."""
        return await leases.get_lease(self.db, DUTIES)

    def owner_of(self, lease: Lease | None) -> ServeProcess | None:
        """Return the replica whose id is the lease's owner (``host:pid:random``)."""
        if lease is None:
            return None
        pid = lease.owner.split(":")[1] if lease.owner.count(":") >= 2 else ""
        return next((p for p in self.processes if str(p.proc.pid) == pid), None)

    async def holder(self, *, timeout: float = 20.0, other_than: Lease | None = None) -> Lease:
        """Wait until a live replica holds the lease (a holder other than ``other_than``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lease = await self.lease()
            owner = self.owner_of(lease)
            fresh = other_than is None or (lease is not None and lease.token > other_than.token)
            if lease is not None and owner in self.live and fresh:
                return lease
            await asyncio.sleep(0.02)
        raise AssertionError(f"no live replica took the duties' lease within {timeout} s")

    async def until(self, check: Callable[[], Awaitable[bool]], *, timeout: float = 15.0) -> None:
        """Wait until ``check()`` (say, a read of the shared database) is true."""
        deadline = time.monotonic() + timeout
        while not await check():
            assert time.monotonic() < deadline, "waited in vain"
            await asyncio.sleep(0.02)

    async def kill(self, replica: ServeProcess) -> float:
        """SIGKILL ``replica`` (no goodbye, no lease given back); return when (monotonic)."""
        self.killed.append(replica)
        replica.proc.kill()
        killed_at = time.monotonic()
        await replica.kill()
        return killed_at

    async def stop(self) -> list[Stopped]:
        """Stop the live replicas (SIGTERM) and close the database; say how each ended."""
        stopped = []
        try:
            for replica in self.live:
                stopped.append(await replica.terminate())
        finally:
            await self.db.close()
        return stopped


# What people do, through any replica ------------------------------------------------------


def delete_values(mode: str, *, days: str = "30", name: str = "") -> dict[str, Any]:
    """Return the delete modal's state: ``schedule`` in ``days``, or ``now`` naming ``name``."""
    return {
        Block.DELETE_MODE: {Action.DELETE_MODE: select_state(mode, type="radio_buttons")},
        Block.DAYS: {Action.DAYS: input_state(days, type="number_input")},
        Block.CONFIRM_NAME: {Action.CONFIRM_NAME: input_state(name)},
        Block.REASON: {Action.REASON: input_state("clean-up")},
    }


async def ask_to_delete(bot: ServeProcess, text: str, values: dict[str, Any]) -> None:
    """Type the delete command, fill the modal, review, and click the danger button."""
    opened = len(bot.slack.calls_to("views.open"))
    await bot.command(text)
    await bot.slack.wait_for_calls("views.open", count=opened + 1)
    view = bot.modal()
    assert view["callback_id"] == Callback.DELETE
    answer = (await bot.submit(view, values)).json()
    assert answer["response_action"] == "update", answer
    await bot.click(Action.DELETE_GO, view=bot.modal(), block_id=Block.DELETE_GO, value="go")


async def ask_to_rotate(bot: ServeProcess, name: str) -> None:
    """Type the rotate command, wait for the filled modal, and confirm with a reason."""
    await bot.command(f"rotate {name}")
    await bot.slack.wait_for(
        "views.update",
        lambda c: c.payload.get("view", {}).get("callback_id") == Callback.ROTATE,
        timeout=15,
    )
    reason = {Block.REASON: {Action.REASON: input_state("leaked")}}
    assert (await bot.submit(bot.modal(), reason)).status == 200


def card(slack: FakeSlackAPI) -> Message:
    """Return the approval card posted in the incident channel."""
    return next(m for m in slack.messages(ws.INCIDENT_CHANNEL_ID) if "Approval request" in m.text)


def button_value(message: Message, action_id: str) -> str:
    """Return the value of the button ``action_id`` on ``message``."""
    for block in message.blocks:
        for element in block.get("elements", []) + [block.get("accessory") or {}]:
            if element.get("action_id") == action_id:
                return str(element["value"])
    raise AssertionError(f"no {action_id} button in {message.blocks}")
