"""Strict parsing of ``/ecs-secret`` text into one typed command, or a usage error.

Owns the grammar of the slash command (design.md, "Slack"), the usage line of every
subcommand and ``spell``, which words a next step's subcommand as a slash command. Quotes
work as in a shell (Slack's curly quotes too); ``--region X`` or ``--region=X`` where a
region matters; ``--dry-run`` on mutating subcommands only; ``delete <name> [--days N |
--now]`` (N in ASCII digits); ``rotation <name> on [interval] | off``; ``sweep`` with
``--instance i-...`` (repeatable), ``--tag key=value`` (repeatable), ``--match <glob>``,
at least one of them. A mistake raises
``UsageError`` naming it, with the right usage (and, for a mistyped subcommand, the nearest
one). Never validates names, regions or intervals against the configuration: the core does
that, before any cloud call or modal.
"""

from __future__ import annotations

import difflib
import re
import shlex
from dataclasses import dataclass

from ecs_secret_bot.errors import InvalidInput, Subcommand

__all__ = [
    "MUTATING",
    "SLASH",
    "USAGE",
    "Command",
    "UsageError",
    "parse_command",
    "spell",
]

SLASH = "/ecs-secret"

USAGE: dict[str, str] = {
    "help": "/ecs-secret help",
    "create": "/ecs-secret create [--region R] [--dry-run]",
    "rotate": "/ecs-secret rotate <name> [--region R] [--dry-run]",
    "rotation": "/ecs-secret rotation <name> on [interval] | off [--region R] [--dry-run]",
    "delete": "/ecs-secret delete <name> [--days N | --now] [--region R] [--dry-run]",
    "restore": "/ecs-secret restore <name> [--region R] [--dry-run]",
    "list": "/ecs-secret list [filter] [--region R]",
    "show": "/ecs-secret show <name> [--region R]",
    "pending": "/ecs-secret pending [--region R]",
    "approvals": "/ecs-secret approvals",
    "audit": "/ecs-secret audit [name] [--region R]",
    "whoami": "/ecs-secret whoami",
    "sweep": (
        "/ecs-secret sweep [--instance i-...]... [--tag key=value]... [--match glob] "
        "[--region R] [--dry-run]"
    ),
}
MUTATING = frozenset({"create", "rotate", "rotation", "delete", "restore", "sweep"})
_REPEATABLE = frozenset({"--instance", "--tag"})
_REGIONAL = frozenset(USAGE) - {"help", "approvals", "whoami"}
_MAX_TEXT = 2000


def spell(command: Subcommand) -> str:
    """Spell a subcommand as the slash command that runs it: ``/ecs-secret list``."""
    return f"`{' '.join((SLASH, *command.words))}`"


class UsageError(InvalidInput):
    """The slash-command text does not follow the grammar."""

    def __init__(self, message: str, *, subcommand: str = "") -> None:
        usage = USAGE.get(subcommand)
        step = f"Usage: `{usage}`" if usage else "Type `/ecs-secret help` for the commands."
        super().__init__(message, field="text", next_step=step)
        self.subcommand = subcommand


@dataclass(frozen=True)
class Command:
    """One parsed slash command."""

    name: str
    """The subcommand (``help`` when the text is empty)."""
    secret: str = ""
    region: str = ""
    dry_run: bool = False
    days: int | None = None
    now: bool = False
    enabled: bool | None = None
    interval: str = ""
    filter: str = ""
    topic: str = ""
    """For ``help <subcommand>``."""
    instances: tuple[str, ...] = ()
    """``sweep --instance``, in the order given."""
    tags: tuple[tuple[str, str], ...] = ()
    """``sweep --tag key=value``, each ``(key, value)``."""
    match: str = ""
    """``sweep --match``: a glob on secret names."""


_QUOTING = re.compile(r"['\"\\]")
"""What makes shlex do more than split on blanks: quotes and backslashes."""
_BLANKS = re.compile(r"[ \t\r\n]+")


def _tokens(text: str) -> list[str]:
    if len(text) > _MAX_TEXT:
        raise UsageError(f"That command is {len(text)} characters long; the most is {_MAX_TEXT}.")
    normal = text.replace("\u201c", '"').replace("\u201d", '"')
    normal = normal.replace("\u2018", "'").replace("\u2019", "'").replace("\u00a0", " ")
    if not _QUOTING.search(normal):
        # what shlex would do, ten times faster: the common case, before every ack
        words = normal.strip(" \t\r\n")
        return _BLANKS.split(words) if words else []
    lexer = shlex.shlex(normal, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:
        raise UsageError("A quote is not closed: close it or leave the quotes out.") from None


Flags = dict[str, str | bool | list[str]]


def _split_flags(sub: str, words: list[str]) -> tuple[list[str], Flags]:
    """Separate positional words from ``--flags`` (with values where a flag takes one)."""
    positional: list[str] = []
    flags: Flags = {}
    takes_value = {"--region", "--days", "--match", *_REPEATABLE}
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if not word.startswith("--") or word == "--":
            positional.append(word)
            continue
        flag, eq, inline = word.partition("=")
        if flag in flags and flag not in _REPEATABLE:
            raise UsageError(f"`{flag}` is given twice.", subcommand=sub)
        if flag in takes_value:
            if eq:
                value = inline
            elif i < len(words) and not words[i].startswith("--"):
                value = words[i]
                i += 1
            else:
                raise UsageError(f"`{flag}` needs a value.", subcommand=sub)
            if not value:
                raise UsageError(f"`{flag}` needs a value.", subcommand=sub)
            if flag in _REPEATABLE:
                given = flags.setdefault(flag, [])
                assert isinstance(given, list)
                given.append(value)
            else:
                flags[flag] = value
        elif flag in ("--dry-run", "--now") and not eq:
            flags[flag] = True
        else:
            raise UsageError(f"`{_show(word)}` is not an option of `{sub}`.", subcommand=sub)
    return positional, flags


def _show(word: str) -> str:
    return word.replace("`", "'")[:40]


def _allow(sub: str, flags: Flags) -> None:
    allowed = {"--region"} if sub in _REGIONAL else set()
    if sub in MUTATING:
        allowed.add("--dry-run")
    if sub == "delete":
        allowed |= {"--days", "--now"}
    if sub == "sweep":
        allowed |= {"--match", *_REPEATABLE}
    for flag in flags:
        if flag not in allowed:
            if flag == "--dry-run":
                raise UsageError(
                    f"`--dry-run` is for commands that change something; `{sub}` only reads.",
                    subcommand=sub,
                )
            raise UsageError(f"`{flag}` is not an option of `{sub}`.", subcommand=sub)


def _count(sub: str, words: list[str], low: int, high: int, what: str) -> None:
    if len(words) < low:
        raise UsageError(f"`{sub}` needs {what}.", subcommand=sub)
    if len(words) > high:
        extra = " ".join(_show(w) for w in words[high:])
        raise UsageError(
            f"`{sub}` takes {what}; I did not understand `{extra}` (quote a name that has spaces).",
            subcommand=sub,
        )


def _days(sub: str, raw: str | bool | list[str] | None) -> int | None:
    if raw is None:
        return None
    text = str(raw)
    # ASCII digits only: str.isdigit and int() would take "٧" (an Arabic-Indic 7) as 7.
    if not (text.isascii() and text.isdigit()) or not 7 <= int(text) <= 30:
        raise UsageError(
            f"`--days {_show(text)}`: the deletion window is a whole number of days, 7 to 30.",
            subcommand=sub,
        )
    return int(text)


def parse_command(text: str) -> Command:
    """Parse the text after ``/ecs-secret``; raise ``UsageError`` on any mistake."""
    words = _tokens(text.strip())
    if not words:
        return Command("help")
    sub = words[0].lower()
    if sub in ("-h", "--help"):
        sub = "help"
    if sub not in USAGE:
        near = difflib.get_close_matches(sub, list(USAGE), n=1, cutoff=0.6)
        hint = f" Did you mean `{near[0]}`?" if near else ""
        raise UsageError(f"`{_show(words[0])}` is not a subcommand.{hint}")
    positional, flags = _split_flags(sub, words[1:])
    _allow(sub, flags)
    region = str(flags.get("--region", ""))
    dry_run = bool(flags.get("--dry-run", False))
    if sub == "help":
        _count(sub, positional, 0, 1, "at most one subcommand name")
        return Command("help", topic=positional[0].lower() if positional else "")
    if sub in ("approvals", "whoami", "pending", "create"):
        _count(sub, positional, 0, 0, "no arguments")
        return Command(sub, region=region, dry_run=dry_run)
    if sub in ("list", "audit"):
        _count(sub, positional, 0, 1, "at most one " + ("filter" if sub == "list" else "name"))
        arg = positional[0] if positional else ""
        if sub == "list":
            return Command(sub, filter=arg, region=region)
        return Command(sub, secret=arg, region=region)
    if sub == "rotation":
        return _rotation(positional, region, dry_run)
    if sub == "sweep":
        return _sweep(positional, flags, region, dry_run)
    _count(sub, positional, 1, 1, "one secret name")
    if sub == "delete":
        if "--days" in flags and "--now" in flags:
            raise UsageError("Give `--days N` or `--now`, not both.", subcommand=sub)
        return Command(
            sub,
            secret=positional[0],
            region=region,
            dry_run=dry_run,
            days=_days(sub, flags.get("--days")),
            now=bool(flags.get("--now", False)),
        )
    return Command(sub, secret=positional[0], region=region, dry_run=dry_run)


def _rotation(words: list[str], region: str, dry_run: bool) -> Command:
    sub = "rotation"
    _count(sub, words, 2, 3, "a secret name, then `on [interval]` or `off`")
    state = words[1].lower()
    if state not in ("on", "off"):
        raise UsageError(
            f"After the name comes `on` or `off`, not `{_show(words[1])}`.", subcommand=sub
        )
    if state == "off" and len(words) == 3:
        raise UsageError("`off` takes no interval.", subcommand=sub)
    interval = words[2] if len(words) == 3 else ""
    return Command(
        sub,
        secret=words[0],
        region=region,
        dry_run=dry_run,
        enabled=state == "on",
        interval=interval,
    )


_INSTANCE_ID = re.compile(r"^i-[A-Za-z0-9]{1,40}$")


def _sweep(words: list[str], flags: Flags, region: str, dry_run: bool) -> Command:
    sub = "sweep"
    if words:
        raise UsageError(
            f"`sweep` takes options only; I did not understand `{_show(words[0])}` "
            "(select with `--instance`, `--tag` or `--match`).",
            subcommand=sub,
        )
    instances = [str(i) for i in _listed(flags.get("--instance"))]
    for instance in instances:
        if not _INSTANCE_ID.match(instance):
            raise UsageError(
                f"`--instance {_show(instance)}` is not an instance id; write one like "
                "`i-bp1abcdef0123456789`.",
                subcommand=sub,
            )
    tags: list[tuple[str, str]] = []
    for raw in _listed(flags.get("--tag")):
        key, eq, value = raw.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise UsageError(
                f"`--tag {_show(raw)}`: write a tag as `key=value`, such as `--tag env=prod`.",
                subcommand=sub,
            )
        tags.append((key.strip(), value.strip()))
    match = str(flags.get("--match", ""))
    if not (instances or tags or match):
        raise UsageError(
            "`sweep` needs at least one selector: `--instance i-...`, `--tag key=value` "
            "or `--match 'web-*'`.",
            subcommand=sub,
        )
    return Command(
        sub,
        region=region,
        dry_run=dry_run,
        instances=tuple(dict.fromkeys(instances)),
        tags=tuple(dict.fromkeys(tags)),
        match=match,
    )


def _listed(value: str | bool | list[str] | None) -> list[str]:
    return value if isinstance(value, list) else []
