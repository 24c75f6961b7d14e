"""The access and approval TOML tests run under, built from the principals each test names.

Most tests run under one shape, design.md's example: admins bound to
``AliyunKMSSecretAdminAccess``, readers to ``AliyunKMSReadOnlyAccess``, an approval
channel, and its two rules: ``immediate-delete`` (a delete without a recovery window,
approved by security) and ``teammate-restore`` (anyone may ask for a restore, an SRE
approves). ``access_toml`` writes that shape for the ids a test uses; ``binding`` and
``on_call_rotate`` write the pieces some tests add to it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

__all__ = ["ADMIN_ACCESS", "READ_ONLY", "access_toml", "binding", "on_call_rotate"]

ADMIN_ACCESS = "AliyunKMSSecretAdminAccess"
READ_ONLY = "AliyunKMSReadOnlyAccess"


def _strings(items: Sequence[str]) -> str:
    return json.dumps(list(items))  # a JSON list of strings is a TOML array as well


def binding(principals: Sequence[str], policies: Sequence[str]) -> str:
    """Return one ``[[access.bindings]]`` of ``policies`` to ``principals``."""
    return f"""
[[access.bindings]]
principals = {_strings(principals)}
policies = {_strings(policies)}
"""


def on_call_rotate(*, resource: str, guardrail_channel: str) -> str:
    """Return design.md's ``OnCallRotate`` policy over ``resource``, the guardrail of a channel.

    The policy lists secrets and rotates or describes those ``resource`` matches; the
    guardrail makes it the most anyone may do from ``guardrail_channel``.
    """
    return f"""
[[access.guardrails]]
channels = {_strings([guardrail_channel])}
policies = ["OnCallRotate"]

[access.policies.OnCallRotate]
Version = "1"
[[access.policies.OnCallRotate.Statement]]
Effect = "Allow"
Action = ["kms:ListSecrets"]
Resource = ["acs:kms:*:*:secret"]
[[access.policies.OnCallRotate.Statement]]
Effect = "Allow"
Action = ["kms:RotateSecret", "kms:DescribeSecret"]
Resource = {_strings([resource])}
"""


def access_toml(
    *,
    admins: Sequence[str],
    admin_policies: Sequence[str] = (ADMIN_ACCESS,),
    readers: Sequence[str] = (),
    channel: str,
    stale_after: str = "",
    dm_limit: int | None = None,
    delete_approvers: Sequence[str],
    restore_approvers: Sequence[str] = (),
    more: str = "",
) -> str:
    """Return the bindings, the ``[approval]`` table and its rules, then ``more`` TOML.

    ``immediate-delete`` is always there; ``teammate-restore`` only with
    ``restore_approvers``.
    """
    text = binding(admins, admin_policies)
    if readers:
        text += binding(readers, [READ_ONLY])
    text += f"\n[approval]\nchannel = {json.dumps(channel)}\n"
    if stale_after:
        text += f"stale_after = {json.dumps(stale_after)}\n"
    if dm_limit is not None:
        text += f"dm_limit = {dm_limit}\n"
    text += f"""
[[approval.rules]]
name = "immediate-delete"
actions = ["kms:DeleteSecret"]
condition = {{ Bool = {{ "kms:ForceDeleteWithoutRecovery" = "true" }} }}
approvers = {_strings(delete_approvers)}
min_approvals = 1
expires_after = "2h"
"""
    if restore_approvers:
        text += f"""
[[approval.rules]]
name = "teammate-restore"
actions = ["kms:RestoreSecret"]
requesters = ["slack:user:*"]
approvers = {_strings(restore_approvers)}
min_approvals = 1
"""
    return text + more
