"""STS as the sandbox emulates it: the RAM roles of the account, and ``AssumeRole``.

Owns the roles (``acs:ram::<account>:role/<name>``, each with the RAM policy its sessions
act under: the RAM user's own unless given) and ``AssumeRole`` (version 2015-04-01, served
on the same listener as KMS and ECS, as ``sts.aliyuncs.com`` would answer it). What it
checks, as the API reference describes (statuses marked unverified in docs/alibaba-cloud.md):

* ``RoleArn`` and ``RoleSessionName`` are required (400 ``MissingRoleArn`` ...);
* ``RoleSessionName``: 2 to 64 letters, digits and ``. @ - _``, else 400
  ``InvalidParameter.RoleSessionName``;
* ``DurationSeconds``: 900 to 3600 (a role's default maximum), else 400
  ``InvalidParameter.DurationSeconds``; default 3600;
* a role that does not exist: 404 ``EntityNotExist.Role``.

The caller's own ``sts:AssumeRole`` permission on the role is checked before (``access``).
A session gets a temporary AccessKey (``STS.`` + 24 characters), its secret and a
SecurityToken, valid until ``Expiration`` by the sandbox clock. Never verifies a signature.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from dataclasses import dataclass, field
from datetime import timedelta

from ecs_secret_bot.sandbox.access import Access, RoleSession
from ecs_secret_bot.sandbox.clock import format_utc
from ecs_secret_bot.sandbox.errors import ApiError
from ecs_secret_bot.sandbox.params import Params
from ecs_secret_bot.sandbox.ram import RamPolicy

__all__ = ["STS_ACTIONS", "STS_VERSION", "Role", "Sts"]

STS_VERSION = "2015-04-01"
STS_ACTIONS = ("AssumeRole",)
_SESSION_NAME = re.compile(r"^[A-Za-z0-9.@_-]{2,64}$")
_ALPHANUMERIC = string.ascii_letters + string.digits


@dataclass(frozen=True)
class Role:
    """A RAM role of the sandbox account."""

    name: str
    arn: str
    policy: RamPolicy | None = field(default=None, repr=False)
    """The policy its sessions act under; None: the RAM user's policy."""


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


class Sts:
    """The roles of one sandbox account and the sessions assumed into them."""

    def __init__(self, access: Access) -> None:
        self.access = access
        self.roles: dict[str, Role] = {}

    def add_role(self, name: str, *, policy: RamPolicy | None = None) -> Role:
        """Create (or replace) role ``name``; its sessions act under ``policy``."""
        if not re.fullmatch(r"[A-Za-z0-9.-]{1,64}", name):
            raise ValueError(f"{name!r} is not a RAM role name (1-64 letters, digits, '.', '-')")
        role = Role(name, f"acs:ram::{self.access.account_id}:role/{name.lower()}", policy)
        self.roles[name.lower()] = role
        return role

    def role(self, arn: str) -> Role | None:
        """Return the role an ARN names in this account, else None."""
        prefix = f"acs:ram::{self.access.account_id}:role/"
        if not arn.lower().startswith(prefix):
            return None
        return self.roles.get(arn[len(prefix) :].lower())

    def assume_role(self, params: Params) -> dict[str, object]:
        """Answer AssumeRole: temporary credentials for a session of the role."""
        arn = params.required("RoleArn")
        session_name = params.required("RoleSessionName")
        if not _SESSION_NAME.match(session_name):
            raise ApiError(
                400,
                "InvalidParameter.RoleSessionName",
                "The parameter RoleSessionName is wrongly formed.",
            )
        duration = params.text("DurationSeconds")
        seconds = 3600 if duration is None else int(duration) if duration.isdigit() else 0
        if not 900 <= seconds <= 3600:
            raise ApiError(
                400,
                "InvalidParameter.DurationSeconds",
                "The Min/Max value of DurationSeconds is 15min/1hr.",
            )
        role = self.role(arn)
        if role is None:
            raise ApiError(404, "EntityNotExist.Role", f"The role not exists: {arn}.")
        expires = self.access.clock() + timedelta(seconds=seconds)
        session = RoleSession(
            access_key_id="STS." + _random(24),
            access_key_secret=_random(40),
            security_token="CAIS" + _random(120),
            role_arn=role.arn,
            session_name=session_name,
            expires=expires,
            policy=role.policy or self.access.policy,
        )
        self.access.sessions[session.access_key_id] = session
        role_id = str(int(hashlib.sha256(role.arn.encode()).hexdigest(), 16) % 10**19)
        return {
            "AssumedRoleUser": {
                "Arn": f"{role.arn}/{session_name}",
                "AssumedRoleId": f"{role_id}:{session_name}",
            },
            "Credentials": {
                "AccessKeyId": session.access_key_id,
                "AccessKeySecret": session.access_key_secret,
                "SecurityToken": session.security_token,
                "Expiration": format_utc(expires),
            },
        }
