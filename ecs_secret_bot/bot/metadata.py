"""What a modal remembers between opening and submission, and reading its inputs.

``ModalMeta`` is a small frozen dataclass serialised as JSON into ``private_metadata``:
names, region, channel, flags; never a value. It is not trusted: a missing or mangled one
reads as empty, and every submission is re-authorized by the core anyway. ``state_values``
flattens ``view.state.values`` into ``{block_id: value}``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["MAX_METADATA", "ModalMeta", "state_values"]

MAX_METADATA = 3000


@dataclass(frozen=True)
class ModalMeta:
    """Ids a modal carries: which secret, where it was asked, what was pre-filled."""

    name: str = ""
    region: str = ""
    channel_id: str = ""
    channel_name: str = ""
    dry_run: bool = False
    custom: bool = False
    sub_type: str = ""
    user_name: str = ""
    """The secret's OS user as KMS records it (CustomData), to pre-fill; never a value."""
    days: int | None = None
    now: bool = False
    reason: str = ""

    def dump(self) -> str:
        """Return the JSON for ``private_metadata`` (defaults left out, within 3000)."""
        data = {k: v for k, v in asdict(self).items() if v not in ("", False, None)}
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        if len(text) > MAX_METADATA:
            # names are at most 192 characters in KMS: only a long reason gets here
            data = {k: v[:400] if isinstance(v, str) else v for k, v in data.items()}
            text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        return text

    @classmethod
    def load(cls, text: object) -> ModalMeta:
        """Read ``private_metadata``; anything malformed reads as empty."""
        if not isinstance(text, str) or not text:
            return cls()
        try:
            data = json.loads(text)
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()
        kept: dict[str, Any] = {}
        for f in fields(cls):
            value = data.get(f.name)
            if f.name == "days":
                if isinstance(value, int) and not isinstance(value, bool):
                    kept["days"] = value
            elif f.name in ("dry_run", "custom", "now"):
                if isinstance(value, bool):
                    kept[f.name] = value
            elif isinstance(value, str):
                kept[f.name] = value[:1000]
        return cls(**kept)


def _value(state: dict[str, Any]) -> Any:
    kind = state.get("type")
    if kind in ("checkboxes", "multi_static_select", "multi_external_select"):
        return [
            str(o.get("value", ""))
            for o in state.get("selected_options") or []
            if isinstance(o, dict)
        ]
    if "selected_option" in state:
        option = state.get("selected_option")
        return str(option.get("value", "")) if isinstance(option, dict) else ""
    value = state.get("value")
    return "" if value is None else str(value)


def state_values(view: object) -> dict[str, Any]:
    """Return ``{block_id: value}`` of a view's inputs (lists for multi-choice ones)."""
    if not isinstance(view, dict):
        return {}
    state = view.get("state")
    values = state.get("values") if isinstance(state, dict) else None
    if not isinstance(values, dict):
        return {}
    flat: dict[str, Any] = {}
    for block_id, elements in values.items():
        if isinstance(elements, dict):
            for element in elements.values():
                if isinstance(element, dict):
                    flat[str(block_id)] = _value(element)
                    break
    return flat
