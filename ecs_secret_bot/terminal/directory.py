"""Who a principal is, as the terminal can tell: the ``ActorDirectory`` of ``ecs-secret``.

A ``local:user:<login>`` principal is whoever logged in as ``<login>`` on this host: the
terminal's own actor, and the requester or approver of a request made at a terminal. It
has no groups (bind the principal itself in ``[[access.bindings]]``). A ``slack:user:``
principal can only be checked by asking Slack (``users.info``): when the terminal has a
Slack directory (``SLACK_BOT_TOKEN`` is set) it delegates to it, otherwise it answers
``None`` ("unknown"), so an approval that involves Slack users cannot run from the
terminal without a token; approve it in Slack instead. Never guesses membership.
"""

from __future__ import annotations

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.approval_requests import ActorDirectory

__all__ = ["LOCAL_PREFIX", "TerminalDirectory", "local_actor"]

LOCAL_PREFIX = "local:user:"


def local_actor(login: str) -> Actor:
    """Return the actor of the person logged in as ``login`` (no channel, no groups)."""
    return Actor(principal=LOCAL_PREFIX + login, display_name=login)


class TerminalDirectory:
    """Local principals from their login; Slack principals through ``slack``, if given."""

    def __init__(self, *, slack: ActorDirectory | None = None) -> None:
        self.slack = slack

    async def lookup(self, principal: str) -> Actor | None:
        """Return the principal's facts, or None when the terminal cannot tell."""
        if principal.startswith(LOCAL_PREFIX):
            login = principal.removeprefix(LOCAL_PREFIX)
            return local_actor(login) if login else None
        if self.slack is not None:
            return await self.slack.lookup(principal)
        return None
