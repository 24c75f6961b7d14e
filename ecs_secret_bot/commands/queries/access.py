"""Who may do what, as the read-only views show it: ``whoami``, help's subcommands, and the
per-action answers other views attach (a pending deletion's restore button, the rotate modal).

Owns ``Access`` (one action's answer for one actor: runs now, needs an approval, or refused,
each with the reason), ``whoami``, ``available_subcommands`` and the small authorization
helpers the other ``views_*`` modules share. Never changes anything and never calls the
cloud: every answer here is a policy decision or an approval route, computed in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.approval.requests import ActionRequest
from ecs_secret_bot.commands.approval.rules import RouteKind
from ecs_secret_bot.commands.core import Core
from ecs_secret_bot.commands.names import ECS_PREFIX, secret_arn
from ecs_secret_bot.commands.policy.engine import Decision, Guardrail, channel_label
from ecs_secret_bot.errors import AccessDenied

__all__ = [
    "Access",
    "WhoAmI",
    "access_for",
    "authorize",
    "available_subcommands",
    "permitted_regions",
    "require_bound",
    "whoami",
]

CREATE = "kms:CreateSecret"
ROTATE = "kms:RotateSecret"
PUT_VALUE = "kms:PutSecretValue"
ROTATION_POLICY = "kms:UpdateSecretRotationPolicy"
DELETE = "kms:DeleteSecret"
RESTORE = "kms:RestoreSecret"
DESCRIBE = "kms:DescribeSecret"
LIST = "kms:ListSecrets"
INSTANCES = "ecs:DescribeInstances"

UNBOUND_REASON = "no policy is bound to you, so you may use nothing but help"
UNBOUND_NEXT_STEP = "Ask an admin to bind you to a policy in [[access.bindings]]."


@dataclass(frozen=True)
class Access:
    """What happens if the actor asks for one action on one resource, and why."""

    label: str
    """What it is for people: ``rotate (custom value)``."""
    action: str
    resource: str
    kind: RouteKind
    """RUN (allowed now), HOLD (needs an approval) or REFUSE."""
    reason: str
    rule: str = ""
    """The approval rule that holds it (only for HOLD)."""
    next_step: str = ""
    """What a refused actor can do about it (only for REFUSE)."""

    @property
    def allowed(self) -> bool:
        """Say whether it runs at once."""
        return self.kind is RouteKind.RUN

    @property
    def needs_approval(self) -> bool:
        """Say whether it may be asked for, and then waits for an approval."""
        return self.kind is RouteKind.HOLD

    @property
    def may_ask(self) -> bool:
        """Say whether the actor may ask for it at all (now or through an approval)."""
        return self.kind is not RouteKind.REFUSE

    @property
    def verdict(self) -> str:
        """Say it in two or three words: ``allowed``, ``needs approval (rule)``, ``denied``."""
        if self.kind is RouteKind.RUN:
            return "allowed"
        if self.kind is RouteKind.HOLD:
            return f"needs approval ({self.rule})"
        return "denied"


@dataclass(frozen=True)
class WhoAmI:
    """The actor as the policies see it, and what it may do on a representative resource."""

    principal: str
    groups: tuple[str, ...]
    channel_id: str
    channel: str
    """``#name``, the channel id, or ``this conversation``."""
    guardrails: tuple[Guardrail, ...]
    """The ``[[access.guardrails]]`` that bound the channel, if any."""
    bound: bool
    policies: tuple[str, ...]
    """The policies bound to the principal or its groups, in binding order."""
    resource: str
    """The representative secret the table is decided on (``.../secret/acs/ecs/*``)."""
    actions: tuple[Access, ...]
    next_step: str = ""
    """What an unbound actor should do."""

    @property
    def guardrail_note(self) -> str:
        """Say which guardrail applies here, in one line, or nothing."""
        if not self.guardrails:
            return ""
        rails = "; ".join(
            f"guardrail {g.number}: at most what {', '.join(g.policies)} allow"
            for g in self.guardrails
        )
        return f"In {self.channel}: {rails}."


def authorize(
    core: Core,
    actor: Actor,
    action: str,
    resource: str,
    *,
    request_keys: Mapping[str, Any] | None = None,
) -> Decision:
    """Decide the request now; raise AccessDenied with the reason when it is refused."""
    decision = core.access.decide(
        actor, action, resource, now=core.clock(), request_keys=request_keys
    )
    decision.raise_if_denied()
    return decision


def require_bound(actor: Actor, core: Core) -> None:
    """Raise AccessDenied unless some policy is bound to the actor."""
    if not core.access.is_bound(actor):
        raise AccessDenied(
            "You are bound to nothing, so you may use nothing but help.",
            reason=UNBOUND_REASON,
            next_step=UNBOUND_NEXT_STEP,
        )


def access_for(
    core: Core,
    actor: Actor,
    action: str,
    resource: str,
    *,
    request_keys: Mapping[str, Any] | None = None,
    label: str = "",
) -> Access:
    """Route the request as the operation would and say what would happen, and why."""
    route = core.workflow.route(
        actor, ActionRequest(action=action, resource=resource, request_keys=request_keys or {})
    )
    rule = route.rule.name if route.kind is RouteKind.HOLD and route.rule else ""
    return Access(
        label=label or action,
        action=action,
        resource=resource,
        kind=route.kind,
        reason=route.reason,
        rule=rule,
        next_step=route.decision.next_step if route.kind is RouteKind.REFUSE else "",
    )


def permitted_regions(
    core: Core, actor: Actor, action: str, regions: Iterable[str]
) -> tuple[tuple[str, ...], tuple[tuple[str, Decision], ...]]:
    """Split regions by whether ``action`` is allowed on their collection; raise if none is."""
    allowed: list[str] = []
    refused: list[tuple[str, Decision]] = []
    now = core.clock()
    for region in regions:
        decision = core.access.decide(actor, action, core.collection(region), now=now)
        if decision.allowed:
            allowed.append(region)
        else:
            refused.append((region, decision))
    if not allowed:
        if len(refused) == 1:
            refused[0][1].raise_if_denied()
        first = refused[0][1]
        raise AccessDenied(
            f"Not allowed in any region: {first.reason}.",
            reason=first.reason,
            next_step=first.next_step,
        )
    return tuple(allowed), tuple(refused)


# --- whoami and help -------------------------------------------------------------------------

# (label, action, target, request keys); target is "secret", "collection" or "instances".
_Check = tuple[str, str, str, Mapping[str, Any]]

_MAIN_ACTIONS: tuple[_Check, ...] = (
    ("create", CREATE, "collection", {}),
    ("rotate (generated value)", ROTATE, "secret", {"kms:CustomSecretValue": False}),
    ("rotate (custom value)", PUT_VALUE, "secret", {"kms:CustomSecretValue": True}),
    ("automatic rotation on/off", ROTATION_POLICY, "secret", {}),
    (
        "delete (scheduled)",
        DELETE,
        "secret",
        {"kms:ForceDeleteWithoutRecovery": False, "kms:RecoveryWindowInDays": 30},
    ),
    ("delete (immediately)", DELETE, "secret", {"kms:ForceDeleteWithoutRecovery": True}),
    ("restore", RESTORE, "secret", {}),
    ("show", DESCRIBE, "secret", {}),
    ("list and pending", LIST, "collection", {}),
    ("pick an instance", INSTANCES, "instances", {}),
)
_BY_LABEL = {check[0]: check for check in _MAIN_ACTIONS}

# Subcommand -> the checks of which one must not be refused; () means "being bound" is enough.
_SUBCOMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("create", ("create",)),
    ("rotate", ("rotate (generated value)", "rotate (custom value)")),
    ("rotation", ("automatic rotation on/off",)),
    ("delete", ("delete (scheduled)", "delete (immediately)")),
    ("restore", ("restore",)),
    ("list", ("list and pending",)),
    ("show", ("show",)),
    ("pending", ("list and pending",)),
    ("approvals", ()),
    ("audit", ("show", "list and pending")),
    ("whoami", ()),
    ("sweep", ("rotate (generated value)",)),
)


def _resource(core: Core, region: str, target: str) -> str:
    if target == "collection":
        return core.collection(region)
    if target == "instances":
        return core.instances_arn(region)
    return secret_arn(region, core.settings.cloud.account_id, f"{ECS_PREFIX}*")


def _check(core: Core, actor: Actor, region: str, check: _Check) -> Access:
    label, action, target, keys = check
    resource = _resource(core, region, target)
    return access_for(core, actor, action, resource, request_keys=keys, label=label)


async def whoami(*, actor: Actor, core: Core) -> WhoAmI:
    """Say who the actor is to the policies, and what it may do (works unbound, too)."""
    region = core.settings.cloud.default_region
    bound = core.access.is_bound(actor)
    return WhoAmI(
        principal=actor.principal,
        groups=tuple(sorted(actor.groups)),
        channel_id=actor.channel_id,
        channel=channel_label(actor),
        guardrails=core.access.guardrails_for(actor),
        bound=bound,
        policies=core.access.bound_policies(actor),
        resource=_resource(core, region, "secret"),
        actions=tuple(_check(core, actor, region, check) for check in _MAIN_ACTIONS),
        next_step="" if bound else UNBOUND_NEXT_STEP,
    )


def available_subcommands(actor: Actor, core: Core) -> tuple[str, ...]:
    """Return the subcommands the actor may use, ``help`` first."""
    if not core.access.is_bound(actor):
        return ("help",)
    regions = core.settings.cloud.regions
    found = ["help"]
    for name, labels in _SUBCOMMANDS:
        if not labels or any(
            _check(core, actor, region, _BY_LABEL[label]).may_ask
            for label in labels
            for region in regions
        ):
            found.append(name)
    return tuple(found)
