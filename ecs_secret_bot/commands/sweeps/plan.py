"""Plan a sweep: select the secrets, pre-flight each, authorize each, bind the set.

Owns selection (the ECS secrets of each region matched by instance, instance tag and name
glob), the pre-flight of each secret (instance Running, Cloud Assistant online, no rotation
in flight, under KMS's hourly limit), the per-secret authorization (``kms:RotateSecret``
routed exactly as a single generated rotation is: guardrails, Deny, gating and opening
approval rules), the strictest holding rule and the digest of the runnable set. Changes
nothing: a dry run is a plan. Never runs a rotation.
"""

from __future__ import annotations

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.sweeps.model import SweepPlan, SweepSelector

__all__ = ["parse_tag", "plan_sweep"]


def parse_tag(text: str) -> tuple[str, str]:
    """Parse ``key=value`` into a tag selector; raise InvalidInput when it is not one."""
    raise NotImplementedError


async def plan_sweep(selector: SweepSelector, *, actor: Actor, core: Core) -> SweepPlan:
    """Work out the exact set a sweep would rotate for ``actor``, with each secret's state."""
    raise NotImplementedError
