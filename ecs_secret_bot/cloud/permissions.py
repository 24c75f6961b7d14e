"""The RAM permissions the bot's identity needs, the policy that grants them, and denials.

Owns the registry of every API the gateway calls (``API_ACTIONS``: KMS, ECS, STS) and the
RAM action each is authorized as, the one permission KMS checks on the bot's behalf
(``kms:GenerateDataKey`` on the key of a secret it writes), the shipped policy
``bot-ram-policy.json`` beside this module, and ``explain_denial``: what a 403 for a
missing permission says (KMS ``Forbidden.NoPermission``, ECS ``Forbidden.RAM``, STS
``NoPermission``), naming the RAM action, the identity that lacks it, and the line of the
shipped policy that grants it. Never calls anything: ``probes`` checks the permissions,
``errors`` maps the rest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ecs_secret_bot.commands.gateway import CloudIdentity

__all__ = [
    "API_ACTIONS",
    "BOT_POLICY_FILE",
    "DATA_KEY_ACTIONS",
    "Denial",
    "KEY_ACTION",
    "PERMISSION_CODES",
    "Grant",
    "bot_policy",
    "explain_denial",
    "grant_for",
    "ram_actions",
]

BOT_POLICY_FILE = Path(__file__).with_name("bot-ram-policy.json")
"""The RAM policy the bot's own identity needs (package data)."""

API_ACTIONS: Mapping[str, str] = {
    # KMS: the secrets themselves
    "CreateSecret": "kms:CreateSecret",
    "ListSecrets": "kms:ListSecrets",
    "DescribeSecret": "kms:DescribeSecret",
    "ListSecretVersionIds": "kms:ListSecretVersionIds",
    "RotateSecret": "kms:RotateSecret",
    "PutSecretValue": "kms:PutSecretValue",
    "UpdateSecretRotationPolicy": "kms:UpdateSecretRotationPolicy",
    "DeleteSecret": "kms:DeleteSecret",
    "RestoreSecret": "kms:RestoreSecret",
    # ECS: the instance picker and the pre-flight
    "DescribeInstances": "ecs:DescribeInstances",
    "DescribeCloudAssistantStatus": "ecs:DescribeCloudAssistantStatus",
    # STS: the roles people act as
    "AssumeRole": "sts:AssumeRole",
}
"""Every API the gateway calls, and the RAM action it is authorized as."""

DATA_KEY_ACTIONS: Mapping[str, str] = {
    "Encrypt": "kms:Encrypt",
    "Decrypt": "kms:Decrypt",
    "GenerateDataKey": "kms:GenerateDataKey",
}
"""The calls on the KMS key that wraps the bot's own data key (``[storage] key_kms_key_id``):
granted on that one key, by a statement of its own, not by the shipped policy."""

KEY_ACTION = "kms:GenerateDataKey"
"""Checked by KMS 3.0 on the encryption key when the bot creates or writes a secret."""

PERMISSION_CODES = frozenset({"Forbidden.NoPermission", "Forbidden.RAM", "NoPermission"})
"""What KMS, ECS and STS answer (403) to a call RAM does not allow."""


def ram_actions() -> tuple[str, ...]:
    """Return every RAM action the bot's identity needs: its calls and the key permission."""
    return (*API_ACTIONS.values(), KEY_ACTION)


@cache
def bot_policy() -> Mapping[str, Any]:
    """Return the shipped policy document."""
    document: Mapping[str, Any] = json.loads(BOT_POLICY_FILE.read_text(encoding="utf-8"))
    return document


@dataclass(frozen=True)
class Grant:
    """The statement of the shipped policy that grants one action."""

    action: str
    resource: str
    number: int
    """The statement's position in the policy, from 1."""

    def line(self, account_id: str = "*") -> str:
        """Return the statement as a RAM policy line granting only this action."""
        resource = self.resource
        if account_id != "*" and not resource.startswith("acs:ram::"):
            parts = resource.split(":", 4)
            resource = ":".join([*parts[:3], account_id, parts[4]])
        elif account_id != "*":
            resource = resource.replace("acs:ram::*:", f"acs:ram::{account_id}:")
        statement = {"Effect": "Allow", "Action": self.action, "Resource": resource}
        return json.dumps(statement)

    def where(self) -> str:
        """Say where the statement is: ``statement 2 of .../bot-ram-policy.json``."""
        return f"statement {self.number} of ecs_secret_bot/cloud/{BOT_POLICY_FILE.name}"


def grant_for(action: str) -> Grant | None:
    """Return the statement of the shipped policy that grants ``action``, if one does."""
    for number, statement in enumerate(bot_policy()["Statement"], start=1):
        actions = statement["Action"]
        names = [actions] if isinstance(actions, str) else actions
        if statement["Effect"] == "Allow" and any(n.lower() == action.lower() for n in names):
            resources = statement["Resource"]
            resource = resources if isinstance(resources, str) else resources[0]
            return Grant(action=action, resource=resource, number=number)
    return None


def _who(identity: CloudIdentity | None) -> str:
    if identity is None:
        return "The bot's own Alibaba Cloud identity"
    return (
        f"The RAM role {identity.role_name}, which the bot assumes for {identity.principal} "
        f"(session {identity.session_name}),"
    )


@dataclass(frozen=True)
class Denial:
    """What a refusal for a missing permission means."""

    permission: str
    """The RAM action, e.g. ``kms:RotateSecret``."""
    text: str
    next_step: str


def explain_denial(
    data: Mapping[str, Any] | None,
    *,
    action: str,
    subject: str = "",
    identity: CloudIdentity | None = None,
) -> Denial:
    """Say which permission was missing for API ``action`` and how to grant it."""
    detail = (data or {}).get("AccessDeniedDetail")
    denied = str(detail.get("AuthAction") or "") if isinstance(detail, Mapping) else ""
    ram_action = denied or {**API_ACTIONS, **DATA_KEY_ACTIONS}.get(action, action)
    explicit = isinstance(detail, Mapping) and detail.get("NoPermissionType") == "ExplicitDeny"
    on = f" on {subject}" if subject else ""
    who = _who(identity)
    if action == "AssumeRole":
        text = (
            f"The bot's own Alibaba Cloud identity may not assume the RAM role {subject} "
            "(sts:AssumeRole), so it cannot act for you."
        )
        step = (
            "Ask an Alibaba Cloud admin to grant the bot sts:AssumeRole on that role "
            f"({_grant_text('sts:AssumeRole')}) and to let the role trust the bot's account."
        )
        return Denial("sts:AssumeRole", text, step)
    lacks = "is denied" if explicit else "lacks"
    text = f"{who} {lacks} the RAM permission {ram_action}, so {action}{on} was refused."
    to = f" to the role {identity.role_name}" if identity is not None else ""
    if explicit:
        step = f"A RAM policy explicitly denies {ram_action}; ask an Alibaba Cloud admin."
    else:
        step = f"Ask an Alibaba Cloud admin to grant it{to}: {_grant_text(ram_action)}."
    return Denial(
        ram_action, text, step + " `ecs-secret-bot check` lists every permission the bot lacks."
    )


def _grant_text(ram_action: str) -> str:
    grant = grant_for(ram_action)
    if grant is None:
        return f'a statement allowing "{ram_action}"'
    return f"{grant.line()} ({grant.where()})"
