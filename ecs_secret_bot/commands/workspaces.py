"""The workspaces the app is installed in, as the core keeps them (OAuth install mode).

Owns the plain operations a front end needs to install the app in several workspaces and
to forget one: keep an ``Installation`` (its tokens encrypted by ``storage``), find one by
team id, forget one at once (uninstall, tokens revoked), and issue and use up the one-time
``state`` of an install in progress. An installation is data to the core: the tokens are
opaque strings it stores and hands back. Never speaks Slack (``bot/`` turns bolt's
installation objects into these), never logs a token, never decides who may install.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.storage import installations
from ecs_secret_bot.storage.installations import Installation

__all__ = [
    "STATE_TTL",
    "Installation",
    "consume_install_state",
    "find_installation",
    "forget_workspace",
    "installed_teams",
    "issue_install_state",
    "keep_installation",
]

logger = logging.getLogger(__name__)

STATE_TTL = timedelta(minutes=10)
"""How long an "Add to Slack" link's state stays good (bolt's own default is 10 minutes)."""


async def keep_installation(core: Core, installation: Installation) -> None:
    """Keep the workspace's installation (a re-install replaces the tokens)."""
    await installations.save_installation(core.db, installation, now=core.clock())
    logger.info("installed in workspace %s (%s)", installation.team_id, installation.team_name)


async def find_installation(core: Core, team_id: str) -> Installation | None:
    """Return the workspace's installation, or None if the app is not installed there."""
    if not team_id:
        return None
    return await installations.find_installation(core.db, team_id)


async def installed_teams(core: Core) -> list[str]:
    """Return the team ids of every workspace the app is installed in."""
    return await installations.list_team_ids(core.db)


async def forget_workspace(core: Core, team_id: str) -> bool:
    """Forget the workspace's tokens at once; False when there were none.

    Its records (pending deletions, approvals, rotations) stay: what KMS holds is unchanged,
    and a re-install finds them again.
    """
    forgotten = await installations.delete_installation(core.db, team_id)
    if forgotten:
        logger.info("uninstalled from workspace %s: its tokens are forgotten", team_id)
    return forgotten


async def issue_install_state(core: Core) -> str:
    """Return a fresh one-time state for an "Add to Slack" link, good for ``STATE_TTL``."""
    state = secrets.token_urlsafe(24)
    await installations.issue_state(core.db, state, expires_at=core.clock() + STATE_TTL)
    return state


async def consume_install_state(core: Core, state: str) -> bool:
    """Use up ``state``: True once if this bot issued it and it has not expired."""
    if not state:
        return False
    return await installations.consume_state(core.db, state, now=core.clock())
