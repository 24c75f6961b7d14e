"""Slack's documented Block Kit limits, as a checker the tests run over every builder.

``problems(surface, kind=...)`` returns one line per limit broken (empty when the view or
message is fine): modal title and button texts <= 24 characters, <= 100 blocks per view,
<= 50 per message, section text <= 3000, <= 10 fields of <= 2000, header <= 150, button
text <= 75, confirm dialog texts, action and block ids <= 255 and unique within a view,
options <= 100, ``private_metadata`` <= 3000, ``callback_id`` <= 255.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

__all__ = ["problems"]

Kind = Literal["modal", "home", "message"]


def _text(obj: Any) -> str:
    return str(obj.get("text", "")) if isinstance(obj, Mapping) else ""


def _elements(block: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key in ("accessory", "element"):
        if isinstance(block.get(key), Mapping):
            yield block[key]
    for element in block.get("elements") or []:
        if isinstance(element, Mapping) and element.get("type") not in ("mrkdwn", "plain_text"):
            yield element


def _element_problems(element: Mapping[str, Any], where: str) -> Iterator[str]:
    if element.get("type") == "button" and len(_text(element.get("text"))) > 75:
        yield f"{where}: button text over 75"
    if len(str(element.get("value", ""))) > 2000:
        yield f"{where}: value over 2000"
    if len(element.get("options") or []) > 100:
        yield f"{where}: over 100 options"
    for option in element.get("options") or []:
        if len(_text(option.get("text"))) > 75 or len(str(option.get("value", ""))) > 150:
            yield f"{where}: option text over 75 or value over 150"
    confirm = element.get("confirm")
    if isinstance(confirm, Mapping):
        limits = {"title": 100, "text": 300, "confirm": 30, "deny": 30}
        for key, limit in limits.items():
            if len(_text(confirm.get(key))) > limit:
                yield f"{where}: confirm {key} over {limit}"
    if len(_text(element.get("placeholder"))) > 150:
        yield f"{where}: placeholder over 150"


def _block_problems(block: Mapping[str, Any], where: str) -> Iterator[str]:
    kind = block.get("type")
    if kind == "section":
        if len(_text(block.get("text"))) > 3000:
            yield f"{where}: section text over 3000"
        fields = block.get("fields") or []
        if len(fields) > 10:
            yield f"{where}: over 10 fields"
        if any(len(_text(f)) > 2000 for f in fields):
            yield f"{where}: a field over 2000"
        if not block.get("text") and not fields:
            yield f"{where}: section without text or fields"
    if kind == "header" and len(_text(block.get("text"))) > 150:
        yield f"{where}: header over 150"
    if kind == "context" and len(block.get("elements") or []) > 10:
        yield f"{where}: context over 10 elements"
    if kind == "actions" and len(block.get("elements") or []) > 25:
        yield f"{where}: actions over 25 elements"
    if kind == "input" and len(_text(block.get("label"))) > 2000:
        yield f"{where}: input label over 2000"


def problems(surface: Mapping[str, Any] | Sequence[Mapping[str, Any]], *, kind: Kind) -> list[str]:
    """Return the Slack limits ``surface`` (a view, or a message's blocks) breaks."""
    found: list[str] = []
    blocks: Sequence[Mapping[str, Any]]
    if isinstance(surface, Mapping):
        blocks = surface.get("blocks") or []
        if kind == "modal":
            for key in ("title", "submit", "close"):
                if len(_text(surface.get(key))) > 24:
                    found.append(f"modal {key} over 24 characters")
            if not _text(surface.get("title")):
                found.append("modal without a title")
            has_input = any(b.get("type") == "input" for b in blocks)
            if has_input and not surface.get("submit"):
                found.append("inputs without a submit button")
        if len(str(surface.get("private_metadata", ""))) > 3000:
            found.append("private_metadata over 3000")
        if len(str(surface.get("callback_id", ""))) > 255:
            found.append("callback_id over 255")
    else:
        blocks = surface
    limit = 50 if kind == "message" else 100
    if len(blocks) > limit:
        found.append(f"{len(blocks)} blocks, over {limit}")
    block_ids: set[str] = set()
    action_ids: set[str] = set()
    for number, block in enumerate(blocks):
        where = f"block {number}"
        block_id = block.get("block_id")
        if block_id is not None:
            if len(str(block_id)) > 255:
                found.append(f"{where}: block_id over 255")
            if block_id in block_ids:
                found.append(f"{where}: duplicate block_id {block_id}")
            block_ids.add(str(block_id))
        found.extend(_block_problems(block, where))
        for element in _elements(block):
            found.extend(_element_problems(element, where))
            action_id = element.get("action_id")
            if action_id is None:
                continue
            if len(str(action_id)) > 255:
                found.append(f"{where}: action_id over 255")
            if action_id in action_ids:
                found.append(f"{where}: duplicate action_id {action_id}")
            action_ids.add(str(action_id))
    return found
