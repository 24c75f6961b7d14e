"""The data key wrapped by KMS: ``ecs-secret-bot wrap-key`` and every start after it.

Against the seeded sandbox, whose KMS has the key ``alias/ecs-secret-bot``, through the real
SDK: the key file ends up holding only what KMS encrypted, the database opens only through
KMS Decrypt, a held custom value still decrypts, a wrong key is refused before the file is
touched, and a KMS that refuses says which permission is missing.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes.cloud import REGIONS, sandbox_credential
from terminal_harness import Terminal, config_text

from ecs_secret_bot.config import Settings, load_settings
from ecs_secret_bot.data_key import wrap_key_command
from ecs_secret_bot.errors import CloudError, CloudPermissionDenied, StorageFault, storage_error
from ecs_secret_bot.runtime import open_storage
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.sandbox.kms_keys import grant_key_use
from ecs_secret_bot.sandbox.ram import DEFAULT_POLICY_FILE, RamPolicy
from ecs_secret_bot.storage import approvals, open_database, payloads
from ecs_secret_bot.storage.approvals import NewApproval

ALIAS = "alias/ecs-secret-bot"
VALUE = b"Held-Custom-Value#1"


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(regions=REGIONS, seed=True) as sb:
        yield sb


def configure(folder: Path, sandbox: Sandbox, key_id: str = ALIAS) -> Path:
    config = folder / "ecs-secret-bot.toml"
    text = config_text(sandbox)
    if key_id:
        text = text.replace('path = "bot.db"', f'path = "bot.db"\nkey_kms_key_id = "{key_id}"')
    config.write_text(text, encoding="utf-8")
    return config


async def wrap(config: Path, **env: str) -> tuple[int, str]:
    out = io.StringIO()
    code = await wrap_key_command(config, env=env, out=out, credential=sandbox_credential())
    return code, out.getvalue()


async def hold_a_value(settings: Settings) -> str:
    db = await open_storage(settings, credential=sandbox_credential())
    try:
        now = datetime.now(UTC)
        row = await approvals.insert_approval(
            db,
            NewApproval(
                action="kms:PutSecretValue",
                resource="acs:kms:cn-hangzhou:*:secret/acs/ecs/web-3-root",
                region="cn-hangzhou",
                secret_name="acs/ecs/web-3-root",
                requester="U1",
                channel_id="C1",
                rule="custom-value",
                params={"custom_value": True},
                expires_at=now + timedelta(hours=1),
            ),
            now=now,
        )
        await payloads.put_payload(db, row.id, VALUE)
        return row.id
    finally:
        await db.close()


async def read_value(settings: Settings, approval_id: str) -> bytes | None:
    db = await open_storage(settings, credential=sandbox_credential())
    try:
        return await payloads.read_payload(db, approval_id)
    finally:
        await db.close()


async def test_a_first_start_gets_its_data_key_from_kms(tmp_path: Path, sandbox: Sandbox) -> None:
    config = configure(tmp_path, sandbox)
    code, said = await wrap(config)
    assert code == 0, said
    assert f"Created {tmp_path / 'bot.db.key'}: a new data key, wrapped by KMS key {ALIAS}" in said
    stored = json.loads((tmp_path / "bot.db.key").read_text())
    assert stored["format"] == "ecs-secret-bot/kms-wrapped-data-key/1"
    assert (stored["key_id"], stored["region"]) == (ALIAS, "cn-hangzhou")
    assert (tmp_path / "bot.db.key").stat().st_mode & 0o777 == 0o600
    settings = load_settings(config)
    approval_id = await hold_a_value(settings)
    assert await read_value(settings, approval_id) == VALUE
    assert sandbox.calls.total("GenerateDataKey") == 1
    assert sandbox.calls.total("Decrypt") == 2  # once per start
    # The folder alone no longer opens the database: the file holds no key to read.
    with pytest.raises(StorageFault, match="holds a data key wrapped by KMS") as wrapped:
        await open_database(tmp_path / "bot.db")
    assert "[storage] key_kms_key_id" in storage_error(wrapped.value).user_message
    assert (await wrap(config))[1].startswith(f"{tmp_path / 'bot.db.key'} already holds")


async def test_a_plain_key_file_is_wrapped_in_place(tmp_path: Path, sandbox: Sandbox) -> None:
    plain_config = configure(tmp_path, sandbox, key_id="")
    approval_id = await hold_a_value(load_settings(plain_config))
    plain = (tmp_path / "bot.db.key").read_text().strip()
    config = configure(tmp_path, sandbox)
    code, said = await wrap(config)
    assert code == 0 and "Wrapped the data key in" in said and "free blocks" in said
    text = (tmp_path / "bot.db.key").read_text()
    assert plain not in text and base64.b64decode(plain).hex() not in text
    assert await read_value(load_settings(config), approval_id) == VALUE
    # and under another KMS key, later
    other = sandbox.keys.create_key("cn-hangzhou", alias="alias/next")
    grant_key_use(sandbox.access, "cn-hangzhou", other)
    code, said = await wrap(configure(tmp_path, sandbox, key_id="alias/next"))
    assert code == 0 and "Re-wrapped" in said
    assert (
        await read_value(load_settings(configure(tmp_path, sandbox, other)), approval_id) == VALUE
    )


async def test_a_key_that_is_not_the_databases_is_refused_before_anything_changes(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    await hold_a_value(load_settings(configure(tmp_path, sandbox, key_id="")))
    before = (tmp_path / "bot.db.key").read_bytes()
    wrong = base64.b64encode(bytes(32)).decode()
    code, said = await wrap(configure(tmp_path, sandbox), ECS_SECRET_BOT_DATA_KEY=wrong)
    assert code == 1 and "is not the data key it was created with" in said
    assert (tmp_path / "bot.db.key").read_bytes() == before
    assert sandbox.calls.total("Encrypt") == 0


async def test_kms_refusing_says_which_key_and_permission(tmp_path: Path, sandbox: Sandbox) -> None:
    config = configure(tmp_path, sandbox)
    assert (await wrap(config))[0] == 0
    sandbox.access.policy = RamPolicy.load(DEFAULT_POLICY_FILE)  # the grant on the key is gone
    with pytest.raises(CloudPermissionDenied) as denied:
        await open_storage(load_settings(config), credential=sandbox_credential())
    assert denied.value.permission == "kms:Decrypt" and denied.value.action == "Decrypt"
    assert "the bot's own alibaba cloud identity lacks" in denied.value.user_message.lower()
    sandbox.keys.material.clear()  # and now the key itself is gone
    with pytest.raises(CloudError) as missing:
        await open_storage(load_settings(config), credential=sandbox_credential())
    assert missing.value.code == "Forbidden.KeyNotFound"
    code, said = await wrap(configure(tmp_path, sandbox, key_id=""))
    assert code == 1 and "key_kms_key_id is not set" in said


async def test_ecs_secret_opens_the_same_database_through_kms(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    config = configure(tmp_path, sandbox)
    terminal = Terminal(sandbox, tmp_path, config)
    # no key file, no database: the first start asks KMS for a data key, as wrap-key would
    rotated = await terminal.inproc("rotate", "web-3-root", "--no-wait")
    assert rotated.code == 0, str(rotated)
    assert json.loads((tmp_path / "bot.db.key").read_text())["key_id"] == ALIAS
    proof = await terminal.inproc("audit", "--verify")
    assert proof.code == 0 and "verifies: 2 entries" in proof.out
    assert sandbox.calls.total("Decrypt") == 1 and sandbox.calls.total("GenerateDataKey") == 1


async def test_the_sandbox_demo_key_survives_a_restart(tmp_path: Path, sandbox: Sandbox) -> None:
    # The README's walk-through wraps its key with the sandbox's demo key, then the reader
    # stops the sandbox: the next sandbox must still unwrap it (the demo key is public).
    config = configure(tmp_path, sandbox)
    assert (await wrap(config))[0] == 0
    async with Sandbox(regions=REGIONS, seed=True) as again:
        settings = load_settings(configure(tmp_path, again))
        db = await open_storage(settings, credential=sandbox_credential())
        await db.close()
