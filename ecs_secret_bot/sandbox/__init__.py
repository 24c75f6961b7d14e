"""An emulated KMS + ECS endpoint speaking the real wire protocol, for trial runs and tests.

The real Alibaba Cloud SDK clients talk to it over HTTP on 127.0.0.1 (one port per
region it serves, every service on each, as Alibaba Cloud routes calls by endpoint:
``endpoint_of(region)``), signed with the AccessKey pair ``sandbox`` / ``sandbox-secret``:

    from ecs_secret_bot.sandbox import Sandbox

    async with Sandbox(rotation_delay=0.05) as sb:      # seeded demo data in cn-hangzhou
        config = Config(access_key_id="sandbox", access_key_secret="sandbox-secret",
                        endpoint=sb.endpoint, protocol="http")
        sb.faults.add(action="RotateSecret", kind="throttling", times=1)
        ...
        assert sb.calls.total("RotateSecret") == 2

Production code never imports it, except behind the ``--sandbox`` switch.

Modules: ``server`` (the ``Sandbox`` and its HTTP dispatch), ``world`` (the state and
the console-like steering a ``Sandbox`` serves), ``protocol`` (V3
signatures, error bodies), ``kms_model`` (a secret, its versions and stages),
``kms_state`` (the rotation and deletion state machine, custom values), ``kms_api`` and
``kms_read`` (KMS actions), ``validation`` (KMS parameter rules), ``ecs`` (instances, ECS
actions), ``faults`` (of calls and of rotations), ``throttle`` (KMS's request quota, off
unless set), ``calls``, ``clock``, ``control`` (the ``/_sandbox`` routes), ``seed`` (demo
data), ``fleet`` (many tagged instances and their secrets, for sweeps), ``main``
(``ecs-secret-bot sandbox``).
"""

from ecs_secret_bot.sandbox.calls import CallLog
from ecs_secret_bot.sandbox.clock import Clock, OffsetClock
from ecs_secret_bot.sandbox.ecs import Instance
from ecs_secret_bot.sandbox.errors import ApiError
from ecs_secret_bot.sandbox.faults import Fault, FaultKind, Faults
from ecs_secret_bot.sandbox.fleet import Fleet, FleetInstance, FleetSecret, seed_fleet
from ecs_secret_bot.sandbox.kms_model import RotationEvent, RotationFailure
from ecs_secret_bot.sandbox.server import (
    DEFAULT_ACCESS_KEYS,
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    Sandbox,
)

__all__ = [
    "DEFAULT_ACCESS_KEYS",
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_REGION",
    "ApiError",
    "CallLog",
    "Clock",
    "Fault",
    "FaultKind",
    "Faults",
    "Fleet",
    "FleetInstance",
    "FleetSecret",
    "Instance",
    "OffsetClock",
    "RotationEvent",
    "RotationFailure",
    "Sandbox",
    "seed_fleet",
]
