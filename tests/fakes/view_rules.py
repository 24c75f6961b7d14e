"""What Slack refuses in a view, whatever method carries it.

Owns `view_problems` and the limits it checks (Block Kit reference): a modal title,
submit or close text over 24 characters, over 100 blocks, input blocks without a
submit button, `private_metadata` over 3000 characters, `callback_id` over 255,
the wrong view type; and, in any blocks (`block_problems`, which messages use too), a
section's text over 3000 characters, over 10 fields or a field over 2000, a context
over 10 elements, a header over 150. Each problem is worded as Slack words it in
`response_metadata.messages` of an `invalid_arguments` error.
https://docs.slack.dev/reference/views

Never holds state; `slack_views.ViewRegistry` calls it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .replies import problem, text_of

__all__ = [
    "MAX_CALLBACK_ID",
    "MAX_MODAL_BLOCKS",
    "MAX_MODAL_TITLE",
    "MAX_PRIVATE_METADATA",
    "MAX_SECTION_TEXT",
    "block_problems",
    "view_problems",
]

# Limits Slack sets on views (Block Kit reference).
MAX_MODAL_BLOCKS = 100
MAX_MODAL_TITLE = 24
MAX_PRIVATE_METADATA = 3000
MAX_CALLBACK_ID = 255
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_HEADER_TEXT = 150


def block_problems(blocks: object, pointer: str) -> list[str]:
    """Return what Slack would refuse in the text of `blocks` (at json-pointer `pointer`)."""
    found: list[str] = []
    for number, block in enumerate(blocks if isinstance(blocks, list) else []):
        if not isinstance(block, Mapping):
            continue
        where = f"{pointer}/{number}"
        kind = block.get("type")
        text = block.get("text")
        body = text_of(text.get("text")) if isinstance(text, Mapping) else ""
        if kind == "section":
            if len(body) > MAX_SECTION_TEXT:
                limit = f"must be less than {MAX_SECTION_TEXT + 1} characters"
                found.append(problem(limit, f"{where}/text"))
            fields = block.get("fields") or []
            if len(fields) > MAX_FIELDS:
                found.append(problem(f"no more than {MAX_FIELDS} items allowed", f"{where}/fields"))
            for index, one in enumerate(fields):
                field_text = text_of(one.get("text")) if isinstance(one, Mapping) else ""
                if len(field_text) > MAX_FIELD_TEXT:
                    limit = f"must be less than {MAX_FIELD_TEXT + 1} characters"
                    found.append(problem(limit, f"{where}/fields/{index}/text"))
        elif kind == "header" and len(body) > MAX_HEADER_TEXT:
            limit = f"must be less than {MAX_HEADER_TEXT + 1} characters"
            found.append(problem(limit, f"{where}/text"))
        elif kind == "context" and len(block.get("elements") or []) > MAX_CONTEXT_ELEMENTS:
            limit = f"no more than {MAX_CONTEXT_ELEMENTS} items allowed"
            found.append(problem(limit, f"{where}/elements"))
    return found


def view_problems(view: Mapping[str, Any], *, expected_type: str) -> list[str]:
    """Return Slack-style explanations of what Slack would refuse in `view`."""
    problems: list[str] = []
    view_type = view.get("type")
    if view_type != expected_type:
        problems.append(problem(f"must be '{expected_type}'", "/view/type"))
    blocks = view.get("blocks") or []
    if len(blocks) > MAX_MODAL_BLOCKS:
        problems.append(problem(f"no more than {MAX_MODAL_BLOCKS} items allowed", "/view/blocks"))
    problems.extend(block_problems(blocks, "/view/blocks"))
    if len(text_of(view.get("private_metadata"))) > MAX_PRIVATE_METADATA:
        limit = f"must be no more than {MAX_PRIVATE_METADATA} characters"
        problems.append(problem(limit, "/view/private_metadata"))
    if len(text_of(view.get("callback_id"))) > MAX_CALLBACK_ID:
        limit = f"must be no more than {MAX_CALLBACK_ID} characters"
        problems.append(problem(limit, "/view/callback_id"))
    if view_type == "modal":
        if view.get("title") is None:
            problems.append(problem("missing required field: title", "/view"))
        for key in ("title", "submit", "close"):
            element = view.get(key)
            text = text_of(element.get("text")) if isinstance(element, Mapping) else ""
            if len(text) > MAX_MODAL_TITLE:
                limit = f"must be less than {MAX_MODAL_TITLE + 1} characters"
                problems.append(problem(limit, f"/view/{key}/text"))
        has_input = any(isinstance(b, Mapping) and b.get("type") == "input" for b in blocks)
        if has_input and view.get("submit") is None:
            problems.append(problem("submit is required with input blocks", "/view"))
    return problems
