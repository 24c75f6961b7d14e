"""Block Kit pieces every builder shares: text objects, sections, buttons, dates, escaping.

Pure functions returning dicts. Anything a person typed goes through ``esc`` before it
reaches mrkdwn, so a secret name or a reason can never mention ``@channel`` or forge a
link; long text is cut to Slack's limits here rather than refused by Slack.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "Block",
    "actions",
    "button",
    "clip",
    "confirm_dialog",
    "context",
    "divider",
    "esc",
    "fields_section",
    "header",
    "mention",
    "mrkdwn",
    "plain",
    "section",
    "short_name",
    "slack_date",
    "user_label",
    "with_mentions",
]

Block = dict[str, Any]

SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
FIELDS_MAX = 10
HEADER_MAX = 150
BUTTON_TEXT_MAX = 75
CONTEXT_TEXT_MAX = 2000


def clip(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def esc(text: object) -> str:
    """Escape text a person typed for mrkdwn (``&``, ``<``, ``>``)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def short_name(name: str) -> str:
    """Return a secret name without ``acs/ecs/``."""
    return name.removeprefix("acs/ecs/")


def user_label(user_name: str) -> str:
    """Return an OS user as code, or say KMS does not record it (the bot never decrypts)."""
    return f"`{esc(user_name)}`" if user_name else "unknown (KMS does not record it)"


def mention(principal: str) -> str:
    """Return the Slack mention of a ``slack:user:``/``slack:usergroup:`` principal."""
    kind, _, ident = principal.rpartition(":")
    ident = ident.rpartition("/")[2]  # slack:user:T0123/U0456: the user of that workspace
    if "*" in ident or "?" in ident:
        return f"`{esc(principal)}`"
    if kind.endswith("usergroup"):
        return f"<!subteam^{ident}>"
    if kind.endswith("user"):
        return f"<@{ident}>"
    return f"`{esc(principal)}`"


_PRINCIPAL = re.compile(r"slack:(?:user|usergroup):(?:T[A-Z0-9]+/)?[A-Z0-9]+\b")


def with_mentions(text: str) -> str:
    """Return ``text`` (a sentence of the core's) with each Slack principal as a mention."""
    return _PRINCIPAL.sub(lambda found: mention(found[0]), text)


def slack_date(moment: datetime | None, fmt: str = "{date_short_pretty} at {time}") -> str:
    """Return a date Slack shows in the reader's time zone (UTC text as the fallback)."""
    if moment is None:
        return "never"
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    fallback = aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(aware.timestamp())}^{fmt}|{fallback}>"


def plain(text: str, limit: int = SECTION_TEXT_MAX) -> dict[str, Any]:
    """Return a ``plain_text`` object."""
    return {"type": "plain_text", "text": clip(text, limit) or " ", "emoji": True}


def mrkdwn(text: str, limit: int = SECTION_TEXT_MAX) -> dict[str, Any]:
    """Return a ``mrkdwn`` text object."""
    return {"type": "mrkdwn", "text": clip(text, limit) or " "}


def header(text: str) -> Block:
    """Return a header block."""
    return {"type": "header", "text": plain(text, HEADER_MAX)}


def section(text: str, *, block_id: str | None = None, accessory: Block | None = None) -> Block:
    """Return a mrkdwn section."""
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if block_id:
        block["block_id"] = block_id
    if accessory:
        block["accessory"] = accessory
    return block


def fields_section(pairs: Iterable[tuple[str, str]]) -> list[Block]:
    """Return sections showing ``(label, value)`` pairs as fields, ten per section."""
    items = [mrkdwn(f"*{label}*\n{value}", FIELD_TEXT_MAX) for label, value in pairs]
    return [
        {"type": "section", "fields": items[i : i + FIELDS_MAX]}
        for i in range(0, len(items), FIELDS_MAX)
    ]


def context(*texts: str) -> Block:
    """Return a context block of mrkdwn lines."""
    return {"type": "context", "elements": [mrkdwn(t, CONTEXT_TEXT_MAX) for t in texts[:10]]}


def divider() -> Block:
    """Return a divider."""
    return {"type": "divider"}


def confirm_dialog(title: str, text: str, *, confirm: str, deny: str = "Cancel") -> Block:
    """Return a ``confirm`` object (danger style) for a destructive button."""
    return {
        "title": plain(title, 100),
        "text": mrkdwn(text, 300),
        "confirm": plain(confirm, 30),
        "deny": plain(deny, 30),
        "style": "danger",
    }


def button(
    text: str,
    action_id: str,
    *,
    value: str = "",
    style: str | None = None,
    confirm: Block | None = None,
) -> Block:
    """Return a button element."""
    element: Block = {
        "type": "button",
        "text": plain(text, BUTTON_TEXT_MAX),
        "action_id": action_id,
    }
    if value:
        element["value"] = value
    if style:
        element["style"] = style
    if confirm:
        element["confirm"] = confirm
    return element


def actions(elements: Sequence[Block], *, block_id: str | None = None) -> Block:
    """Return an actions block."""
    block: Block = {"type": "actions", "elements": list(elements)[:25]}
    if block_id:
        block["block_id"] = block_id
    return block
