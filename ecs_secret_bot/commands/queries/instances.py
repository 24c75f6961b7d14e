"""The create modal's instance picker: ECS instances whose id or name contains what was typed.

Owns ``search_instances`` and ``InstanceOption``. Authorized as ``ecs:DescribeInstances`` on
the region's instances (``acs:ecs:<region>:<account>:instance/*``), then answered from the
core's ``InstanceDirectory``, so a picker asked at every keystroke costs one ECS listing per
region every 30 seconds and answers within Slack's 3-second options window.

Never calls KMS and never changes anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.gateway import Instance
from ecs_secret_bot.commands.queries.access import INSTANCES, authorize

__all__ = ["MAX_OPTIONS", "InstanceOption", "search_instances"]

MAX_OPTIONS = 100
"""Slack shows at most 100 options in an external select."""


@dataclass(frozen=True)
class InstanceOption:
    """One instance the picker may offer."""

    instance_id: str
    name: str
    status: str
    os_type: str
    """``linux`` or ``windows``."""
    os_name: str
    public_ips: tuple[str, ...] = ()
    """Assigned public IPs and the elastic IP, as ECS reports them."""

    @property
    def label(self) -> str:
        """Say it in one line: ``web-3 (i-web3) · Running · linux · 47.96.1.2``."""
        name = f"{self.name} ({self.instance_id})" if self.name else self.instance_id
        ip = self.public_ips[0] if self.public_ips else ""
        return " · ".join(part for part in (name, self.status, self.os_type, ip) if part)


def _rank(instance: Instance, query: str) -> tuple[int, str, str]:
    """Exact id first, then ids and names starting with the query, then the rest, by name."""
    ident, name = instance.instance_id.lower(), instance.name.lower()
    if ident == query:
        rank = 0
    elif ident.startswith(query) or name.startswith(query):
        rank = 1
    else:
        rank = 2
    return rank, name, ident


async def search_instances(
    region: str, query: str, *, actor: Actor, core: Core
) -> tuple[InstanceOption, ...]:
    """Return up to 100 instances of the region whose id or name contains ``query``."""
    where = core.region(region)
    authorize(core, actor, INSTANCES, core.instances_arn(where))
    snapshot = await core.instances.lookup(core.gateway, where)
    needle = query.strip().lower()
    found = [
        i for i in snapshot.instances if needle in i.instance_id.lower() or needle in i.name.lower()
    ]
    found.sort(key=lambda i: _rank(i, needle))
    return tuple(
        InstanceOption(
            instance_id=i.instance_id,
            name=i.name,
            status=i.status,
            os_type=i.os_type,
            os_name=i.os_name,
            public_ips=i.public_ips,
        )
        for i in found[:MAX_OPTIONS]
    )
