"""The entry points of both programs: ``ecs-secret-bot`` (``serve`` the Slack app, ``check``
a configuration, run the ``sandbox`` cloud) and ``ecs-secret`` (the terminal).

The only module that reads the process environment; it hands what it read, as typed
values, to ``runtime`` (which composes the core) and to the front ends. Imports lazily,
so ``--help`` and usage errors answer at once. What ``serve`` and ``check`` start from is
checked by ``launch`` (everything wrong with ``serve``'s environment said at once).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ecs_secret_bot import __version__

if TYPE_CHECKING:
    from ecs_secret_bot.config import Settings
    from ecs_secret_bot.terminal.environment import Environment
    from ecs_secret_bot.terminal.session import Session

__all__ = ["main", "terminal_main"]

DEFAULT_CONFIG = "ecs-secret-bot.toml"


def _parser() -> argparse.ArgumentParser:
    from ecs_secret_bot.terminal.parser import SuggestingParser

    parser = SuggestingParser(
        prog="ecs-secret-bot",
        description=(
            "Create, rotate, schedule deletion of, delete and restore Alibaba Cloud KMS "
            "dynamic ECS secrets from Slack, under RAM-style policies and approvals."
        ),
        epilog=(
            "Configuration: --config, else the TOML file named by ECS_SECRET_BOT_CONFIG, "
            f"else ./{DEFAULT_CONFIG}. Cloud credentials: the Alibaba Cloud default "
            "credential chain (ALIBABA_CLOUD_ACCESS_KEY_ID, ... , profile, ECS RAM role)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="run the Slack app (Socket Mode with SLACK_APP_TOKEN, else HTTP)",
        description=(
            "Run the Slack app. With SLACK_APP_TOKEN set it connects in Socket Mode; otherwise "
            "it serves POST /slack/events over HTTP. Either way GET /healthz and GET /metrics "
            "(Prometheus) answer on --port. With SLACK_CLIENT_ID and SLACK_CLIENT_SECRET "
            "instead of SLACK_BOT_TOKEN it is installed per workspace (OAuth), serving GET "
            "/slack/install and /slack/oauth_redirect as well."
        ),
    )
    serve.add_argument(
        "--port",
        default=None,
        metavar="N",
        help="HTTP port of /slack/events, /healthz and /metrics (default: $PORT, else 3000)",
    )
    serve.add_argument(
        "--host",
        default="0.0.0.0",
        help="address to listen on (default 0.0.0.0: every interface)",
    )
    serve.add_argument(
        "--grace",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="on SIGTERM or SIGINT, how long requests in progress may take (default 10)",
    )
    serve.add_argument(
        "--sandbox",
        action="store_true",
        help="start the emulated KMS + ECS cloud in-process and use it instead of Alibaba "
        "Cloud, with records of its own; no configuration file needed",
    )
    serve.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="log lines on stderr: text (default) or json, one object per line with time, "
        "level, logger, message and the Slack request's id",
    )
    _config_option(serve)
    _init_option(serve)

    check = sub.add_parser(
        "check",
        help="validate the configuration and the connections it names",
        description=(
            "Validate the configuration and the connections it names: storage, Slack "
            "auth.test (with SLACK_BOT_TOKEN), and KMS ListSecrets and ECS DescribeInstances "
            "in each region with the default credential chain. Says, for each, OK or exactly "
            "what is wrong; exits 1 if anything failed."
        ),
    )
    check.add_argument(
        "--sandbox",
        action="store_true",
        help="check against the emulated cloud started in-process, and the sandbox's own "
        "database, as serve --sandbox runs",
    )
    _config_option(check)
    _init_option(check)

    wrap_key = sub.add_parser(
        "wrap-key",
        help="keep the data key wrapped by KMS ([storage] key_kms_key_id)",
        description=(
            "Make the data key file hold the key only as Alibaba Cloud KMS encrypted it: "
            "create one (GenerateDataKey) if there is no database yet, else wrap the plain "
            "key file or ECS_SECRET_BOT_DATA_KEY (Encrypt), or re-wrap it under the KMS key "
            "now configured. The bot then asks KMS to decrypt it at start."
        ),
    )
    _config_option(wrap_key)

    migrate = sub.add_parser(
        "migrate",
        help="copy the SQLite database into PostgreSQL",
        description=(
            "Copy the records of the SQLite database ([storage] path) into an empty "
            "PostgreSQL database, with the same data key, and verify the audit chain there. "
            "The password comes from PGPASSWORD or PGPASSFILE."
        ),
    )
    migrate.add_argument("--to", required=True, metavar="URL", help="postgresql://user@host/db")
    _config_option(migrate)

    sandbox = sub.add_parser(
        "sandbox",
        help="run the emulated KMS + ECS endpoint on 127.0.0.1",
        description=(
            "Run an emulated Alibaba Cloud KMS + ECS endpoint on 127.0.0.1 that the real SDK "
            "clients can talk to (Config(endpoint='127.0.0.1:PORT', protocol='http')). It "
            "accepts the AccessKey pair sandbox / sandbox-secret and is seeded with demo "
            "instances and ECS secrets in cn-hangzhou. Each region it serves has its own "
            "endpoint, as in Alibaba Cloud: the first on --port, the next on the ports after."
        ),
    )
    sandbox.add_argument(
        "--port", type=int, default=9000, help="port of the first region (default 9000)"
    )
    sandbox.add_argument(
        "--region",
        action="append",
        default=[],
        metavar="REGION",
        help="serve this region, on the next port (repeatable; default: cn-hangzhou)",
    )
    sandbox.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    sandbox.add_argument(
        "--grace",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="on SIGTERM or SIGINT, how long calls in progress may take (default 10)",
    )
    sandbox.add_argument(
        "--access-key",
        action="append",
        default=[],
        metavar="ID:SECRET",
        help="accept this AccessKey pair as well (repeatable)",
    )
    sandbox.add_argument(
        "--rotation-delay",
        type=float,
        default=3.0,
        metavar="SECONDS",
        help="how long a rotation takes to complete on the instance (default 3)",
    )
    sandbox.add_argument(
        "--custom-values",
        choices=("push", "accept", "refuse"),
        default="push",
        help="what PutSecretValue on an ECS secret does: push it to the instance like a "
        "rotation (default), accept it as current without touching the instance, or refuse "
        "it as the KMS documentation says it may",
    )
    sandbox.add_argument(
        "--refuse-custom-values",
        action="store_true",
        help="the same as --custom-values refuse",
    )
    sandbox.add_argument(
        "--ram-policy",
        metavar="FILE",
        default=None,
        help="the RAM policy (JSON) of the AccessKey pairs (default: the bot's shipped policy, "
        "ecs_secret_bot/cloud/bot-ram-policy.json)",
    )
    sandbox.add_argument(
        "--role",
        action="append",
        default=[],
        metavar="NAME",
        help="add a RAM role the AccessKey pairs may assume through STS (repeatable); its "
        "sessions act under the same RAM policy",
    )
    sandbox.add_argument("--no-seed", action="store_true", help="start empty, without demo data")
    return parser


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="PATH",
        help=f"the TOML configuration (default: $ECS_SECRET_BOT_CONFIG, else ./{DEFAULT_CONFIG})",
    )


def _init_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--init",
        action="store_true",
        help="start a new, empty database where the configured one is missing or empty "
        "although its key file exists (a database that vanished stops the start otherwise)",
    )


def _config_path(args: argparse.Namespace) -> tuple[Path, bool]:
    """Return the configuration path and whether someone named it (option or environment)."""
    if args.config is not None:
        return Path(args.config), True
    named = os.environ.get("ECS_SECRET_BOT_CONFIG", "")
    return (Path(named), True) if named else (Path(DEFAULT_CONFIG), False)


def _fail(message: str) -> int:
    print(f"ecs-secret-bot serve: {message}", file=sys.stderr)
    return 2


def _serve(args: argparse.Namespace) -> int:
    """Read the environment, check all of it, and run the Slack app until SIGTERM or SIGINT."""
    from ecs_secret_bot.errors import BotError, StorageFault, storage_error
    from ecs_secret_bot.launch import serve_start
    from ecs_secret_bot.runtime import serve
    from ecs_secret_bot.telemetry.logs import configure_logging

    configure_logging(args.log_format, stream=sys.stderr)
    env = os.environ
    config_path, named = _config_path(args)
    start = serve_start(
        dict(env),
        port=None if args.port is None else str(args.port),
        host=args.host,
        grace=args.grace,
        config_path=config_path,
        named=named,
        sandbox=args.sandbox,
    )
    # Read once, above; out of the environment so no library reads them behind our back
    # (bolt would take SLACK_BOT_TOKEN beside the client it is given, and warn).
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "SLACK_CLIENT_ID",
        "SLACK_CLIENT_SECRET",
        "SLACK_REDIRECT_URI",
    ):
        env.pop(name, None)
    if isinstance(start, str):
        print(start, file=sys.stderr)
        return 2
    options = start.options

    async def serve_until_signalled() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await serve(
            start.settings,
            start.slack,
            options,
            stop=stop,
            sandbox=args.sandbox,
            data_key=env.get("ECS_SECRET_BOT_DATA_KEY", ""),
            init=args.init,
            say=lambda line: print(line, flush=True),
        )

    try:
        asyncio.run(serve_until_signalled())
    except BotError as exc:
        return _fail(str(exc))
    except StorageFault as exc:
        return _fail(str(storage_error(exc)))
    except OSError as exc:
        return _fail(f"cannot listen on {options.host}:{options.port}: {exc.strerror or exc}.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the program; return its exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "sandbox":
        from ecs_secret_bot.sandbox.main import run_sandbox

        return run_sandbox(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "check":
        from ecs_secret_bot.launch import check_command

        config_path, named = _config_path(args)
        return asyncio.run(
            check_command(
                config_path, env=os.environ, named=named, sandbox=args.sandbox, init=args.init
            )
        )
    if args.command == "wrap-key":
        from ecs_secret_bot.data_key import wrap_key_command

        return asyncio.run(wrap_key_command(_config_path(args)[0], env=os.environ))
    if args.command == "migrate":
        from ecs_secret_bot.migrate import migrate_command

        return asyncio.run(migrate_command(_config_path(args)[0], to=args.to, env=os.environ))
    parser.error(f"unknown command {args.command!r}")
    return 2  # pragma: no cover - parser.error exits


def _terminal_environment() -> Environment:
    """Read what ``ecs-secret`` takes from its process: variables, login, folder."""
    from ecs_secret_bot.terminal.environment import (
        DEFAULT_SLACK_API_URL,
        Environment,
        login_name,
    )

    config = os.environ.get("ECS_SECRET_BOT_CONFIG", "")
    return Environment(
        login=login_name(),
        cwd=Path.cwd(),
        config_path=Path(config) if config else None,
        data_key=os.environ.get("ECS_SECRET_BOT_DATA_KEY", ""),
        slack_bot_token=os.environ.get("SLACK_BOT_TOKEN", ""),
        slack_api_url=os.environ.get("SLACK_API_URL", "") or DEFAULT_SLACK_API_URL,
    )


def _open_terminal(
    settings: Settings, env: Environment, *, sandbox: bool, banner: TextIO, init: bool
) -> AbstractAsyncContextManager[Session]:
    """Open the session of one ``ecs-secret`` run (``runtime`` imported only now)."""
    from ecs_secret_bot.runtime import open_terminal

    return open_terminal(settings, env, sandbox=sandbox, banner=banner, init=init)


def terminal_main(argv: Sequence[str] | None = None) -> int:
    """Run ``ecs-secret``; return its exit code."""
    from ecs_secret_bot.terminal.main import main as run_terminal

    return run_terminal(argv, environment=_terminal_environment, open_session=_open_terminal)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
