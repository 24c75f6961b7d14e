"""What one ``ecs-secret`` run works with: its configuration, and the session opened on it.

Owns ``Session`` (the core and the person at the terminal), ``OpenSession`` (how ``main``
is given one: the entry point passes ``runtime.open_terminal``, which composes the core)
and ``terminal_settings`` (which configuration a run reads: ``--config``, else
``ECS_SECRET_BOT_CONFIG``, else ``./ecs-secret-bot.toml``; with ``--sandbox`` and none of
them, the built-in sandbox configuration, which lets the person at the terminal do
everything). Never opens a database, starts a cloud or reads the environment.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.directory import LOCAL_PREFIX
from ecs_secret_bot.config import Settings
from ecs_secret_bot.sandbox_settings import load_run_settings
from ecs_secret_bot.terminal.environment import Environment

__all__ = ["DEFAULT_CONFIG", "OpenSession", "Session", "terminal_settings"]

DEFAULT_CONFIG = "ecs-secret-bot.toml"


@dataclass(frozen=True)
class Session:
    """The core and the person at the terminal, for the length of one command."""

    core: Core
    actor: Actor


class OpenSession(Protocol):
    """Open one run's session over ``settings``; leaving it closes what it opened.

    With ``sandbox``, an emulated cloud is started for the run and announced on ``banner``
    before anything else; ``init`` lets a database that vanished start over empty. Example,
    as the entry point (``cli.py``) gives it::

        main(argv, environment=read_environment, open_session=runtime.open_terminal)
    """

    def __call__(
        self, settings: Settings, env: Environment, *, sandbox: bool, banner: TextIO, init: bool
    ) -> AbstractAsyncContextManager[Session]: ...


def _config_path(explicit: Path | None, env: Environment) -> tuple[Path, bool]:
    """Return the configuration path and whether someone named it (flag or environment)."""
    if explicit is not None:
        return explicit, True
    if env.config_path is not None:
        return env.config_path, True
    return env.cwd / DEFAULT_CONFIG, False


def terminal_settings(env: Environment, *, config: Path | None, sandbox: bool) -> Settings:
    """Load the configuration this run reads; with ``sandbox`` and none there, a built-in one."""
    path, named = _config_path(config, env)
    return load_run_settings(
        path, named=named, sandbox=sandbox, principals=[LOCAL_PREFIX + env.login]
    )
