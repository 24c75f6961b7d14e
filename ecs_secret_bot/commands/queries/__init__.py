"""The read-only views of both front ends: list, show, pending, approvals, audit, whoami, help.

The public surface the Slack app and the terminal call; each view lives in a ``views_*``
module and is re-exported here:

- ``views_secrets``: ``list_secrets`` (every region at once, one round trip per page depth);
- ``views_detail``: ``show_secret`` and ``prepare_rotation`` (the rotate modal's summary);
- ``views_activity``: ``list_pending``, ``list_approvals`` (from storage);
- ``audit`` (with ``grouping``): ``audit_view``, ``my_activity``, ``sweep_audit``,
  ``verify_audit``;
- ``views_access``: ``whoami``, ``available_subcommands`` and ``Access``;
- ``views_instances``: ``search_instances`` (the create modal's picker, cached per region).

Every view authorizes first, as design.md's configuration semantics say, and raises
``AccessDenied`` with the reason when the actor may not look. Results are frozen
dataclasses with no Slack in them and never a secret value. Nothing here changes anything.
"""

from __future__ import annotations

from ecs_secret_bot.commands.instance_directory import InstanceDirectory
from ecs_secret_bot.commands.queries.access import (
    Access,
    WhoAmI,
    available_subcommands,
    whoami,
)
from ecs_secret_bot.commands.queries.activity import (
    ApprovalItem,
    ApprovalsListing,
    PendingListing,
    PendingRow,
    list_approvals,
    list_pending,
)
from ecs_secret_bot.commands.queries.audit import (
    AuditLine,
    AuditProof,
    AuditRequest,
    AuditTrail,
    audit_view,
    my_activity,
    sweep_audit,
    verify_audit,
)
from ecs_secret_bot.commands.queries.detail import (
    ActiveRotation,
    PendingInfo,
    SecretView,
    prepare_rotation,
    show_secret,
)
from ecs_secret_bot.commands.queries.instances import InstanceOption, search_instances
from ecs_secret_bot.commands.queries.secrets import (
    RegionListing,
    SecretListing,
    SecretRow,
    list_secrets,
)

__all__ = [
    "Access",
    "ActiveRotation",
    "ApprovalItem",
    "ApprovalsListing",
    "AuditLine",
    "AuditProof",
    "AuditRequest",
    "AuditTrail",
    "InstanceDirectory",
    "InstanceOption",
    "PendingInfo",
    "PendingListing",
    "PendingRow",
    "RegionListing",
    "SecretListing",
    "SecretRow",
    "SecretView",
    "WhoAmI",
    "audit_view",
    "sweep_audit",
    "my_activity",
    "available_subcommands",
    "list_approvals",
    "list_pending",
    "list_secrets",
    "prepare_rotation",
    "search_instances",
    "show_secret",
    "verify_audit",
    "whoami",
]
