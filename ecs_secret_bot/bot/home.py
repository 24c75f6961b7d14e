"""App Home: published on ``app_home_opened`` (each ``event_id`` once) and after a click.

Loads the three parts concurrently through the core's views with the viewer's own
``Actor`` (no channel: App Home is not one), and publishes them with ``views.publish``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from ecs_secret_bot.bot.errors import describe, later
from ecs_secret_bot.bot.ids import Event
from ecs_secret_bot.bot.middleware import Asker
from ecs_secret_bot.bot.replies import Where
from ecs_secret_bot.bot.services import BotServices
from ecs_secret_bot.bot.views.home import home_view
from ecs_secret_bot.bot.views.listings import audit_message
from ecs_secret_bot.commands import queries as views
from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.errors import BotError

__all__ = ["publish_home", "refresh_home", "register_home"]

logger = logging.getLogger(__name__)


async def _part(work: Any) -> Any:
    try:
        return await work
    except BotError as exc:
        return describe(exc)


async def publish_home(services: BotServices, actor: Actor) -> None:
    """Build and publish the viewer's App Home."""
    core = services.core
    approvals, pending, activity = await asyncio.gather(
        _part(views.list_approvals(actor=actor, core=core)),
        _part(views.list_pending(actor=actor, core=core)),
        _part(views.my_activity(actor=actor, core=core, limit=10)),
    )
    lines = None if isinstance(activity, str) else audit_message(activity)
    view = home_view(approvals=approvals, pending=pending, activity=activity, activity_lines=lines)
    await services.client.views_publish(user_id=actor.user_id, view=view)


def register_home(app: AsyncApp, services: BotServices) -> None:
    """Publish App Home when it is opened."""

    @app.event(Event.APP_HOME_OPENED)
    async def on_home(event: dict[str, Any], context: AsyncBoltContext) -> None:
        if event.get("tab", "home") != "home" or "asker" not in context:
            return
        where = Where(str(event.get("user") or ""))
        later(services, where, refresh_home(services, context["asker"]))


async def refresh_home(services: BotServices, asker: Asker) -> None:
    """Publish App Home for whoever asked, once Slack has said who they are."""
    await publish_home(services, await asker.resolve())
