"""The arrows of design.md hold, with no exception list, and no module imports itself back.

Scans every module's imports with ``ast``, those inside functions and under
``if TYPE_CHECKING:`` too (a cycle of types is a cycle of ideas):

- ``errors`` imports nothing of ours; ``storage`` only ``errors``;
- ``commands`` nothing of the front ends, the cloud implementation, the sandbox or the
  configuration file, and no Slack or Alibaba Cloud package (it owns the gateway protocol
  that ``cloud`` implements);
- ``cloud`` nothing of the front ends, storage or the sandbox;
- ``bot`` and ``terminal`` never import storage, the cloud, the sandbox or each other
  (``runtime`` composes them);
- ``sandbox`` nothing of the product;
- SDK clients only in ``cloud`` (and the sandbox, which checks their signatures), SQL only in
  ``storage`` (and the sandbox's own state).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ecs_secret_bot"
ROOT = "ecs_secret_bot"
SLACK = ("slack_bolt", "slack_sdk")
ALIBABA = ("alibabacloud_", "darabonba", "Tea")


def modules(folder: str = "") -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Yield each imported module with the names taken from it (empty for ``import x``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package.pop()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, ()) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            yield base, tuple(alias.name for alias in node.names)


def imports(path: Path) -> set[str]:
    """Return every module name ``path`` imports, and every name it takes from one."""
    names: set[str] = set()
    for base, taken in _imports(path):
        names.add(base)
        names.update(f"{base}.{name}" for name in taken)
    return names


def rel(path: Path) -> str:
    return path.relative_to(PACKAGE.parent).as_posix()


def inside(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def ours(*names: str) -> tuple[str, ...]:
    return tuple(f"{ROOT}.{n}" for n in names)


FRONT_ENDS = ours("bot", "terminal", "cli", "runtime", "check", "launch", "data_key")
CONFIG = ours("config", "config_table", "sandbox_settings")
RULES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # folder: (what of ours it may never import, which third-party packages it may never use)
    "errors.py": (FRONT_ENDS + ours("commands", "storage", "cloud", "sandbox") + CONFIG, ()),
    "storage": (FRONT_ENDS + ours("commands", "cloud", "sandbox") + CONFIG, SLACK + ALIBABA),
    "commands": (FRONT_ENDS + ours("cloud", "sandbox") + CONFIG, SLACK + ALIBABA),
    "cloud": (FRONT_ENDS + ours("storage", "sandbox"), SLACK),
    "bot": (
        ours(
            "terminal",
            "storage",
            "cloud",
            "sandbox",
            "runtime",
            "cli",
            "check",
            "launch",
            "data_key",
        ),
        ALIBABA,
    ),
    "terminal": (
        ours("bot", "storage", "cloud", "sandbox", "runtime", "cli", "check", "launch", "data_key"),
        SLACK,
    ),
    "sandbox": (ours("errors", "commands", "storage", "cloud", "bot", "terminal") + CONFIG, ()),
}
RULES["sandbox"] = (RULES["sandbox"][0] + FRONT_ENDS, ())


def _layer_cases() -> list[tuple[str, Path]]:
    return [(layer, path) for layer in RULES for path in modules(layer) if path.suffix == ".py"]


@pytest.mark.parametrize(("layer", "path"), _layer_cases(), ids=[rel(p) for _, p in _layer_cases()])
def test_every_arrow_points_down(layer: str, path: Path) -> None:
    never_ours, never_packages = RULES[layer]
    names = imports(path)
    bad = sorted(n for n in names if inside(n, *never_ours))
    bad += sorted(n for n in names if n.startswith(never_packages))
    assert not bad, f"{rel(path)} ({layer}) imports {bad}"


def test_the_rules_cover_every_folder() -> None:
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("_")}
    top = {p.name for p in PACKAGE.glob("*.py")}
    assert folders <= set(RULES) | {"bot", "terminal"}
    assert top == {
        "__init__.py",
        "errors.py",
        "config.py",
        "config_table.py",
        "sandbox_settings.py",
        "runtime.py",
        "check.py",
        "launch.py",
        "cli.py",
        "data_key.py",
    }


@pytest.mark.parametrize("path", modules(), ids=rel)
def test_sql_is_written_only_in_storage(path: Path) -> None:
    if rel(path).startswith((f"{ROOT}/storage/", f"{ROOT}/sandbox/")):
        return
    text = path.read_text(encoding="utf-8")
    for keyword in ("SELECT ", "INSERT INTO", "DELETE FROM", "CREATE TABLE", "execute_fetchall"):
        assert keyword not in text, f"{rel(path)} writes SQL ({keyword.strip()})"


def _graph() -> dict[str, set[str]]:
    known = {module_name(p) for p in modules()}
    graph: dict[str, set[str]] = {}
    for path in modules():
        edges: set[str] = set()
        for base, taken in _imports(path):
            # ``from a.b import c`` imports module ``a.b.c`` when there is one, else ``a.b``
            targets = [f"{base}.{n}" for n in taken if f"{base}.{n}" in known]
            if len(targets) < len(taken) or not taken:
                targets.append(base)
            edges.update(t for t in targets if t in known)
        edges.discard(module_name(path))
        graph[module_name(path)] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_modules() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_check_can_fail() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
