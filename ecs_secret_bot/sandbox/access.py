"""Who is calling the sandbox, and whether RAM lets them: identities, permissions, refusals.

Owns the identities of the emulated account and what RAM makes of them:

* the RAM user whose AccessKey pairs the sandbox accepts (``sandbox`` / ``sandbox-secret``
  by default), with its RAM policy (the bot's shipped policy by default, ``ram``);
* the role sessions STS issued (``sts``): temporary AccessKeys whose calls carry their
  SecurityToken and act with the policy of their role;
* the RAM action and resources each KMS, ECS and STS action is authorized on (the KMS
  3.0 key permission too: ``kms:GenerateDataKey`` on the key of a secret being written);
* each service's answer to a missing permission: KMS 403 ``Forbidden.NoPermission``, ECS
  403 ``Forbidden.RAM`` (the 2025-12-20 change for Describe APIs), STS 403
  ``NoPermission``, each with ``AccessDeniedDetail``;
* the log of who made each call: action, region, AccessKey, principal, role session name.

A required parameter left out is not authorized here: the action answers ``Missing...``
first, as the gateway checks a request's shape before RAM sees it. Never verifies a
signature (``protocol``) and never runs an action.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ecs_secret_bot.sandbox.errors import ApiError
from ecs_secret_bot.sandbox.params import Params
from ecs_secret_bot.sandbox.ram import RamDecision, RamPolicy

__all__ = ["Access", "CallRecord", "Caller", "RoleSession"]

RAM_USER = "ecs-secret-bot"
"""The display name of the RAM user the sandbox's AccessKey pairs belong to."""

KeyOf = Callable[[str, str], str | None]
"""``(region, name) -> key id``: a secret's encryption key, or the key a KeyId (id, alias) or
a CiphertextBlob names, if there is one."""


@dataclass(frozen=True)
class RoleSession:
    """Temporary credentials STS issued for one role session."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str = field(repr=False)
    role_arn: str
    session_name: str
    expires: datetime
    policy: RamPolicy = field(repr=False)


@dataclass(frozen=True)
class Caller:
    """Who sent one call: the RAM user, or a role session."""

    access_key_id: str
    session: RoleSession | None = None

    @property
    def session_name(self) -> str:
        """Return the role session name, empty for the RAM user."""
        return self.session.session_name if self.session else ""


@dataclass(frozen=True)
class CallRecord:
    """One call that passed the signature check, and who made it."""

    action: str
    region: str
    access_key_id: str
    principal: str
    """``ecs-secret-bot`` (the RAM user) or ``<role name>/<session name>``."""
    session_name: str
    allowed: bool


class Access:
    """The identities of one sandbox account, their permissions, and who called what."""

    def __init__(self, *, account_id: str, policy: RamPolicy, clock: Callable[[], datetime]):
        self.account_id = account_id
        self.policy = policy
        """The RAM policy of the RAM user (the sandbox's AccessKey pairs)."""
        self.clock = clock
        self.sessions: dict[str, RoleSession] = {}
        self.calls: list[CallRecord] = []

    # -- identities ------------------------------------------------------------------------

    def temporary_secret(self, access_key_id: str) -> str | None:
        """Return the secret of a temporary AccessKey STS issued, else None."""
        session = self.sessions.get(access_key_id)
        return session.access_key_secret if session else None

    def caller(self, access_key_id: str, security_token: str) -> Caller:
        """Return who signed with ``access_key_id``; check a temporary key's token and time."""
        session = self.sessions.get(access_key_id)
        if session is None:
            return Caller(access_key_id)
        if not security_token:
            raise ApiError(
                400, "MissingSecurityToken", "SecurityToken is mandatory for this action."
            )
        if security_token != session.security_token:
            raise ApiError(
                400,
                "InvalidSecurityToken.MismatchWithAccessKey",
                "Specified SecurityToken mismatch with the AccessKey.",
            )
        if self.clock() >= session.expires:
            raise ApiError(
                400, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired."
            )
        return Caller(access_key_id, session)

    def principal(self, caller: Caller) -> str:
        """Return the caller's display name: the RAM user, or ``role/session``."""
        if caller.session is None:
            return RAM_USER
        return f"{caller.session.role_arn.rpartition('/')[2]}/{caller.session.session_name}"

    # -- authorization ---------------------------------------------------------------------

    def authorize(
        self,
        caller: Caller,
        *,
        product: str,
        action: str,
        region: str,
        params: Params,
        key_of: KeyOf,
    ) -> None:
        """Record the call; raise the service's refusal if RAM does not allow it."""
        policy = caller.session.policy if caller.session else self.policy
        refused: tuple[str, RamDecision] | None = None
        for ram_action, resource in self._needs(product, action, region, params, key_of):
            decision = policy.decide(ram_action, resource)
            if decision is not RamDecision.ALLOW:
                refused = (ram_action, decision)
                break
        principal = self.principal(caller)
        self.calls.append(
            CallRecord(
                action, region, caller.access_key_id, principal, caller.session_name, not refused
            )
        )
        if refused is not None:
            raise self._refusal(product, caller, *refused)

    def _needs(
        self, product: str, action: str, region: str, params: Params, key_of: KeyOf
    ) -> list[tuple[str, str]]:
        """Return the RAM actions and resources ``action`` is authorized on."""
        account = self.account_id
        if product == "Sts":
            role = params.text("RoleArn")
            return [("sts:AssumeRole", role)] if role else []
        if product == "Ecs":
            ids = params.indexed("InstanceId", limit=100)
            if action != "DescribeCloudAssistantStatus" or not ids:
                ids = ["*"]
            return [(f"ecs:{action}", f"acs:ecs:{region}:{account}:instance/{i}") for i in ids]
        if action in ("Encrypt", "Decrypt", "GenerateDataKey"):  # a key, named or in the blob
            named = params.text("KeyId") or params.text("CiphertextBlob") or ""
            key = key_of(region, named)
            return [(f"kms:{action}", f"acs:kms:{region}:{account}:key/{key}")] if key else []
        collection = f"acs:kms:{region}:{account}:secret"
        if action in ("CreateSecret", "ListSecrets"):
            needs = [(f"kms:{action}", collection)]
            key = params.text("EncryptionKeyId") if action == "CreateSecret" else None
        else:
            name = params.text("SecretName")
            if not name:
                return []
            arn = name if name.startswith("acs:kms:") else f"{collection}/{name}"
            needs = [(f"kms:{action}", arn)]
            key = key_of(region, name) if action in ("PutSecretValue", "GetSecretValue") else None
        if key:
            key_arn = key if key.startswith("acs:kms:") else f"acs:kms:{region}:{account}:key/{key}"
            use = "kms:Decrypt" if action == "GetSecretValue" else "kms:GenerateDataKey"
            needs.append((use, key_arn))
        return needs

    def _refusal(
        self, product: str, caller: Caller, ram_action: str, decision: RamDecision
    ) -> ApiError:
        detail = {
            "AuthAction": ram_action,
            "AuthPrincipalType": "AssumedRoleUser" if caller.session else "SubUser",
            "AuthPrincipalOwnerId": self.account_id,
            "AuthPrincipalDisplayName": self.principal(caller),
            "NoPermissionType": decision.value,
            "PolicyType": "AccountLevelIdentityBasedPolicy",
        }
        encoded = base64.b64encode(json.dumps(detail).encode()).decode()
        extra: dict[str, Any] = {
            "AccessDeniedDetail": {**detail, "EncodedDiagnosticMessage": encoded}
        }
        if product == "Ecs":
            message = (
                "User not authorized to operate on the specified resource, or this API "
                "doesn't support RAM."
            )
            return ApiError(403, "Forbidden.RAM", message, extra=extra)
        if product == "Sts":
            message = "You are not authorized to do this action. You should be authorized by RAM."
            return ApiError(403, "NoPermission", message, extra=extra)
        message = "This operation is forbidden by permission system."
        return ApiError(403, "Forbidden.NoPermission", message, extra=extra)

    # -- the log ---------------------------------------------------------------------------

    def sessions_of(self, action: str | None = None) -> list[str]:
        """Return the role session name of each call (of ``action``), empty for the RAM user."""
        return [c.session_name for c in self.calls if action is None or c.action == action]

    def as_list(self) -> list[dict[str, Any]]:
        """Return the log as JSON-ready rows, oldest first."""
        return [
            {
                "action": c.action,
                "region": c.region,
                "accessKeyId": c.access_key_id,
                "principal": c.principal,
                "roleSessionName": c.session_name,
                "allowed": c.allowed,
            }
            for c in self.calls
        ]
