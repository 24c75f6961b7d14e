"""What ``serve`` and ``check`` start from, checked before they start.

Owns ``serve_start``: everything ``serve`` needs (the Slack tokens, or the app's OAuth
credentials for installs in several workspaces, and the mode they choose,
the port, the grace period, the configuration, or the built-in sandbox one), each problem
said at once with where to fix it, and what HTTP mode and Socket Mode need said once; and
``check_command``: the configuration (or the built-in sandbox one), with ``--sandbox`` an
emulated cloud started here and the sandbox's own database, then ``check.run_check``,
printed. Never reads the environment (``cli`` hands it what it read) and never serves.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ecs_secret_bot.check import fail_line, format_lines, run_check
from ecs_secret_bot.config import Settings
from ecs_secret_bot.errors import BotError, StorageFault, storage_error
from ecs_secret_bot.runtime import SANDBOX_ACCESS_KEY, start_sandbox
from ecs_secret_bot.sandbox_settings import load_run_settings

if TYPE_CHECKING:
    from alibabacloud_credentials.client import Client as CredentialClient

    from ecs_secret_bot.bot.server import ServeOptions
    from ecs_secret_bot.bot.services import SlackSettings

__all__ = ["SLACK_MODES", "ServeStart", "check_command", "serve_start"]

SLACK_MODES = (
    "Slack reaches the bot in one of two ways. HTTP mode (Slack calls POST /slack/events at a "
    "public HTTPS URL) needs SLACK_SIGNING_SECRET: Basic Information > App Credentials > "
    "Signing Secret. Socket Mode (the bot connects out; no public URL) needs SLACK_APP_TOKEN "
    "instead: Basic Information > App-Level Tokens > Generate, with the scope "
    "connections:write (xapp-...). Both need SLACK_BOT_TOKEN."
)


@dataclass(frozen=True)
class ServeStart:
    """What ``serve`` runs on, every part of it checked."""

    settings: Settings
    slack: SlackSettings
    options: ServeOptions


OAUTH_MODE = (
    "OAuth install mode (the app installed in several workspaces) needs SLACK_CLIENT_ID and "
    "SLACK_CLIENT_SECRET (Basic Information > App Credentials) and SLACK_SIGNING_SECRET, "
    "serves /slack/install and /slack/oauth_redirect over HTTP, and takes no SLACK_BOT_TOKEN."
)


def _oauth_problems(env: Mapping[str, str]) -> list[str]:
    """Return what is wrong with the variables of OAuth install mode (it is chosen)."""
    problems = []
    for name in ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"):
        if not env.get(name):
            problems.append(
                f"{name} is not set, but the other half of the app's OAuth "
                "credentials is: set both (Basic Information > App Credentials)."
            )
    if env.get("SLACK_BOT_TOKEN"):
        problems.append(
            "SLACK_BOT_TOKEN is set as well as SLACK_CLIENT_ID: the bot takes each "
            "workspace's token from its installation; unset SLACK_BOT_TOKEN (or the OAuth "
            "variables, for one workspace)."
        )
    if env.get("SLACK_APP_TOKEN"):
        problems.append("SLACK_APP_TOKEN is set: OAuth install mode serves HTTP; unset it.")
    if not env.get("SLACK_SIGNING_SECRET"):
        problems.append("SLACK_SIGNING_SECRET is not set: Basic Information > App Credentials.")
    redirect = env.get("SLACK_REDIRECT_URI", "")
    if redirect and not redirect.startswith(("https://", "http://")):
        problems.append(
            f"SLACK_REDIRECT_URI {redirect!r} is not a URL: give the Redirect URL registered "
            "under OAuth & Permissions, e.g. https://bot.example.com/slack/oauth_redirect."
        )
    return problems + ([OAUTH_MODE] if problems else [])


def _slack_problems(env: Mapping[str, str]) -> tuple[list[str], bool]:
    """Return what is wrong with the Slack variables, and whether the mode is among it."""
    if env.get("SLACK_CLIENT_ID") or env.get("SLACK_CLIENT_SECRET"):
        return _oauth_problems(env), False
    problems = []
    if not env.get("SLACK_BOT_TOKEN"):
        problems.append(
            "SLACK_BOT_TOKEN is not set: the app's Bot User OAuth Token (xoxb-...), on its "
            "OAuth & Permissions page once the app is installed to the workspace."
        )
    app_token = env.get("SLACK_APP_TOKEN", "")
    if app_token and not app_token.startswith("xapp-"):
        problems.append("SLACK_APP_TOKEN is set but is not an app-level token (xapp-...).")
    elif not app_token and not env.get("SLACK_SIGNING_SECRET"):
        problems.append(
            "SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode) is not set."
        )
    else:
        return problems, False
    return problems, True


def serve_start(
    env: Mapping[str, str],
    *,
    port: str | None,
    host: str,
    grace: float,
    config_path: Path,
    named: bool,
    sandbox: bool,
) -> ServeStart | str:
    """Return what ``serve`` runs on, or everything that keeps it from starting, as one text.

    ``port`` is ``--port`` (else ``PORT``, else 3000); ``named`` says whether someone named
    the configuration (``--config``, ``ECS_SECRET_BOT_CONFIG``): with ``sandbox`` and none
    named, a missing file means the built-in sandbox configuration.
    """
    from ecs_secret_bot.bot.server import ServeOptions
    from ecs_secret_bot.bot.services import DEFAULT_SLACK_API_URL, SlackSettings

    problems, modes = _slack_problems(env)
    port_text = port if port is not None else env.get("PORT", "3000")
    if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
        problems.append(
            f"the port {port_text!r} is not a TCP port (1-65535): check --port or PORT."
        )
    if not 0 <= grace <= 3600:
        problems.append(f"--grace {grace:g}: give 0 to 3600 seconds.")
    settings: Settings | None = None
    try:
        settings = load_run_settings(config_path, named=named, sandbox=sandbox)
    except BotError as exc:
        hint = ""
        if not sandbox and not config_path.exists():
            hint = " For a first look, `ecs-secret-bot serve --sandbox` needs no configuration."
        problems.append(str(exc) + hint)
    except StorageFault as exc:
        problems.append(str(storage_error(exc)))
    if problems or settings is None:
        count = "one thing" if len(problems) == 1 else f"{len(problems)} things"
        lines = [f"ecs-secret-bot serve: cannot start; {count} to fix first:"]
        lines += [f"  - {problem}" for problem in problems]
        return "\n".join(lines + ([SLACK_MODES] if modes else []))
    slack = SlackSettings(
        bot_token=env.get("SLACK_BOT_TOKEN", ""),
        signing_secret=env.get("SLACK_SIGNING_SECRET", ""),
        app_token=env.get("SLACK_APP_TOKEN", ""),
        api_url=env.get("SLACK_API_URL") or DEFAULT_SLACK_API_URL,
        client_id=env.get("SLACK_CLIENT_ID", ""),
        client_secret=env.get("SLACK_CLIENT_SECRET", ""),
        redirect_uri=env.get("SLACK_REDIRECT_URI", ""),
    )
    return ServeStart(settings, slack, ServeOptions(port=int(port_text), host=host, grace=grace))


@asynccontextmanager
async def _sandbox(settings: Settings) -> AsyncIterator[tuple[Settings, CredentialClient]]:
    """Start a seeded sandbox for ``check --sandbox``; yield the settings aimed at it, its key."""
    from alibabacloud_credentials.client import Client
    from alibabacloud_credentials.models import Config

    key_id, key_secret = SANDBOX_ACCESS_KEY
    async with AsyncExitStack() as stack:
        _, running = await start_sandbox(stack, settings)
        config = Config(type="access_key", access_key_id=key_id, access_key_secret=key_secret)
        yield running, Client(config)


async def check_command(
    config_path: Path,
    *,
    env: Mapping[str, str],
    out: TextIO | None = None,
    credential: CredentialClient | None = None,
    named: bool = True,
    sandbox: bool = False,
    init: bool = False,
) -> int:
    """Load ``config_path``, run every check, print them; return 0 if none failed, else 1.

    ``named``, ``sandbox`` and ``init`` as ``serve`` takes them.
    """
    stream = out if out is not None else sys.stdout
    async with AsyncExitStack() as stack:
        try:
            settings = load_run_settings(config_path, named=named, sandbox=sandbox)
            if sandbox:
                settings, credential = await stack.enter_async_context(_sandbox(settings))
        except BotError as exc:
            print(format_lines([fail_line("configuration", exc)]), file=stream)
            return 1
        lines = await run_check(
            settings,
            slack_token=env.get("SLACK_BOT_TOKEN", ""),
            slack_api_url=env.get("SLACK_API_URL", "") or "https://slack.com/api/",
            credential=credential,
            slack_app_token=env.get("SLACK_APP_TOKEN", ""),
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET", ""),
            data_key="" if sandbox else env.get("ECS_SECRET_BOT_DATA_KEY", ""),
            init=init,
            slack_oauth=bool(env.get("SLACK_CLIENT_ID") and env.get("SLACK_CLIENT_SECRET")),
        )
    print(format_lines(lines), file=stream)
    return 1 if any(line.failed for line in lines) else 0
