"""Reading a TOML table key by key, for ``config``: every mistake names the key.

Owns ``Table`` (typed reads with a default, conversions whose ValueError becomes a
``ConfigError`` naming the key, sub-tables, and ``finish``, which refuses keys never read:
a typo must not silently turn a setting off) and ``kind_of`` (a value's kind in words).
Never reads a file or the environment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ecs_secret_bot.errors import ConfigError

__all__ = ["Table", "kind_of"]

T = TypeVar("T")


class Table:
    """A TOML table read key by key; ``finish`` rejects what was never read."""

    def __init__(self, data: Any, *, file: str, key: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"must be a table, not {kind_of(data)}", file=file, key=key or "top level"
            )
        self.data = data
        self.file = file
        self.key = key
        self._seen: set[str] = set()

    def _path(self, name: str) -> str:
        return f"{self.key}.{name}" if self.key else name

    def error(self, name: str, message: str, next_step: str = "") -> ConfigError:
        return ConfigError(message, file=self.file, key=self._path(name), next_step=next_step)

    def get(self, name: str, kind: type[T], default: T) -> T:
        self._seen.add(name)
        if name not in self.data:
            return default
        value = self.data[name]
        if kind is int and isinstance(value, bool):
            raise self.error(name, "must be a whole number, not true/false")
        if not isinstance(value, kind):
            raise self.error(name, f"must be {_article(kind)}, not {kind_of(value)}")
        return value

    def convert(self, name: str, default: T, parse: Callable[[Any], T]) -> T:
        self._seen.add(name)
        if name not in self.data:
            return default
        try:
            return parse(self.data[name])
        except (ValueError, TypeError) as exc:
            raise self.error(name, str(exc)) from None

    def sub(self, name: str) -> Table:
        self._seen.add(name)
        return Table(self.data.get(name, {}), file=self.file, key=self._path(name))

    def raw(self, name: str) -> Mapping[str, Any]:
        self._seen.add(name)
        value = self.data.get(name, {})
        if not isinstance(value, Mapping):
            raise self.error(name, f"must be a table, not {kind_of(value)}")
        return value

    def finish(self, allowed_hint: str = "") -> None:
        unknown = sorted(set(self.data) - self._seen)
        if unknown:
            raise ConfigError.unknown_key(
                unknown[0], table=self.key, allowed=self._seen, file=self.file, hint=allowed_hint
            )


def kind_of(value: Any) -> str:
    return {
        bool: "true/false",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _article(kind: type) -> str:
    return {str: "a string", int: "a whole number", bool: "true or false", list: "a list"}.get(
        kind, kind.__name__
    )
