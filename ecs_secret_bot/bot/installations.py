"""Bolt's installation and state stores over the core's installations (OAuth install mode).

Owns ``InstallationStore`` (bolt's ``AsyncInstallationStore``: an install's ``Installation``
or a rotated ``Bot`` kept through ``commands.workspaces``, which encrypts the tokens; a
workspace's bot found for bolt's per-request authorization; a workspace forgotten on
``app_uninstalled`` and on ``tokens_revoked`` for the bot; and, as the ``TokenSource`` of
``workspaces.WorkspaceClient``, the bot token of a workspace, refreshed first when token
rotation is on and it expires within ``REFRESH_BEFORE``) and ``StateStore`` (bolt's
``AsyncOAuthStateStore``: the one-time ``state`` of an install, kept in the database so any
replica can finish an install another began). One installation per workspace, its bot's
tokens only: the app asks for no user scopes, and an org-wide (Enterprise Grid) install is
refused. Never logs a token and never reads the environment.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.error import BoltError
from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import (
    Installation as SlackInstallation,
)
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

from ecs_secret_bot.bot.workspaces import WorkspaceClient
from ecs_secret_bot.commands import workspaces
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.workspaces import Installation

__all__ = [
    "BOT_SCOPES",
    "REFRESH_BEFORE_MINUTES",
    "InstallationStore",
    "StateStore",
    "attach_installations",
    "oauth_settings",
]

logger = logging.getLogger(__name__)

REFRESH_BEFORE_MINUTES = 10
"""With token rotation, a bot token is refreshed when it expires within this many minutes."""


def _expires(epoch: int | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def _kept(bot: Bot, *, installer_id: str = "") -> Installation:
    if bot.is_enterprise_install or not bot.team_id:
        raise BoltError("org-wide (Enterprise Grid) installs are not supported: install per team")
    return Installation(
        team_id=bot.team_id,
        bot_token=bot.bot_token,
        bot_refresh_token=bot.bot_refresh_token or "",
        token_expires_at=_expires(bot.bot_token_expires_at),
        enterprise_id=bot.enterprise_id or "",
        team_name=bot.team_name or "",
        app_id=bot.app_id or "",
        bot_id=bot.bot_id,
        bot_user_id=bot.bot_user_id,
        bot_scopes=",".join(bot.bot_scopes),
        installer_id=installer_id,
    )


def _bot(kept: Installation) -> Bot:
    expires = kept.token_expires_at
    return Bot(
        app_id=kept.app_id or None,
        enterprise_id=kept.enterprise_id or None,
        team_id=kept.team_id,
        team_name=kept.team_name or None,
        bot_token=kept.bot_token,
        bot_id=kept.bot_id,
        bot_user_id=kept.bot_user_id,
        bot_scopes=kept.bot_scopes,
        bot_refresh_token=kept.bot_refresh_token or None,
        bot_token_expires_at=None if expires is None else int(expires.timestamp()),
        installed_at=(kept.installed_at or datetime.now(UTC)).timestamp(),
    )


class InstallationStore(AsyncInstallationStore):
    """The workspaces the app is installed in, for bolt and for the bot's own Slack calls."""

    def __init__(
        self,
        core: Core,
        *,
        client_id: str = "",
        client_secret: str = "",
        client: AsyncWebClient | None = None,
    ) -> None:
        self._core = core
        self._rotator = (
            AsyncTokenRotator(client_id=client_id, client_secret=client_secret, client=client)
            if client_id and client_secret
            else None
        )

    @property
    def logger(self) -> logging.Logger:
        """Return the store's logger (bolt asks for one)."""
        return logger

    async def async_save(self, installation: SlackInstallation) -> None:
        """Keep a new install's bot (a re-install replaces its tokens)."""
        await self.async_save_bot_as(installation.to_bot(), installer_id=installation.user_id)

    async def async_save_bot(self, bot: Bot) -> None:
        """Keep a bot whose token bolt just rotated."""
        await self.async_save_bot_as(bot)

    async def async_save_bot_as(self, bot: Bot, *, installer_id: str = "") -> None:
        """Keep ``bot``, with who installed it where that is known."""
        if not installer_id:
            earlier = await workspaces.find_installation(self._core, bot.team_id or "")
            installer_id = earlier.installer_id if earlier is not None else ""
        await workspaces.keep_installation(self._core, _kept(bot, installer_id=installer_id))

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        """Return the workspace's bot, or None if the app is not installed there."""
        if is_enterprise_install:
            return None
        kept = await workspaces.find_installation(self._core, team_id or "")
        return None if kept is None else _bot(kept)

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> SlackInstallation | None:
        """Return the workspace's installation (its bot's part), or None."""
        if is_enterprise_install:
            return None
        kept = await workspaces.find_installation(self._core, team_id or "")
        if kept is None:
            return None
        bot = _bot(kept)
        return SlackInstallation(
            app_id=bot.app_id,
            enterprise_id=bot.enterprise_id,
            team_id=bot.team_id,
            team_name=bot.team_name,
            bot_token=bot.bot_token,
            bot_id=bot.bot_id,
            bot_user_id=bot.bot_user_id,
            bot_scopes=bot.bot_scopes,
            bot_refresh_token=bot.bot_refresh_token,
            bot_token_expires_at=bot.bot_token_expires_at,
            user_id=kept.installer_id or "unknown",
            installed_at=bot.installed_at,
        )

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        """Forget the workspace's bot tokens at once (tokens revoked, app uninstalled)."""
        await workspaces.forget_workspace(self._core, team_id or "")

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        """Forget the workspace's installation; a user's tokens were never kept."""
        if user_id is None:
            await workspaces.forget_workspace(self._core, team_id or "")

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        """Forget everything of the workspace (app uninstalled)."""
        await workspaces.forget_workspace(self._core, team_id or "")

    # --- workspaces.TokenSource ----------------------------------------------------------

    async def bot_token(self, team_id: str) -> str | None:
        """Return the workspace's bot token (refreshed if it is about to expire), or None."""
        kept = await workspaces.find_installation(self._core, team_id)
        if kept is None:
            return None
        if self._rotator is not None and kept.bot_refresh_token:
            bot = _bot(kept)
            fresh = await self._rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=REFRESH_BEFORE_MINUTES
            )
            if fresh is not None:
                await self.async_save_bot(fresh)
                return fresh.bot_token
        return kept.bot_token

    async def only_team(self) -> str | None:
        """Return the team id of the one installed workspace; None if none or several."""
        teams = await workspaces.installed_teams(self._core)
        return teams[0] if len(teams) == 1 else None


class StateStore(AsyncOAuthStateStore):
    """The one-time states of installs in progress, in the bot's database."""

    def __init__(self, core: Core) -> None:
        self._core = core

    @property
    def logger(self) -> logging.Logger:
        """Return the store's logger (bolt asks for one)."""
        return logger

    async def async_issue(self, *args: object, **kwargs: object) -> str:
        """Return a fresh state for an "Add to Slack" link."""
        return await workspaces.issue_install_state(self._core)

    async def async_consume(self, state: str) -> bool:
        """Use up ``state``: True once if it was issued here and has not expired."""
        return await workspaces.consume_install_state(self._core, state)


BOT_SCOPES = (
    "commands",
    "chat:write",
    "users:read",
    "usergroups:read",
    "channels:read",
    "groups:read",
)
"""The bot scopes an install asks for: manifest.yml's, in its order (a test compares them)."""


_FAILURES = {
    "access_denied": "The install was cancelled in Slack: nothing was installed.",
    "invalid_browser": "This install did not start from this bot's install page in this "
    "browser, or the page was reloaded.",
    "invalid_state": "This install link was already used, or it expired (a link lasts "
    f"{int(workspaces.STATE_TTL.total_seconds()) // 60} minutes).",
    "missing_code": "Slack sent no authorization code.",
    "invalid_code": "Slack did not accept the authorization code: it was already used or "
    "expired, or the app's credentials or Redirect URL are not the ones the bot was started "
    "with (SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, SLACK_REDIRECT_URI).",
    "storage_error": "The bot could not keep the installation. Try again in a minute.",
}


async def _success_page(args: AsyncSuccessArgs) -> BoltResponse:
    """Say where the app was installed and what to do next."""
    team = escape(args.installation.team_name or args.installation.team_id or "the workspace")
    body = (
        "<!DOCTYPE html><html><head><title>ecs-secret-bot: installed</title></head>"
        f"<body><h2>Installed in {team}</h2><p>Invite the bot to the channels where people "
        "run it (<code>/invite @ecs-secret-bot</code>), then try <code>/ecs-secret help</code>."
        "</p></body></html>"
    )
    headers: dict[str, str | Sequence[str]] = {"Content-Type": "text/html; charset=utf-8"}
    return BoltResponse(status=200, body=body, headers=headers)


async def _failure_page(args: AsyncFailureArgs) -> BoltResponse:
    """Say why an install failed, in words, and how to start again."""
    said = _FAILURES.get(args.reason, f"The install failed ({escape(args.reason)}).")
    if isinstance(args.error, BoltError):  # raised by this store: it says why
        said = escape(str(args.error)) + "."
    install = escape(args.settings.install_path)
    body = (
        "<!DOCTYPE html><html><head><title>ecs-secret-bot: install failed</title></head>"
        f"<body><h2>The app was not installed</h2><p>{said}</p>"
        f'<p>Start again from <a href="{install}">{install}</a>. (reason: {escape(args.reason)})'
        "</p></body></html>"
    )
    headers: dict[str, str | Sequence[str]] = {"Content-Type": "text/html; charset=utf-8"}
    return BoltResponse(status=args.suggested_status_code, body=body, headers=headers)


def oauth_settings(
    core: Core, *, store: InstallationStore, client_id: str, client_secret: str, redirect_uri: str
) -> AsyncOAuthSettings:
    """Return bolt's OAuth settings: ``/slack/install``, ``/slack/oauth_redirect``, our stores.

    Each request is authorized by its workspace's installation, found anew every time (an
    uninstalled workspace is refused at once); the ``auth.test`` bolt then makes is
    remembered per token, so it costs a Slack round trip before the ack once per token.
    """
    settings = AsyncOAuthSettings(
        client_id=client_id,
        client_secret=client_secret,
        scopes=list(BOT_SCOPES),
        redirect_uri=redirect_uri or None,
        installation_store=store,
        installation_store_bot_only=True,
        state_store=StateStore(core),
        state_expiration_seconds=int(workspaces.STATE_TTL.total_seconds()),
        logger=logger,
    )
    settings.callback_options = AsyncCallbackOptions(success=_success_page, failure=_failure_page)
    settings.authorize = AsyncInstallationStoreAuthorize(
        logger=logger,
        client_id=client_id,
        client_secret=client_secret,
        installation_store=store,
        bot_only=True,
        cache_enabled=True,
    )
    return settings


def attach_installations(
    client: AsyncWebClient, *, core: Core, client_id: str, client_secret: str
) -> InstallationStore | None:
    """In OAuth install mode, give ``client`` the core's installations; else return None."""
    if not isinstance(client, WorkspaceClient):
        return None  # one bot token: nothing to attach
    # Token refreshes (oauth.v2.access) go out without a workspace's token, on the same pool.
    # (A WorkspaceClient of no workspace: it sends the app's credentials as a header.)
    plain = WorkspaceClient(base_url=client.base_url, session=client.session, timeout=10)
    store = InstallationStore(core, client_id=client_id, client_secret=client_secret, client=plain)
    client.attach(store)
    return store
