"""What a modal remembers between opening and submission, and reading its inputs.

``ModalMeta`` (and ``SweepMeta``, the sweep modal's) is a small frozen dataclass
serialised as JSON into ``private_metadata``:
names, region, channel, flags; never a value. The JSON is sealed with an HMAC under the
bot's own metadata key (``key``: random, kept encrypted in the database, so every replica
and every restart shares it; a key of its own, so not even the signing secret forges it),
so the context a modal carries (its channel, its secret) is the one the bot gave it: an
edited ``private_metadata`` fails ``sealed`` and reads as empty, and the middleware refuses
the request. Every submission is re-authorized by the core anyway. ``state_values``
flattens ``view.state.values`` into ``{block_id: value}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = ["MAX_METADATA", "ModalMeta", "SweepMeta", "seal", "sealed", "state_values"]

MAX_METADATA = 3000
_TAG_CHARS = 22
"""Characters of the seal: 16 bytes of HMAC-SHA256, base64url without padding."""


def _tag(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode("utf-8"), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def seal(body: str, key: bytes) -> str:
    """Return ``body`` sealed under ``key``, as ``private_metadata`` carries it."""
    return f"{_tag(key, body)}.{body}"


def _open(text: str, key: bytes) -> str | None:
    """Return the JSON inside sealed ``text``, or None if its seal does not hold."""
    tag, dot, body = text.partition(".")
    if not dot or len(tag) != _TAG_CHARS or not key:
        return None
    return body if hmac.compare_digest(tag, _tag(key, body)) else None


def sealed(text: object, key: bytes) -> bool:
    """Say whether ``private_metadata`` text is empty or carries a seal that holds."""
    return text in (None, "") or (isinstance(text, str) and _open(text, key) is not None)


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
    key: bytes = field(default=b"", repr=False, compare=False)
    """The bot's metadata key, which seals ``dump`` (never itself in the metadata)."""

    def dump(self) -> str:
        """Return the sealed JSON for ``private_metadata`` (defaults left out, within 3000)."""
        data = {k: v for k, v in asdict(self).items() if k != "key" and v not in ("", False, None)}
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        if len(text) > MAX_METADATA - _TAG_CHARS - 1:
            # names are at most 192 characters in KMS: only a long reason gets here
            data = {k: v[:400] if isinstance(v, str) else v for k, v in data.items()}
            text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        return seal(text, self.key) if self.key else text

    @classmethod
    def load(cls, text: object, *, key: bytes) -> ModalMeta:
        """Read sealed ``private_metadata``; anything malformed or unsealed reads as empty."""
        body = _open(text, key) if isinstance(text, str) else None
        if body is None:
            return cls(key=key)
        try:
            data = json.loads(body)
        except ValueError:
            return cls(key=key)
        if not isinstance(data, dict):
            return cls(key=key)
        kept: dict[str, Any] = {"key": key}
        for f in fields(cls):
            value = data.get(f.name)
            if f.name == "key":
                continue
            if f.name == "days":
                if isinstance(value, int) and not isinstance(value, bool):
                    kept["days"] = value
            elif f.name in ("dry_run", "custom", "now"):
                if isinstance(value, bool):
                    kept[f.name] = value
            elif isinstance(value, str):
                kept[f.name] = value[:1000]
        return cls(**kept)


@dataclass(frozen=True)
class SweepMeta:
    """What the sweep modal carries: the selector, where it was asked, the set it showed.

    ``digest`` is the runnable set the person saw: a submission whose set has changed
    since is shown again rather than run (the approval binds to a set, and so does the
    person's confirmation). Sealed as ``ModalMeta`` is.
    """

    instances: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    match: str = ""
    region: str = ""
    channel_id: str = ""
    channel_name: str = ""
    digest: str = ""
    key: bytes = field(default=b"", repr=False, compare=False)

    def dump(self) -> str:
        """Return the sealed JSON for ``private_metadata``."""
        data = {k: v for k, v in asdict(self).items() if k != "key" and v not in ("", (), [])}
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        return seal(text, self.key) if self.key else text

    @classmethod
    def load(cls, text: object, *, key: bytes) -> SweepMeta:
        """Read sealed ``private_metadata``; anything malformed or unsealed reads as empty."""
        body = _open(text, key) if isinstance(text, str) else None
        try:
            data = json.loads(body) if body is not None else None
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return cls(key=key)
        strings = {
            name: data[name][:1000]
            for name in ("match", "region", "channel_id", "channel_name", "digest")
            if isinstance(data.get(name), str)
        }
        instances = tuple(str(i) for i in data.get("instances") or () if isinstance(i, str))
        tags = tuple(
            (str(t[0]), str(t[1]))
            for t in data.get("tags") or ()
            if isinstance(t, list) and len(t) == 2
        )
        return cls(instances=instances, tags=tags, key=key, **strings)


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
