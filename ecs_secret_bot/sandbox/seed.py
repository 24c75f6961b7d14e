"""Demo data, and storing ECS secrets directly (without an API call).

``seed_demo`` gives a fresh sandbox something to look at in ``cn-hangzhou``:

=====================  ===================  =======  ========  ===============
instance               name                 OS       status    Cloud Assistant
=====================  ===================  =======  ========  ===============
i-bp1sbxweb3000000001  web-3                linux    Running   online
i-bp1sbxweb4000000002  web-4                linux    Running   online
i-bp1sbxwin1000000003  win-app-1            windows  Running   online
i-bp1sbxdb10000000004  db-1                 linux    Stopped   online
i-bp1sbxbat7000000005  batch-7              linux    Running   offline
=====================  ===================  =======  ========  ===============

and the ECS secrets ``acs/ecs/web-3-root`` (Password, root, rotation every 7 days),
``acs/ecs/web-4-ecs-user-key`` (SSHKey, ecs-user), ``acs/ecs/win-app-1-admin``
(Password, Administrator), ``acs/ecs/db-1-root`` (rotation fails: instance stopped)
and ``acs/ecs/batch-7-root`` (rotation fails: Cloud Assistant offline).

Seeded values are random passwords and one RSA key pair generated once per process
(key generation is slow and a demo key need not be unique); nothing prints them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ecs_secret_bot.sandbox.credentials import generate_key_pair, generate_password
from ecs_secret_bot.sandbox.errors import ApiError
from ecs_secret_bot.sandbox.kms_state import ACS_CURRENT, Secret, Version
from ecs_secret_bot.sandbox.validation import (
    ECS_PREFIX,
    check_ecs_secret_data,
    check_secret_name,
    check_version_id,
    parse_extended_config,
    parse_rotation_interval,
)

if TYPE_CHECKING:
    from ecs_secret_bot.sandbox.server import Sandbox

__all__ = ["DEMO_INSTANCES", "DEMO_REGION", "DEMO_SECRETS", "direct_ecs_secret", "seed_demo"]

DEMO_REGION = "cn-hangzhou"
DEMO_INSTANCES: tuple[tuple[str, str, str, str, bool], ...] = (
    # instance id, name, OS type, status, Cloud Assistant online
    ("i-bp1sbxweb3000000001", "web-3", "linux", "Running", True),
    ("i-bp1sbxweb4000000002", "web-4", "linux", "Running", True),
    ("i-bp1sbxwin1000000003", "win-app-1", "windows", "Running", True),
    ("i-bp1sbxdb10000000004", "db-1", "linux", "Stopped", True),
    ("i-bp1sbxbat7000000005", "batch-7", "linux", "Running", False),
)
DEMO_SECRETS: tuple[tuple[str, str, str, str, str | None], ...] = (
    # name, instance id, user, sub type, rotation interval
    ("acs/ecs/web-3-root", "i-bp1sbxweb3000000001", "root", "Password", "7d"),
    ("acs/ecs/web-4-ecs-user-key", "i-bp1sbxweb4000000002", "ecs-user", "SSHKey", None),
    ("acs/ecs/win-app-1-admin", "i-bp1sbxwin1000000003", "Administrator", "Password", None),
    ("acs/ecs/db-1-root", "i-bp1sbxdb10000000004", "root", "Password", None),
    ("acs/ecs/batch-7-root", "i-bp1sbxbat7000000005", "root", "Password", None),
)


def seed_demo(sandbox: Sandbox) -> None:
    """Add the demo instances and ECS secrets to ``sandbox``."""
    for instance_id, name, os_type, status, online in DEMO_INSTANCES:
        sandbox.add_instance(
            DEMO_REGION,
            instance_id,
            name=name,
            os_type=os_type,
            status=status,
            cloud_assistant_online=online,
            tags={"env": "demo"},
        )
    for name, instance_id, user, sub_type, interval in DEMO_SECRETS:
        sandbox.add_ecs_secret(
            DEMO_REGION,
            name,
            instance_id=instance_id,
            user_name=user,
            sub_type=sub_type,
            rotation_interval=interval,
            description=f"demo: {user} on {instance_id}",
        )


@functools.cache
def _demo_key_pair() -> tuple[str, str]:
    return generate_key_pair()


def direct_ecs_secret(
    sandbox: Sandbox,
    region: str,
    name: str,
    *,
    instance_id: str,
    user_name: str,
    sub_type: str,
    secret_data: Mapping[str, str] | None,
    version_id: str,
    rotation_interval: str | None,
    description: str,
    tags: Mapping[str, str] | None,
) -> Secret:
    """Validate and store an ECS secret as CreateSecret would; raise ValueError if wrong."""
    full_name = name if name.startswith(ECS_PREFIX) else ECS_PREFIX + name
    if secret_data is None:
        if sub_type == "SSHKey":
            public, private = _demo_key_pair()
            secret_data = {"UserName": user_name, "PublicKey": public, "PrivateKey": private}
        else:
            secret_data = {"UserName": user_name, "Password": generate_password()}
    data = json.dumps(dict(secret_data))
    config = json.dumps({"SecretSubType": sub_type, "RegionId": region, "InstanceId": instance_id})
    try:
        check_secret_name(full_name, "ECS")
        check_version_id(version_id)
        extended, _ = parse_extended_config(
            config, region=region, find_instance=lambda i: sandbox.ecs.get(region, i)
        )
        check_ecs_secret_data(data, sub_type=sub_type)
        interval = parse_rotation_interval(rotation_interval) if rotation_interval else None
        now = sandbox.clock()
        secret = Secret(
            name=full_name,
            region=region,
            secret_type="ECS",
            created=now,
            updated=now,
            description=description,
            versions={version_id: Version(version_id, data, "text", now, [ACS_CURRENT])},
            extended_config=extended,
            tags=list((tags or {}).items()),
            creator="sandbox-seed",
        )
        sandbox.kms.set_rotation_policy(secret, enabled=interval is not None, interval=interval)
        return sandbox.kms.add(secret)
    except ApiError as error:
        raise ValueError(error.message) from None
