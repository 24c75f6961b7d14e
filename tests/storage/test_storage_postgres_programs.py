"""The programs on ``[storage] url``: ``ecs-secret-bot check``, a real ``serve`` process and
``ecs-secret audit --verify``, against the throwaway PostgreSQL, end to end.

Each runs as the operator would run it, configured only by its TOML file and environment;
nothing is mocked. A replica with another data key is refused with words, not a traceback.
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fakes import SIGNING_SECRET, FakeSlackAPI
from fakes import workspace as ws
from fakes.bot import SEC, SRE
from fakes.cloud import REGIONS, endpoints_toml, sandbox_credential
from fakes.payloads import input_state, select_state
from fakes.policies import access_toml
from fakes.postgres import PASSWORD, PostgresServer
from fakes.serve_process import ROOT, ServeProcess, free_port, serve_config

from ecs_secret_bot.bot.ids import Action, Block, Callback
from ecs_secret_bot.config import load_settings
from ecs_secret_bot.data_key import wrap_key_command
from ecs_secret_bot.runtime import open_storage
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.storage import audit, generate_data_key, pending
from ecs_secret_bot.terminal.environment import login_name


@pytest.fixture
async def cloud() -> AsyncIterator[Sandbox]:
    """A seeded sandbox running beside the bot."""
    sandbox = Sandbox(seed=True, rotation_delay=1.0)
    await sandbox.start(port=0, grace=0.5)
    try:
        yield sandbox
    finally:
        await sandbox.stop()


def write_key(path: Path) -> Path:
    path.write_text(generate_data_key() + "\n", encoding="ascii")
    path.chmod(0o600)
    return path


@pytest.fixture
def config(tmp_path: Path, cloud: Sandbox, slack_api: FakeSlackAPI, database_url: str) -> Path:
    slack_api.set_usergroup(SRE, [ws.ALICE_ID], handle="sre")
    slack_api.set_usergroup(SEC, [ws.ADMIN_ID], handle="security")
    policies = access_toml(
        admins=[f"slack:usergroup:{SRE}", f"slack:usergroup:{SEC}", f"local:user:{login_name()}"],
        channel=ws.SECOPS_CHANNEL_ID,
        delete_approvers=[f"slack:usergroup:{SEC}"],
    )
    return serve_config(tmp_path, cloud_url=cloud.url, policies=policies, database_url=database_url)


async def run(*argv: str, config: Path, **extra: str) -> tuple[int, str, str]:
    """Run a program of ours as the operator would; return its exit code and output."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ALIBABA_CLOUD_", "SLACK_", "ECS_SECRET_BOT_", "PG"))
    }
    env.update(
        ECS_SECRET_BOT_CONFIG=str(config),
        ALIBABA_CLOUD_ACCESS_KEY_ID="sandbox",
        ALIBABA_CLOUD_ACCESS_KEY_SECRET="sandbox-secret",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")])),
        **extra,
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        f"import sys; from ecs_secret_bot.cli import {argv[0]}; sys.exit({argv[0]}())",
        *argv[1:],
        cwd=config.parent,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def schedule_deletion(bot: ServeProcess, name: str) -> None:
    """Ask for ``name`` to be deleted in 10 days, through the modal, as a person would."""
    await bot.command(f"delete {name} --days 10")
    await bot.slack.wait_for_calls("views.open", count=1)
    view = bot.modal()
    assert view["callback_id"] == Callback.DELETE
    values = {
        Block.DELETE_MODE: {Action.DELETE_MODE: select_state("schedule", type="radio_buttons")},
        Block.DAYS: {Action.DAYS: input_state("10", type="number_input")},
        Block.CONFIRM_NAME: {Action.CONFIRM_NAME: input_state("")},
        Block.REASON: {Action.REASON: input_state("clean-up")},
    }
    answer = (await bot.submit(view, values)).json()
    assert answer["response_action"] == "update", answer
    await bot.click(Action.DELETE_GO, view=bot.modal(), block_id=Block.DELETE_GO, value="go")


async def test_check_serve_and_audit_run_on_postgresql(
    config: Path, slack_api: FakeSlackAPI, database_url: str
) -> None:
    code, out, err = await run("main", "check", config=config)
    assert f"OK    storage          {database_url} opens" in out, out + err
    assert "OK    audit log" in out, out + err
    assert "Traceback" not in err

    bot = await ServeProcess.start(config, slack=slack_api)
    try:
        await schedule_deletion(bot, "web-4-ecs-user-key")
        db = await open_storage(load_settings(config))
        try:
            deadline = time.monotonic() + 20
            while not await pending.list_pending(db):
                assert time.monotonic() < deadline, "the deletion never reached PostgreSQL"
                await asyncio.sleep(0.1)
            [row] = await pending.list_pending(db)
            assert row.secret_name == "acs/ecs/web-4-ecs-user-key"
            assert (await audit.verify_audit_chain(db)).checked >= 1
        finally:
            await db.close()
    finally:
        stopped = await bot.terminate(timeout=30)
    assert stopped.returncode == 0, stopped.stderr
    assert "Traceback" not in stopped.stderr

    code, out, err = await run("terminal_main", "audit", "--verify", config=config)
    assert code == 0, out + err
    assert "verif" in out.lower()


async def test_a_replica_with_another_key_is_refused_in_words(
    config: Path, database_url: str, slack_api: FakeSlackAPI
) -> None:
    code, out, _ = await run("main", "check", config=config)
    assert f"{database_url} opens" in out
    write_key(config.parent / "bot.key")  # the other replica's copy is not the same key
    code, out, err = await run("main", "check", config=config)
    assert code != 0
    assert "every replica must use the same data key" in out
    assert "Use the original data key" in out
    assert "Traceback" not in err

    slack = {
        "SLACK_BOT_TOKEN": ws.BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api.url,
    }
    port = str(free_port())
    code, out, err = await run("main", "serve", "--port", port, config=config, **slack)
    assert code != 0
    assert "every replica must use the same data key" in out + err
    assert "Traceback" not in out + err


async def test_the_shared_key_wrapped_by_kms_opens_postgresql(
    tmp_path: Path, database_url: str
) -> None:
    async with Sandbox(regions=REGIONS, seed=True) as sandbox:
        plain = write_key(tmp_path / "bot.key").read_text(encoding="ascii")
        config = tmp_path / "bot.toml"
        config.write_text(
            f"""
[cloud]
default_region = "cn-hangzhou"
regions = {list(REGIONS)!r}
{endpoints_toml(sandbox)}

[storage]
url = "{database_url}"
key_file = "bot.key"
key_kms_key_id = "alias/ecs-secret-bot"
""",
            encoding="utf-8",
        )
        out = io.StringIO()
        code = await wrap_key_command(config, env={}, out=out, credential=sandbox_credential())
        assert code == 0, out.getvalue()
        assert "Wrapped the data key" in out.getvalue()
        assert plain.strip() not in (tmp_path / "bot.key").read_text(encoding="utf-8")
        assert not (tmp_path / "ecs-secret-bot.db").exists()  # no SQLite file on the way
        db = await open_storage(load_settings(config), credential=sandbox_credential())
        try:
            assert (await audit.verify_audit_chain(db)).ok
        finally:
            await db.close()


async def test_check_takes_the_password_from_pgpassword(
    config: Path, database_url: str, postgres_server: PostgresServer
) -> None:
    url = postgres_server.password_login(database_url)
    config.write_text(config.read_text().replace(database_url, url), encoding="utf-8")
    code, out, err = await run("main", "check", config=config)
    assert "login was refused" in out and "PGPASSWORD" in out, out + err
    assert "Traceback" not in err
    code, out, err = await run("main", "check", config=config, PGPASSWORD=PASSWORD)
    assert f"OK    storage          {url} opens" in out, out + err


async def answer_to(bot: ServeProcess, text: str) -> str:
    """Type ``/ecs-secret text``; return what the person is told (in the ack, or after it)."""
    before = len(bot.slack.calls_to("response_url"))
    acked = await bot.command(text)
    if acked.body:
        return str(acked.json())
    calls = await bot.slack.wait_for_calls("response_url", count=before + 1, timeout=20)
    return str(calls[-1].payload)


async def test_serve_refuses_in_words_while_postgresql_is_away_and_recovers(
    tmp_path: Path, cloud: Sandbox, slack_api: FakeSlackAPI
) -> None:
    slack_api.set_usergroup(SRE, [ws.ALICE_ID], handle="sre")
    policies = access_toml(
        admins=[f"slack:usergroup:{SRE}"],
        channel=ws.SECOPS_CHANNEL_ID,
        delete_approvers=[f"slack:usergroup:{SRE}"],
    )
    with PostgresServer() as server:
        server.psql("CREATE DATABASE bot")
        config = serve_config(
            tmp_path, cloud_url=cloud.url, policies=policies, database_url=server.url("bot")
        )
        bot = await ServeProcess.start(config, slack=slack_api)
        try:
            assert "unreachable" not in await answer_to(bot, "pending")
            await asyncio.to_thread(server.stop)
            refused = await answer_to(bot, "pending")
            assert "unreachable" in refused and "try again" in refused, refused
            await asyncio.to_thread(server.start)
            assert "unreachable" not in await answer_to(bot, "pending")  # no restart
        finally:
            stopped = await bot.terminate(timeout=30)
    assert stopped.returncode == 0, stopped.stderr
