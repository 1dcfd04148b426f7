"""The house rules of the code's structure, checked on every import statement (top-level, lazy and typing-only):
no import cycles; the bot and the trainer meet only in `ftbot` (storage, answering) and in the composer,
`ftbot/cli`; storage stands on nothing above it; no module grows past 400 lines."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ftbot", "connectors", "trainer", "bot")
MAX_LINES = 400

# (importer prefix, imported prefix, why not)
FORBIDDEN = [
    ("bot", "trainer", "the bot and the trainer meet in ftbot (storage, answering) and in ftbot/cli"),
    ("trainer", "bot", "the bot and the trainer meet in ftbot (storage, answering) and in ftbot/cli"),
    ("ftbot.storage", "connectors", "storage is the ground floor"),
    ("ftbot.storage", "trainer", "storage is the ground floor"),
    ("ftbot.storage", "bot", "storage is the ground floor"),
    ("ftbot.storage", "ftbot.answering", "storage is the ground floor"),
]
COMPOSER = "ftbot.cli"  # the one place that wires the bot, the trainer and the connectors together


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _imports(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """The project modules `name` imports: `from a.b import c` is a.b.c when that is a module, else a.b."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):  # a package's own __init__: no edge
                yield target


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: set(_imports(name, path, known)) for name, path in modules.items()}


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_no_module_imports_across_a_forbidden_edge(graph: dict[str, set[str]]) -> None:
    crossings = [
        f"{importer} imports {imported}: {why}"
        for importer, targets in graph.items()
        for imported in targets
        for source, target, why in FORBIDDEN
        if _within(importer, source) and _within(imported, target)
    ]
    assert crossings == []


def test_ftbot_imports_the_bot_and_the_trainer_only_in_the_composer(graph: dict[str, set[str]]) -> None:
    crossings = [
        f"{importer} imports {imported}"
        for importer, targets in graph.items()
        if _within(importer, "ftbot") and not _within(importer, COMPOSER)
        for imported in targets
        if _within(imported, "bot") or _within(imported, "trainer")
    ]
    assert crossings == []


def test_there_are_no_import_cycles(graph: dict[str, set[str]]) -> None:
    cycles = [component for component in _strongly_connected(graph) if len(component) > 1]
    assert cycles == [], "import cycles: " + "; ".join(" ↔ ".join(sorted(c)) for c in cycles)


def test_no_module_is_longer_than_the_limit() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for path in _modules().values()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iteratively (the graph has hundreds of modules)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components
