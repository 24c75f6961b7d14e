"""Global middleware: requests Slack would never send, events seen twice, and who is asking
(an ``Asker``, resolving to the ``Actor``).

``malformed_request_middleware`` answers 400 to a command or interaction that names no
user or carries an edited modal context. ``event_dedup_middleware`` drops an Events API
delivery whose ``event_id`` was already claimed (Slack retries; Socket Mode hides the retry
headers), the claim kept in storage so it survives a restart. ``actor_middleware`` counts
the request until its ack (``CountedAck``: work after any ack waits for the acks in
flight) and puts an ``Asker`` in ``context["asker"]``: the verified payload's user, team
and channel ids (never ``private_metadata`` for identity; a modal's channel comes from its
sealed metadata and is re-authorized like everything else), and the ``Actor`` built from
them plus ``users.info`` and ``usergroups.users.list`` through the cached directory. It
asks Slack nothing before the listener runs: with warm caches the ``Actor`` is ready at
once; with a cold one its look-up starts in the background, and a listener either waits
for it a short time before its ack (``within``), or acks first and waits after
(``resolve``). A Slack that is slow or rate-limited therefore never delays an ack past that
budget, and the look-up keeps going (waiting out ``Retry-After``) for the answer given
after the ack. The ``Actor`` is never built from part of the groups.

All three are bolt ``AsyncMiddleware`` classes rather than functions: bolt calls a class's
``async_process`` directly, where a function middleware costs it a round of argument
injection on every request, before the ack. Example of a middleware in this shape::

    class Something(AsyncMiddleware):
        async def async_process(self, *, req, resp, next):
            req.context["something"] = ...
            await next()
            return None
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from ecs_secret_bot.bot import observe
from ecs_secret_bot.bot.directory import SlackDirectory
from ecs_secret_bot.bot.metadata import ModalMeta, sealed
from ecs_secret_bot.bot.services import BotServices
from ecs_secret_bot.commands.actor import Actor

__all__ = [
    "ActorMiddleware",
    "Asker",
    "CountedAck",
    "EventDedupMiddleware",
    "MalformedRequestMiddleware",
    "actor_middleware",
    "event_dedup_middleware",
    "malformed_request_middleware",
    "request_channel",
]

Next = Callable[[], Awaitable[BoltResponse]]
ACK_WINDOW = 3.0
ACK_LINGER = 0.04
"""Seconds a request still counts after its response is set: bolt's runner polls for it
every 10 ms, and the requests of one burst arrive over a few ms (no gap in the count)."""
EVENT_TTL = timedelta(hours=2)
_ACTED = frozenset(
    {"block_actions", "block_suggestion", "view_submission", "view_closed", "message_action"}
)


def request_channel(body: dict[str, Any], *, key: bytes) -> tuple[str, str]:
    """Return the channel id and name a request was made in (empty for App Home)."""
    if "command" in body:
        return str(body.get("channel_id") or ""), str(body.get("channel_name") or "")
    channel = body.get("channel")
    if isinstance(channel, dict):
        return str(channel.get("id") or ""), str(channel.get("name") or "")
    view = body.get("view")
    if isinstance(view, dict) and view.get("type") == "modal":
        meta = ModalMeta.load(view.get("private_metadata"), key=key)
        return meta.channel_id, meta.channel_name
    return "", ""


def _user_and_team(body: dict[str, Any], context: AsyncBoltContext) -> tuple[str, str]:
    user_id = context.user_id or ""
    team_id = context.team_id or ""
    event = body.get("event")
    if not user_id and isinstance(event, dict) and isinstance(event.get("user"), str):
        user_id = event["user"]
    return str(user_id), str(team_id)


class Asker:
    """Who asked, from the verified payload; their ``Actor`` once the directory knows them."""

    def __init__(
        self,
        directory: SlackDirectory,
        *,
        user_id: str,
        team_id: str,
        channel_id: str = "",
        channel_name: str = "",
    ) -> None:
        self.user_id = user_id
        self.channel_id = channel_id
        self.ready: Actor | None = directory.cached_actor(
            user_id=user_id, team_id=team_id, channel_id=channel_id, channel_name=channel_name
        )
        """The ``Actor`` if the caches knew everything (no Slack call needed)."""
        self._lookup: asyncio.Task[Actor] | None = None
        if self.ready is None:
            self._lookup = asyncio.ensure_future(
                directory.actor(
                    user_id=user_id,
                    team_id=team_id,
                    channel_id=channel_id,
                    channel_name=channel_name,
                )
            )
            # Whoever resolves it sees its failure; a request no listener took must not log
            # "exception never retrieved".
            self._lookup.add_done_callback(lambda task: task.cancelled() or task.exception())

    async def within(self, seconds: float) -> Actor | None:
        """Return the ``Actor`` if Slack says who asked within ``seconds``, else None."""
        if self.ready is not None or self._lookup is None:
            return self.ready
        done, _ = await asyncio.wait({self._lookup}, timeout=seconds)
        return self._lookup.result() if done else None

    async def resolve(self) -> Actor:
        """Return the ``Actor``, waiting for Slack as long as it takes (after the ack)."""
        if self.ready is not None or self._lookup is None:
            assert self.ready is not None
            return self.ready
        # shielded: a caller's timeout must not cancel the look-up other callers share
        self.ready = await asyncio.shield(self._lookup)
        return self.ready


class CountedAck(AsyncAck):
    """An ack that tells ``BackgroundTasks`` once its response is on its way (``after_acks``).

    bolt's listener runner polls for the ack's response every 10 ms and only then returns
    it, so the count ends a little after the response is set (``ACK_LINGER``; by the
    listener's ``ack()``, or by bolt's error handler when a listener fails before it): work
    after an ack that started earlier would delay the very responses it waits for. A
    request that is never acked (no listener took it) stops counting after Slack's 3 s.
    The request's ``observe`` record hears of the ack too (its latency, and the task that
    acked, which the request then waits for).
    """

    def __init__(self, acked: Callable[[], None]) -> None:
        self._acked = acked
        self._record = observe.current()
        self._timer = asyncio.get_running_loop().call_later(ACK_WINDOW, acked)
        super().__init__()  # type: ignore[no-untyped-call]

    @property
    def response(self) -> BoltResponse | None:
        """The response bolt sends Slack, once the ack set it."""
        return self._response

    @response.setter
    def response(self, value: BoltResponse | None) -> None:
        self._response = value
        if value is not None:
            self._timer.cancel()
            self._timer = asyncio.get_running_loop().call_later(ACK_LINGER, self._acked)
            if self._record is not None:
                self._record.acked()


class ActorMiddleware(AsyncMiddleware):
    """Put the request's ``Asker`` in the context (``context["asker"]``)."""

    def __init__(self, services: BotServices) -> None:
        self.services = services

    async def async_process(
        self, *, req: AsyncBoltRequest, resp: BoltResponse, next: Next
    ) -> BoltResponse | None:
        """Count ``req`` until its ack, build its ``Asker``, then let the chain go on."""
        body, context = req.body, req.context
        context["ack"] = CountedAck(self.services.tasks.acking())
        user_id, team_id = _user_and_team(body, context)
        if user_id and isinstance(body, dict):
            channel_id, channel_name = request_channel(body, key=self.services.metadata_key)
            if channel_name in ("directmessage",):
                channel_name = ""
            context["asker"] = Asker(
                self.services.directory,
                user_id=user_id,
                team_id=team_id,
                channel_id=channel_id,
                channel_name=channel_name,
            )
        await next()
        return None  # bolt's own way: the listener's ack makes the response


class EventDedupMiddleware(AsyncMiddleware):
    """Answer an Events API delivery whose ``event_id`` was already claimed, and stop there."""

    def __init__(self, services: BotServices) -> None:
        self.services = services

    async def async_process(
        self, *, req: AsyncBoltRequest, resp: BoltResponse, next: Next
    ) -> BoltResponse | None:
        """Claim the event id of ``req`` (if it has one); a second delivery ends here."""
        body = req.body
        event_id = body.get("event_id") if isinstance(body, dict) else None
        if body.get("type") == "event_callback" and isinstance(event_id, str) and event_id:
            claimed = await self.services.core.claim_once(f"slack:event:{event_id}", ttl=EVENT_TTL)
            if not claimed:
                return BoltResponse(status=200, body="")
        await next()
        return None


class MalformedRequestMiddleware(AsyncMiddleware):
    """Answer 400 to a request Slack would never send, and stop there.

    A command or interaction names who typed or clicked, and a modal carries the context
    the bot sealed into it (``metadata``); a request without the one or with the other
    edited is refused plainly, before any listener (which needs an ``Actor``) runs.
    """

    def __init__(self, services: BotServices) -> None:
        self.services = services

    async def async_process(
        self, *, req: AsyncBoltRequest, resp: BoltResponse, next: Next
    ) -> BoltResponse | None:
        """Refuse ``req`` if it names no user or carries an altered modal context."""
        body = req.body
        if isinstance(body, dict) and ("command" in body or body.get("type") in _ACTED):
            if not req.context.user_id:
                return BoltResponse(status=400, body="the request names no user")
            view = body.get("view")
            if isinstance(view, dict) and not sealed(
                view.get("private_metadata"), self.services.metadata_key
            ):
                return BoltResponse(status=400, body="the modal's context was altered")
        await next()
        return None


def actor_middleware(services: BotServices) -> AsyncMiddleware:
    """Return the middleware that puts the request's ``Asker`` in the context."""
    return ActorMiddleware(services)


def event_dedup_middleware(services: BotServices) -> AsyncMiddleware:
    """Return the middleware that handles each ``event_id`` once."""
    return EventDedupMiddleware(services)


def malformed_request_middleware(services: BotServices) -> AsyncMiddleware:
    """Return the middleware that answers 400 to a request Slack would never send."""
    return MalformedRequestMiddleware(services)
