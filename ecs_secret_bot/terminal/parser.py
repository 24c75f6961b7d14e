"""The command line of ``ecs-secret``: the subcommands of ``/ecs-secret``, as argparse sees them.

The options every subcommand shares (``--json``, ``--region``, ``--config``, ``--sandbox``,
``--init``) are accepted before or after the subcommand. No option carries a secret value or chooses
who you are: values are read from a prompt or stdin, and the identity is the login.
Numbers are ASCII digits, checked against their range here (``whole_number``), and a
mistyped subcommand or choice is answered with the nearest one (``SuggestingParser``, which
``ecs-secret-bot``'s command line uses too).
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ecs_secret_bot import __version__
from ecs_secret_bot.terminal.exit_codes import EXIT_CODES_HELP

__all__ = ["MUTATING", "SuggestingParser", "build_parser", "whole_number"]

MUTATING = ("create", "rotate", "rotation", "delete", "restore")

_DESCRIPTION = (
    "Manage Alibaba Cloud KMS dynamic ECS secrets from a terminal: the same operations, "
    "policies, approvals and audit log as the Slack app's /ecs-secret, on the same database. "
    "You act as local:user:<your login>; bind that principal in [[access.bindings]]."
)
_EPILOG = (
    "configuration: --config, else $ECS_SECRET_BOT_CONFIG, else ./ecs-secret-bot.toml.\n"
    "cloud credentials: the Alibaba Cloud default credential chain (ALIBABA_CLOUD_ACCESS_KEY_ID "
    "and _SECRET, profile, ECS RAM role, OIDC).\n\n" + EXIT_CODES_HELP
)


class SuggestingParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that answers a mistyped subcommand or choice with the nearest one.

    Its subcommands' parsers are of this class too (argparse makes them like their parent).
    """

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        choices = action.choices
        if choices is not None and isinstance(value, str) and value not in choices:
            names = [str(choice) for choice in choices]
            near = difflib.get_close_matches(value, names, n=1, cutoff=0.6)
            if near:
                raise argparse.ArgumentError(
                    action,
                    f"invalid choice: {value!r}; did you mean {near[0]!r}? "
                    f"(choose from {', '.join(map(repr, names))})",
                )
        super()._check_value(action, value)


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """Return an argparse type: ``low`` to ``high`` in ASCII digits (no sign, no other script)."""

    def parse(text: str) -> int:
        if not (text.isascii() and text.isdigit()):
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number ({low} to {high})")
        number = int(text)
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{number} is not {low} to {high}")
        return number

    return parse


def _common(*, top: bool) -> SuggestingParser:
    # Below the subcommand the defaults are SUPPRESS, so they never undo the top level's.
    default = None if top else argparse.SUPPRESS
    flag_default = False if top else argparse.SUPPRESS
    common = SuggestingParser(add_help=False)
    common.add_argument(
        "--json", action="store_true", default=flag_default, help="print one JSON object"
    )
    common.add_argument("--region", default=default, metavar="ID", help="the region to act in")
    common.add_argument(
        "--config", type=Path, default=default, metavar="PATH", help="the TOML configuration"
    )
    common.add_argument(
        "--sandbox",
        action="store_true",
        default=flag_default,
        help="run against an emulated cloud started for this command (seeded demo data), "
        "with records of its own (ecs-secret-bot-sandbox.db)",
    )
    common.add_argument(
        "--init",
        action="store_true",
        default=flag_default,
        help="start a new, empty database where the configured one is missing or empty "
        "although its key file exists",
    )
    return common


def _mutating() -> SuggestingParser:
    options = SuggestingParser(add_help=False)
    options.add_argument(
        "--dry-run",
        action="store_true",
        help="show the decision, approval rule, pre-flight and cloud call; do nothing",
    )
    options.add_argument("--reason", default="", help="why (kept in the audit log)")
    options.add_argument(
        "--request-id",
        default="",
        metavar="ID",
        help="idempotency key: the same id runs once, a repeat gets the first answer",
    )
    return options


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of the whole command line."""
    parser = SuggestingParser(
        prog="ecs-secret",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_common(top=True)],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    common = _common(top=False)
    mutating = _mutating()

    def add(name: str, summary: str, *, mutates: bool = False) -> argparse.ArgumentParser:
        parents = [common, mutating] if mutates else [common]
        return sub.add_parser(
            name,
            help=summary,
            description=summary,
            parents=parents,
            epilog=EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    create = add(
        "create", "host a user's current password or SSH key as an ECS secret", mutates=True
    )
    create.add_argument("name", help="secret name, with or without acs/ecs/")
    create.add_argument("--instance", required=True, metavar="ID", help="the ECS instance id")
    create.add_argument("--user", default="root", help="the OS user (default root)")
    create.add_argument(
        "--kind", choices=("password", "ssh-key"), default="password", help="default password"
    )
    create.add_argument(
        "--rotate-every", default="", metavar="INTERVAL", help="turn automatic rotation on (7d)"
    )
    create.add_argument("--description", default="")
    create.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    _value_options(create, what="the user's current password (or private key)")

    rotate = add("rotate", "rotate now, with a KMS-generated or a custom value", mutates=True)
    rotate.add_argument("name", help="secret name, with or without acs/ecs/")
    rotate.add_argument(
        "--custom", action="store_true", help="set a value you give (prompted, or on stdin)"
    )
    _value_options(rotate, what="the custom password (or private key)")
    rotate.add_argument(
        "--user",
        default="",
        help="the OS user of the custom value, where KMS does not record it (asked if needed)",
    )
    rotate.add_argument("--no-wait", action="store_true", help="return once KMS took the request")
    rotate.add_argument(
        "--follow", action="store_true", help="wait for the rotation in flight; start none"
    )

    rotation = add("rotation", "turn automatic rotation on or off", mutates=True)
    rotation.add_argument("name")
    rotation.add_argument("state", choices=("on", "off"))
    rotation.add_argument("interval", nargs="?", default="", help="6h to 365d, e.g. 7d")

    delete = add("delete", "schedule a deletion (7-30 days) or delete now", mutates=True)
    delete.add_argument("name")
    when = delete.add_mutually_exclusive_group()
    # Any whole number here: the core words a window outside 7-30 (exit 2, --json too).
    when.add_argument(
        "--days", type=whole_number(0, 10_000), default=None, help="7 to 30 (default 30)"
    )
    when.add_argument("--now", action="store_true", help="delete immediately, unrecoverably")
    delete.add_argument("--yes", action="store_true", help="skip typing the name to confirm")

    restore = add("restore", "cancel a scheduled deletion", mutates=True)
    restore.add_argument("name")

    listing = add("list", "list the dynamic ECS secrets")
    listing.add_argument("filter", nargs="?", default="", help="part of a name")
    show = add("show", "show one secret (never its value)")
    show.add_argument("name")
    add("pending", "list the scheduled deletions")
    add("approvals", "list requests waiting for you, and your own")
    for verb in ("approve", "deny"):
        one = add(verb, f"{verb} a held request (by its approval id)")
        one.add_argument("approval_id")
        if verb == "approve":
            one.add_argument("--no-wait", action="store_true", help="do not follow a rotation")
    audit = add("audit", "show the audit log, one line per request (or --verify it)")
    audit.add_argument("name", nargs="?", default="")
    audit.add_argument(
        "--limit", type=whole_number(1, 200), default=20, help="requests, 1 to 200 (default 20)"
    )
    _audit_options(audit)
    add("whoami", "who you are to the policies, and what you may do")
    _sweep_options(add("sweep", "rotate every secret the selectors match, as one request"))
    return parser


def _sweep_options(sweep: argparse.ArgumentParser) -> None:
    sweep.add_argument(
        "--instance", action="append", default=[], metavar="ID", help="an instance (repeatable)"
    )
    sweep.add_argument(
        "--tag", action="append", default=[], metavar="KEY=VALUE", help="an instance tag"
    )
    sweep.add_argument("--match", default="", metavar="GLOB", help="secret names ('web-*')")
    sweep.add_argument(
        "--dry-run", action="store_true", help="show the set, the decisions and the pre-flight"
    )
    sweep.add_argument("--reason", default="", help="why (required; kept in the audit log)")
    sweep.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    sweep.add_argument(
        "--concurrency",
        type=whole_number(1, 20),
        default=None,
        metavar="N",
        help="secrets rotated at once, 1 to 20 (default: [sweep] concurrency, else 5)",
    )


def _value_options(parser: argparse.ArgumentParser, *, what: str) -> None:
    parser.add_argument(
        "--value-stdin",
        action="store_true",
        help=f"read {what} from stdin instead of a prompt (also the default when stdin is a pipe)",
    )
    parser.add_argument(
        "--private-key-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="read a PEM private key from this file (SSH key secrets)",
    )


def _audit_options(audit: argparse.ArgumentParser) -> None:
    audit.add_argument("--since", metavar="WHEN", help="since a time: 36h, 7d, or 2025-03-01")
    audit.add_argument("--actor", metavar="PRINCIPAL", help="requests this principal took part in")
    audit.add_argument("--secret", dest="name_option", metavar="NAME", help="same as NAME")
    audit.add_argument("--channel", metavar="ID", help="requests made from this channel")
    audit.add_argument("--sweep", metavar="ID", help="the sweep with this id, secret by secret")
    audit.add_argument("--verbose", action="store_true", help="each request's entries under it")
    audit.add_argument("--format", choices=("text", "csv"), default="text", help="text or csv")
    audit.add_argument(
        "--verify", action="store_true", help="check the chain; exit 7 if it does not verify"
    )
    audit.add_argument(
        "--anchor", metavar="SEQ:HASH", help="with --verify: a head recorded elsewhere, to find"
    )
