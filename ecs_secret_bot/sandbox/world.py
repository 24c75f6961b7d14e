"""The emulated cloud without its HTTP side: KMS and ECS state, time, faults, call counts.

Owns what a console would let an operator do to the cloud (add instances, store ECS
secrets directly, restore or delete out of band, move the clock) and what tests read
back (rotation failures, events). ``server.Sandbox`` puts it behind HTTP; ``control``
steers it through ``/_sandbox`` routes; ``seed`` fills it with demo data. Never listens
on a port and never decides what a KMS or ECS action does: ``kms_api``/``kms_state`` and
``ecs`` do.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from ecs_secret_bot.sandbox.access import Access
from ecs_secret_bot.sandbox.calls import CallLog
from ecs_secret_bot.sandbox.clock import Clock, OffsetClock
from ecs_secret_bot.sandbox.credentials import generate_key_pair, generate_password
from ecs_secret_bot.sandbox.ecs import INSTANCE_STATUSES, EcsState, Instance
from ecs_secret_bot.sandbox.errors import ApiError
from ecs_secret_bot.sandbox.faults import Faults
from ecs_secret_bot.sandbox.kms_keys import KeyVault
from ecs_secret_bot.sandbox.kms_model import ACS_CURRENT, RotationEvent, Secret, Version
from ecs_secret_bot.sandbox.kms_state import (
    CUSTOM_VALUES,
    CustomValues,
    KmsState,
    loop_scheduler,
)
from ecs_secret_bot.sandbox.protocol import Verifier
from ecs_secret_bot.sandbox.ram import RamPolicy, as_policy
from ecs_secret_bot.sandbox.sts import Sts
from ecs_secret_bot.sandbox.throttle import QpsLimit
from ecs_secret_bot.sandbox.validation import (
    ECS_PREFIX,
    check_ecs_secret_data,
    check_secret_name,
    check_version_id,
    parse_extended_config,
    parse_rotation_interval,
)

__all__ = ["DEFAULT_ACCESS_KEYS", "DEFAULT_ACCOUNT_ID", "World"]

DEFAULT_ACCESS_KEYS: Mapping[str, str] = {"sandbox": "sandbox-secret"}
DEFAULT_ACCOUNT_ID = "1234567890123456"


class World:
    """The state of an emulated KMS + ECS account and the handles to steer it."""

    def __init__(
        self,
        *,
        access_keys: Mapping[str, str] | None = None,
        rotation_delay: float = 0.05,
        refuse_custom_values: bool = False,
        clock: Clock | None = None,
        account_id: str = DEFAULT_ACCOUNT_ID,
        ram_policy: RamPolicy | Mapping[str, Any] | None = None,
    ) -> None:
        self._offset_clock: OffsetClock | None = None
        if clock is None:
            self._offset_clock = OffsetClock()
            clock = self._offset_clock
        self.clock: Clock = clock
        self.access = Access(account_id=account_id, policy=as_policy(ram_policy), clock=clock)
        """Who may call what (the RAM policy of the AccessKey pairs), and who called."""
        self.sts = Sts(self.access)
        self.verifier = Verifier(
            DEFAULT_ACCESS_KEYS if access_keys is None else access_keys,
            temporary=self.access.temporary_secret,
        )
        self.faults = Faults()
        self.throttle = QpsLimit(clock=time.monotonic)
        """KMS's request quota (``kms_qps``): off unless set."""
        self.calls = CallLog()
        self.ecs = EcsState(self.clock)
        self.kms = KmsState(
            clock=self.clock,
            ecs=self.ecs,
            rotation_delay=rotation_delay,
            scheduler=loop_scheduler,
            faults=self.faults,
        )
        self.refuse_custom_values = refuse_custom_values
        self.keys = KeyVault()
        """The symmetric keys Encrypt, Decrypt and GenerateDataKey use (``create_key``)."""
        self.account_id = account_id

    @property
    def access_keys(self) -> dict[str, str]:
        """Return the accepted AccessKey pairs (ID to secret); mutable."""
        return self.verifier.access_keys

    # -- settings and time ---------------------------------------------------------------

    @property
    def custom_values(self) -> CustomValues:
        """What PutSecretValue on an ECS secret does: ``refuse``, ``push`` or ``accept``.

        ``refuse``: 400 InvalidParameter (what the documentation implies); ``push``: the
        value goes to the instance like a rotation; ``accept``: it becomes ACSCurrent at
        once and the instance is not touched.
        """
        return self.kms.custom_values

    @custom_values.setter
    def custom_values(self, value: CustomValues) -> None:
        if value not in CUSTOM_VALUES:
            raise ValueError(f"custom_values must be one of {', '.join(CUSTOM_VALUES)}")
        self.kms.custom_values = value

    @property
    def refuse_custom_values(self) -> bool:
        """Whether PutSecretValue on an ECS secret is refused (``custom_values == "refuse"``)."""
        return self.kms.custom_values == "refuse"

    @refuse_custom_values.setter
    def refuse_custom_values(self, value: bool) -> None:
        if value:
            self.kms.custom_values = "refuse"
        elif self.kms.custom_values == "refuse":
            self.kms.custom_values = "push"

    @property
    def rotation_delay(self) -> float:
        """Seconds of real time a rotation takes to reach the instance."""
        return self.kms.rotation_delay

    @rotation_delay.setter
    def rotation_delay(self, value: float) -> None:
        self.kms.rotation_delay = value

    @property
    def kms_qps(self) -> int | None:
        """Calls of one KMS action one region takes per second (None: no limit, the default).

        Over it, a call is refused with 429 ``Rejected.Throttling``, as KMS refuses calls over
        its request quota (whose numbers for secrets the sandbox does not claim to know).
        """
        return self.throttle.qps

    @kms_qps.setter
    def kms_qps(self, value: int | None) -> None:
        self.throttle.qps = value

    def now(self) -> datetime:
        """Return the sandbox time."""
        return self.clock()

    def advance(self, delta: timedelta) -> datetime:
        """Move the built-in clock forward by ``delta`` and apply what became due."""
        if self._offset_clock is None:
            raise RuntimeError("this sandbox uses an injected clock; move that clock instead")
        now = self._offset_clock.advance(delta)
        self.kms.sweep()
        return now

    # -- ECS ---------------------------------------------------------------------------

    def add_instance(
        self,
        region: str,
        instance_id: str,
        *,
        name: str,
        status: str = "Running",
        os_type: str = "linux",
        cloud_assistant_online: bool = True,
        tags: Mapping[str, str] | None = None,
        public_ip: str = "",
        eip: str = "",
    ) -> Instance:
        """Add an ECS instance (with an assigned public IP or an elastic IP, if given)."""
        return self.ecs.add(
            Instance(
                instance_id=instance_id,
                name=name,
                region=region,
                status=status,
                os_type=os_type,
                cloud_assistant_online=cloud_assistant_online,
                tags=dict(tags or {}),
                public_ip=public_ip,
                eip=eip,
            )
        )

    def remove_instance(self, region: str, instance_id: str) -> None:
        """Release an instance, as the console would; its secrets' rotations then fail."""
        self.ecs.remove(region, instance_id)

    def set_instance_status(self, region: str, instance_id: str, status: str) -> None:
        """Change an instance's status (Running, Stopped, ...)."""
        if status not in INSTANCE_STATUSES:
            raise ValueError(f"status must be one of {', '.join(INSTANCE_STATUSES)}")
        self.ecs.require(region, instance_id).status = status

    def set_cloud_assistant(self, region: str, instance_id: str, online: bool) -> None:
        """Bring an instance's Cloud Assistant agent online or offline."""
        self.ecs.require(region, instance_id).cloud_assistant_online = online

    # -- KMS ---------------------------------------------------------------------------

    def add_ecs_secret(
        self,
        region: str,
        name: str,
        *,
        instance_id: str,
        user_name: str = "root",
        sub_type: str = "Password",
        secret_data: Mapping[str, str] | None = None,
        version_id: str = "v1",
        rotation_interval: str | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        custom_data: Mapping[str, str] | None = None,
    ) -> str:
        """Store an ECS secret directly (no call counted); return its full name.

        ``custom_data`` is its ExtendedConfig's CustomData: by default ``{"UserName": user}``,
        as the bot writes it; ``{}`` for a secret created as the console does, whose user
        only its (encrypted) value names. Validates as CreateSecret would and raises
        ValueError with its message if wrong.
        """
        full_name = name if name.startswith(ECS_PREFIX) else ECS_PREFIX + name
        if secret_data is None:
            secret_data = _generated_data(user_name=user_name, sub_type=sub_type)
        data = json.dumps(dict(secret_data))
        if custom_data is None:
            custom_data = {"UserName": user_name}
        config = json.dumps(
            {
                "SecretSubType": sub_type,
                "RegionId": region,
                "InstanceId": instance_id,
                "CustomData": dict(custom_data),
            }
        )
        try:
            check_secret_name(full_name, "ECS")
            check_version_id(version_id)
            extended, _ = parse_extended_config(
                config, region=region, find_instance=lambda i: self.ecs.get(region, i)
            )
            check_ecs_secret_data(data, sub_type=sub_type)
            interval = parse_rotation_interval(rotation_interval) if rotation_interval else None
            now = self.clock()
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
            self.kms.set_rotation_policy(secret, enabled=interval is not None, interval=interval)
            return self.kms.add(secret).name
        except ApiError as error:
            raise ValueError(error.message) from None

    def restore_out_of_band(self, region: str, name: str) -> None:
        """Cancel a planned deletion as the console would (no call counted)."""
        self.kms.sweep()
        secret = self.secret(region, name)
        if secret.planned_delete is None:
            raise ValueError(f"secret {secret.name!r} is not scheduled for deletion")
        self.kms.restore(secret)

    def delete_out_of_band(
        self,
        region: str,
        name: str,
        *,
        planned: datetime | timedelta | None = None,
        force: bool = False,
    ) -> None:
        """Delete as the console would: at once (``force``) or at ``planned`` (default 30d)."""
        self.kms.sweep()
        secret = self.secret(region, name)
        if force:
            self.kms.remove(region, secret.name)
            return
        if planned is None:
            planned = timedelta(days=30)
        when = self.clock() + planned if isinstance(planned, timedelta) else planned
        self.kms.schedule_deletion(secret, when)

    def rotation_failure(self, region: str, name: str) -> tuple[str, str] | None:
        """Return ``(errorCode, errorMessage)`` of the secret's failed rotation, or None."""
        self.kms.sweep()
        failure = self.secret(region, name).failure
        return (failure.code, failure.message) if failure else None

    def rotation_in_progress(self, region: str, name: str) -> bool:
        """Return whether a change of the secret is still being pushed to its instance."""
        self.kms.sweep()
        return self.secret(region, name).pending_version is not None

    @property
    def events(self) -> list[RotationEvent]:
        """Return the CloudMonitor-like rotation events, oldest first."""
        return list(self.kms.events)

    def secret(self, region: str, name: str) -> Secret:
        """Return the secret ``name`` (``acs/ecs/`` may be left off); raise LookupError if none."""
        secret = self.kms.find(region, name) or self.kms.find(region, ECS_PREFIX + name)
        if secret is None:
            raise LookupError(f"no secret {name!r} in region {region!r}")
        return secret


def _generated_data(*, user_name: str, sub_type: str) -> dict[str, str]:
    """Return fresh secret data: a random password, or the process's one demo key pair."""
    if sub_type != "SSHKey":
        return {"UserName": user_name, "Password": generate_password()}
    public, private = _demo_key_pair()
    return {"UserName": user_name, "PublicKey": public, "PrivateKey": private}


@functools.cache
def _demo_key_pair() -> tuple[str, str]:
    # Key generation is slow and a demo key need not be unique: one pair per process.
    return generate_key_pair()
