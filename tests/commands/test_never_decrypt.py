"""The bot never decrypts a secret: the user name comes from CustomData, or from the person.

GetSecretValue is the only KMS call that returns a value; the product names it nowhere,
and the suite-wide ``the_bot_never_decrypts`` (tests/conftest.py) checks every sandbox's
call log after every test. Here: what replaces it.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fakes.cloud import BOT_AGENT
from fakes.core import CoreHarness, actor

from ecs_secret_bot.commands.operations.create import create_secret
from ecs_secret_bot.commands.operations.rotate import rotate_secret
from ecs_secret_bot.commands.outcomes import CreateResult, RotateResult
from ecs_secret_bot.commands.queries import show_secret
from ecs_secret_bot.commands.requests import CreateRequest, RotateRequest
from ecs_secret_bot.errors import InvalidInput
from ecs_secret_bot.sandbox import CallLog, Sandbox

ADMIN = actor("UADMIN")
REGION = "cn-hangzhou"
PACKAGE = Path(__file__).resolve().parents[2] / "ecs_secret_bot"
PASSWORD = "Custom#Pw-0123456789"


@pytest.fixture
async def h(tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[CoreHarness]:
    sandbox.add_ecs_secret(REGION, "web-3-root", instance_id="i-web3")
    # created in the console: nothing but the (encrypted) value names its user
    sandbox.add_ecs_secret(REGION, "console-admin", instance_id="i-win1", custom_data={})
    harness = await CoreHarness.start(tmp_path, sandbox)
    try:
        yield harness
    finally:
        await harness.close()


def test_no_module_of_the_product_makes_a_decrypting_call() -> None:
    # The SDK's method and request model; RAM action names in policies are not calls.
    calls = re.compile(r"get_secret_value|GetSecretValueRequest|\"GetSecretValue\"")
    named = [
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "sandbox" not in path.parts and calls.search(path.read_text(encoding="utf-8"))
    ]
    assert named == []


async def test_the_bot_says_who_it_is_on_every_call(h: CoreHarness) -> None:
    h.sandbox.calls.keep_answers()
    before = CallLog.in_process(agent=BOT_AGENT)
    await show_secret("web-3-root", actor=ADMIN, core=h.core)
    answers = h.sandbox.calls.answers()
    assert answers and all(BOT_AGENT in a.user_agent for a in answers)
    assert CallLog.in_process(agent=BOT_AGENT) - before >= len(answers)


async def test_create_writes_the_user_into_custom_data_and_show_reads_it(h: CoreHarness) -> None:
    created = await create_secret(
        CreateRequest("web-4-deploy", "i-web3", user_name="deploy", password=PASSWORD),
        actor=ADMIN,
        core=h.core,
    )
    assert isinstance(created, CreateResult)
    config = h.sandbox.secret(REGION, "web-4-deploy").extended_config or {}
    assert config["CustomData"] == {"UserName": "deploy"}
    view = await show_secret("web-4-deploy", actor=ADMIN, core=h.core)
    assert view.user_name == "deploy"
    assert h.sandbox.calls.total("GetSecretValue") == 0


async def test_show_says_the_user_is_unknown_where_kms_does_not_record_it(
    h: CoreHarness,
) -> None:
    view = await show_secret("console-admin", actor=ADMIN, core=h.core)
    assert view.user_name == ""
    assert view.notes == ()  # not a failed lookup: KMS simply does not say


async def test_a_custom_value_asks_for_the_user_kms_does_not_record(h: CoreHarness) -> None:
    with pytest.raises(InvalidInput) as caught:
        await rotate_secret(
            RotateRequest("console-admin", custom_password=PASSWORD), actor=ADMIN, core=h.core
        )
    assert caught.value.field == "user_name"
    assert "never decrypts" in caught.value.user_message
    assert h.sandbox.calls.total("PutSecretValue") == 0

    result = await rotate_secret(
        RotateRequest("console-admin", custom_password=PASSWORD, user_name="root"),
        actor=ADMIN,
        core=h.core,
    )
    assert isinstance(result, RotateResult)
    pending = h.sandbox.secret(REGION, "console-admin").versions[result.version_id]
    assert json.loads(pending.data)["UserName"] == "root"


async def test_a_custom_value_keeps_the_user_kms_records(h: CoreHarness) -> None:
    with pytest.raises(InvalidInput) as caught:
        await rotate_secret(
            RotateRequest("web-3-root", custom_password=PASSWORD, user_name="admin"),
            actor=ADMIN,
            core=h.core,
        )
    assert caught.value.field == "user_name"
    assert "KMS records root" in caught.value.user_message
    same = RotateRequest("web-3-root", custom_password=PASSWORD, user_name="root")
    assert isinstance(await rotate_secret(same, actor=ADMIN, core=h.core), RotateResult)
