"""No module of the package passes 400 lines: past that, split it by idea (house style 15).

Counts every line of the file, docstrings and blank lines included, as an editor shows them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ecs_secret_bot"
MAX_LINES = 400


def lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


@pytest.mark.parametrize(
    "path",
    sorted(PACKAGE.rglob("*.py")),
    ids=lambda path: path.relative_to(PACKAGE.parent).as_posix(),
)
def test_no_module_passes_400_lines(path: Path) -> None:
    count = lines(path)
    assert count <= MAX_LINES, f"{path.name} has {count} lines; split it by what each part owns"


def test_the_size_check_sees_the_package() -> None:
    modules = list(PACKAGE.rglob("*.py"))
    assert PACKAGE / "errors.py" in modules and PACKAGE / "commands" / "core.py" in modules
