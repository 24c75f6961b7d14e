"""Invariants of the policy engine, over generated policies (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.policy.config import parse_access_config
from ecs_secret_bot.commands.policy.engine import AccessConfig, request_context

NOW = datetime(2025, 6, 1, tzinfo=UTC)
ACTIONS = ["kms:RotateSecret", "kms:DeleteSecret", "kms:DescribeSecret", "ecs:DescribeInstances"]
ACTION_PATTERNS = [*ACTIONS, "kms:*", "kms:*Secret", "kms:?otateSecret", "*", "KMS:deletesecret"]
RESOURCES = [
    "acs:kms:cn-hangzhou:*:secret/acs/ecs/prod-db",
    "acs:kms:cn-hangzhou:*:secret/acs/ecs/web-3",
    "acs:kms:cn-shanghai:*:secret",
]
RESOURCE_PATTERNS = [
    *RESOURCES,
    "*",
    "acs:kms:*:*:secret/acs/ecs/*",
    "acs:kms:*:*:secret/acs/ecs/prod-*",
    "acs:kms:cn-hangzhou:*:secret/acs/ecs/web-?",
    "acs:kms:*:*:secret*",
]
CONDITIONS: list[dict[str, Any] | None] = [
    None,
    {"Bool": {"kms:ForceDeleteWithoutRecovery": "true"}},
    {"StringEquals": {"slack:ChannelId": ["C1", "C3"]}},
    {"StringNotLike": {"slack:ChannelName": "inc-*"}},
    {"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}},
]
PRINCIPALS = ["slack:user:U1", "slack:user:U*", "slack:usergroup:S1", "slack:user:U2"]
ACTORS = [
    Actor("slack:user:U1", groups=frozenset({"slack:usergroup:S1"}), channel_id="C1"),
    Actor("slack:user:U2", channel_id="C2", channel_name="inc-7"),
]


def statement(effect: str | None = None) -> st.SearchStrategy[dict[str, Any]]:
    def build(
        effect_: str, actions: list[str], resources: list[str], cond: Any, negate: tuple[bool, bool]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Effect": effect_,
            ("NotAction" if negate[0] else "Action"): actions,
            ("NotResource" if negate[1] else "Resource"): resources,
        }
        if cond is not None:
            out["Condition"] = cond
        return out

    return st.builds(
        build,
        st.just(effect) if effect else st.sampled_from(["Allow", "Deny"]),
        st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=3),
        st.lists(st.sampled_from(RESOURCE_PATTERNS), min_size=1, max_size=3),
        st.sampled_from(CONDITIONS),
        st.tuples(st.booleans(), st.booleans()),
    )


policies = st.lists(st.lists(statement(), min_size=1, max_size=4), min_size=1, max_size=4)
bindings = st.lists(
    st.tuples(st.lists(st.sampled_from(PRINCIPALS), min_size=1, max_size=2), st.integers(0, 3)),
    min_size=1,
    max_size=4,
)
requests = st.tuples(
    st.sampled_from(ACTORS),
    st.sampled_from(ACTIONS),
    st.sampled_from(RESOURCES),
    st.sampled_from([{}, {"kms:ForceDeleteWithoutRecovery": True}]),
)


def build(docs: list[list[dict[str, Any]]], binds: list[tuple[list[str], int]]) -> AccessConfig:
    return parse_access_config(
        {
            "policies": {
                f"P{i}": {"Version": "1", "Statement": stmts} for i, stmts in enumerate(docs)
            },
            "bindings": [
                {"principals": principals, "policies": [f"P{index % len(docs)}"]}
                for principals, index in binds
            ],
        }
    )


@settings(max_examples=200, deadline=None)
@given(policies, bindings, requests, st.integers(0, 3), statement("Deny"))
def test_an_explicit_deny_always_wins(
    docs: list[list[dict[str, Any]]],
    binds: list[tuple[list[str], int]],
    request: tuple[Actor, str, str, dict[str, Any]],
    target: int,
    deny: dict[str, Any],
) -> None:
    actor, action, resource, keys = request
    # A Deny that covers this request's action and resource, under a generated condition,
    # placed in a policy bound to the actor: whenever its condition holds, it decides.
    deny = {k: v for k, v in deny.items() if k not in ("NotAction", "NotResource")}
    deny |= {"Action": [action.upper()], "Resource": "*"}
    docs = [list(d) for d in docs]
    docs[target % len(docs)].append(deny)
    binds = [*binds, ([actor.principal], target % len(docs))]
    config = build(docs, binds)
    decision = config.decide(actor, action, resource, now=NOW, request_keys=keys)
    condition = config.policies[f"P{target % len(docs)}"].statements[-1].condition
    if condition.holds(request_context(actor, now=NOW, request_keys=keys)):
        assert not decision.allowed
        assert decision.explicit_deny
        assert "(explicit deny)" in decision.reason


@settings(max_examples=200, deadline=None)
@given(policies, bindings, requests, st.integers(0, 3), statement("Allow"))
def test_adding_an_allow_never_turns_an_allow_into_a_deny(
    docs: list[list[dict[str, Any]]],
    binds: list[tuple[list[str], int]],
    request: tuple[Actor, str, str, dict[str, Any]],
    target: int,
    allow: dict[str, Any],
) -> None:
    actor, action, resource, keys = request
    before = build(docs, binds).decide(actor, action, resource, now=NOW, request_keys=keys)
    grown = [list(d) for d in docs]
    grown[target % len(grown)].append(allow)
    after = build(grown, binds).decide(actor, action, resource, now=NOW, request_keys=keys)
    if before.allowed:
        assert after.allowed


@settings(max_examples=200, deadline=None)
@given(policies, bindings, requests)
def test_the_engine_agrees_with_a_brute_force_reading_of_ram(
    docs: list[list[dict[str, Any]]],
    binds: list[tuple[list[str], int]],
    request: tuple[Actor, str, str, dict[str, Any]],
) -> None:
    actor, action, resource, keys = request
    config = build(docs, binds)
    decision = config.decide(actor, action, resource, now=NOW, request_keys=keys)
    context = request_context(actor, now=NOW, request_keys=keys)
    applying = [
        s.effect
        for name in config.bound_policies(actor)
        for s in config.policies[name].statements
        if s.applies(action, resource, context)
    ]
    expected = "Deny" not in applying and "Allow" in applying
    assert decision.allowed is expected
    assert decision.explicit_deny is ("Deny" in applying)
