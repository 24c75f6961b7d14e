"""The whole bot for scenario tests: the real app over real HTTP, fake Slack, the sandbox
cloud and a real database: a SQLite file, or PostgreSQL with ``database_url=``.

``running_bot(tmp_path, slack_api)`` yields a ``BotHarness`` whose helpers send signed,
Slack-shaped requests as a person would (``command``, ``click``, ``submit``, ``suggest``,
``event``) and read what the bot did through ``FakeSlackAPI``. Nothing is mocked.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncApp

from ecs_secret_bot.bot.app import build_app
from ecs_secret_bot.bot.http import build_web_app
from ecs_secret_bot.bot.services import BotServices, SlackSettings
from ecs_secret_bot.cloud.retry import RetryPolicy
from ecs_secret_bot.config import parse_settings
from ecs_secret_bot.runtime import open_bot
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.storage import generate_data_key

from . import workspace as ws
from .cloud import REGIONS, fast_retry, sandbox_credential
from .payloads import (
    block_actions_payload,
    block_suggestion_payload,
    event_callback_body,
    slash_command_body,
    view_submission_payload,
)
from .policies import access_toml
from .signing import SIGNING_SECRET, DriverResponse, SlackClientDriver
from .slack_api import FakeSlackAPI
from .slack_messages import Message
from .slack_oauth import FakeOAuth

__all__ = [
    "BOT_POLICIES",
    "REDIRECT_URI",
    "BotHarness",
    "WiredBot",
    "bot_policies",
    "running_bot",
    "serve_web_app",
    "wired_bot",
]

REDIRECT_URI = "https://ecs-secret-bot.example.com/slack/oauth_redirect"
"""The Redirect URL the OAuth-mode bot is registered with (the installer's browser goes there)."""
SRE = "SSRE"
SEC = "SSEC"


def bot_policies(*, stale_after: str = "") -> str:
    """Return the policies bot tests run under: the admin, both groups, Bob reads."""
    return access_toml(
        admins=[f"slack:user:{ws.ADMIN_ID}", f"slack:usergroup:{SRE}", f"slack:usergroup:{SEC}"],
        readers=[f"slack:user:{ws.BOB_ID}"],
        channel=ws.SECOPS_CHANNEL_ID,
        stale_after=stale_after,
        delete_approvers=[f"slack:usergroup:{SEC}"],
        restore_approvers=[f"slack:usergroup:{SRE}"],
    )


BOT_POLICIES = bot_policies()


@asynccontextmanager
async def serve_web_app(app: AsyncApp, *, signing_secret: str) -> AsyncIterator[int]:
    """Serve the bot's own aiohttp endpoint on 127.0.0.1 at a free port; yield the port."""
    runner = web.AppRunner(build_web_app(app, signing_secret=signing_secret), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


@dataclass
class BotHarness:
    """A running bot and the handles a scenario needs."""

    slack: FakeSlackAPI
    sandbox: Sandbox
    services: BotServices
    app: AsyncApp
    port: int
    driver: SlackClientDriver
    db_path: Path

    async def command(
        self,
        text: str,
        *,
        user: str = ws.ALICE_ID,
        channel: str = ws.INCIDENT_CHANNEL_ID,
        trigger_id: str | None = None,
        team: str = ws.TEAM_ID,
    ) -> DriverResponse:
        """Type ``/ecs-secret text`` as ``user`` in ``channel`` (of workspace ``team``)."""
        body = slash_command_body(
            text,
            user_id=user,
            team_id=team,
            channel_id=channel,
            trigger_id=trigger_id,
            response_url=self.slack.response_url(channel_id=channel, user_id=user, team=team),
        )
        return await self.driver.post(body)

    async def click(
        self,
        action_id: str,
        *,
        value: str | None = None,
        user: str = ws.ALICE_ID,
        message: Message | None = None,
        view: Mapping[str, Any] | None = None,
        block_id: str = "actions",
        action_type: str = "button",
        state_values: Mapping[str, Any] | None = None,
        action: Mapping[str, Any] | None = None,
        team: str = ws.TEAM_ID,
    ) -> DriverResponse:
        """Click a button (or pick in a select) on a message or in a view."""
        channel = message.channel if message is not None else ws.INCIDENT_CHANNEL_ID
        body = block_actions_payload(
            action_id,
            value=value,
            user_id=user,
            team_id=team,
            message=message,
            view=view,
            block_id=block_id,
            action_type=action_type,
            state_values=state_values,
            channel_id=channel,
            response_url=self.slack.response_url(channel_id=channel, user_id=user, team=team),
            action=action,
        )
        return await self.driver.post(body)

    async def submit(
        self,
        view: Mapping[str, Any],
        values: Mapping[str, Any],
        *,
        user: str = ws.ALICE_ID,
        team: str = ws.TEAM_ID,
    ) -> DriverResponse:
        """Submit a modal as it was opened, with ``values`` as its state.

        The bot's answer acts on the modal as in Slack: no ``response_action`` closes
        it, ``update`` replaces it, ``errors`` keeps it (``FakeSlackAPI.view_submitted``).
        """
        body = view_submission_payload(view=view, values=values, user_id=user, team_id=team)
        response = await self.driver.post(body)
        if response.status == 200:
            ack = response.json() if response.body.strip() else None
            self.slack.view_submitted(view, ack if isinstance(ack, dict) else None)
        return response

    async def close_modal(
        self, view_id: str | None = None, *, clear: bool = False
    ) -> DriverResponse | None:
        """Close the modal (the last one by default) as its person would.

        If the view asked for ``notify_on_close``, the bot gets Slack's ``view_closed``
        request; return its answer (None when Slack sends nothing).
        """
        body = self.slack.close_view(view_id or self.modal()["id"], clear=clear)
        return None if body is None else await self.driver.post(body)

    async def suggest(
        self, action_id: str, value: str, *, view: Mapping[str, Any], user: str = ws.ALICE_ID
    ) -> DriverResponse:
        """Type ``value`` in an external select."""
        body = block_suggestion_payload(action_id, value=value, view=view, user_id=user)
        return await self.driver.post(body)

    async def event(
        self, event: Mapping[str, Any], *, event_id: str | None = None, team: str = ws.TEAM_ID
    ) -> DriverResponse:
        """Deliver an Events API event (of workspace ``team``)."""
        return await self.driver.post(event_callback_body(event, event_id=event_id, team_id=team))

    def modal(self, *, team: str | None = None) -> dict[str, Any]:
        """Return the modal opened last (in workspace ``team``), as last updated."""
        views = (self.slack.teams[team] if team else self.slack.workspace).views
        ids = [view_id for view_id, view in views.items() if view.get("type") == "modal"]
        if not ids:
            raise AssertionError("no modal was opened")
        return copy.deepcopy(views[ids[-1]])

    async def wait_modal(self, callback_id: str, *, timeout: float = 5.0) -> dict[str, Any]:
        """Wait until the last modal has ``callback_id``; return it."""
        await self.slack.wait_for(
            "views.update" if callback_id else "views.open",
            lambda c: c.payload.get("view", {}).get("callback_id") == callback_id,
            timeout=timeout,
        )
        return self.modal()


@dataclass
class WiredBot:
    """The app and what it runs on, before any transport."""

    sandbox: Sandbox | None
    """None when the cloud is elsewhere (``cloud_endpoints``)."""
    services: BotServices
    app: AsyncApp
    db_path: Path


@asynccontextmanager
async def wired_bot(
    tmp_path: Path,
    slack: FakeSlackAPI,
    *,
    policies: str = BOT_POLICIES,
    rotation_delay: float = 0.1,
    modal_budget: float = 2.0,
    app_token: str = "",
    cloud_endpoints: Mapping[str, str] | None = None,
    retry: RetryPolicy | None = None,
    oauth: FakeOAuth | None = None,
    database_url: str = "",
) -> AsyncIterator[WiredBot]:
    """Start the sandbox (unless ``cloud_endpoints`` names the URL of each region elsewhere);
    open the core as ``serve`` does; build the app. Cloud calls retry as ``retry`` says
    (``fast_retry()`` by default). With ``oauth``, the bot runs in OAuth install mode with
    that app's credentials (no bot token): install it before using it in a workspace. With
    ``database_url`` (the ``database_url`` fixture) it keeps its records in PostgreSQL, under
    a data key file ``bot.key`` made here; else in the SQLite file ``bot.db``."""
    slack.set_usergroup(SRE, [ws.ALICE_ID], handle="sre")
    slack.set_usergroup(SEC, [ws.ADMIN_ID], handle="security")
    async with AsyncExitStack() as stack:
        sandbox = None
        if cloud_endpoints is None:
            sandbox = await stack.enter_async_context(
                Sandbox(regions=REGIONS, seed=True, rotation_delay=rotation_delay)
            )
            cloud_endpoints = sandbox.endpoints
        storage = 'path = "bot.db"'
        if database_url:
            key_file = tmp_path / "bot.key"
            key_file.write_text(generate_data_key() + "\n", encoding="ascii")
            key_file.chmod(0o600)
            storage = f'url = "{database_url}"\nkey_file = "bot.key"'
        endpoints = "\n".join(
            f'region_defaults.{region}.{service}_endpoint = "{cloud_endpoints[region]}"'
            for region in REGIONS
            for service in ("kms", "ecs")
        )
        text = f"""
[cloud]
default_region = "cn-hangzhou"
regions = {list(REGIONS)!r}
{endpoints}
sts_endpoint = "{cloud_endpoints[REGIONS[0]]}"

[storage]
{storage}

[rotation]
follow_up_timeout = "1m"
{policies}
"""
        config = tmp_path / "bot.toml"
        config.write_text(text, encoding="utf-8")
        settings = parse_settings(tomllib.loads(text), source=config)
        slack_settings = SlackSettings(
            bot_token="" if oauth else ws.BOT_TOKEN,
            signing_secret=SIGNING_SECRET,
            app_token=app_token,
            api_url=slack.url,
            client_id=oauth.client_id if oauth else "",
            client_secret=oauth.client_secret if oauth else "",
            redirect_uri=REDIRECT_URI if oauth else "",
        )
        services = await stack.enter_async_context(
            open_bot(
                settings,
                slack_settings,
                credential=sandbox_credential(),
                retry=retry or fast_retry(),
            )
        )
        services.core.follow_up_first_delay = 0.02
        services.core.follow_up_max_delay = 0.1
        services.modal_budget = modal_budget
        app = build_app(slack_settings, services)
        yield WiredBot(sandbox, services, app, settings.storage.path)
        await services.tasks.drain(5.0)
        await services.tracker.drain(5.0)


@asynccontextmanager
async def running_bot(
    tmp_path: Path,
    slack: FakeSlackAPI,
    *,
    policies: str = BOT_POLICIES,
    rotation_delay: float = 0.1,
    modal_budget: float = 2.0,
    retry: RetryPolicy | None = None,
    oauth: FakeOAuth | None = None,
    database_url: str = "",
) -> AsyncIterator[BotHarness]:
    """Start the sandbox, storage (PostgreSQL with ``database_url``, else SQLite) and the
    bot over HTTP; yield the harness; stop it all."""
    async with wired_bot(
        tmp_path,
        slack,
        policies=policies,
        rotation_delay=rotation_delay,
        modal_budget=modal_budget,
        retry=retry,
        oauth=oauth,
        database_url=database_url,
    ) as wired:
        async with serve_web_app(wired.app, signing_secret=SIGNING_SECRET) as port:
            async with SlackClientDriver(port) as driver:
                assert wired.sandbox is not None
                yield BotHarness(
                    slack, wired.sandbox, wired.services, wired.app, port, driver, wired.db_path
                )
