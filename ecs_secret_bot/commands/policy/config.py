"""The ``[access]`` table of the configuration, turned into an ``AccessConfig``.

Owns the checks that stop a bad configuration at start-up, each a ``ConfigError`` naming
the file, the key, and for a policy its statement and the problem: unknown keys, a policy
that redefines a built-in, a binding to an undefined policy, a malformed principal or
``role_arn`` (the RAM role a binding's principals act as), a guardrail that names a
channel instead of giving its id. Reads a policy ``file`` only
through the ``read_text`` function it is handed, so the caller decides what I/O happens.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ecs_secret_bot.commands.policy.builtins import BUILTIN_POLICY_DOCUMENTS, builtin_policies
from ecs_secret_bot.commands.policy.documents import (
    PolicyDocument,
    PolicyError,
    parse_policy_document,
)
from ecs_secret_bot.commands.policy.engine import AccessConfig, Binding, Guardrail
from ecs_secret_bot.commands.policy.patterns import check_principal_pattern
from ecs_secret_bot.errors import ConfigError

__all__ = ["parse_access_config", "read_principals"]

_POLICY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_CHANNEL = re.compile(r"^[A-Z0-9*?]+$")
_ROLE_ARN = re.compile(r"^acs:ram::\d{16}:role/[A-Za-z0-9.-]{1,64}$")


def parse_access_config(
    data: Mapping[str, Any],
    *,
    file: str = "configuration",
    base: Path | None = None,
    read_text: Callable[[Path], str] | None = None,
) -> AccessConfig:
    """Validate the ``[access]`` table; raise ConfigError naming what to fix."""
    allowed = ("policies", "bindings", "guardrails")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ConfigError.unknown_key(unknown[0], table="access", allowed=allowed, file=file)
    policies: dict[str, PolicyDocument] = builtin_policies()
    raw_policies = data.get("policies", {})
    if not isinstance(raw_policies, Mapping):
        raise ConfigError("must be a table of named policies", file=file, key="access.policies")
    for name, body in raw_policies.items():
        policies[name] = _parse_named_policy(
            name, body, file=file, base=base or Path.cwd(), read_text=read_text
        )
    bindings = [
        Binding(
            principals=read_principals(
                entry, "principals", file=file, key="access.bindings", number=number
            ),
            policies=_policy_names(entry, policies, file=file, key="access.bindings", n=number),
            number=number,
            role_arn=_role_arn(entry, file=file, number=number),
        )
        for number, entry in _tables(
            data, "bindings", ("principals", "policies", "role_arn"), file=file
        )
    ]
    guardrails = [
        Guardrail(
            channels=_channels(entry, file=file, number=number),
            policies=_policy_names(entry, policies, file=file, key="access.guardrails", n=number),
            number=number,
        )
        for number, entry in _tables(data, "guardrails", ("channels", "policies"), file=file)
    ]
    return AccessConfig(policies=policies, bindings=bindings, guardrails=guardrails)


def _parse_named_policy(
    name: str,
    body: Any,
    *,
    file: str,
    base: Path,
    read_text: Callable[[Path], str] | None,
) -> PolicyDocument:
    key = f"access.policies.{name}"
    if name in BUILTIN_POLICY_DOCUMENTS:
        raise ConfigError(
            f"{name!r} is the name of a built-in policy and cannot be redefined",
            file=file,
            key=key,
            next_step="Bind the built-in as it is, or give your policy another name.",
        )
    if not _POLICY_NAME.match(name):
        raise ConfigError(
            f"{name!r} is not a policy name; use letters, digits, '.', '_' and '-'",
            file=file,
            key=key,
        )
    source = "configuration"
    where = file
    if isinstance(body, Mapping) and "file" in body:
        if set(body) != {"file"} or not isinstance(body["file"], str):
            raise ConfigError(
                'a policy read from a file has only file = "<name>.json"', file=file, key=key
            )
        path = base / body["file"]
        if read_text is None:
            raise ConfigError("policy files cannot be read here", file=file, key=key)
        try:
            body = json.loads(read_text(path))
        except OSError as exc:
            raise ConfigError(
                f"policy file {str(path)!r} cannot be read: {exc.strerror or exc}",
                file=file,
                key=key,
            ) from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(
                f"is not a RAM policy in JSON: {exc}", file=str(path), key=key
            ) from None
        source = where = str(path)
    try:
        return parse_policy_document(name, body, source=source)
    except PolicyError as exc:
        raise ConfigError(str(exc), file=where, key=key) from None


def _tables(
    data: Mapping[str, Any], name: str, keys: tuple[str, ...], *, file: str
) -> list[tuple[int, Mapping[str, Any]]]:
    raw = data.get(name, [])
    if not isinstance(raw, list):
        raise ConfigError(
            f"must be a list of tables: write [[access.{name}]]", file=file, key=f"access.{name}"
        )
    entries = []
    for number, entry in enumerate(raw, start=1):
        what = f"{name[:-1]} {number}"
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{what} must be a table", file=file, key=f"access.{name}")
        for key in entry:
            if key not in keys:
                raise ConfigError(
                    f"{what}: unknown key {key!r}; the keys allowed are {', '.join(keys)}",
                    file=file,
                    key=f"access.{name}",
                )
        entries.append((number, entry))
    return entries


def _strings(entry: Mapping[str, Any], name: str, *, what: str, file: str, key: str) -> list[str]:
    value = entry.get(name)
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(item, str) and item for item in value)
    ):
        raise ConfigError(f"{what}: {name} must be a non-empty list of strings", file=file, key=key)
    return value


def read_principals(
    entry: Mapping[str, Any], name: str, *, file: str, key: str, number: int
) -> tuple[str, ...]:
    """Read a list of principal patterns from ``entry[name]``; raise ConfigError when malformed."""
    what = f"{key.rsplit('.', 1)[-1].removesuffix('s')} {number}"
    principals = _strings(entry, name, what=what, file=file, key=key)
    for principal in principals:
        problem = check_principal_pattern(principal)
        if problem:
            raise ConfigError(f"{what}: {problem}", file=file, key=key)
    return tuple(principals)


def _policy_names(
    entry: Mapping[str, Any], policies: Mapping[str, PolicyDocument], *, file: str, key: str, n: int
) -> tuple[str, ...]:
    what = f"{key.rsplit('.', 1)[-1].removesuffix('s')} {n}"
    names = _strings(entry, "policies", what=what, file=file, key=key)
    for name in names:
        if name not in policies:
            defined = ", ".join(sorted(policies))
            raise ConfigError(
                f"{what}: no policy is named {name!r}",
                file=file,
                key=key,
                next_step=f"Define it under [access.policies.{name}] or use one of: {defined}.",
            )
    return tuple(names)


def _channels(entry: Mapping[str, Any], *, file: str, number: int) -> tuple[str, ...]:
    what = f"guardrail {number}"
    channels = _strings(entry, "channels", what=what, file=file, key="access.guardrails")
    for channel in channels:
        if channel.startswith("#") or not _CHANNEL.match(channel):
            raise ConfigError(
                f"{what}: {channel!r} is not a channel id",
                file=file,
                key="access.guardrails",
                next_step="Give the channel's id (like C0INCIDENTS, from the channel's "
                "details), not its name: a renamed channel would slip out of its guardrail.",
            )
    return tuple(channels)


def _role_arn(entry: Mapping[str, Any], *, file: str, number: int) -> str | None:
    value = entry.get("role_arn")
    if value is None:
        return None
    if not isinstance(value, str) or not _ROLE_ARN.match(value):
        raise ConfigError(
            f"binding {number}: role_arn {value!r} is not the ARN of a RAM role",
            file=file,
            key="access.bindings",
            next_step='Write it as the RAM console shows it: "acs:ram::<16-digit account '
            'id>:role/<role name>".',
        )
    return value
