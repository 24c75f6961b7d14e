"""A fleet for sweeps: many instances across regions, with tags, and ECS secrets on each.

``seed_fleet`` adds ``instances`` instances (``fleet-000``, ``fleet-001``, ...) spread
round-robin over ``regions``, each tagged ``fleet=sweep``, ``team`` (web, db, batch in
turn) and ``env`` (``prod`` for even numbers, ``staging`` for odd ones), and
``secrets_per_instance`` ECS secrets on each (up to four: the root password, the deploy
user's password, the ``ecs-user`` SSH key, the ``admin`` password), named
``<instance name>-<what>``. Instance ids look like ECS's (``i-`` and 20 characters,
unique per fleet). It is deterministic: the same arguments give the same fleet.

    fleet = seed_fleet(sb, regions=("cn-hangzhou", "cn-shanghai"))   # 200 secrets, 50 hosts
    fleet.instances[0].instance_id, fleet.secrets_of(fleet.instances[0].instance_id)

Owns the shape of the fleet only; ``world.World`` validates and stores it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ecs_secret_bot.sandbox.world import World

__all__ = ["FLEET_SECRETS", "Fleet", "FleetInstance", "FleetSecret", "seed_fleet"]

FLEET_SECRETS: tuple[tuple[str, str, str], ...] = (
    # suffix, user, sub type
    ("root", "root", "Password"),
    ("deploy", "deploy", "Password"),
    ("ecs-user-key", "ecs-user", "SSHKey"),
    ("admin", "admin", "Password"),
)
_TEAMS = ("web", "db", "batch")


@dataclass(frozen=True)
class FleetInstance:
    """One instance of the fleet."""

    region: str
    instance_id: str
    name: str
    tags: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class FleetSecret:
    """One ECS secret of the fleet (its full name, ``acs/ecs/...``)."""

    region: str
    name: str
    instance_id: str
    user_name: str
    sub_type: str


@dataclass(frozen=True)
class Fleet:
    """What ``seed_fleet`` added."""

    instances: tuple[FleetInstance, ...]
    secrets: tuple[FleetSecret, ...]

    def secrets_of(self, instance_id: str) -> tuple[FleetSecret, ...]:
        """Return the secrets of one instance."""
        return tuple(s for s in self.secrets if s.instance_id == instance_id)


def seed_fleet(
    world: World,
    *,
    regions: Sequence[str],
    instances: int = 50,
    secrets_per_instance: int = 4,
    prefix: str = "fleet",
) -> Fleet:
    """Add ``instances`` tagged instances over ``regions`` with their ECS secrets; return them."""
    if not regions:
        raise ValueError("a fleet needs at least one region")
    if not 1 <= secrets_per_instance <= len(FLEET_SECRETS):
        raise ValueError(f"secrets_per_instance must be 1 to {len(FLEET_SECRETS)}")
    if instances < 0:
        raise ValueError("instances must be zero or more")
    added: list[FleetInstance] = []
    secrets: list[FleetSecret] = []
    for number in range(instances):
        region = regions[number % len(regions)]
        name = f"{prefix}-{number:03d}"
        instance_id = _instance_id(prefix, number)
        tags = {"fleet": "sweep", "team": _TEAMS[number % 3], "env": _env(number)}
        world.add_instance(region, instance_id, name=name, tags=tags)
        added.append(FleetInstance(region, instance_id, name, tuple(sorted(tags.items()))))
        for suffix, user, sub_type in FLEET_SECRETS[:secrets_per_instance]:
            full = world.add_ecs_secret(
                region,
                f"{name}-{suffix}",
                instance_id=instance_id,
                user_name=user,
                sub_type=sub_type,
                tags={"fleet": "sweep"},
                description=f"fleet: {user} on {name}",
            )
            secrets.append(FleetSecret(region, full, instance_id, user, sub_type))
    return Fleet(tuple(added), tuple(secrets))


def _env(number: int) -> str:
    return "prod" if number % 2 == 0 else "staging"


def _instance_id(prefix: str, number: int) -> str:
    stem = "".join(c for c in prefix.lower() if c.isalnum())[:8] or "fleet"
    return f"i-sw{stem}{number:05d}".ljust(22, "0")[:22]
