"""Approval rules without storage: routing (gate, open, refuse), approver sets, mistakes."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes.policies import access_toml, binding, on_call_rotate

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.approval.config import parse_approval_config
from ecs_secret_bot.commands.approval.rules import ApprovalConfig, Route, RouteKind, tally
from ecs_secret_bot.commands.policy.engine import AccessConfig
from ecs_secret_bot.config import Settings, parse_settings
from ecs_secret_bot.errors import ConfigError

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
DB = "acs:kms:cn-hangzhou:*:secret/acs/ecs/web-3-root"
PROD = "acs:kms:cn-hangzhou:*:secret/acs/ecs/prod-db"


def design_example(
    *, everyone: str = "slack:user:*", everyones_policies: tuple[str, ...] = ("OnCallRotate",)
) -> str:
    """Return design.md's example configuration (``everyone`` is bound to OnCallRotate)."""
    return access_toml(
        admins=["slack:user:U01ADMIN", "slack:usergroup:S01SRE"],
        channel="C0SECOPS",
        delete_approvers=["slack:usergroup:S01SEC"],
        restore_approvers=["slack:usergroup:S01SRE"],
        more=binding([everyone], everyones_policies)
        + on_call_rotate(
            resource="acs:kms:*:*:secret/acs/ecs/prod-*", guardrail_channel="C0INCIDENTS"
        ),
    )


DESIGN_EXAMPLE = design_example()

ADMIN = Actor("slack:user:U01ADMIN", channel_id="C0OPS", channel_name="ops")
TEAMMATE = Actor("slack:user:U0MATE", channel_id="C0OPS", channel_name="ops")


def settings(toml: str = DESIGN_EXAMPLE) -> Settings:
    return parse_settings(tomllib.loads(toml), source=Path("/etc/bot/bot.toml"))


def route(
    actor: Actor, action: str, resource: str, toml: str = DESIGN_EXAMPLE, **keys: object
) -> Route:
    s = settings(toml)
    return s.approval_rules.route(
        s.policies, actor, action, resource, now=NOW, request_keys=dict(keys)
    )


@pytest.mark.parametrize(
    ("actor", "action", "keys", "kind", "rule"),
    [
        # gate: the admin is allowed, the immediate-delete rule holds the forced deletion
        (
            ADMIN,
            "kms:DeleteSecret",
            {"kms:ForceDeleteWithoutRecovery": True},
            "hold",
            "immediate-delete",
        ),
        # ... but not a scheduled one
        (ADMIN, "kms:DeleteSecret", {"kms:ForceDeleteWithoutRecovery": False}, "run", None),
        (ADMIN, "kms:DeleteSecret", {}, "run", None),  # a missing key fails the condition
        # open: the admin restores at once, a teammate asks
        (ADMIN, "kms:RestoreSecret", {}, "run", None),
        (TEAMMATE, "kms:RestoreSecret", {}, "hold", "teammate-restore"),
        # no rule opens deletion to a teammate
        (TEAMMATE, "kms:DeleteSecret", {}, "refuse", None),
    ],
)
def test_the_design_example_gates_and_opens(
    actor: Actor, action: str, keys: dict[str, object], kind: str, rule: str | None
) -> None:
    result = route(actor, action, DB, **keys)
    assert result.kind == RouteKind(kind)
    assert (result.rule.name if result.rule else None) == rule


def test_a_held_request_says_which_rule_holds_it_and_what_it_needs() -> None:
    result = route(TEAMMATE, "kms:RestoreSecret", DB)
    assert result.reason == (
        "held by approval rule teammate-restore: it needs 1 approval from slack:usergroup:S01SRE"
    )
    refused = route(TEAMMATE, "kms:DeleteSecret", DB)
    assert refused.reason == f"no policy bound to you allows kms:DeleteSecret on {DB}"


DENYING = (
    design_example(everyones_policies=("OnCallRotate", "NoProd"))
    + """
[[approval.rules]]
name = "anyone-anything"
actions = ["*"]
requesters = ["slack:user:*"]
approvers = ["slack:usergroup:S01SRE"]

[access.policies.NoProd]
Version = "1"
[[access.policies.NoProd.Statement]]
Effect = "Deny"
Action = "kms:RestoreSecret"
Resource = "acs:kms:*:*:secret/acs/ecs/prod-*"
"""
)


def test_an_explicit_deny_is_never_requestable() -> None:
    result = route(TEAMMATE, "kms:RestoreSecret", PROD, DENYING)
    assert result.kind is RouteKind.REFUSE
    assert result.decision.explicit_deny
    assert "explicit deny" in result.reason
    # the same teammate may still ask for what is not explicitly denied
    assert route(TEAMMATE, "kms:RestoreSecret", DB, DENYING).kind is RouteKind.HOLD


def test_a_guardrail_refusal_is_never_requestable() -> None:
    in_incidents = Actor("slack:user:U0MATE", channel_id="C0INCIDENTS", channel_name="incidents")
    result = route(in_incidents, "kms:RestoreSecret", DB, DENYING)
    assert result.kind is RouteKind.REFUSE
    assert result.reason == (
        f"no policy bound to you allows kms:RestoreSecret on {DB}, "
        "and the guardrail of #incidents does not allow it either"
    )


def test_an_unbound_principal_cannot_even_ask() -> None:
    toml = design_example(everyone="slack:user:U0*")
    stranger = Actor("slack:user:WSTRANGER", channel_id="C0OPS")
    result = route(stranger, "kms:RestoreSecret", DB, toml)
    assert result.kind is RouteKind.REFUSE and not result.decision.bound


MULTI = """
[[access.bindings]]
principals = ["slack:user:*"]
policies = ["AliyunKMSSecretAdminAccess"]

[approval]
stale_after = "4h"

[[approval.rules]]
name = "prod-delete"
actions = ["kms:Delete*"]
resources = ["acs:kms:*:*:secret/acs/ecs/prod-*"]
notify_dm = true
expires_after = "30m"
[[approval.rules.approver_sets]]
name = "sre"
approvers = ["slack:usergroup:SSRE"]
min_approvals = 1
[[approval.rules.approver_sets]]
name = "security"
approvers = ["slack:usergroup:SSEC", "slack:user:UCISO"]
min_approvals = 2
"""


def test_several_approver_sets_each_with_its_count() -> None:
    s = settings(MULTI)
    rule = s.approval_rules.rules[0]
    assert rule.requirements == {"sre": 1, "security": 2}
    assert rule.notify_dm and rule.expires_after == timedelta(minutes=30)
    assert s.approval_rules.stale_after == timedelta(hours=4)
    assert rule.describe() == (
        "sre: 1 approval from slack:usergroup:SSRE and "
        "security: 2 approvals from slack:usergroup:SSEC or slack:user:UCISO"
    )
    held = route(ADMIN, "kms:DeleteSecret", PROD, MULTI)
    assert held.kind is RouteKind.HOLD and held.rule is not None
    assert held.rule.name == "prod-delete"
    assert route(ADMIN, "kms:DeleteSecret", DB, MULTI).kind is RouteKind.RUN  # resources


@pytest.mark.parametrize(
    ("votes", "complete", "progress"),
    [
        ([("a", ["sre"])], False, "sre 1/1, security 0/2"),
        ([("a", ["sre"]), ("b", ["sre"])], False, "sre 1/1, security 0/2"),
        ([("a", ["sre"]), ("b", ["security"]), ("c", ["security"])], True, "sre 1/1, security 2/2"),
        # one person counts once, even when in two sets
        ([("a", ["sre", "security"]), ("b", ["security"])], False, "sre 1/1, security 1/2"),
        # the order of the votes never decides: a goes where it helps most
        (
            [("a", ["sre", "security"]), ("b", ["sre"]), ("c", ["security"])],
            True,
            "sre 1/1, security 2/2",
        ),
        (
            [("b", ["sre"]), ("c", ["security"]), ("a", ["sre", "security"])],
            True,
            "sre 1/1, security 2/2",
        ),
    ],
)
def test_tally_places_each_approver_where_they_help_most(
    votes: list[tuple[str, list[str]]], complete: bool, progress: str
) -> None:
    counted = tally({"sre": 1, "security": 2}, votes)
    assert counted.complete is complete
    assert counted.progress() == progress
    assert len(set(counted.assignment)) == len(counted.assignment)


def test_announce_channel_falls_back_to_the_approval_channel() -> None:
    rules = settings().approval_rules
    assert rules.announce_channel(ADMIN) == "C0OPS"
    assert rules.announce_channel(Actor("slack:user:U1", channel_id="D0DM")) == "C0SECOPS"
    assert ApprovalConfig().announce_channel(Actor("slack:user:U1")) is None


def test_stale_after_says_when_to_announce_again() -> None:
    rules = settings(MULTI).approval_rules
    assert not rules.is_stale(NOW, now=NOW + timedelta(hours=3))
    assert rules.is_stale(NOW, now=NOW + timedelta(hours=4))
    assert not ApprovalConfig().is_stale(NOW, now=NOW + timedelta(days=9))


def test_no_approval_table_means_no_rule() -> None:
    s = settings("")
    assert s.approval_rules.rules == () and s.approval_rules.channel is None
    assert s.approval_rules.dm_limit == 10
    assert settings("[approval]\ndm_limit = 0").approval_rules.dm_limit == 0
    assert isinstance(s.policies, AccessConfig)


RULE = """
[[approval.rules]]
name = "r"
actions = ["kms:DeleteSecret"]
approvers = ["slack:usergroup:S1"]
"""


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[approval]\nchanel = "C1"', "[approval.chanel]: unknown key 'chanel'"),
        ('[approval]\nchannel = "#secops"', "[approval.channel]: '#secops' is not a channel id"),
        ('[approval]\nstale_after = "soon"', "[approval.stale_after]: 'soon' is not a duration"),
        ('[approval]\nstale_after = "0m"', "[approval.stale_after]: must be longer than zero"),
        (
            "[approval]\ndm_limit = -1",
            "[approval.dm_limit]: must be a whole number from 0 to 100, not -1",
        ),
        ('[approval]\ndm_limit = "5"', "[approval.dm_limit]: must be a whole number from 0 to"),
        ("[approval]\ndm_limit = true", "[approval.dm_limit]: must be a whole number from 0 to"),
        ("[approval]\nrules = 1", "[approval.rules]: must be a list of tables"),
        (RULE.replace('name = "r"\n', ""), "rule 1: needs a name"),
        (RULE + RULE, "rule 2: the name 'r' is already used by another rule"),
        (RULE.replace('actions = ["kms:DeleteSecret"]\n', ""), "rule 'r': needs actions"),
        (
            RULE.replace('"kms:DeleteSecret"', '"DeleteSecret"'),
            "rule 'r': actions: 'DeleteSecret' is not an action",
        ),
        (
            RULE + 'resources = ["secret/x"]',
            "rule 'r': resources: 'secret/x' is not an ARN pattern",
        ),
        (
            RULE + 'condition = { Boolean = { "kms:ForceDeleteWithoutRecovery" = "true" } }',
            "rule 'r': condition: unknown condition operator 'Boolean'",
        ),
        (
            RULE + 'condition = { Bool = { "kms:Force" = "true" } }',
            "rule 'r': condition: unknown condition key 'kms:Force'",
        ),
        (RULE + 'requesters = ["everyone"]', "rule 1: 'everyone' is not a principal"),
        (RULE.replace('approvers = ["slack:usergroup:S1"]\n', ""), "rule 'r': needs approvers"),
        (
            RULE + "min_approvals = 0",
            "rule 'r': min_approvals must be a whole number of at least 1, not 0",
        ),
        (
            RULE + 'min_approvals = "two"',
            "min_approvals must be a whole number of at least 1, not 'two'",
        ),
        (RULE + 'expires_after = "2 hours"', "'2 hours' is not a duration"),
        (RULE + 'expires_after = "31d"', "rule 'r': expires_after is longer than 30d"),
        (RULE + 'notify_dm = "yes"', "rule 'r': notify_dm must be true or false"),
        (RULE + "approver = 1", "rule 'r': unknown key 'approver'"),
        (
            RULE
            + '[[approval.rules.approver_sets]]\nname = "sre"\napprovers = ["slack:usergroup:S2"]',
            "rule 'r': has both approvers and approver_sets",
        ),
        (
            RULE.replace('approvers = ["slack:usergroup:S1"]\n', "")
            + '[[approval.rules.approver_sets]]\napprovers = ["slack:usergroup:S2"]',
            "rule 'r': approver set 1 needs a name",
        ),
        (
            RULE.replace('approvers = ["slack:usergroup:S1"]\n', "")
            + '[[approval.rules.approver_sets]]\nname = "a"\napprovers = ["slack:usergroup:S2"]'
            + '\n[[approval.rules.approver_sets]]\nname = "a"\napprovers = ["slack:usergroup:S3"]',
            "rule 'r': two approver sets are named 'a'",
        ),
        (
            RULE.replace('approvers = ["slack:usergroup:S1"]\n', "")
            + '[[approval.rules.approver_sets]]\nname = "a"\napprovers = ["slack:usergroup:S2"]'
            + "\nmin_approvals = -1",
            "rule 'r': a.min_approvals must be a whole number of at least 1, not -1",
        ),
        (
            RULE.replace('approvers = ["slack:usergroup:S1"]\n', "")
            + '[[approval.rules.approver_sets]]\nname = "a"\nwho = ["slack:usergroup:S2"]',
            "rule 'r': approver set 1: unknown key 'who'",
        ),
    ],
)
def test_every_approval_mistake_has_its_message(toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        settings(toml)
    assert str(raised.value).startswith("/etc/bot/bot.toml: [approval")
    assert message in str(raised.value)


def test_the_approval_parser_accepts_the_design_example_alone() -> None:
    config = parse_approval_config(tomllib.loads(DESIGN_EXAMPLE)["approval"])
    assert [r.name for r in config.rules] == ["immediate-delete", "teammate-restore"]
    assert [r.opens for r in config.rules] == [False, True]
