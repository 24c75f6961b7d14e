"""The app factory: ``build_app(slack, services) -> AsyncApp``, wired and nothing else.

The Web API client is injected (``services.client``, aimed at ``SLACK_API_URL``), so tests
point the whole app at a loopback fake; bolt gets the client and no token, as it documents
(the entry point takes the Slack variables out of the environment, where bolt would find the
token and warn that it goes unused). In HTTP mode bolt checks each request's signature
(again, after ``http``); Socket Mode requests come unsigned over the app token's websocket,
so request verification is turned off there, as bolt documents, rather than given a made-up
secret. Middleware order: bolt's own (signature, URL verification, self events), then
malformed requests refused (no user; a modal's sealed context edited), event
de-duplication, then the ``Actor``; then the
listeners of each surface; and the one error handler. In OAuth install mode (``SLACK_CLIENT_ID``
and ``SLACK_CLIENT_SECRET``) bolt authorizes each request by its workspace's installation
(refusing a workspace that is not installed), serves the install (``http`` routes
``/slack/install`` and ``/slack/oauth_redirect`` to its flow), and forgets a workspace on
``app_uninstalled`` and ``tokens_revoked``. In both modes the request's workspace is named
first (``workspaces.WorkspaceMiddleware``), for every call and look-up it leads to.
"""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp

from ecs_secret_bot.bot.actions import register_actions
from ecs_secret_bot.bot.errors import register_error_handler
from ecs_secret_bot.bot.home import register_home
from ecs_secret_bot.bot.installations import oauth_settings
from ecs_secret_bot.bot.middleware import (
    actor_middleware,
    event_dedup_middleware,
    malformed_request_middleware,
)
from ecs_secret_bot.bot.services import BotServices, SlackSettings
from ecs_secret_bot.bot.slash import register_slash
from ecs_secret_bot.bot.submissions import register_submissions
from ecs_secret_bot.bot.sweeps import register_sweeps
from ecs_secret_bot.bot.workspaces import WorkspaceMiddleware

__all__ = ["NOT_INSTALLED", "build_app"]

NOT_INSTALLED = (
    "ecs-secret-bot is no longer installed in this workspace (it was uninstalled, or its "
    "tokens were revoked), so it did nothing. A workspace admin can install it again from the "
    "bot's /slack/install page."
)
"""What a person of a workspace the app is not installed in is told (OAuth install mode)."""


def build_app(slack: SlackSettings, services: BotServices) -> AsyncApp:
    """Return the Slack app for ``services``; HTTP and Socket Mode serve the same app."""
    oauth = None
    if services.installations is not None:
        oauth = oauth_settings(
            services.core,
            store=services.installations,
            client_id=slack.client_id,
            client_secret=slack.client_secret,
            redirect_uri=slack.redirect_uri,
        )
    app = AsyncApp(
        client=services.client,
        signing_secret=slack.signing_secret,
        request_verification_enabled=not slack.socket_mode,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
        logger=logging.getLogger("ecs_secret_bot.bolt"),
        oauth_settings=oauth,
        installation_store_bot_only=True if oauth is not None else None,
        user_facing_authorize_error_message=NOT_INSTALLED,
    )
    # Each request names its workspace first: its token (OAuth install mode), its groups.
    app.use(WorkspaceMiddleware())
    if oauth is not None:
        app.enable_token_revocation_listeners()  # an uninstall forgets the tokens at once
    app.use(malformed_request_middleware(services))
    app.use(event_dedup_middleware(services))
    app.use(actor_middleware(services))
    register_error_handler(app, services)
    register_slash(app, services)
    register_submissions(app, services)
    register_actions(app, services)
    register_sweeps(app, services)
    register_home(app, services)
    return app
