"""README.md read the way its tests need it: fenced blocks with their markers, and the
configuration reference's tables.

A fenced block's marker is the HTML comment on the line just before it (blank lines
between are allowed): ``<!-- not run: why -->`` or ``<!-- run: in the background -->``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["README", "Block", "blocks", "reference_keys", "section_text"]

README = Path(__file__).resolve().parents[2] / "README.md"

_MARKER = re.compile(r"^<!--\s*(not run|run):\s*(.*?)\s*-->$")
_SECTION = re.compile(r"^### `\[{1,2}(.+?)\]{1,2}`$")
_ROW_KEY = re.compile(r"^\| `([A-Za-z_]+)` \|")


@dataclass(frozen=True)
class Block:
    """One fenced block of README.md."""

    lang: str
    text: str
    line: int
    """The line of its opening fence, from 1."""
    marker: str = ""
    """``not run`` or ``run``, from the comment before it; empty when there is none."""
    note: str = ""
    """What the marker says after the colon."""


def blocks(path: Path = README) -> list[Block]:
    """Return every fenced block, in order, with its marker."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    marker = note = ""
    index = 0
    while index < len(lines):
        line = lines[index]
        match = _MARKER.match(line.strip())
        if match:
            marker, note = match.group(1), match.group(2)
        elif line.startswith("```"):
            lang = line[3:].strip()
            body: list[str] = []
            start = index + 1
            index += 1
            while not lines[index].startswith("```"):
                body.append(lines[index])
                index += 1
            found.append(Block(lang, "\n".join(body) + "\n", start, marker, note))
            marker = note = ""
        elif line.strip():
            marker = note = ""
        index += 1
    return found


def section_text(heading: str, path: Path = README) -> str:
    """Return the text under a ``## heading``, up to the next ``## ``."""
    text = path.read_text(encoding="utf-8")
    start = text.index(f"\n{heading}\n") + len(heading) + 2
    end = text.find("\n## ", start)
    return text[start : end if end != -1 else len(text)]


def reference_keys(path: Path = README) -> dict[str, set[str]]:
    """Return, per table of the configuration reference (``cloud``, ``access.bindings``...),
    the keys its table documents."""
    tables: dict[str, set[str]] = {}
    current: set[str] | None = None
    for line in section_text("## Configuration reference", path).splitlines():
        heading = _SECTION.match(line)
        if heading:
            current = tables.setdefault(heading.group(1), set())
            continue
        row = _ROW_KEY.match(line)
        if row and current is not None:
            current.add(row.group(1))
    return tables
