"""The shipped RAM policy grants exactly what the gateway calls, on what it touches.

The actions are read from the code itself: every ``_send(region, "<Action>", ...)`` and
``call_with_retries("<Action>", ...)`` under ``cloud/``, so a new call without its
permission (or a permission no call needs any more) fails here.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from ecs_secret_bot.cloud import permissions
from ecs_secret_bot.cloud.permissions import (
    API_ACTIONS,
    DATA_KEY_ACTIONS,
    KEY_ACTION,
    grant_for,
    ram_actions,
)
from ecs_secret_bot.sandbox.ram import DEFAULT_POLICY_FILE, RamDecision, RamPolicy

CLOUD = Path(permissions.__file__).parent
ACCOUNT = "1234567890123456"
RESOURCES = {
    "kms:CreateSecret": f"acs:kms:cn-hangzhou:{ACCOUNT}:secret",
    "kms:ListSecrets": f"acs:kms:cn-shanghai:{ACCOUNT}:secret",
    "kms:GenerateDataKey": f"acs:kms:cn-hangzhou:{ACCOUNT}:key/key-hzz123",
    "ecs:DescribeInstances": f"acs:ecs:cn-hangzhou:{ACCOUNT}:instance/*",
    "ecs:DescribeCloudAssistantStatus": f"acs:ecs:cn-hangzhou:{ACCOUNT}:instance/i-bp1",
    "sts:AssumeRole": f"acs:ram::{ACCOUNT}:role/secret-operators",
}
SECRET = f"acs:kms:cn-hangzhou:{ACCOUNT}:secret/acs/ecs/web-3-root"


def called_apis() -> set[str]:
    """Return every API name the cloud layer sends, read from its source."""
    found: set[str] = set()
    for path in CLOUD.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            position = {"_send": 1, "call_with_retries": 0}.get(name)
            if position is None or len(node.args) <= position:
                continue
            argument = node.args[position]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                found.add(argument.value)
    return found


def test_the_registry_names_every_api_the_gateway_calls() -> None:
    # The data key's calls are the operator's to grant, on that key: not the shipped policy's.
    assert called_apis() == set(API_ACTIONS) | set(DATA_KEY_ACTIONS)
    assert not set(DATA_KEY_ACTIONS.values()) & {"kms:Encrypt", "kms:Decrypt"} & set(ram_actions())


@pytest.mark.parametrize("action", ram_actions())
def test_the_shipped_policy_allows_each_action_on_what_it_touches(action: str) -> None:
    policy = RamPolicy.load(DEFAULT_POLICY_FILE)
    resource = RESOURCES.get(action, SECRET)
    assert policy.decide(action, resource) is RamDecision.ALLOW
    grant = grant_for(action)
    assert grant is not None
    line = json.loads(grant.line(ACCOUNT))
    assert (
        RamPolicy.parse({"Version": "1", "Statement": [line]}).decide(action, resource)
        is RamDecision.ALLOW
    )


def test_the_shipped_policy_grants_nothing_else() -> None:
    document = json.loads(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))
    granted = set()
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow" and "Condition" not in statement
        actions = statement["Action"]
        granted.update([actions] if isinstance(actions, str) else actions)
    assert granted == set(ram_actions())
    policy = RamPolicy.parse(document)
    assert policy.decide("kms:DescribeSecret", SECRET.replace("acs/ecs/", "app/")) is (
        RamDecision.IMPLICIT_DENY
    )
    assert policy.decide("kms:Decrypt", RESOURCES[KEY_ACTION]) is RamDecision.IMPLICIT_DENY
