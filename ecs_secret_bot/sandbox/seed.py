"""Demo data for a fresh sandbox.

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

and one symmetric KMS key, ``alias/ecs-secret-bot`` (for ``key_kms_key_id``: the data key
wrapped by KMS), which the sandbox's RAM user may use (``grant_key_use``), as an operator
lets the bot use its data key. Its material is fixed and public, like the ``sandbox``
AccessKey: what it wrapped still unwraps after the sandbox restarts, and protects nothing.

Seeded values are random passwords and one RSA key pair generated once per process
(key generation is slow and a demo key need not be unique); nothing prints them.
Owns the demo data only; validating and storing it is ``world.World``'s job.
"""

from __future__ import annotations

import hashlib

from ecs_secret_bot.sandbox.kms_keys import SANDBOX_KEY_ALIAS, grant_key_use
from ecs_secret_bot.sandbox.world import World

__all__ = ["DEMO_INSTANCES", "DEMO_KEY_ID", "DEMO_REGION", "DEMO_SECRETS", "seed_demo"]

DEMO_REGION = "cn-hangzhou"
DEMO_KEY_ID = "key-hzz6sandbox0datakey0001"
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


def seed_demo(world: World) -> None:
    """Add the demo instances and ECS secrets to ``world``."""
    for instance_id, name, os_type, status, online in DEMO_INSTANCES:
        world.add_instance(
            DEMO_REGION,
            instance_id,
            name=name,
            os_type=os_type,
            status=status,
            cloud_assistant_online=online,
            tags={"env": "demo"},
        )
    for name, instance_id, user, sub_type, interval in DEMO_SECRETS:
        world.add_ecs_secret(
            DEMO_REGION,
            name,
            instance_id=instance_id,
            user_name=user,
            sub_type=sub_type,
            rotation_interval=interval,
            description=f"demo: {user} on {instance_id}",
        )
    public = hashlib.sha256(b"ecs-secret-bot sandbox demo key: public, protects nothing").digest()
    world.keys.create_key(DEMO_REGION, key_id=DEMO_KEY_ID, alias=SANDBOX_KEY_ALIAS, material=public)
    grant_key_use(world.access, DEMO_REGION, DEMO_KEY_ID)
