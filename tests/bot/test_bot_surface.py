"""The Slack layer's shape: no SQL, no cloud SDK, docstrings and ``__all__`` everywhere."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import ecs_secret_bot.bot as bot_package

BOT = Path(bot_package.__file__).parent
FORBIDDEN = ("sqlite3", "aiosqlite", "alibabacloud_kms", "alibabacloud_ecs", "alibabacloud_tea")


def modules() -> list[Path]:
    return sorted(BOT.rglob("*.py"))


def test_bot_makes_no_sql_and_no_cloud_sdk_call() -> None:
    for path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"
                assert not name.startswith("ecs_secret_bot.sandbox"), path.name


def test_every_module_has_a_docstring_and_all() -> None:
    for path in modules():
        relative = path.relative_to(BOT.parent.parent).with_suffix("")
        module = importlib.import_module(".".join(relative.parts).removesuffix(".__init__"))
        assert module.__doc__, path
        assert isinstance(getattr(module, "__all__", None), list), path
        assert len(path.read_text(encoding="utf-8").splitlines()) < 420, path
