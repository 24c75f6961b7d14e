"""``ecs-secret-bot check``'s function: each line OK, or exactly what is wrong and what to do,
against the sandbox cloud and fake Slack over loopback."""

from __future__ import annotations

import io
import sqlite3
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest
from fakes import FakeSlackAPI
from fakes import workspace as ws
from fakes.cloud import REGIONS, sandbox_credential
from terminal_harness import config_text

from ecs_secret_bot.check import CheckLine, format_lines, run_check
from ecs_secret_bot.config import load_settings
from ecs_secret_bot.launch import check_command
from ecs_secret_bot.runtime import open_storage
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.storage.audit import AuditEntry, append_audit


def by_name(lines: list[CheckLine]) -> dict[str, CheckLine]:
    return {line.name: line for line in lines}


async def test_everything_reachable(tmp_path: Path, slack_api: FakeSlackAPI) -> None:
    async with Sandbox(regions=REGIONS, seed=True) as sandbox:
        config = tmp_path / "bot.toml"
        config.write_text(config_text(sandbox), encoding="utf-8")
        lines = await run_check(
            load_settings(config),
            slack_token=ws.BOT_TOKEN,
            slack_api_url=slack_api.url,
            credential=sandbox_credential(),
            slack_signing_secret="s3cr3t",
        )
    found = by_name(lines)
    assert [line.status for line in lines] == ["OK"] * len(lines), format_lines(lines)
    assert "1 binding(s); 1 approval rule(s)" in found["configuration"].detail
    assert found["storage"].detail.endswith("bot.db opens (created now)")
    assert "workspace" in found["slack auth.test"].detail
    assert "SLACK_SIGNING_SECRET is set" in found["slack http mode"].detail
    assert found["kms cn-hangzhou"].detail.startswith("ListSecrets answered: 5 ECS secret(s)")
    assert found["ecs cn-shanghai"].detail.startswith("DescribeInstances answered: 0")
    assert "AccessKey ID sandbox" in found["credentials"].detail
    assert sandbox.calls.total("ListSecrets") == 2
    assert format_lines(lines).endswith("all checks passed")


@pytest.mark.slack_response("auth.test", {"ok": False, "error": "invalid_auth"})
async def test_each_failure_says_what_to_do(tmp_path: Path, slack_api: FakeSlackAPI) -> None:
    async with Sandbox(regions=REGIONS, seed=True, access_keys={"other": "key"}) as sandbox:
        config = tmp_path / "bot.toml"
        config.write_text(config_text(sandbox), encoding="utf-8")
        sandbox.faults.add(action="DescribeInstances", kind="server_error", status=503)
        lines = await run_check(
            load_settings(config),
            slack_token="xoxb-wrong",
            slack_api_url=slack_api.url,
            credential=sandbox_credential(),  # not accepted by this sandbox
        )
    found = by_name(lines)
    auth = found["slack auth.test"]
    assert auth.status == "FAIL" and "invalid_auth" in auth.detail
    assert "Bot User OAuth Token" in auth.next_step
    mode = found["slack http mode"]
    assert mode.status == "FAIL" and "SLACK_SIGNING_SECRET" in mode.next_step
    kms = found["kms cn-hangzhou"]
    assert kms.status == "FAIL" and "InvalidAccessKeyId.NotFound" in kms.detail
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in kms.next_step
    text = format_lines(lines)
    assert "xoxb-wrong" not in text and "sandbox-secret" not in text
    assert text.endswith("check(s) failed")


async def test_no_slack_token_is_a_skip_and_bad_configuration_a_failure(
    tmp_path: Path,
) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[storage]\npath = ''\n", encoding="utf-8")
    out = io.StringIO()
    assert await check_command(broken, env={}, out=out) == 1
    assert out.getvalue().startswith("FAIL  configuration")
    assert "[storage.path]" in out.getvalue()

    async with Sandbox(regions=REGIONS, seed=False) as sandbox:
        config = tmp_path / "bot.toml"
        config.write_text(config_text(sandbox), encoding="utf-8")
        out = io.StringIO()
        code = await check_command(config, env={}, out=out, credential=sandbox_credential())
    assert code == 0, out.getvalue()
    assert "SKIP  slack" in out.getvalue()


async def test_in_oauth_install_mode_slack_is_a_skip_that_says_why(tmp_path: Path) -> None:
    env = {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "secret"}
    async with Sandbox(regions=REGIONS, seed=False) as sandbox:
        config = tmp_path / "bot.toml"
        config.write_text(config_text(sandbox), encoding="utf-8")
        out = io.StringIO()
        code = await check_command(config, env=env, out=out, credential=sandbox_credential())
    assert code == 0, out.getvalue()
    assert "SKIP  slack" in out.getvalue() and "OAuth install mode" in out.getvalue()


async def test_a_database_that_will_not_open(tmp_path: Path) -> None:
    async with Sandbox(regions=REGIONS, seed=False) as sandbox:
        config = tmp_path / "bot.toml"
        config.write_text(config_text(sandbox), encoding="utf-8")
        (tmp_path / "bot.db").write_bytes(b"this is not SQLite" * 64)
        lines = await run_check(
            load_settings(config),
            slack_token="",
            slack_api_url="http://127.0.0.1:9/",
            credential=sandbox_credential(),
            data_key="",
        )
    storage = by_name(lines)["storage"]
    assert storage.status == "FAIL" and "bot.db" in storage.detail


async def test_a_forged_audit_entry_fails_the_check_naming_it(tmp_path: Path) -> None:
    async with Sandbox(regions=REGIONS, seed=True) as sandbox:
        config = tmp_path / "bot.toml"
        config.write_text(config_text(sandbox), encoding="utf-8")
        settings = load_settings(config)
        db = await open_storage(settings)
        for outcome in ("started", "executed"):
            entry = AuditEntry("local:user:ops", "kms:RotateSecret", "r", "", "allow", "", outcome)
            await append_audit(db, entry, at=datetime.now(UTC))
        await db.close()
        run = partial(run_check, settings, slack_token="", slack_api_url="http://127.0.0.1:9/")
        fine = by_name(await run(credential=sandbox_credential()))["audit log"]
        assert fine.status == "OK" and "2 entries verify" in fine.detail
        conn = sqlite3.connect(tmp_path / "bot.db", isolation_level=None)
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("UPDATE audit_log SET actor = 'local:user:mallory' WHERE seq = 1")
        conn.close()
        lines = await run(credential=sandbox_credential())
    audit = by_name(lines)["audit log"]
    assert audit.status == "FAIL" and audit.detail.startswith("entry 1 (")
    assert "entry 1 was changed after it was written" in audit.detail
    assert "restore from a backup" in audit.next_step
    assert format_lines(lines).endswith("1 check(s) failed")
