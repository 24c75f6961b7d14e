"""Local principals: who ``local:user:<login>`` is, for every front end's ``ActorDirectory``.

A ``local:user:<login>`` principal is whoever logged in as ``<login>`` on a host that
runs ``ecs-secret`` against this database: the terminal's own actor, and the requester or
approver of a request made at a terminal. It has no groups (bind the principal itself in
``[[access.bindings]]``). Any other principal goes to ``fallback``: a ``slack:user:`` can
only be checked by asking Slack (``users.info``), so the terminal passes a Slack directory
when ``SLACK_BOT_TOKEN`` is set; without one the answer is ``None`` ("unknown"), and an
approval that involves Slack users cannot run from the terminal: approve it in Slack.

The Slack app uses the other half: its directory is ``LocalDirectory(fallback=slack_directory)``,
so it can run a request made at a terminal once it is approved in Slack. Never guesses.
"""

from __future__ import annotations

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.approval.requests import ActorDirectory

__all__ = ["LOCAL_PREFIX", "LocalDirectory", "local_actor"]

LOCAL_PREFIX = "local:user:"


def local_actor(login: str) -> Actor:
    """Return the actor of the person logged in as ``login`` (no channel, no groups)."""
    return Actor(principal=LOCAL_PREFIX + login, display_name=login)


class LocalDirectory:
    """Local principals from their login; any other principal through ``fallback``.

    Example, in the Slack app::

        directory = LocalDirectory(fallback=SlackDirectory(client, group_ids=...))
        core = build_core(settings, gateway=gateway, db=db, directory=directory)
    """

    def __init__(self, *, fallback: ActorDirectory | None = None) -> None:
        self.fallback = fallback

    async def lookup(self, principal: str) -> Actor | None:
        """Return the principal's facts, or None when the terminal cannot tell."""
        if principal.startswith(LOCAL_PREFIX):
            login = principal.removeprefix(LOCAL_PREFIX)
            return local_actor(login) if login else None
        if self.fallback is not None:
            return await self.fallback.lookup(principal)
        return None
