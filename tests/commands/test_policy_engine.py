"""The policy engine, table by table: wildcards, operators, Deny wins, guardrails, bindings."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from typing import Any

import pytest

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.policy.config import parse_access_config
from ecs_secret_bot.commands.policy.engine import AccessConfig
from ecs_secret_bot.errors import AccessDenied

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
PROD_DB = "acs:kms:cn-hangzhou:*:secret/acs/ecs/prod-db"
ALICE = Actor(
    "slack:user:UALICE",
    groups=frozenset({"slack:usergroup:SSRE"}),
    channel_id="C0OPS",
    channel_name="ops",
    team_id="T01",
)


def access(toml: str) -> AccessConfig:
    return parse_access_config(tomllib.loads(toml).get("access", {}))


def one_statement(statement: str, *, effect: str = "Allow") -> AccessConfig:
    """A configuration binding one policy of one statement to every user."""
    return access(
        f"""
        [[access.bindings]]
        principals = ["slack:user:*"]
        policies = ["P"]
        [[access.policies.P.Statement]]
        Effect = "{effect}"
        {statement}
        """
    )


def allowed(config: AccessConfig, action: str, resource: str, **keys: Any) -> bool:
    request_keys = {k.replace("__", ":"): v for k, v in keys.items()}
    return config.decide(ALICE, action, resource, now=NOW, request_keys=request_keys).allowed


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [
        ("kms:RotateSecret", "kms:RotateSecret", True),
        ("kms:RotateSecret", "kms:rotatesecret", True),  # actions are case-insensitive
        ("KMS:ROTATESECRET", "kms:RotateSecret", True),
        ("kms:RotateSecret", "kms:RotateSecrets", False),
        ("kms:*", "kms:DeleteSecret", True),
        ("kms:*", "ecs:DescribeInstances", False),
        ("*", "ecs:DescribeInstances", True),
        ("kms:*Secret", "kms:DeleteSecret", True),
        ("kms:*Secret", "kms:ListSecrets", False),
        ("kms:Describe*", "kms:DescribeSecret", True),
        ("kms:Describe*", "kms:Describe", True),  # * matches the empty run
        ("kms:?eleteSecret", "kms:DeleteSecret", True),
        ("kms:?eleteSecret", "kms:eleteSecret", False),  # ? is exactly one character
        ("kms:Delete?ecret", "kms:DeleteSSecret", False),
    ],
)
def test_action_wildcards(pattern: str, action: str, expected: bool) -> None:
    config = one_statement(f'Action = "{pattern}"\nResource = "*"')
    assert allowed(config, action, PROD_DB) is expected


@pytest.mark.parametrize(
    ("pattern", "resource", "expected"),
    [
        ("*", PROD_DB, True),
        ("acs:kms:*:*:secret/acs/ecs/prod-*", PROD_DB, True),
        ("acs:kms:*:*:secret/acs/ecs/prod-*", "acs:kms:cn-hangzhou:*:secret/acs/ecs/dev-db", False),
        ("acs:kms:cn-shanghai:*:secret/*", PROD_DB, False),
        ("acs:kms:*:*:secret", "acs:kms:cn-hangzhou:*:secret", True),
        ("acs:kms:*:*:secret", PROD_DB, False),
        ("acs:kms:*:*:secret*", "acs:kms:cn-hangzhou:*:secret", True),
        ("acs:kms:*:*:secret*", PROD_DB, True),
        ("acs:kms:*:*:secret/acs/ecs/prod-d?", PROD_DB, True),
        ("acs:kms:*:*:secret/acs/ecs/prod-?", PROD_DB, False),
        ("acs:kms:*:*:secret/acs/ecs/PROD-*", PROD_DB, False),  # resources are case-sensitive
        ("acs:kms:*:*:secret/acs/ecs/prod-db.", PROD_DB, False),  # regex metacharacters are literal
    ],
)
def test_resource_wildcards(pattern: str, resource: str, expected: bool) -> None:
    config = one_statement(f'Action = "kms:*"\nResource = ["{pattern}"]')
    assert allowed(config, "kms:DescribeSecret", resource) is expected


@pytest.mark.parametrize(
    ("statement", "action", "resource", "expected"),
    [
        ('NotAction = "kms:DeleteSecret"\nResource = "*"', "kms:RotateSecret", PROD_DB, True),
        ('NotAction = "kms:DeleteSecret"\nResource = "*"', "kms:DeleteSecret", PROD_DB, False),
        ('NotAction = "kms:Delete*"\nResource = "*"', "kms:deletesecret", PROD_DB, False),
        (
            'Action = "kms:*"\nNotResource = "acs:kms:*:*:secret/acs/ecs/prod-*"',
            "kms:RotateSecret",
            PROD_DB,
            False,
        ),
        (
            'Action = "kms:*"\nNotResource = "acs:kms:*:*:secret/acs/ecs/prod-*"',
            "kms:RotateSecret",
            "acs:kms:cn-hangzhou:*:secret/acs/ecs/dev-db",
            True,
        ),
        (
            'NotAction = ["kms:Get*"]\nNotResource = ["acs:kms:*:*:secret/acs/ecs/prod-*"]',
            "kms:RotateSecret",
            "acs:kms:cn-hangzhou:*:secret/acs/ecs/dev-db",
            True,
        ),
    ],
)
def test_not_action_and_not_resource(
    statement: str, action: str, resource: str, expected: bool
) -> None:
    assert allowed(one_statement(statement), action, resource) is expected


# operator, key, policy value(s), request value, expected
OPERATOR_CASES: list[tuple[str, str, Any, Any, bool]] = [
    ("StringEquals", "slack:ChannelId", "C0OPS", None, True),
    ("StringEquals", "slack:ChannelId", "c0ops", None, False),
    ("StringEquals", "slack:ChannelId", ["CX", "C0OPS"], None, True),  # values OR
    ("StringNotEquals", "slack:ChannelId", "C0OPS", None, False),
    ("StringNotEquals", "slack:ChannelId", ["CX", "CY"], None, True),
    ("StringNotEquals", "slack:ChannelId", ["CX", "C0OPS"], None, False),  # matches none of them
    ("StringEqualsIgnoreCase", "slack:ChannelName", "OPS", None, True),
    ("StringEqualsIgnoreCase", "slack:ChannelName", "ops2", None, False),
    ("StringNotEqualsIgnoreCase", "slack:ChannelName", "OPS", None, False),
    ("StringNotEqualsIgnoreCase", "slack:ChannelName", "incidents", None, True),
    ("StringLike", "slack:ChannelName", "o*", None, True),
    ("StringLike", "slack:ChannelName", "o?s", None, True),
    ("StringLike", "slack:ChannelName", "O*", None, False),
    ("StringNotLike", "slack:ChannelName", "inc-*", None, True),
    ("StringNotLike", "slack:ChannelName", ["inc-*", "op*"], None, False),
    ("StringEquals", "slack:UserId", "UALICE", None, True),
    ("StringEquals", "slack:TeamId", "T01", None, True),
    ("StringEquals", "kms:SecretSubType", "Password", "Password", True),
    ("StringEquals", "kms:SecretSubType", "Password", "SSHKey", False),
    ("NumericEquals", "kms:RecoveryWindowInDays", "7", 7, True),
    ("NumericEquals", "kms:RecoveryWindowInDays", 7, "7", True),
    ("NumericNotEquals", "kms:RecoveryWindowInDays", 7, 30, True),
    ("NumericNotEquals", "kms:RecoveryWindowInDays", [7, 30], 30, False),
    ("NumericLessThan", "kms:RecoveryWindowInDays", 14, 7, True),
    ("NumericLessThan", "kms:RecoveryWindowInDays", 14, 14, False),
    ("NumericLessThanEquals", "kms:RecoveryWindowInDays", 14, 14, True),
    ("NumericGreaterThan", "kms:RecoveryWindowInDays", 14, 30, True),
    ("NumericGreaterThan", "kms:RecoveryWindowInDays", 14, 14, False),
    ("NumericGreaterThanEquals", "kms:RecoveryWindowInDays", 14, 14, True),
    ("NumericEquals", "kms:RecoveryWindowInDays", 7, "seven", False),  # wrong type fails
    ("DateEquals", "acs:CurrentTime", "2025-06-01T12:00:00Z", None, True),
    ("DateEquals", "acs:CurrentTime", "2025-06-01T20:00:00+08:00", None, True),
    ("DateNotEquals", "acs:CurrentTime", "2025-06-01T12:00:01Z", None, True),
    ("DateLessThan", "acs:CurrentTime", "2025-12-31T00:00:00Z", None, True),
    ("DateLessThan", "acs:CurrentTime", "2025-06-01T12:00:00Z", None, False),
    ("DateLessThanEquals", "acs:CurrentTime", "2025-06-01T12:00:00Z", None, True),
    ("DateGreaterThan", "acs:CurrentTime", "2025-01-01T00:00:00Z", None, True),
    ("DateGreaterThan", "acs:CurrentTime", "2025-06-01T12:00:00Z", None, False),
    ("DateGreaterThanEquals", "acs:CurrentTime", "2025-06-01T12:00:00Z", None, True),
    ("Bool", "kms:ForceDeleteWithoutRecovery", "true", True, True),
    ("Bool", "kms:ForceDeleteWithoutRecovery", "true", False, False),
    ("Bool", "kms:ForceDeleteWithoutRecovery", "false", "false", True),
    ("Bool", "kms:ForceDeleteWithoutRecovery", True, "TRUE", True),
    ("Bool", "kms:CustomSecretValue", "true", True, True),
    ("Bool", "kms:CustomSecretValue", "true", "maybe", False),
    ("IpAddress", "acs:SourceIp", "192.168.0.0/16", "192.168.3.4", True),
    ("IpAddress", "acs:SourceIp", ["10.0.0.0/8", "172.16.215.218"], "172.16.215.218", True),
    ("IpAddress", "acs:SourceIp", "192.168.0.0/16", "10.1.2.3", False),
    ("NotIpAddress", "acs:SourceIp", "192.168.0.0/16", "10.1.2.3", True),
    ("NotIpAddress", "acs:SourceIp", "192.168.0.0/16", "192.168.9.9", False),
    ("IpAddress", "acs:SourceIp", "192.168.0.0/16", "not-an-ip", False),
]


def _toml_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return f'"{value}"'


@pytest.mark.parametrize(("operator", "key", "values", "request_value", "expected"), OPERATOR_CASES)
def test_condition_operators(
    operator: str, key: str, values: Any, request_value: Any, expected: bool
) -> None:
    config = one_statement(
        f'Action = "kms:*"\nResource = "*"\n'
        f'Condition = {{ {operator} = {{ "{key}" = {_toml_value(values)} }} }}'
    )
    keys: dict[str, Any] = {}
    actor = ALICE
    if key == "acs:SourceIp":
        actor = Actor(ALICE.principal, groups=ALICE.groups, source_ip=str(request_value))
    elif request_value is not None:
        keys[key] = request_value
    decision = config.decide(actor, "kms:DeleteSecret", PROD_DB, now=NOW, request_keys=keys)
    assert decision.allowed is expected


@pytest.mark.parametrize(
    ("operator", "key", "value"),
    [
        ("StringEquals", "kms:SecretSubType", "Password"),
        ("StringNotEquals", "kms:SecretSubType", "Password"),  # negated: still fails
        ("StringNotLike", "kms:SecretSubType", "x*"),
        ("NumericNotEquals", "kms:RecoveryWindowInDays", 7),
        ("Bool", "kms:ForceDeleteWithoutRecovery", "false"),
        ("IpAddress", "acs:SourceIp", "0.0.0.0/0"),  # Slack gives no source IP
        ("NotIpAddress", "acs:SourceIp", "10.0.0.0/8"),
        ("StringEquals", "slack:ChannelName", "ops"),  # a DM has no channel name
    ],
)
def test_a_missing_key_fails_the_condition(operator: str, key: str, value: Any) -> None:
    config = one_statement(
        f'Action = "kms:*"\nResource = "*"\n'
        f'Condition = {{ {operator} = {{ "{key}" = {_toml_value(value)} }} }}'
    )
    dm = Actor("slack:user:UALICE", channel_id="D0DM")
    assert not config.decide(dm, "kms:DeleteSecret", PROD_DB, now=NOW).allowed


def test_condition_keys_and_operators_combine_with_and() -> None:
    config = one_statement(
        'Action = "kms:*"\nResource = "*"\n'
        "[access.policies.P.Statement.Condition.StringEquals]\n"
        '"slack:ChannelId" = "C0OPS"\n"slack:TeamId" = "T01"\n'
        "[access.policies.P.Statement.Condition.DateLessThan]\n"
        '"acs:CurrentTime" = "2030-01-01T00:00:00Z"\n'
    )
    assert allowed(config, "kms:DeleteSecret", PROD_DB)
    other_team = Actor(ALICE.principal, channel_id="C0OPS", team_id="T02")
    assert not config.decide(other_team, "kms:DeleteSecret", PROD_DB, now=NOW).allowed
    later = datetime(2031, 1, 1, tzinfo=UTC)
    assert not config.decide(ALICE, "kms:DeleteSecret", PROD_DB, now=later).allowed


def test_condition_key_names_are_case_insensitive() -> None:
    config = one_statement(
        'Action = "kms:*"\nResource = "*"\n'
        'Condition = { StringEquals = { "SLACK:channelid" = "C0OPS" } }'
    )
    assert allowed(config, "kms:DeleteSecret", PROD_DB)


def test_a_request_key_cannot_impersonate_the_actor() -> None:
    config = one_statement(
        'Action = "kms:*"\nResource = "*"\n'
        'Condition = { StringEquals = { "slack:UserId" = "UADMIN" } }'
    )
    assert not allowed(config, "kms:DeleteSecret", PROD_DB, slack__UserId="UADMIN")


RULES = """
[[access.bindings]]
principals = ["slack:usergroup:SSRE"]
policies = ["OnCallRotate", "BlockProdDelete"]
[[access.bindings]]
principals = ["slack:user:UADMIN"]
policies = ["AliyunKMSSecretAdminAccess"]

[[access.policies.OnCallRotate.Statement]]
Effect = "Allow"
Action = ["kms:RotateSecret", "kms:DescribeSecret", "kms:DeleteSecret"]
Resource = "acs:kms:*:*:secret/acs/ecs/*"

[[access.policies.BlockProdDelete.Statement]]
Effect = "Allow"
Action = "kms:ListSecrets"
Resource = "acs:kms:*:*:secret"
[[access.policies.BlockProdDelete.Statement]]
Effect = "Deny"
Action = "kms:DeleteSecret"
Resource = "acs:kms:*:*:secret/acs/ecs/prod-*"
"""


@pytest.mark.parametrize(
    ("actor", "action", "resource", "allowed_", "reason"),
    [
        (ALICE, "kms:RotateSecret", PROD_DB, True, "allowed by OnCallRotate, statement 1"),
        (
            ALICE,
            "kms:DeleteSecret",
            PROD_DB,
            False,
            "denied by BlockProdDelete, statement 2 (explicit deny)",
        ),
        (
            ALICE,
            "kms:DeleteSecret",
            "acs:kms:cn-hangzhou:*:secret/acs/ecs/dev-db",
            True,
            "allowed by OnCallRotate, statement 1",
        ),
        (
            ALICE,
            "kms:RestoreSecret",
            PROD_DB,
            False,
            "no policy bound to you allows kms:RestoreSecret on "
            "acs:kms:cn-hangzhou:*:secret/acs/ecs/prod-db",
        ),
        (
            Actor("slack:user:UBOB"),
            "kms:DescribeSecret",
            PROD_DB,
            False,
            "no policy is bound to you, so you may use nothing but help",
        ),
        (
            Actor("slack:user:UADMIN"),
            "kms:DeleteSecret",
            PROD_DB,
            True,
            "allowed by AliyunKMSSecretAdminAccess, statement 1",
        ),
    ],
)
def test_deny_wins_and_every_decision_says_why(
    actor: Actor, action: str, resource: str, allowed_: bool, reason: str
) -> None:
    decision = access(RULES).decide(actor, action, resource, now=NOW)
    assert decision.allowed is allowed_
    assert decision.reason == reason


def test_an_explicit_deny_wins_over_an_allow_in_the_same_policy_and_across_bindings() -> None:
    config = access(
        RULES
        + """
        [[access.bindings]]
        principals = ["slack:user:UALICE"]
        policies = ["AliyunKMSFullAccess"]
        """
    )
    decision = config.decide(ALICE, "kms:DeleteSecret", PROD_DB, now=NOW)
    assert not decision.allowed and decision.explicit_deny
    assert (decision.policy, decision.statement) == ("BlockProdDelete", 2)
    with pytest.raises(AccessDenied) as raised:
        decision.raise_if_denied()
    assert raised.value.reason == decision.reason
    assert "explicit Deny cannot be lifted" in raised.value.next_step.text


def test_a_sid_is_shown_beside_the_statement_number() -> None:
    config = one_statement('Sid = "NoProd"\nAction = "kms:*"\nResource = "*"', effect="Deny")
    reason = config.decide(ALICE, "kms:DeleteSecret", PROD_DB, now=NOW).reason
    assert reason == "denied by P, statement 1 (NoProd) (explicit deny)"


@pytest.mark.parametrize(
    ("principals", "actor", "bound"),
    [
        (["slack:user:UALICE"], ALICE, True),
        (["slack:user:U*"], ALICE, True),
        (["slack:user:UAL?CE"], ALICE, True),
        (["slack:user:UBOB"], ALICE, False),
        (["slack:usergroup:SSRE"], ALICE, True),
        (["slack:usergroup:S*"], ALICE, True),
        (["slack:usergroup:SSEC"], ALICE, False),
        (["slack:user:*"], Actor("slack:user:UANY"), True),
        (["slack:user:*"], Actor("local:user:alice"), False),
        (["slack:usergroup:*"], Actor("slack:user:UANY"), False),
        (["local:user:alice"], Actor("local:user:alice"), True),
    ],
)
def test_bindings_match_principals_and_groups_with_wildcards(
    principals: list[str], actor: Actor, bound: bool
) -> None:
    config = access(
        f"""
        [[access.bindings]]
        principals = {principals!r}
        policies = ["AliyunKMSReadOnlyAccess"]
        """.replace("'", '"')
    )
    assert config.is_bound(actor) is bound
    assert config.decide(actor, "kms:DescribeSecret", PROD_DB, now=NOW).allowed is bound
    assert config.bound_policies(actor) == (("AliyunKMSReadOnlyAccess",) if bound else ())


ALICE_IN_B = Actor("slack:user:UALICE", groups=frozenset({"slack:usergroup:SSRE"}), team_id="T02")


@pytest.mark.parametrize(
    ("principals", "actor", "bound"),
    [
        # A principal naming a team matches in that workspace only...
        (["slack:user:T01/UALICE"], ALICE, True),
        (["slack:user:T01/UALICE"], ALICE_IN_B, False),
        (["slack:usergroup:T01/SSRE"], ALICE, True),
        (["slack:usergroup:T01/SSRE"], ALICE_IN_B, False),
        (["slack:user:T02/*"], ALICE, False),
        (["slack:user:T02/*"], ALICE_IN_B, True),
        # ...one naming none in every workspace, as before.
        (["slack:user:UALICE"], ALICE_IN_B, True),
        (["slack:user:*"], ALICE_IN_B, True),
        # A request that names no workspace (the terminal) matches no team's principal.
        (["slack:user:T01/UALICE"], Actor("slack:user:UALICE"), False),
    ],
)
def test_a_binding_naming_a_team_matches_in_that_workspace_only(
    principals: list[str], actor: Actor, bound: bool
) -> None:
    config = access(
        f"""
        [[access.bindings]]
        principals = {principals!r}
        policies = ["AliyunKMSReadOnlyAccess"]
        """.replace("'", '"')
    )
    assert config.is_bound(actor) is bound
    assert config.decide(actor, "kms:DescribeSecret", PROD_DB, now=NOW).allowed is bound


GUARDED = (
    RULES
    + """
[[access.guardrails]]
channels = ["C0INCIDENTS"]
policies = ["IncidentRotate"]
[[access.policies.IncidentRotate.Statement]]
Effect = "Allow"
Action = ["kms:RotateSecret", "kms:DescribeSecret"]
Resource = "*"
[[access.guardrails]]
channels = ["C0LOCK*"]
policies = ["ReadOnlyHere"]
[[access.policies.ReadOnlyHere.Statement]]
Effect = "Allow"
Action = "kms:Describe*"
Resource = "*"
[[access.policies.ReadOnlyHere.Statement]]
Effect = "Deny"
Action = "kms:RotateSecret"
Resource = "*"
"""
)
ADMIN = Actor("slack:user:UADMIN", channel_id="C0INCIDENTS", channel_name="incidents")


@pytest.mark.parametrize(
    ("channel_id", "channel_name", "action", "allowed_", "reason"),
    [
        (
            "C0INCIDENTS",
            "incidents",
            "kms:DeleteSecret",
            False,
            "the guardrail of #incidents does not allow kms:DeleteSecret",
        ),
        (
            "C0INCIDENTS",
            "",
            "kms:DeleteSecret",
            False,
            "the guardrail of C0INCIDENTS does not allow kms:DeleteSecret",
        ),
        (
            "C0INCIDENTS",
            "incidents",
            "kms:RotateSecret",
            True,
            "allowed by AliyunKMSSecretAdminAccess, statement 1",
        ),
        (
            "C0OTHER",
            "other",
            "kms:DeleteSecret",
            True,
            "allowed by AliyunKMSSecretAdminAccess, statement 1",
        ),
        (
            "C0LOCKED",
            "locked",
            "kms:RotateSecret",
            False,
            "the guardrail of #locked denies kms:RotateSecret: "
            "ReadOnlyHere, statement 2 (explicit deny)",
        ),
        (
            "C0LOCKED",
            "locked",
            "kms:DescribeSecret",
            True,
            "allowed by AliyunKMSSecretAdminAccess, statement 1",
        ),
    ],
)
def test_guardrails_bound_what_anyone_can_do_from_a_channel(
    channel_id: str, channel_name: str, action: str, allowed_: bool, reason: str
) -> None:
    actor = Actor("slack:user:UADMIN", channel_id=channel_id, channel_name=channel_name)
    decision = access(GUARDED).decide(actor, action, PROD_DB, now=NOW)
    assert (decision.allowed, decision.reason) == (allowed_, reason)
    if not allowed_:
        assert decision.guardrail in (f"#{channel_name}", channel_id)


def test_a_guardrail_grants_nothing_by_itself() -> None:
    bob = Actor("slack:user:UBOB", channel_id="C0INCIDENTS", channel_name="incidents")
    decision = access(GUARDED).decide(bob, "kms:RotateSecret", PROD_DB, now=NOW)
    assert not decision.allowed and not decision.bound


SECRET = "acs:kms:cn-hangzhou:1234567890123456:secret/acs/ecs/web-3-root"
COLLECTION = "acs:kms:cn-hangzhou:1234567890123456:secret"
INSTANCES = "acs:ecs:cn-hangzhou:1234567890123456:instance/*"


@pytest.mark.parametrize(
    ("policy", "action", "resource", "expected"),
    [
        ("AliyunKMSSecretAdminAccess", "kms:CreateSecret", COLLECTION, True),
        ("AliyunKMSSecretAdminAccess", "kms:ListSecrets", COLLECTION, True),
        ("AliyunKMSSecretAdminAccess", "kms:RotateSecret", SECRET, True),
        ("AliyunKMSSecretAdminAccess", "kms:PutSecretValue", SECRET, True),
        ("AliyunKMSSecretAdminAccess", "kms:DeleteSecret", SECRET, True),
        ("AliyunKMSSecretAdminAccess", "kms:RestoreSecret", SECRET, True),
        ("AliyunKMSSecretAdminAccess", "kms:UpdateSecretRotationPolicy", SECRET, True),
        ("AliyunKMSSecretAdminAccess", "ecs:DescribeInstances", INSTANCES, True),
        ("AliyunKMSSecretAdminAccess", "kms:Decrypt", "acs:kms:cn-hangzhou:*:key/k1", False),
        ("AliyunKMSReadOnlyAccess", "kms:DescribeSecret", SECRET, True),
        ("AliyunKMSReadOnlyAccess", "kms:ListSecrets", COLLECTION, True),
        ("AliyunKMSReadOnlyAccess", "kms:ListSecretVersionIds", SECRET, True),
        ("AliyunKMSReadOnlyAccess", "kms:GetSecretValue", SECRET, False),
        ("AliyunKMSReadOnlyAccess", "kms:RotateSecret", SECRET, False),
        ("AliyunKMSReadOnlyAccess", "kms:DeleteSecret", SECRET, False),
        ("AliyunKMSReadOnlyAccess", "ecs:DescribeInstances", INSTANCES, False),
        ("AliyunKMSSecretUserAccess", "kms:GetSecretValue", SECRET, True),
        ("AliyunKMSSecretUserAccess", "kms:RotateSecret", SECRET, False),
        ("AliyunKMSFullAccess", "kms:DeleteSecret", SECRET, True),
    ],
)
def test_built_in_policies_have_the_scope_of_their_ram_namesakes(
    policy: str, action: str, resource: str, expected: bool
) -> None:
    config = access(
        f"""
        [[access.bindings]]
        principals = ["slack:user:UALICE"]
        policies = ["{policy}"]
        """
    )
    assert config.decide(ALICE, action, resource, now=NOW).allowed is expected


def test_nothing_is_allowed_when_nothing_is_configured() -> None:
    for config in (AccessConfig.empty(), access("")):
        decision = config.decide(ALICE, "kms:DescribeSecret", PROD_DB, now=NOW)
        assert not decision.allowed and not decision.bound
        assert not config.is_bound(ALICE)


def test_whoami_helpers_list_bound_policies_and_guardrails() -> None:
    config = access(GUARDED)
    assert config.bound_policies(ALICE) == ("OnCallRotate", "BlockProdDelete")
    assert [g.number for g in config.guardrails_for(ADMIN)] == [1]
    assert config.guardrails_for(ALICE) == ()


def test_the_clock_must_carry_a_time_zone() -> None:
    with pytest.raises(ValueError, match="time zone"):
        access(RULES).decide(ALICE, "kms:RotateSecret", PROD_DB, now=datetime(2025, 1, 1))


def test_toml_dates_and_booleans_are_accepted_as_condition_values() -> None:
    config = one_statement(
        'Action = "kms:*"\nResource = "*"\n'
        'Condition = { DateLessThan = { "acs:CurrentTime" = 2025-06-01T12:00:01Z }, '
        'Bool = { "kms:CustomSecretValue" = true } }'
    )
    assert allowed(config, "kms:PutSecretValue", PROD_DB, kms__CustomSecretValue=True)
    assert not allowed(config, "kms:PutSecretValue", PROD_DB, kms__CustomSecretValue=False)
