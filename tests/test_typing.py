"""The core and the cloud layer are typed all the way: no ``type: ignore`` silences mypy there.

mypy runs strict on the package; a ``# type: ignore`` comment would hide a hole in it. Reads
comments with ``tokenize``, so the words inside a string or a docstring do not count.
"""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ecs_secret_bot"
TYPED = ("commands", "cloud")


def ignored_lines(source: str) -> list[int]:
    """Return the line of each ``type: ignore`` comment in ``source``."""
    return [
        token.start[0]
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT and "type:ignore" in token.string.replace(" ", "")
    ]


@pytest.mark.parametrize("folder", TYPED)
def test_no_type_ignore(folder: str) -> None:
    paths = sorted((PACKAGE / folder).rglob("*.py"))
    assert paths, f"no modules under {folder}/"
    found = [
        f"{path.relative_to(PACKAGE.parent).as_posix()}:{line}"
        for path in paths
        for line in ignored_lines(path.read_text(encoding="utf-8"))
    ]
    assert found == [], f"type: ignore under {folder}/ (type it instead): {found}"


def test_the_scan_sees_comments_not_strings() -> None:
    source = 'x: int = "a"  # type: ignore[assignment]\ny = "# type: ignore"\nz = 1  #type:ignore\n'
    assert ignored_lines(source) == [1, 3]
