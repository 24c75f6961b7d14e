"""Built-in policies, named like the RAM system policies whose scope they mirror.

Owns the documents behind the names ``AliyunKMSSecretAdminAccess``,
``AliyunKMSReadOnlyAccess``, ``AliyunKMSSecretUserAccess`` and ``AliyunKMSFullAccess``. Each
keeps the documented scope of its RAM namesake for the services this bot authorizes (KMS and
``ecs:DescribeInstances``); statements about other services (RDS, RAM service-linked roles)
are left out because no request of the bot is ever authorized as them. Never changes at run
time: a configuration cannot redefine these names.

Scope, from the RAM system policy reference:

- ``AliyunKMSSecretAdminAccess``: every KMS action on the secret collection and every secret
  (``acs:kms:*:*:secret*``), ``kms:GetRandomPassword``, ``ecs:DescribeInstances`` on
  instances, tag operations on secrets. No key permissions.
- ``AliyunKMSReadOnlyAccess``: KMS ``List*`` and ``Describe*`` on everything, plus the
  metadata reads (policies, public keys, instance facts); never ``GetSecretValue``.
- ``AliyunKMSSecretUserAccess``: ``GetSecretValue``, ``DescribeSecret``,
  ``ListSecretVersionIds``.
- ``AliyunKMSFullAccess``: every KMS action on everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from ecs_secret_bot.commands.policy.documents import PolicyDocument, parse_policy_document

__all__ = ["BUILTIN_POLICY_DOCUMENTS", "builtin_policies"]


def _allow(actions: list[str], resources: list[str]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


BUILTIN_POLICY_DOCUMENTS: Mapping[str, Mapping[str, Any]] = {
    "AliyunKMSSecretAdminAccess": {
        "Version": "1",
        "Statement": [
            _allow(["kms:*"], ["acs:kms:*:*:secret*"]),
            _allow(["kms:GetRandomPassword"], ["*"]),
            _allow(["ecs:DescribeInstances"], ["acs:ecs:*:*:instance/*"]),
            _allow(
                ["ecs:TagResources", "ecs:UntagResources", "ecs:ListTagResources"],
                ["acs:kms:*:*:secret/*"],
            ),
        ],
    },
    "AliyunKMSReadOnlyAccess": {
        "Version": "1",
        "Statement": [
            _allow(
                [
                    "kms:List*",
                    "kms:Describe*",
                    "kms:GetPublicKey",
                    "kms:GetKeyPolicy",
                    "kms:GetKeyDefaultPolicy",
                    "kms:GetSecretPolicy",
                    "kms:GetSecretDefaultPolicy",
                    "kms:GetKmsInstance",
                    "kms:GetDefaultKmsInstance",
                    "kms:GetKmsInstanceQuotaInfos",
                    "kms:GetKmsInstanceSharedAccounts",
                ],
                ["*"],
            ),
        ],
    },
    "AliyunKMSSecretUserAccess": {
        "Version": "1",
        "Statement": [
            _allow(["kms:GetSecretValue", "kms:DescribeSecret", "kms:ListSecretVersionIds"], ["*"]),
        ],
    },
    "AliyunKMSFullAccess": {
        "Version": "1",
        "Statement": [_allow(["kms:*"], ["*"])],
    },
}
"""The built-in documents, in the RAM JSON language."""


@cache
def _parsed() -> tuple[tuple[str, PolicyDocument], ...]:
    return tuple(
        (name, parse_policy_document(name, document, source="built-in"))
        for name, document in BUILTIN_POLICY_DOCUMENTS.items()
    )


def builtin_policies() -> dict[str, PolicyDocument]:
    """Return the built-in policies, parsed (once), by name."""
    return dict(_parsed())
