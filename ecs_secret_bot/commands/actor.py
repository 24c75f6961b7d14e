"""Who is asking, from where: the only identity the core knows (no Slack types here).

A front end builds an ``Actor`` from facts it verified (the Slack layer from the signed
payload and ``users.info`` / ``usergroups.users.list``; the terminal from the login name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["Actor", "split_team", "team_qualified"]


@dataclass(frozen=True)
class Actor:
    """A principal with its groups and the context of one request."""

    principal: str
    """``slack:user:U123`` or ``local:user:<login>`` (never with a team: ``principals`` adds it)."""
    groups: frozenset[str] = frozenset()
    """Group principals it belongs to, e.g. ``slack:usergroup:S456``."""
    channel_id: str = ""
    channel_name: str = ""
    """The channel's name without ``#``; empty for a DM or App Home."""
    team_id: str = ""
    display_name: str = ""
    is_guest: bool = False
    """A restricted or ultra-restricted workspace member."""
    is_bot: bool = False
    is_deleted: bool = False
    timezone: str = "UTC"
    source_ip: str = ""
    at: datetime | None = field(default=None, compare=False)
    """When the request was made; ``None`` means "now" by the caller's clock."""

    @property
    def user_id(self) -> str:
        """The last part of the principal (``U123`` of ``slack:user:U123``)."""
        return self.principal.rsplit(":", 1)[-1]

    @property
    def principals(self) -> frozenset[str]:
        """The principal and every group it belongs to, each also named with its workspace.

        ``slack:user:U1`` asking in workspace ``T0A`` is also ``slack:user:T0A/U1`` (and its
        group ``slack:usergroup:S1`` also ``slack:usergroup:T0A/S1``): a pattern naming a
        team matches only there; one naming none matches in every workspace.
        """
        plain = frozenset({self.principal}) | self.groups
        if not self.team_id:
            return plain
        return plain | frozenset(
            team_qualified(p, self.team_id) for p in plain if p[:6] == "slack:"
        )

    @property
    def is_full_member(self) -> bool:
        """Not a guest, not a bot, not deactivated: may approve."""
        return not (self.is_guest or self.is_bot or self.is_deleted)


def team_qualified(principal: str, team_id: str) -> str:
    """Return ``slack:user:U1`` as ``slack:user:T0A/U1``: the principal in one workspace."""
    kind, _, ident = principal.rpartition(":")
    return f"{kind}:{team_id}/{ident}"


def split_team(ident: str) -> tuple[str, str]:
    """Split the id part of a principal into its team ('' when none) and its own id."""
    team, _, own = ident.rpartition("/")
    return team, own
