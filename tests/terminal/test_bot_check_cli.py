"""``ecs-secret-bot check`` as a program: ``--config PATH`` as ``ecs-secret`` takes it, and
``--sandbox`` as ``serve --sandbox`` runs (the emulated cloud, the sandbox's own database,
no configuration file needed)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from cli_runner import CliResult, sandbox_env
from fakes.cloud import REGIONS
from terminal_harness import config_text

from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.storage import open_database

SANDBOX_DB = "ecs-secret-bot-sandbox.db"


async def bot(*args: str, cwd: Path, **env: str) -> CliResult:
    """Run ``ecs-secret-bot args...``; return how it ended."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ecs_secret_bot.cli",
        *args,
        cwd=cwd,
        env=sandbox_env(**env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return CliResult(process.returncode, out.decode(), err.decode())


async def test_check_takes_the_configuration_from_an_option(tmp_path: Path) -> None:
    async with Sandbox(regions=REGIONS, seed=False) as sandbox:
        config = tmp_path / "elsewhere" / "bot.toml"
        config.parent.mkdir()
        config.write_text(config_text(sandbox), encoding="utf-8")
        # the option wins over the environment, as in ecs-secret
        result = await bot(
            "check", "--config", str(config), cwd=tmp_path, ECS_SECRET_BOT_CONFIG="nope.toml"
        )
    assert result.code == 0, str(result)
    assert f"OK    configuration    {config}" in result.out
    assert (config.parent / "bot.db").exists()
    missing = await bot("check", "--config", str(tmp_path / "missing.toml"), cwd=tmp_path)
    assert missing.code == 1 and "missing.toml: no configuration file here" in missing.out


async def test_check_with_the_sandbox_needs_nothing_and_touches_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = await bot("check", "--sandbox", cwd=empty)
    assert result.code == 0, str(result)
    assert "(built-in sandbox)" in result.out
    assert f"OK    storage          {empty / SANDBOX_DB} opens" in result.out
    assert "ListSecrets answered: 5 ECS secret(s)" in result.out

    # beside a configuration and its database, the sandbox still uses its own file
    async with Sandbox(regions=REGIONS, seed=False) as sandbox:
        config = tmp_path / "ecs-secret-bot.toml"
        config.write_text(config_text(sandbox), encoding="utf-8")
    async with await open_database(tmp_path / "bot.db"):
        pass
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    result = await bot("check", "--sandbox", cwd=tmp_path)
    assert result.code == 0, str(result)
    assert f"{tmp_path / SANDBOX_DB} opens (created now)" in result.out
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert {n: b for n, b in after.items() if SANDBOX_DB not in n} == before


async def test_a_mistyped_command_gets_did_you_mean(tmp_path: Path) -> None:
    result = await bot("chek", "--sandbox", cwd=tmp_path)
    assert result.code == 2
    assert "invalid choice: 'chek'; did you mean 'check'?" in result.err
    assert list(tmp_path.iterdir()) == []
