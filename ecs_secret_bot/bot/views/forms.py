"""The pieces every modal is built of: the view, its input blocks, text fields, options.

Pure builders returning dicts, in Slack's documented shapes (``limits`` checks the
lengths); ``modals`` composes them into the bot's modals. Never given a secret value:
a text field's ``initial`` is for names only.
"""

from __future__ import annotations

from typing import Any

from ecs_secret_bot.bot.ids import Action, Block
from ecs_secret_bot.bot.metadata import ModalMeta
from ecs_secret_bot.bot.views.blocks import Block as BlockDict
from ecs_secret_bot.bot.views.blocks import plain

__all__ = ["form_input", "form_modal", "option", "reason_input", "text_element"]


def form_modal(
    callback: str,
    title: str,
    blocks: list[BlockDict],
    *,
    meta: ModalMeta | None = None,
    submit: str | None = None,
    close: str = "Cancel",
) -> dict[str, Any]:
    """Return a modal view (title and buttons cut to Slack's 24 characters, ``meta`` kept)."""
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback,
        "title": plain(title, 24),
        "close": plain(close, 24),
        "blocks": blocks[:100],
    }
    if submit:
        view["submit"] = plain(submit, 24)
    if meta is not None:
        view["private_metadata"] = meta.dump()
    return view


def form_input(
    block_id: str,
    label: str,
    element: dict[str, Any],
    *,
    optional: bool = False,
    hint: str = "",
    dispatch: bool = False,
) -> BlockDict:
    """Return an input block holding ``element`` (``dispatch``: its changes come as actions)."""
    block: BlockDict = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, 2000),
        "element": element,
        "optional": optional,
    }
    if dispatch:
        block["dispatch_action"] = True
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def text_element(
    action_id: str,
    *,
    placeholder: str = "",
    initial: str = "",
    multiline: bool = False,
    max_length: int = 3000,
) -> dict[str, Any]:
    """Return a plain text input (``initial`` is for names, never for values)."""
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": action_id,
        "multiline": multiline,
        "max_length": max_length,
    }
    if placeholder:
        element["placeholder"] = plain(placeholder, 150)
    if initial:
        element["initial_value"] = initial
    return element


def option(value: str, text: str) -> dict[str, Any]:
    """Return an option of a select, radio buttons or checkboxes."""
    return {"text": plain(text, 75), "value": value}


def reason_input() -> BlockDict:
    """Return the optional Reason field every change asks for."""
    return form_input(
        Block.REASON,
        "Reason",
        text_element(
            Action.REASON, placeholder="Why? (shown to approvers and in the audit)", max_length=500
        ),
        optional=True,
    )
