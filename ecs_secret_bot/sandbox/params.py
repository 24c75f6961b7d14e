"""Typed reading of RPC request parameters (all strings on the wire).

The SDK sends every parameter as a string: booleans as ``True``/``False`` (Python
``str(bool)``), numbers with ``str()``, objects as compact JSON, lists as ``Name.1``,
``Name.2``. ``Params`` turns them back into values, or raises the gateway's
``Missing<Name>`` / KMS ``InvalidParameter`` naming the parameter.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ecs_secret_bot.sandbox.errors import ApiError, invalid_parameter, missing_parameter

__all__ = ["Params"]


class Params:
    """The decoded parameters of one call."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def required(self, name: str) -> str:
        """Return parameter ``name``; raise ``Missing<name>`` when absent or empty."""
        value = self.values.get(name)
        if value is None or value == "":
            raise missing_parameter(name)
        return value

    def text(self, name: str, default: str | None = None) -> str | None:
        """Return parameter ``name`` or ``default`` when absent or empty."""
        value = self.values.get(name)
        return default if value is None or value == "" else value

    def boolean(self, name: str, default: bool) -> bool:
        """Return a ``true``/``false`` parameter (any case), or ``default``."""
        value = self.text(name)
        if value is None:
            return default
        lowered = value.strip().lower()
        if lowered not in ("true", "false"):
            raise invalid_parameter(name, f"{value!r} is not true or false.")
        return lowered == "true"

    def integer(self, name: str, default: int, *, low: int, high: int) -> int:
        """Return a whole-number parameter within ``low..high``, or ``default``."""
        value = self.text(name)
        if value is None:
            return default
        try:
            number = int(value.strip())
        except ValueError:
            raise invalid_parameter(name, f"{value!r} is not a whole number.") from None
        if not low <= number <= high:
            raise invalid_parameter(name, f"{number} is out of range; use {low} to {high}.")
        return number

    def json_value(self, name: str) -> Any:
        """Return a JSON parameter decoded, None when absent."""
        value = self.text(name)
        if value is None:
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise invalid_parameter(name, "it is not valid JSON.") from None

    def indexed(self, name: str, *, limit: int) -> list[str]:
        """Return a list sent as ``name.1``, ``name.2``, ... in index order."""
        items: list[tuple[int, str]] = []
        prefix = name + "."
        for key, value in self.values.items():
            if key.startswith(prefix) and key[len(prefix) :].isdigit():
                items.append((int(key[len(prefix) :]), value))
        if len(items) > limit:
            raise ApiError(
                400, f"InvalidParameter.{name}", f"At most {limit} values of {name} are allowed."
            )
        return [value for _, value in sorted(items)]
