"""How long one policy decision takes, beside a dict lookup of the same precomputed answer.

Builds a configuration of 200 policies holding 1,000 statements in all (Allow and Deny,
wildcards, NotAction, conditions), bound to 1,000 users directly, through 50 user groups
and through wildcard principals, with 10 guarded channels; then times ``decide`` on 20,000
random requests (each in isolation, from a cold engine: caches fill as they would in a
running bot) and, as the reference, a plain ``dict`` lookup of the answer precomputed for
the same request. Prints the figures, then one JSON line.

Run from the repository root: ``python bench/policy.py``. Target: p99 < 0.5 ms.
"""

from __future__ import annotations

import gc
import json
import random
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from ecs_secret_bot.commands.actor import Actor
from ecs_secret_bot.commands.policy.config import parse_access_config
from ecs_secret_bot.commands.policy.engine import AccessConfig

SEED = 20250601
POLICIES = 200
STATEMENTS_PER_POLICY = 5
USERS = 1000
GROUPS = 50
CHANNELS = 40
GUARDED = 10
DECISIONS = 20_000
TARGET_P99_MS = 0.5
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

ACTIONS = [
    "kms:CreateSecret",
    "kms:RotateSecret",
    "kms:PutSecretValue",
    "kms:DeleteSecret",
    "kms:RestoreSecret",
    "kms:DescribeSecret",
    "kms:ListSecrets",
    "kms:UpdateSecretRotationPolicy",
    "ecs:DescribeInstances",
]
ACTION_PATTERNS = [*ACTIONS, "kms:*", "kms:*Secret", "kms:Describe*", "kms:?otateSecret"]
REGIONS = ["cn-hangzhou", "cn-shanghai", "cn-beijing"]
TEAMS = [f"team{i:02d}" for i in range(40)]


def build_config(rng: random.Random) -> dict[str, Any]:
    """Return the ``[access]`` table of the benchmark, as TOML would give it."""
    policies: dict[str, Any] = {}
    for p in range(POLICIES):
        statements = []
        for _ in range(STATEMENTS_PER_POLICY):
            team = rng.choice(TEAMS)
            statement: dict[str, Any] = {
                "Effect": "Deny" if rng.random() < 0.1 else "Allow",
                rng.choice(["Action"] * 9 + ["NotAction"]): rng.sample(
                    ACTION_PATTERNS, rng.randint(1, 3)
                ),
                "Resource": rng.choice(
                    [
                        [f"acs:kms:*:*:secret/acs/ecs/{team}-*"],
                        [f"acs:kms:{rng.choice(REGIONS)}:*:secret/acs/ecs/{team}-?-*"],
                        ["acs:kms:*:*:secret", f"acs:kms:*:*:secret/acs/ecs/{team}-db*"],
                        ["acs:ecs:*:*:instance/*", f"acs:kms:*:*:secret/acs/ecs/{team}-web-*"],
                    ]
                ),
            }
            roll = rng.random()
            if roll < 0.15:
                statement["Condition"] = {"Bool": {"kms:ForceDeleteWithoutRecovery": "false"}}
            elif roll < 0.25:
                statement["Condition"] = {
                    "StringEquals": {"slack:ChannelId": [f"C{rng.randrange(CHANNELS):03d}"]},
                    "DateLessThan": {"acs:CurrentTime": "2030-01-01T00:00:00Z"},
                }
            elif roll < 0.3:
                statement["Condition"] = {"StringLike": {"slack:ChannelName": "inc-*"}}
            statements.append(statement)
        policies[f"P{p:03d}"] = {"Version": "1", "Statement": statements}
    names = list(policies)
    bindings: list[dict[str, Any]] = []
    for u in range(0, USERS, 2):  # 500 direct bindings, two users each
        principals = [f"slack:user:U{u:04d}", f"slack:user:U{u + 1:04d}"]
        bindings.append({"principals": principals, "policies": rng.sample(names, 2)})
    for g in range(GROUPS):
        bindings.append(
            {"principals": [f"slack:usergroup:S{g:02d}"], "policies": rng.sample(names, 3)}
        )
    bindings.append({"principals": ["slack:user:U00*"], "policies": ["AliyunKMSReadOnlyAccess"]})
    bindings.append({"principals": ["slack:user:U1??"], "policies": [rng.choice(names)]})
    bindings.append({"principals": ["slack:user:U09*"], "policies": ["AliyunKMSSecretAdminAccess"]})
    guardrails = [
        {"channels": [f"C{c:03d}"], "policies": rng.sample(names, 4)} for c in range(GUARDED)
    ]
    return {"policies": policies, "bindings": bindings, "guardrails": guardrails}


def build_requests(rng: random.Random) -> list[tuple[Actor, str, str, dict[str, Any]]]:
    """Return random requests from random users in random channels."""
    groups = {
        u: frozenset(
            f"slack:usergroup:S{g:02d}" for g in rng.sample(range(GROUPS), rng.randint(1, 3))
        )
        for u in range(USERS)
    }
    requests = []
    for _ in range(DECISIONS):
        u = rng.randrange(USERS)
        channel = rng.randrange(CHANNELS)
        actor = Actor(
            f"slack:user:U{u:04d}",
            groups=groups[u],
            channel_id=f"C{channel:03d}",
            channel_name=f"inc-{channel}" if channel % 3 == 0 else f"team-{channel}",
            team_id="T01",
        )
        action = rng.choice(ACTIONS)
        region = rng.choice(REGIONS)
        if action in ("kms:CreateSecret", "kms:ListSecrets"):
            resource = f"acs:kms:{region}:*:secret"
        elif action == "ecs:DescribeInstances":
            resource = f"acs:ecs:{region}:*:instance/*"
        else:
            kind = rng.choice(["db", "web-1", "x-7", "cache"])
            resource = f"acs:kms:{region}:*:secret/acs/ecs/{rng.choice(TEAMS)}-{kind}"
        keys: dict[str, Any] = {}
        if action == "kms:DeleteSecret":
            keys["kms:ForceDeleteWithoutRecovery"] = rng.random() < 0.3
        requests.append((actor, action, resource, keys))
    return requests


def percentile(sorted_ns: list[int], fraction: float) -> float:
    """Return the value at ``fraction`` of a sorted sample, in milliseconds."""
    index = min(len(sorted_ns) - 1, int(round(fraction * (len(sorted_ns) - 1))))
    return sorted_ns[index] / 1e6


def main() -> None:
    rng = random.Random(SEED)
    table = build_config(rng)
    started = time.perf_counter()
    config: AccessConfig = parse_access_config(table)
    load_ms = (time.perf_counter() - started) * 1000
    statements = sum(len(p.statements) for n, p in config.policies.items() if n.startswith("P"))
    requests = build_requests(rng)

    clock = time.perf_counter_ns
    decide = config.decide
    gc.collect()
    gc.disable()
    engine_ns: list[int] = []
    answers: dict[tuple[str, str, str, str, bool], bool] = {}
    allowed = 0
    for actor, action, resource, keys in requests:
        t0 = clock()
        decision = decide(actor, action, resource, now=NOW, request_keys=keys)
        engine_ns.append(clock() - t0)
        allowed += decision.allowed
        key = (actor.principal, actor.channel_id, action, resource, bool(keys))
        answers[key] = decision.allowed
    lookup_keys = [
        (actor.principal, actor.channel_id, action, resource, bool(keys))
        for actor, action, resource, keys in requests
    ]
    reference_ns: list[int] = []
    for key in lookup_keys:
        t0 = clock()
        answers[key]
        reference_ns.append(clock() - t0)
    gc.enable()

    engine_ns.sort()
    reference_ns.sort()
    p50, p99 = percentile(engine_ns, 0.50), percentile(engine_ns, 0.99)
    ref50, ref99 = percentile(reference_ns, 0.50), percentile(reference_ns, 0.99)
    print(
        f"{POLICIES} policies, {statements} statements, {USERS} users in {GROUPS} groups, "
        f"{len(config.bindings)} bindings, {len(config.guardrails)} guardrails "
        f"(loaded in {load_ms:.1f} ms)"
    )
    print(f"{len(requests)} decisions, {allowed} allowed")
    print(
        f"decide():      p50 {p50:.4f} ms  p99 {p99:.4f} ms  "
        f"mean {statistics.fmean(engine_ns) / 1e6:.4f} ms  max {engine_ns[-1] / 1e6:.3f} ms"
    )
    print(f"dict lookup:   p50 {ref50:.5f} ms  p99 {ref99:.5f} ms  (reference)")
    print(f"target p99 < {TARGET_P99_MS} ms: {'met' if p99 < TARGET_P99_MS else 'MISSED'}")
    print(
        json.dumps(
            {
                "bench": "policy",
                "policies": POLICIES,
                "statements": statements,
                "principals": USERS,
                "decisions": len(requests),
                "p50_ms": round(p50, 5),
                "p99_ms": round(p99, 5),
                "reference_p50_ms": round(ref50, 6),
                "reference_p99_ms": round(ref99, 6),
                "target_p99_ms": TARGET_P99_MS,
                "ratio": round(p99 / ref99, 1) if ref99 else None,
            }
        )
    )


if __name__ == "__main__":
    main()
