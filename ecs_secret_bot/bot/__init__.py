"""The Slack layer: bolt wiring, parsing, Block Kit. No SQL, no cloud calls, no policy decisions.

``build_app(slack, services)`` returns the ``AsyncApp``; ``runtime`` wires what it needs
(``BotServices``); ``server.run`` serves it over HTTP or Socket Mode. Modules: ``slash`` (the one
``/ecs-secret`` router), ``parse`` (its grammar), ``submissions`` (modals), ``actions``
(buttons and pickers), ``home`` (App Home), ``announce`` (outcomes into messages),
``middleware`` (the ``Actor``, events seen twice), ``directory`` (users and groups, cached),
``errors`` (the one reporter of errors), ``replies`` (where answers go), ``views/`` (builders).
"""

from ecs_secret_bot.bot.app import build_app
from ecs_secret_bot.bot.services import BotServices, SlackSettings

__all__ = ["BotServices", "SlackSettings", "build_app"]
