"""Which workspace a Web API call is for, and its token: one token, or one per installation.

Owns ``in_workspace`` (the workspace the work at hand belongs to: set by the middleware
from the verified request, and by the duties' and tracker's notifiers from the record they
report on, whose ``team_id`` storage kept), ``current_team`` and ``WorkspaceClient``: in
OAuth install mode, the ``AsyncWebClient`` every part of the bot calls Slack through,
which puts the bot token of ``current_team()``'s installation on each call. Tasks started
for a request inherit its workspace (asyncio copies the context into a task), so work
after the ack calls Slack with the asker's workspace's token as well.

It fails closed: a call for a workspace that is not installed (uninstalled, tokens
revoked) raises ``WorkspaceNotInstalled`` before anything is sent, and a call made where
no workspace was named goes to the only installation, or, with several, is refused the
same way: never through another workspace's token. In single-token mode the bot keeps its
plain client (``SLACK_BOT_TOKEN``); the workspace named only keys the directory's look-ups
(user groups belong to one workspace). Never logs a token, never stores one
(``commands.workspaces`` does, through ``TokenSource``).

Why a context variable rather than a team passed to each call: some thirty places call
Slack, through helpers that take a client, and a missed one would silently use another
workspace's token; here a call that nobody placed in a workspace cannot get a token at all.
The variable is per request (each is its own task) and per record (``in_workspace``), never
process-wide state.
"""

from __future__ import annotations

import contextvars
import logging
from base64 import b64encode
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from aiohttp import FormData
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

__all__ = [
    "TokenSource",
    "WorkspaceClient",
    "WorkspaceMiddleware",
    "WorkspaceNotInstalled",
    "current_team",
    "for_workspace",
    "in_workspace",
    "set_workspace",
]

logger = logging.getLogger(__name__)

_TEAM: contextvars.ContextVar[str] = contextvars.ContextVar("ecs_secret_bot_team", default="")


def current_team() -> str:
    """Return the team id of the workspace the work at hand belongs to ('' if none named)."""
    return _TEAM.get()


def set_workspace(team_id: str) -> None:
    """Name the workspace of the request being handled, for it and the tasks it starts."""
    _TEAM.set(team_id)


@contextmanager
def in_workspace(team_id: str) -> Iterator[None]:
    """Run the block for ``team_id``'s workspace (a record's, in background work)."""
    token = _TEAM.set(team_id)
    try:
        yield
    finally:
        _TEAM.reset(token)


class WorkspaceNotInstalled(SlackClientError):
    """The app is not installed in the workspace a call is for: nothing was sent."""

    def __init__(self, team_id: str) -> None:
        where = f"workspace {team_id}" if team_id else "a request that names no workspace"
        super().__init__(f"the app is not installed in {where}")
        self.team_id = team_id


@contextmanager
def for_workspace(team_id: str) -> Iterator[None]:
    """Report on a record of ``team_id``'s workspace, through its token; skip it if the app
    is no longer installed there (the client says so once)."""
    with in_workspace(team_id):
        try:
            yield
        except WorkspaceNotInstalled:
            pass


class TokenSource(Protocol):
    """Where the bot tokens of installed workspaces come from (the core's installations).

    Example::

        class Fixed:
            async def bot_token(self, team_id: str) -> str | None:
                return {"T0A": "xoxb-a"}.get(team_id)

            async def only_team(self) -> str | None:
                return None
    """

    async def bot_token(self, team_id: str) -> str | None:
        """Return the workspace's bot token, or None if the app is not installed there."""
        ...

    async def only_team(self) -> str | None:
        """Return the team id of the one installed workspace; None if none or several."""
        ...


class WorkspaceClient(AsyncWebClient):
    """A Web API client that calls with the token of the current workspace's installation.

    A call that names its own token (``token=...``, as bolt's OAuth flow does) keeps it.
    """

    def __init__(self, *, tokens: TokenSource | None = None, **kwargs: Any) -> None:
        super().__init__(token=None, **kwargs)
        self._tokens = tokens
        self._refused: set[str] = set()

    def attach(self, tokens: TokenSource) -> None:
        """Take the workspaces' tokens from ``tokens`` (the core's, once it is open)."""
        self._tokens = tokens

    async def token_for(self, team_id: str) -> str:
        """Return the bot token for ``team_id``'s workspace; raise if it is not installed."""
        tokens = self._tokens
        if tokens is None:
            raise WorkspaceNotInstalled(team_id)
        team = team_id or (await tokens.only_team()) or ""
        token = await tokens.bot_token(team) if team else None
        if not token:
            if team not in self._refused:  # said once per workspace and process
                self._refused.add(team)
                logger.warning(
                    "no installation for %s: its Slack calls are skipped",
                    f"workspace {team}" if team else "a call that names no workspace",
                )
            raise WorkspaceNotInstalled(team)
        self._refused.discard(team)
        return token

    async def api_call(
        self,
        api_method: str,
        *,
        http_verb: str = "POST",
        files: dict[Any, Any] | None = None,
        data: dict[Any, Any] | FormData | None = None,
        params: dict[Any, Any] | None = None,
        json: dict[Any, Any] | None = None,
        headers: dict[Any, Any] | None = None,
        auth: dict[Any, Any] | None = None,
    ) -> AsyncSlackResponse:
        """Call ``api_method`` with the current workspace's bot token."""
        named = (params is not None and "token" in params) or (json is not None and "token" in json)
        if auth is not None:
            # The app's own credentials (oauth.v2.access), as HTTP Basic: slack_sdk would
            # build aiohttp's BasicAuth, which aiohttp deprecates.
            pair = f"{auth['client_id']}:{auth['client_secret']}".encode()
            headers = {**(headers or {}), "Authorization": f"Basic {b64encode(pair).decode()}"}
            auth = None
        elif not named and not (headers and "Authorization" in headers):
            token = await self.token_for(current_team())
            headers = {**(headers or {}), "Authorization": f"Bearer {token}"}
        return await super().api_call(
            api_method,
            http_verb=http_verb,
            files=files,
            data=data,
            params=params,
            json=json,
            headers=headers,
            auth=auth,
        )


class WorkspaceMiddleware(AsyncMiddleware):
    """Name the verified request's workspace (bolt's ``context.team_id``) for all it does."""

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        """Set the request's workspace, then let the chain go on."""
        set_workspace(str(req.context.team_id or ""))
        await next()
        return None
