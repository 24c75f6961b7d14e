"""The shape of ``storage/``: documented modules, explicit ``__all__``, one-way imports.

``storage/`` may import the standard library, aiosqlite, cryptography, itself and the
error tree in ``commands/errors.py``, nothing else of the bot (and never Slack).
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import ecs_secret_bot.storage as storage

FOLDER = Path(storage.__file__).parent
MODULES = sorted(p for p in FOLDER.glob("*.py"))
ALLOWED_BOT_IMPORTS = ("ecs_secret_bot.storage", "ecs_secret_bot.errors")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_imports_point_one_way(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            assert not name.startswith(("slack", "alibabacloud")), name
            if name.startswith("ecs_secret_bot"):
                assert name.startswith(ALLOWED_BOT_IMPORTS), f"{path.name} imports {name}"
        if isinstance(node, ast.Attribute) and node.attr == "environ":
            pytest.fail(f"{path.name} reads os.environ")


@pytest.mark.parametrize(
    "name", [m.name for m in pkgutil.iter_modules(storage.__path__)] + ["__init__"]
)
def test_every_module_is_documented_and_declares_all(name: str) -> None:
    module = (
        storage if name == "__init__" else importlib.import_module(f"{storage.__name__}.{name}")
    )
    assert module.__doc__ and len(module.__doc__.strip()) > 40
    exported = module.__all__
    for symbol in exported:
        obj = getattr(module, symbol)
        if callable(obj) and not isinstance(obj, type):
            assert obj.__doc__, f"{name}.{symbol} has no docstring"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_modules_stay_readable(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 420
