"""Create a dynamic ECS secret over the sandbox (real SDK, HTTP), real storage and policies."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from fakes.core import CoreHarness, actor

from ecs_secret_bot.commands.operations.create import create_secret
from ecs_secret_bot.commands.outcomes import CreateResult, DryRunReport
from ecs_secret_bot.commands.requests import CreateRequest
from ecs_secret_bot.errors import (
    AccessDenied,
    CloudClientError,
    CloudThrottled,
    CloudUnavailable,
    InvalidInput,
    PreflightFailed,
    Subcommand,
)
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.storage import open_database
from ecs_secret_bot.storage.audit import list_audit, verify_audit_chain

ADMIN = actor("UADMIN")
READER = actor("UREADER")
STRANGER = actor("UNOBODY")
CANARY = "Canary-create-7Q#current"
CREATE = "CreateSecret"


def pem(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> str:
    """Return the key as PEM, in the traditional RSA form where there is one (as KMS keeps it)."""
    form = (
        serialization.PrivateFormat.TraditionalOpenSSL
        if isinstance(key, rsa.RSAPrivateKey)
        else serialization.PrivateFormat.PKCS8
    )
    return key.private_bytes(
        serialization.Encoding.PEM, form, serialization.NoEncryption()
    ).decode()


def openssh(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
SMALL_KEY = rsa.generate_private_key(public_exponent=65537, key_size=1024)
KEY_PEM = pem(RSA_KEY)
KEY_CANARY = KEY_PEM.splitlines()[5]  # a line from the middle of the private key

PW = CreateRequest("web-3-new", instance_id="i-web3", password=CANARY)
KEY = CreateRequest("web-3-key", instance_id="i-web3", kind="SSHKey", private_key=KEY_PEM)


@pytest.fixture
async def h(tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[CoreHarness]:
    sandbox.add_ecs_secret("cn-hangzhou", "web-3-root", instance_id="i-web3")
    harness = await CoreHarness.start(tmp_path, sandbox)
    try:
        yield harness
    finally:
        await harness.close()


def stored_data(sb: Sandbox, name: str) -> dict[str, str]:
    secret = sb.kms.find("cn-hangzhou", f"acs/ecs/{name}")
    assert secret is not None
    data: dict[str, str] = json.loads(secret.current().data)
    return data


async def assert_nowhere(h: CoreHarness, caplog: pytest.LogCaptureFixture, *canaries: str) -> None:
    """Assert that no audit row, log record or database byte holds a canary."""
    rows = await list_audit(h.core.db, limit=1000)
    await h.core.db.close()
    try:
        for canary in canaries:
            assert all(canary not in repr(row) for row in rows)
            assert canary not in caplog.text
            for suffix in ("", "-wal", "-shm"):
                path = Path(f"{h.db_path}{suffix}")
                if path.exists():
                    assert canary.encode() not in path.read_bytes()
    finally:
        h.core.db = h.core.workflow.db = await open_database(h.db_path)


async def test_a_password_secret_is_created_and_the_password_goes_only_to_kms(
    h: CoreHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    request = replace(
        PW,
        automatic_rotation=True,
        rotation_interval="30d",
        description="web-3 root",
        tags=(("team", "sre"),),
        reason="INC-1234",
    )
    result = await create_secret(request, actor=ADMIN, core=h.core)
    assert isinstance(result, CreateResult)
    assert (result.secret_name, result.instance_id, result.user_name, result.kind) == (
        "acs/ecs/web-3-new",
        "i-web3",
        "root",
        "Password",
    )
    assert result.arn.endswith(":secret/acs/ecs/web-3-new")
    assert (result.automatic_rotation, result.rotation_interval) == (True, "30d")
    assert result.next_rotation is not None and result.request_id
    assert stored_data(h.sandbox, "web-3-new") == {"UserName": "root", "Password": CANARY}
    detail = await h.core.gateway.describe_secret("cn-hangzhou", "acs/ecs/web-3-new")
    assert (detail.rotation_interval, detail.description, dict(detail.tags)) == (
        timedelta(days=30),
        "web-3 root",
        {"team": "sre"},
    )
    rows = list(reversed(await list_audit(h.core.db)))
    assert [r.outcome for r in rows] == ["started", "executed"]
    assert rows[0].action == "kms:CreateSecret"
    assert rows[0].resource == "acs:kms:cn-hangzhou:*:secret"  # the collection
    assert rows[0].detail["params"]["secret"] == "acs:kms:cn-hangzhou:*:secret/acs/ecs/web-3-new"
    assert (await verify_audit_chain(h.core.db)).ok
    await assert_nowhere(h, caplog, CANARY)


async def test_an_ssh_key_secret_derives_its_public_key(
    h: CoreHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    request = replace(KEY, name="acs/ecs/web-3-key", public_key=openssh(RSA_KEY), user_name="app")
    result = await create_secret(request, actor=ADMIN, core=h.core)
    assert isinstance(result, CreateResult)
    assert (result.secret_name, result.kind, result.user_name) == (
        "acs/ecs/web-3-key",
        "SSHKey",
        "app",
    )
    assert (result.automatic_rotation, result.rotation_interval) == (False, "")
    data = stored_data(h.sandbox, "web-3-key")
    assert data["PublicKey"] == openssh(RSA_KEY)
    assert KEY_CANARY in data["PrivateKey"]
    await assert_nowhere(h, caplog, KEY_CANARY)


async def test_rotation_on_without_an_interval_takes_seven_days(h: CoreHarness) -> None:
    result = await create_secret(replace(PW, automatic_rotation=True), actor=ADMIN, core=h.core)
    assert isinstance(result, CreateResult) and result.rotation_interval == "7d"
    detail = await h.core.gateway.describe_secret("cn-hangzhou", "acs/ecs/web-3-new")
    assert detail.rotation_interval == timedelta(days=7)


async def test_an_existing_password_is_not_held_to_the_ecs_rules_for_new_ones(
    h: CoreHarness,
) -> None:
    request = CreateRequest(
        "win-1-admin", instance_id="i-win1", user_name="Administrator", password="/old pass"
    )
    result = await create_secret(request, actor=ADMIN, core=h.core)
    assert isinstance(result, CreateResult)
    assert stored_data(h.sandbox, "win-1-admin")["Password"] == "/old pass"


async def test_kms_instance_and_key_default_from_the_configuration(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    extra = """
[cloud.region_defaults.cn-hangzhou]
dkms_instance_id = "kst-hzz-default"
encryption_key_id = "key-hzz-default"
"""
    h = await CoreHarness.start(tmp_path, sandbox, extra=extra)
    try:
        chosen = replace(PW, name="web-3-own", dkms_instance_id="kst-hzz-own")
        await create_secret(PW, actor=ADMIN, core=h.core)
        await create_secret(chosen, actor=ADMIN, core=h.core)
        default = sandbox.kms.find("cn-hangzhou", "acs/ecs/web-3-new")
        own = sandbox.kms.find("cn-hangzhou", "acs/ecs/web-3-own")
        assert default is not None and own is not None
        assert (default.dkms_instance_id, default.encryption_key_id) == (
            "kst-hzz-default",
            "key-hzz-default",
        )
        assert (own.dkms_instance_id, own.encryption_key_id) == ("kst-hzz-own", "key-hzz-default")
    finally:
        await h.close()


def pw(**changes: object) -> CreateRequest:
    return replace(PW, **changes)  # type: ignore[arg-type]


def key(**changes: object) -> CreateRequest:
    return replace(KEY, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("request_", "field", "fragment"),
    [
        (pw(name="web 3"), "name", "does not allow ' '"),
        (pw(name="acs/ecs/"), "name", "needs a name after"),
        (pw(name="x" * 190), "name", "KMS allows 192"),
        (pw(region="mars-1"), "region", "not one the bot manages"),
        (pw(instance_id="web-3"), "instance_id", "not an ECS instance id"),
        (pw(instance_id=""), "instance_id", "An instance is needed"),
        (pw(user_name=""), "user_name", "empty"),
        (pw(user_name="ro ot"), "user_name", "not an OS user name"),
        (pw(kind="Token"), "kind", "Password or SSHKey"),
        (pw(password=""), "password", "current password of root"),
        (pw(password="   "), "password", "current password"),
        (pw(private_key=KEY_PEM), "private_key", "not a private key"),
        (pw(password="x" * 31_000), "password", "30,720 bytes"),
        (key(password="x"), "password", "not a password"),
        (key(private_key=""), "private_key", "current private key of root"),
        (key(private_key="ssh-rsa AAAA"), "private_key", "not in PEM format"),
        (key(private_key="-----BEGIN RSA PRIVATE KEY-----\nxx\n"), "private_key", "cannot be"),
        (key(private_key=pem(SMALL_KEY)), "private_key", "at least 2048"),
        (key(private_key=pem(ed25519.Ed25519PrivateKey.generate())), "private_key", "not an RSA"),
        (key(public_key=openssh(OTHER_KEY)), "public_key", "does not belong"),
        (pw(rotation_interval="30d"), "rotation_interval", "Turn automatic rotation on"),
        (pw(automatic_rotation=True, rotation_interval="1h"), "rotation_interval", "6h to 365d"),
        (pw(automatic_rotation=True, rotation_interval="2y"), "rotation_interval", "unit"),
        (pw(description="d" * 1025), "description", "1024"),
        (pw(tags=tuple((f"k{i}", "v") for i in range(21))), "tags", "at most 20"),
        (pw(tags=(("aliyun-env", "x"),)), "tags", "reserved"),
        (pw(tags=(("acs:env", "x"),)), "tags", "reserved"),
        (pw(tags=(("", "x"),)), "tags", "no key"),
        (pw(tags=(("env", "v" * 129),)), "tags", "128"),
        (pw(tags=(("env", "a"), ("env", "b"))), "tags", "twice"),
        (pw(dkms_instance_id="my instance"), "dkms_instance_id", "kst-"),
        (pw(encryption_key_id="key with spaces"), "encryption_key_id", "key id"),
        (key(instance_id="i-win1"), "kind", "Windows"),
    ],
)
async def test_bad_input_is_refused_before_anything_changes(
    h: CoreHarness, request_: CreateRequest, field: str, fragment: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await create_secret(request_, actor=ADMIN, core=h.core)
    assert caught.value.field == field
    assert fragment in str(caught.value)
    assert caught.value.next_step
    for secret in (CANARY, KEY_CANARY):
        assert secret not in str(caught.value)
    assert h.sandbox.calls.total(CREATE) == 0
    assert await list_audit(h.core.db) == []


@pytest.mark.parametrize(
    ("who", "reason"),
    [(READER, "no policy bound to you allows kms:CreateSecret"), (STRANGER, "no policy is bound")],
)
async def test_who_may_not_create_is_refused(h: CoreHarness, who: object, reason: str) -> None:
    with pytest.raises(AccessDenied) as caught:
        await create_secret(PW, actor=who, core=h.core)  # type: ignore[arg-type]
    assert reason in caught.value.reason
    assert h.sandbox.calls.total() == 0
    [row] = await list_audit(h.core.db)
    assert (row.decision, row.outcome, row.resource) == (
        "deny",
        "refused",
        "acs:kms:cn-hangzhou:*:secret",
    )


@pytest.mark.parametrize(
    ("instance_id", "check", "fragment"),
    [
        ("i-stopped", "running", "Start the instance"),
        ("i-noagent", "cloud_assistant", "Cloud Assistant agent"),
        ("i-gone", "exists", "Check the instance id"),
    ],
)
async def test_preflight_stops_before_create_secret(
    h: CoreHarness, instance_id: str, check: str, fragment: str
) -> None:
    with pytest.raises(PreflightFailed) as caught:
        await create_secret(pw(instance_id=instance_id), actor=ADMIN, core=h.core)
    assert (caught.value.check, caught.value.instance_id) == (check, instance_id)
    assert fragment in caught.value.next_step.text
    assert h.sandbox.calls.total(CREATE) == 0


async def test_a_taken_name_is_said_with_the_short_name_and_the_way_forward(
    h: CoreHarness,
) -> None:
    with pytest.raises(CloudClientError) as caught:
        await create_secret(pw(name="web-3-root"), actor=ADMIN, core=h.core)
    assert caught.value.code == "Rejected.ResourceExist"
    assert "web-3-root already exists in cn-hangzhou" in caught.value.user_message
    assert caught.value.next_step.command == Subcommand("rotate", ("web-3-root",))
    assert "rotate the existing one ({command})" in caught.value.next_step.text
    assert (await list_audit(h.core.db))[0].outcome.startswith("failed: Rejected.ResourceExist")


async def test_a_name_in_its_deletion_window_points_to_restore(h: CoreHarness) -> None:
    h.sandbox.delete_out_of_band("cn-hangzhou", "web-3-root", planned=timedelta(days=7))
    with pytest.raises(CloudClientError) as caught:
        await create_secret(pw(name="web-3-root"), actor=ADMIN, core=h.core)
    assert caught.value.code == "Rejected.ResourceInDeleteWindow"
    assert "scheduled for deletion" in caught.value.user_message
    assert caught.value.next_step.command == Subcommand("restore", ("web-3-root",))


async def test_throttling_is_retried_then_given_up(h: CoreHarness) -> None:
    h.sandbox.faults.add(action=CREATE, kind="throttling")
    with pytest.raises(CloudThrottled):
        await create_secret(PW, actor=ADMIN, core=h.core)
    assert h.sandbox.calls.total(CREATE) == 3  # throttled calls did nothing: safe to retry
    assert h.sandbox.kms.find("cn-hangzhou", "acs/ecs/web-3-new") is None


async def test_a_server_error_is_not_retried(h: CoreHarness) -> None:
    h.sandbox.faults.add(action=CREATE, kind="server_error", times=1)
    with pytest.raises(CloudUnavailable):
        await create_secret(PW, actor=ADMIN, core=h.core)
    assert h.sandbox.calls.total(CREATE) == 1  # CreateSecret is not idempotent


async def test_dry_run_shows_the_call_without_the_value(h: CoreHarness) -> None:
    report = await create_secret(
        replace(PW, automatic_rotation=True, dry_run=True), actor=ADMIN, core=h.core
    )
    assert isinstance(report, DryRunReport) and report.allowed
    assert [line.split(":")[0] for line in report.preflight] == ["ok", "ok", "ok"]
    assert "CreateSecret SecretName=acs/ecs/web-3-new SecretType=ECS" in report.cloud_call
    assert "RotationInterval=7d" in report.cloud_call
    assert "<the current password of root, not shown>" in report.cloud_call
    assert CANARY not in repr(report)
    stopped = await create_secret(
        replace(PW, instance_id="i-stopped", dry_run=True), actor=ADMIN, core=h.core
    )
    assert isinstance(stopped, DryRunReport) and "stop at the pre-flight" in stopped.summary
    assert h.sandbox.calls.total(CREATE) == 0
    assert await list_audit(h.core.db) == []


async def test_the_same_request_id_creates_once(h: CoreHarness) -> None:
    first = await create_secret(replace(PW, request_id="view-c1"), actor=ADMIN, core=h.core)
    second = await create_secret(replace(PW, request_id="view-c1"), actor=ADMIN, core=h.core)
    assert first == second
    assert h.sandbox.calls.total(CREATE) == 1
