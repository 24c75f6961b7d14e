"""The layers of design.md hold: bot/ -> commands/ -> storage/, one way, checked by imports.

Scans every module's imports (including those inside functions) with ``ast``:
``commands/`` and ``storage/`` know nothing of Slack or of the front ends; ``storage/``
uses nothing of the core but its error tree; only the gateway talks to the cloud SDKs;
and the sandbox is reached only through the ``--sandbox`` switches.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ecs_secret_bot"
SDK_CLIENTS = ("alibabacloud_kms20160120", "alibabacloud_ecs20140526", "alibabacloud_tea_openapi")


def modules(folder: str = "") -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


def imports(path: Path) -> set[str]:
    """Return every module name ``path`` imports, at any depth."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def rel(path: Path) -> str:
    return path.relative_to(PACKAGE.parent).as_posix()


@pytest.mark.parametrize("path", modules("commands") + modules("storage"), ids=rel)
def test_the_core_knows_no_slack_and_no_front_end(path: Path) -> None:
    forbidden = ("slack_bolt", "slack_sdk", "ecs_secret_bot.bot", "ecs_secret_bot.terminal")
    forbidden += ("ecs_secret_bot.sandbox", "ecs_secret_bot.cli")
    bad = sorted(n for n in imports(path) if n.startswith(forbidden))
    assert not bad, f"{rel(path)} imports {bad}"


@pytest.mark.parametrize("path", modules("storage"), ids=rel)
def test_storage_uses_only_the_error_tree_of_the_core(path: Path) -> None:
    ours = {n for n in imports(path) if n.startswith("ecs_secret_bot.")}
    bad = sorted(
        n
        for n in ours
        if not n.startswith(("ecs_secret_bot.storage", "ecs_secret_bot.commands.errors"))
    )
    assert not bad, f"{rel(path)} imports {bad}"


def test_only_the_gateway_and_the_sandbox_use_the_cloud_sdk_clients() -> None:
    users = {
        rel(path)
        for path in modules()
        if any(n.startswith(SDK_CLIENTS) for n in imports(path))
        and not rel(path).startswith("ecs_secret_bot/sandbox/")
    }
    assert users == {
        "ecs_secret_bot/commands/gateway.py",
        "ecs_secret_bot/commands/_cloud_errors.py",
    }


def test_the_sandbox_is_reached_only_through_the_sandbox_switches() -> None:
    users = {
        rel(path)
        for path in modules()
        if any(n.startswith("ecs_secret_bot.sandbox") for n in imports(path))
        and not rel(path).startswith("ecs_secret_bot/sandbox/")
    }
    assert users == {
        "ecs_secret_bot/cli.py",  # ecs-secret-bot sandbox
        "ecs_secret_bot/bot/sandboxed.py",  # ecs-secret-bot serve --sandbox
        "ecs_secret_bot/terminal/session.py",  # ecs-secret --sandbox
    }


@pytest.mark.parametrize("path", modules(), ids=rel)
def test_sql_is_written_only_in_storage(path: Path) -> None:
    if rel(path).startswith(("ecs_secret_bot/storage/", "ecs_secret_bot/sandbox/")):
        return
    text = path.read_text(encoding="utf-8")
    for keyword in ("SELECT ", "INSERT INTO", "DELETE FROM", "CREATE TABLE", "execute_fetchall"):
        assert keyword not in text, f"{rel(path)} writes SQL ({keyword.strip()})"
