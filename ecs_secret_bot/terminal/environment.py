"""What ``ecs-secret`` takes from its process: the environment variables and the login.

Owns ``Environment`` (the values the entry point read, typed; tokens and keys kept out of
``repr``), ``login_name`` (who is at the terminal, from the user database) and
``check_login``. Light on purpose: ``--help`` and usage errors import nothing heavier.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from pathlib import Path

from ecs_secret_bot.errors import ConfigError

__all__ = ["DEFAULT_SLACK_API_URL", "Environment", "check_login", "login_name"]

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


@dataclass(frozen=True)
class Environment:
    """What the entry point read from the environment; secrets are kept out of ``repr``."""

    login: str
    cwd: Path
    config_path: Path | None = None
    """``ECS_SECRET_BOT_CONFIG``, when set."""
    data_key: str = ""
    slack_bot_token: str = ""
    slack_api_url: str = DEFAULT_SLACK_API_URL

    def __repr__(self) -> str:
        return f"Environment(login={self.login!r}, config_path={self.config_path!r})"


def login_name() -> str:
    """Return the login of the process's effective user: the terminal's identity.

    From the user database, not from ``$USER``/``$LOGNAME`` (``getpass.getuser`` reads those
    first, and anyone can set them): no flag or variable picks who you are.
    """
    try:
        import pwd
    except ImportError:  # pragma: no cover - not a Unix: the OS login is all there is
        return getpass.getuser()
    return pwd.getpwuid(os.geteuid()).pw_name


def check_login(login: str) -> str:
    """Return ``login`` if it can be a principal id; raise ConfigError otherwise."""
    if not login or any(not (c.isalnum() or c in "_.@-") for c in login):
        raise ConfigError(
            f"the login name {login!r} cannot be used as a principal (local:user:<login>)",
            next_step="Run ecs-secret as a user whose login has only letters, digits, _ . @ -.",
        )
    return login
