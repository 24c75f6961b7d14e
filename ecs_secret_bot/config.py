"""The configuration: one TOML file read once at start-up into frozen dataclasses.

Every mistake is a ``ConfigError`` that names the file, the key and what to write instead;
unknown keys are mistakes too (a typo must not silently turn a guardrail off). The
``[access]`` and ``[approval]`` tables are parsed by the policy engine's own parsers at load
time, so an invalid policy or approval rule stops start-up. Only ``load_settings`` and the
policy ``file``s the configuration names touch the file system; nothing here reads the
environment.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from ecs_secret_bot.cloud.endpoints import (
    CLOSED_REGIONS,
    REGIONS,
    REGIONS_CHECKED,
    REGIONS_SOURCE,
    Service,
    close_regions,
    endpoint_for,
)
from ecs_secret_bot.commands.approval.config import parse_approval_config
from ecs_secret_bot.commands.approval.rules import ApprovalConfig
from ecs_secret_bot.commands.durations import parse_duration
from ecs_secret_bot.commands.duty_config import DutySettings, parse_duty_config
from ecs_secret_bot.commands.policy.config import parse_access_config
from ecs_secret_bot.commands.policy.engine import AccessConfig
from ecs_secret_bot.commands.settings import (
    CloudSettings,
    RegionDefaults,
    RotationSettings,
    SweepSettings,
    check_sweep_concurrency,
)
from ecs_secret_bot.config_table import Table as _Table
from ecs_secret_bot.config_table import kind_of as _kind
from ecs_secret_bot.errors import ConfigError
from ecs_secret_bot.storage_settings import StorageSettings, parse_storage

__all__ = [
    "CloudSettings",
    "RegionDefaults",
    "RotationSettings",
    "Settings",
    "StorageSettings",
    "SweepSettings",
    "load_settings",
    "parse_settings",
]

T = TypeVar("T")

_REGION = re.compile(r"^[a-z]{2,}(-[a-z0-9]+)+$")
_ACCOUNT = re.compile(r"^(\*|\d{16})$")
_ENDPOINT = re.compile(r"^(https?://)?[A-Za-z0-9.-]+(:\d{1,5})?/?$")


@dataclass(frozen=True)
class Settings:
    """The whole configuration, validated."""

    source: Path | None = None
    cloud: CloudSettings = CloudSettings()
    storage: StorageSettings = StorageSettings()
    rotation: RotationSettings = RotationSettings()
    sweep: SweepSettings = SweepSettings()
    access: Mapping[str, Any] = field(default_factory=dict)
    """The ``[access]`` table, checked by the policy engine."""
    approval: Mapping[str, Any] = field(default_factory=dict)
    """The ``[approval]`` table, checked by the approval workflow."""
    policies: AccessConfig = field(default_factory=AccessConfig.empty)
    """``[access]`` parsed: policies (built-ins included), bindings, guardrails."""
    approval_rules: ApprovalConfig = field(default_factory=ApprovalConfig)
    """``[approval]`` parsed: rules, the fallback channel, ``stale_after``."""
    reminders_before: tuple[timedelta, ...] = (timedelta(days=3), timedelta(days=1))
    duties: DutySettings = DutySettings()


def _region(value: Any) -> str:
    if not isinstance(value, str) or not _REGION.match(value):
        raise ValueError(f'{value!r} is not a region id; write one like "cn-hangzhou"')
    return value


def _endpoint(value: Any) -> str:
    """Check ``[http://|https://]host[:port]``, where the host may hold ``{region}``."""
    if not isinstance(value, str) or not _ENDPOINT.match(value.replace("{region}", "cn-x")):
        raise ValueError(
            f"{value!r} is not an endpoint; write a host with an optional scheme and port, "
            'like "http://127.0.0.1:9000" or "kms-vpc.{region}.aliyuncs.com" ({region} is '
            "the region id)"
        )
    return value


def _network(value: Any) -> str:
    if value not in ("public", "vpc"):
        raise ValueError(f'{value!r} is not a network; write "public" or "vpc"')
    return str(value)


def _region_defaults(table: _Table) -> RegionDefaults:
    return RegionDefaults(
        dkms_instance_id=table.get("dkms_instance_id", str, "") or None,
        encryption_key_id=table.get("encryption_key_id", str, "") or None,
        kms_endpoint=table.convert("kms_endpoint", None, _endpoint),
        ecs_endpoint=table.convert("ecs_endpoint", None, _endpoint),
    )


def _check_known_region(table: _Table, key: str, region: str, cloud: CloudSettings) -> None:
    """Refuse a region Alibaba Cloud does not have, unless its endpoints are given."""
    own = cloud.region_defaults.get(region, RegionDefaults())
    if region in REGIONS or (own.kms_endpoint and own.ecs_endpoint):
        return
    if region in CLOSED_REGIONS:
        problem = f"{region!r} is closed ({CLOSED_REGIONS[region]})"
    else:
        guesses = close_regions(region)
        problem = f"{region!r} is not a region Alibaba Cloud KMS serves" + (
            f' (did you mean "{guesses[0]}"?)' if guesses else ""
        )
    raise table.error(
        key,
        problem,
        f"Write a region id from {REGIONS_SOURCE} (known on {REGIONS_CHECKED}: "
        f"{', '.join(REGIONS)}); for a newer region, give its kms_endpoint and ecs_endpoint "
        f"under [cloud.region_defaults.{region}].",
    )


def _check_one_region_per_endpoint(table: _Table, cloud: CloudSettings) -> None:
    """Refuse two regions sent to one endpoint: Alibaba Cloud routes by the endpoint."""
    services: tuple[Service, ...] = ("kms", "ecs")
    for service in services:
        seen: dict[str, str] = {}
        for region in cloud.regions:
            url = endpoint_for(cloud, service, region).url
            if url not in seen:
                seen[url] = region
                continue
            mine = cloud.region_defaults.get(region, RegionDefaults())
            own = mine.kms_endpoint if service == "kms" else mine.ecs_endpoint
            key = f"region_defaults.{region}.{service}_endpoint" if own else f"{service}_endpoint"
            raise table.error(
                key,
                f"{url} would serve both {seen[url]} and {region}, but Alibaba Cloud routes a "
                "call by the endpoint it is sent to: the calls of one region would reach the other",
                f'Write {{region}} into it (like "{service}-vpc.{{region}}.aliyuncs.com")'
                f", or give each region its own under [cloud.region_defaults.<region>] "
                f"{service}_endpoint.",
            )


def _positive_duration(value: Any) -> timedelta:
    if not isinstance(value, str):
        raise ValueError(f'must be a duration string like "10m", not {_kind(value)}')
    parsed = parse_duration(value)
    if parsed <= timedelta(0):
        raise ValueError("must be longer than zero")
    return parsed


def _parse_cloud(table: _Table) -> CloudSettings:
    default_region = table.convert("default_region", "cn-hangzhou", _region)
    regions_value = table.get("regions", list, [default_region])
    regions: list[str] = []
    for index, item in enumerate(regions_value):
        try:
            regions.append(_region(item))
        except ValueError as exc:
            raise table.error(f"regions[{index}]", str(exc)) from None
    if not regions:
        raise table.error("regions", "must name at least one region")
    if default_region not in regions:
        raise table.error(
            "default_region",
            f"{default_region!r} is not in cloud.regions {regions}; add it to the list",
        )
    account_id = table.get("account_id", str, "*")
    if not _ACCOUNT.match(account_id):
        raise table.error("account_id", f'{account_id!r} is not a 16-digit account id (or "*")')
    per_region: dict[str, RegionDefaults] = {}
    overrides = table.sub("region_defaults")
    for region in list(overrides.data):
        if region not in regions:
            raise overrides.error(region, f"{region!r} is not in cloud.regions {regions}")
        one = overrides.sub(region)
        per_region[region] = _region_defaults(one)
        one.finish()
    max_attempts = table.get("max_attempts", int, 4)
    if not 1 <= max_attempts <= 10:
        raise table.error("max_attempts", "must be between 1 and 10")
    defaults = _region_defaults(table)
    settings = CloudSettings(
        default_region=default_region,
        regions=tuple(regions),
        account_id=account_id,
        network=table.convert("network", "public", _network),
        kms_endpoint=defaults.kms_endpoint,
        ecs_endpoint=defaults.ecs_endpoint,
        sts_endpoint=table.convert("sts_endpoint", None, _endpoint),
        defaults=RegionDefaults(defaults.dkms_instance_id, defaults.encryption_key_id),
        region_defaults=per_region,
        read_timeout=table.convert("read_timeout", timedelta(seconds=10), _positive_duration),
        connect_timeout=table.convert("connect_timeout", timedelta(seconds=5), _positive_duration),
        max_attempts=max_attempts,
    )
    table.finish()
    for index, region in enumerate(regions):
        key = f"regions[{index}]" if "regions" in table.data else "default_region"
        _check_known_region(table, key, region, settings)
    _check_one_region_per_endpoint(table, settings)
    return settings


def _read_policy_file(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def parse_settings(
    data: Mapping[str, Any],
    *,
    source: Path | None = None,
    read_text: Callable[[Path], str] = _read_policy_file,
) -> Settings:
    """Validate an already-parsed TOML document; raise ConfigError naming the bad key."""
    file = str(source) if source else "configuration"
    base = source.parent if source else Path.cwd()
    top = _Table(data, file=file, key="")
    cloud = _parse_cloud(top.sub("cloud"))

    storage = parse_storage(
        top.sub("storage"),
        base=base,
        regions=cloud.regions,
        default_region=cloud.default_region,
        region=_region,
    )

    rotation_table = top.sub("rotation")
    rotation = RotationSettings(
        follow_up_timeout=rotation_table.convert(
            "follow_up_timeout", timedelta(minutes=10), _positive_duration
        )
    )
    rotation_table.finish()

    sweep_table = top.sub("sweep")
    sweep = SweepSettings(sweep_table.convert("concurrency", 5, check_sweep_concurrency))
    sweep_table.finish()

    reminders_table = top.sub("reminders")

    def _reminders(value: Any) -> tuple[timedelta, ...]:
        if not isinstance(value, list) or not value:
            raise ValueError('must be a list of durations, like ["3d", "1d"]')
        return tuple(sorted((_positive_duration(v) for v in value), reverse=True))

    reminders = reminders_table.convert("before", Settings.reminders_before, _reminders)
    reminders_table.finish()

    access, approval, duties = top.raw("access"), top.raw("approval"), top.raw("duties")
    top.finish()
    policies = parse_access_config(access, file=file, base=base, read_text=read_text)
    approval_rules = parse_approval_config(approval, file=file)
    return Settings(
        source=source,
        cloud=cloud,
        storage=storage,
        rotation=rotation,
        sweep=sweep,
        access=access,
        approval=approval,
        policies=policies,
        approval_rules=approval_rules,
        reminders_before=reminders,
        duties=parse_duty_config(duties, file=file),
    )


def load_settings(path: Path) -> Settings:
    """Read and validate the TOML file at ``path``."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            "no configuration file here",
            file=str(path),
            next_step="Create it (see ecs-secret-bot.example.toml) or set ECS_SECRET_BOT_CONFIG "
            "to its path.",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot be read: {exc.strerror}", file=str(path)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("is not UTF-8 text", file=str(path)) from None
    try:
        return parse_settings(tomllib.loads(text), source=path.resolve())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"is not valid TOML: {exc}", file=str(path)) from None
    except RecursionError:
        # tomllib and json recurse once per level of nesting: a file nested thousands of
        # levels deep (in TOML, or in a policy file it names) is refused, not a traceback.
        raise ConfigError(
            "is nested too deeply to be a configuration (lists or tables inside each other "
            "thousands of levels deep, here or in a policy file it names)",
            file=str(path),
            next_step="Write the configuration as ecs-secret-bot.example.toml does.",
        ) from None
