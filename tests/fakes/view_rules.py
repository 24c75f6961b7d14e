"""What Slack refuses in a view, whatever method carries it.

Owns `view_problems` and the limits it checks (Block Kit reference): a modal title,
submit or close text over 24 characters, over 100 blocks, input blocks without a
submit button, `private_metadata` over 3000 characters, `callback_id` over 255,
the wrong view type. Each problem is worded as Slack words it in
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
    "view_problems",
]

# Limits Slack sets on views (Block Kit reference).
MAX_MODAL_BLOCKS = 100
MAX_MODAL_TITLE = 24
MAX_PRIVATE_METADATA = 3000
MAX_CALLBACK_ID = 255


def view_problems(view: Mapping[str, Any], *, expected_type: str) -> list[str]:
    """Return Slack-style explanations of what Slack would refuse in `view`."""
    problems: list[str] = []
    view_type = view.get("type")
    if view_type != expected_type:
        problems.append(problem(f"must be '{expected_type}'", "/view/type"))
    blocks = view.get("blocks") or []
    if len(blocks) > MAX_MODAL_BLOCKS:
        problems.append(problem(f"no more than {MAX_MODAL_BLOCKS} items allowed", "/view/blocks"))
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
