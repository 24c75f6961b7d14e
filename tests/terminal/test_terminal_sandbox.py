"""``ecs-secret --sandbox`` is a world of its own: in a folder where the bot's configuration
and database live, a sandbox session keeps its records in its own file, named first, and
leaves the configured database and key file byte for byte as they were."""

from __future__ import annotations

from pathlib import Path

from cli_runner import CliResult
from terminal_harness import Terminal

SANDBOX_DB = "ecs-secret-bot-sandbox.db"


def ok(result: CliResult) -> CliResult:
    assert result.code == 0, str(result)
    return result


def snapshot(folder: Path) -> dict[str, bytes]:
    """Return every file of the folder but the sandbox's own, by name, with its bytes."""
    return {
        p.name: p.read_bytes()
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(SANDBOX_DB)
    }


async def test_a_sandbox_session_never_touches_the_configured_database(
    terminal: Terminal,
) -> None:
    # The operator's own records: a deletion scheduled against the (fixture's) cloud.
    ok(await terminal("delete", "web-4-ecs-user-key", "--days", "7", "--yes"))
    before = snapshot(terminal.cwd)
    assert {"bot.db", "bot.db.key"} <= set(before)

    deleted = ok(await terminal("--sandbox", "delete", "web-3-root", "--days", "7", "--yes"))
    first_line = deleted.err.splitlines()[0]
    assert first_line.startswith("SANDBOX:")
    assert str(terminal.cwd / SANDBOX_DB) in first_line
    listed = ok(await terminal("--sandbox", "pending", "--json")).json["result"]["rows"]
    assert [row["short_name"] for row in listed] == ["web-3-root"]
    ok(await terminal("--sandbox", "audit"))

    assert snapshot(terminal.cwd) == before
    assert (terminal.cwd / SANDBOX_DB).exists()
    assert (terminal.cwd / f"{SANDBOX_DB}.key").exists()
    real = ok(await terminal("pending", "--json")).json["result"]["rows"]
    assert [row["short_name"] for row in real] == ["web-4-ecs-user-key"]
    audit = ok(await terminal("audit", "--json")).json["result"]
    assert all("web-3-root" not in str(entry) for entry in audit)


async def test_the_sandbox_ignores_the_configured_key(terminal: Terminal) -> None:
    # A data key in the environment belongs to the real database, not to the sandbox's.
    key = "ab" * 32
    ok(await terminal("pending", ECS_SECRET_BOT_DATA_KEY=key))
    assert not (terminal.cwd / "bot.db.key").exists()
    ok(await terminal("--sandbox", "pending", ECS_SECRET_BOT_DATA_KEY=key))
    ok(await terminal("--sandbox", "pending"))
    assert (terminal.cwd / f"{SANDBOX_DB}.key").exists()


async def test_a_configuration_naming_the_sandbox_file_is_refused(terminal: Terminal) -> None:
    text = terminal.config.read_text(encoding="utf-8")
    terminal.config.write_text(text.replace('"bot.db"', f'"{SANDBOX_DB}"'), encoding="utf-8")
    refused = await terminal("--sandbox", "pending")
    assert refused.code == 7, str(refused)
    assert "storage.path" in refused.err and "SANDBOX" not in refused.err
    assert not (terminal.cwd / SANDBOX_DB).exists()
