"""Every mistake in ``[access]`` stops start-up with a message naming what to fix."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from ecs_secret_bot.commands.policy.config import parse_access_config
from ecs_secret_bot.config import load_settings, parse_settings
from ecs_secret_bot.errors import ConfigError

BIND = """
[[access.bindings]]
principals = ["slack:user:*"]
policies = ["P"]
"""


def policy(statement: str) -> str:
    return f"""{BIND}
[access.policies.P]
Version = "1"
[[access.policies.P.Statement]]
Effect = "Allow"
Action = "kms:RotateSecret"
Resource = "*"
[[access.policies.P.Statement]]
{statement}
"""


def error_of(toml: str) -> str:
    with pytest.raises(ConfigError) as raised:
        parse_settings(tomllib.loads(toml), source=Path("/etc/bot/bot.toml"))
    return str(raised.value)


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (
            'Effect = "Alow"\nAction = "kms:*"\nResource = "*"',
            "policy 'P', statement 2: Effect 'Alow' is not \"Allow\" or \"Deny\"",
        ),
        (
            'Action = "kms:*"\nResource = "*"',
            'policy \'P\', statement 2: Effect None is not "Allow" or "Deny"',
        ),
        (
            'Effect = "Allow"\nAction = 3\nResource = "*"',
            "policy 'P', statement 2: Action must be a string or a list of strings, not 3",
        ),
        (
            'Effect = "Allow"\nAction = {a = 1}\nResource = "*"',
            "policy 'P', statement 2: Action must be a string or a list of strings",
        ),
        (
            'Effect = "Allow"\nAction = []\nResource = "*"',
            "policy 'P', statement 2: Action is an empty list; name at least one",
        ),
        (
            'Effect = "Allow"\nAction = "RotateSecret"\nResource = "*"',
            "policy 'P', statement 2: 'RotateSecret' is not an action",
        ),
        (
            'Effect = "Allow"\nResource = "*"',
            "policy 'P', statement 2: needs Action (or NotAction)",
        ),
        (
            'Effect = "Allow"\nAction = "kms:*"\nNotAction = "kms:Get*"\nResource = "*"',
            "policy 'P', statement 2: has both Action and NotAction; keep one",
        ),
        (
            'Effect = "Allow"\nAction = "kms:*"',
            "policy 'P', statement 2: needs Resource (or NotResource)",
        ),
        (
            'Effect = "Allow"\nAction = "kms:*"\nResource = "secret/acs/ecs/*"',
            "policy 'P', statement 2: 'secret/acs/ecs/*' is not an ARN pattern; "
            "write acs:<service>:<region>:<account>:<resource>",
        ),
        (
            'Effect = "Allow"\nAction = "kms:*"\nResource = "acs:kms:*:*"',
            "policy 'P', statement 2: 'acs:kms:*:*' is not an ARN pattern",
        ),
        (
            'Effect = "Allow"\nAction = "kms:*"\nResource = "acs:KMS:*:*:secret"',
            "'KMS' is not a service name",
        ),
        (
            'Effect = "Allow"\nAction = "kms:*"\nResource = "acs:kms:*:*:"',
            "the resource part is empty",
        ),
        (
            'Effect = "Allow"\nAction = "kms:*"\nResource = "acs:kms:*:*:secret/a b"',
            "it holds a space",
        ),
        (
            'Effect = "Allow"\nAction = "kms:*"\nResource = "*"\n'
            'Condition = { StringEqual = { "slack:ChannelId" = "C1" } }',
            "policy 'P', statement 2: unknown condition operator 'StringEqual' "
            '(did you mean "StringEquals"?)',
        ),
        (
            'Effect = "Allow"\nAction = "kms:*"\nResource = "*"\n'
            'Condition = { StringEquals = { "slack:ChanelId" = "C1" } }',
            "policy 'P', statement 2: unknown condition key 'slack:ChanelId' "
            '(did you mean "slack:ChannelId"?)',
        ),
        (
            'Effect = "Allow"\nAction = "kms:*"\nResource = "*"\n'
            'Condition = { NumericLessThan = { "slack:ChannelId" = 3 } }',
            "NumericLessThan cannot test 'slack:ChannelId', which is a string",
        ),
        (
            'Effect = "Allow"\nAction = "kms:*"\nResource = "*"\n'
            'Condition = { NumericLessThan = { "kms:RecoveryWindowInDays" = "soon" } }',
            "NumericLessThan 'kms:RecoveryWindowInDays': 'soon' is not a number",
        ),
        (
            'Effect = "Allow"\nAction = "kms:*"\nResource = "*"\n'
            'Condition = { DateLessThan = { "acs:CurrentTime" = "2025-01-01T00:00:00" } }',
            "is not a date and time with a time zone",
        ),
        (
            'Effect = "Allow"\nAction = "kms:*"\nResource = "*"\n'
            'Condition = { Bool = { "kms:ForceDeleteWithoutRecovery" = "yes" } }',
            '\'yes\' is not "true" or "false"',
        ),
        (
            'Effect = "Allow"\nAction = "kms:*"\nResource = "*"\n'
            'Condition = { IpAddress = { "acs:SourceIp" = "10.0.0.0/33" } }',
            "is not an IP address or CIDR block",
        ),
        (
            'Effect = "Allow"\nAction = "kms:*"\nResource = "*"\n'
            'Condition = { IpAddress = { "acs:SourceIp" = [] } }',
            "has an empty list of values",
        ),
        (
            'Effect = "Allow"\nAction = "kms:*"\nResource = "*"\nCondition = "always"',
            "Condition must be a table of operators",
        ),
        (
            'Effect = "Allow"\nAction = "kms:*"\nResource = "*"\nPrincipal = { RAM = ["*"] }',
            "policy 'P', statement 2: Principal belongs to resource policies",
        ),
        (
            'Effect = "Allow"\nAction = "kms:*"\nResource = "*"\nResources = "*"',
            "policy 'P', statement 2: unknown key 'Resources'",
        ),
    ],
)
def test_an_invalid_statement_names_policy_statement_and_problem(
    statement: str, message: str
) -> None:
    text = error_of(policy(statement))
    assert text.startswith("/etc/bot/bot.toml: [access.policies.P]: ")
    assert message in text


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            BIND + '[access.policies.P]\nVersion = "2"\nStatement = []',
            "policy 'P': Version must be \"1\", not '2'",
        ),
        (
            BIND + '[access.policies.P]\nVersion = "1"\nStatement = []',
            "policy 'P': needs a Statement list with at least one statement",
        ),
        (
            BIND + '[access.policies.P]\nVersion = "1"\nStatements = []',
            "policy 'P': unknown key 'Statements'",
        ),
        (
            '[access.policies.AliyunKMSFullAccess]\nVersion = "1"\nStatement = []',
            "'AliyunKMSFullAccess' is the name of a built-in policy and cannot be redefined",
        ),
        (
            '[access.policies."no spaces"]\nVersion = "1"\nStatement = []',
            "'no spaces' is not a policy name",
        ),
        (
            '[[access.bindings]]\nprincipals = ["slack:user:U1"]\npolicies = ["Nope"]',
            "[access.bindings]: binding 1: no policy is named 'Nope'",
        ),
        (
            '[[access.bindings]]\nprincipals = ["U1"]\npolicies = ["AliyunKMSFullAccess"]',
            "[access.bindings]: binding 1: 'U1' is not a principal",
        ),
        (
            '[[access.bindings]]\nprincipals = ["slack:user:t01/U1"]\n'
            'policies = ["AliyunKMSFullAccess"]',
            "binding 1: 'slack:user:t01/U1': 't01' is not a Slack team id",
        ),
        (
            '[[access.bindings]]\nprincipals = ["slack:user:T*/U1"]\n'
            'policies = ["AliyunKMSFullAccess"]',
            "binding 1: 'slack:user:T*/U1': 'T*' is not a Slack team id",
        ),
        (
            '[[access.bindings]]\nprincipals = ["local:user:T01/bob"]\n'
            'policies = ["AliyunKMSFullAccess"]',
            "'local:user:T01/bob': a local user belongs to no Slack workspace",
        ),
        (
            '[[access.bindings]]\nprincipals = ["slack:*:U1"]\npolicies = ["AliyunKMSFullAccess"]',
            "binding 1: 'slack:*:U1' is not a principal",
        ),
        (
            '[[access.bindings]]\nprincipals = []\npolicies = ["AliyunKMSFullAccess"]',
            "binding 1: principals must be a non-empty list of strings",
        ),
        (
            '[[access.bindings]]\nprincipals = ["slack:user:U1"]\npolicy = ["AliyunKMSFullAccess"]',
            "binding 1: unknown key 'policy'; the keys allowed are principals, policies",
        ),
        (
            '[[access.guardrails]]\nchannels = ["#incidents"]\npolicies = ["AliyunKMSFullAccess"]',
            "[access.guardrails]: guardrail 1: '#incidents' is not a channel id. "
            "Give the channel's id",
        ),
        (
            '[[access.guardrails]]\nchannels = ["C1"]\npolicies = ["Missing"]',
            "guardrail 1: no policy is named 'Missing'",
        ),
        (
            '[[access.bindings]]\nprincipals = ["slack:user:U1"]'
            '\npolicies = ["AliyunKMSFullAccess"]'
            '\nrole_arn = "secret-operators"',
            "binding 1: role_arn 'secret-operators' is not the ARN of a RAM role. Write it as",
        ),
        (
            '[[access.bindings]]\nprincipals = ["slack:user:U1"]'
            '\npolicies = ["AliyunKMSFullAccess"]'
            '\nrole_arn = "acs:ram::*:role/ops"',
            "role_arn 'acs:ram::*:role/ops' is not the ARN of a RAM role",
        ),
        ("[access]\nbinding = []", "[access.binding]: unknown key 'binding'"),
        ("[access]\nbindings = 3", "[access.bindings]: must be a list of tables"),
        ("[access]\npolicies = 3", "[access.policies]: must be a table of named policies"),
    ],
)
def test_every_access_mistake_has_its_message(toml: str, message: str) -> None:
    assert message in error_of(toml)


def test_a_policy_file_is_read_relative_to_the_configuration(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "rotate.json").write_text(
        json.dumps(
            {
                "Version": "1",
                "Statement": [
                    {"Effect": "Allow", "Action": "kms:RotateSecret", "Resource": "*"},
                ],
            }
        )
    )
    config = tmp_path / "bot.toml"
    config.write_text(
        BIND.replace('"P"', '"Rotate"') + '[access.policies.Rotate]\nfile = "policies/rotate.json"'
    )
    settings = load_settings(config)
    assert settings.policies.policies["Rotate"].source == str(tmp_path / "policies/rotate.json")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not a RAM policy in JSON"),
        (
            json.dumps({"Version": "1", "Statement": [{"Effect": "Permit"}]}),
            "policy 'Rotate', statement 1: Effect 'Permit' is not",
        ),
    ],
)
def test_a_bad_policy_file_is_named(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "rotate.json").write_text(content)
    config = tmp_path / "bot.toml"
    config.write_text('[access.policies.Rotate]\nfile = "rotate.json"')
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    assert str(raised.value).startswith(f"{tmp_path / 'rotate.json'}: [access.policies.Rotate]")
    assert message in str(raised.value)


def test_a_missing_policy_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    config.write_text('[access.policies.Rotate]\nfile = "nowhere.json"')
    with pytest.raises(ConfigError, match="nowhere.json' cannot be read"):
        load_settings(config)


def test_a_file_policy_has_nothing_else() -> None:
    with pytest.raises(ConfigError, match='only file = "<name>.json"'):
        parse_access_config({"policies": {"X": {"file": "x.json", "Version": "1"}}})


def test_a_valid_statement_parses() -> None:
    toml = policy('Effect = "Deny"\nAction = "kms:*"\nResource = "*"')
    config = parse_access_config(tomllib.loads(toml)["access"])
    assert [s.effect for s in config.policies["P"].statements] == ["Allow", "Deny"]


def test_a_binding_may_name_the_role_its_principals_act_as() -> None:
    role = "acs:ram::1234567890123456:role/secret-operators"
    access = parse_access_config(
        {
            "bindings": [
                {"principals": ["slack:user:U1"], "policies": ["AliyunKMSFullAccess"]},
                {"principals": ["slack:user:*"], "policies": ["AliyunKMSFullAccess"],
                 "role_arn": role},
            ]
        }
    )  # fmt: skip
    assert [b.role_arn for b in access.bindings] == [None, role]
