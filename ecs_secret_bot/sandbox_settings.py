"""The settings ``--sandbox`` runs on: a world of its own, apart from the configured one.

Owns ``load_run_settings`` (which configuration a run reads: the file, or, with
``--sandbox`` and no file named or there, ``sandbox_settings``, the built-in one that lets
the principals given do everything in the emulated cloud) and ``sandbox_storage`` (where the
sandbox keeps its records: ``SANDBOX_DATABASE`` beside the configuration, with its own key
file, never the configured database). ``runtime.open_core`` applies them; nothing here
starts a sandbox, opens a database or reads the environment.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path

from ecs_secret_bot.config import Settings, StorageSettings, load_settings, parse_settings
from ecs_secret_bot.errors import ConfigError

__all__ = [
    "BUILT_IN_SANDBOX",
    "SANDBOX_DATABASE",
    "SANDBOX_SLACK_USERS",
    "load_run_settings",
    "sandbox_settings",
    "sandbox_storage",
]

BUILT_IN_SANDBOX = "(built-in sandbox)"
"""The name the built-in sandbox configuration goes by, in the folder it stands for."""
SANDBOX_SLACK_USERS = ("slack:user:*",)
"""Whom the built-in sandbox configuration lets do everything when the Slack app runs it."""


def sandbox_settings(folder: Path, *, principals: Sequence[str]) -> Settings:
    """Return what ``--sandbox`` runs on without a configuration file: ``principals`` may do all.

    One region (``cn-hangzhou``, where the sandbox is seeded) and the built-in admin policy
    for the principals given: the cloud is emulated, so nothing real is at stake. Its
    source is ``folder / BUILT_IN_SANDBOX``; the sandbox keeps its records in that folder.
    """
    bound = ", ".join(f'"{principal}"' for principal in principals)
    text = f"""\
[cloud]
default_region = "cn-hangzhou"
regions = ["cn-hangzhou"]
account_id = "1234567890123456"

[[access.bindings]]
principals = [{bound}]
policies = ["AliyunKMSSecretAdminAccess"]
"""
    return parse_settings(tomllib.loads(text), source=folder / BUILT_IN_SANDBOX)


def load_run_settings(
    path: Path, *, named: bool, sandbox: bool, principals: Sequence[str] = SANDBOX_SLACK_USERS
) -> Settings:
    """Load ``path``; with ``sandbox``, where none was ``named`` and none is there, the built-in.

    A configuration someone named (an option, ``ECS_SECRET_BOT_CONFIG``) must exist, sandbox
    or not: a typo in its name must not quietly run on other policies.
    """
    if sandbox and not named and not path.exists():
        return sandbox_settings(path.absolute().parent, principals=principals)
    return load_settings(path)


SANDBOX_DATABASE = "ecs-secret-bot-sandbox.db"
"""The sandbox's own database, beside the configuration (or in the working folder)."""


def sandbox_storage(settings: Settings) -> StorageSettings:
    """Return where ``--sandbox`` keeps its records: its own file, never the configured one."""
    folder = settings.source.parent if settings.source is not None else Path.cwd()
    path = folder / SANDBOX_DATABASE
    configured = settings.storage
    if str(configured.path) != ":memory:" and configured.path.resolve() == path.resolve():
        raise ConfigError(
            f"names {SANDBOX_DATABASE}, the file --sandbox keeps its own records in",
            file=str(settings.source or ""),
            key="storage.path",
            next_step="Give the bot's database another name (ecs-secret-bot.db), so that "
            "sandbox records never mix with real ones.",
        )
    return StorageSettings(path=path)
