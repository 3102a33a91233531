"""The layers of docs/ARCHITECTURE.md, held against the code: a forbidden import, or a
circle of imports between modules, fails here. Every import counts, also one inside a
function or under ``TYPE_CHECKING``: a lazy import is still a dependency."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "nlu")

MAY_NOT_IMPORT: dict[str, tuple[str, ...]] = {
    # the ground: where the shipped files are, and the locale of a turn
    "bot.resources": ("bot.", "nlu.model", "nlu.service"),
    "bot.json_codec": ("bot.", "nlu"),
    "bot.i18n": ("bot.answers", "bot.cases", "bot.content", "bot.engine", "bot.store", "bot.channels",
                 "bot.backoffice", "bot.app", "bot.cli", "bot.config", "nlu"),
    "bot.answers": ("bot.cases", "bot.content", "bot.engine", "bot.store", "bot.channels", "bot.backoffice",
                    "bot.app", "bot.cli", "nlu"),
    "bot.cases": ("bot.answers", "bot.content", "bot.engine", "bot.store", "bot.channels", "bot.backoffice",
                  "bot.app", "bot.cli", "nlu"),
    "bot.content": ("bot.engine", "bot.store", "bot.channels", "bot.backoffice", "bot.app", "bot.cli", "nlu"),
    # the store keeps cases and conversations; it knows no dialogue and no channel
    "bot.store": ("bot.engine", "bot.channels", "bot.backoffice", "bot.api", "bot.app", "bot.cli", "bot.answers", "nlu"),
    # the engine reaches the store through ports (bot/engine/context.py), the NLU as it is handed in
    "bot.engine": ("bot.store", "bot.channels", "bot.backoffice", "bot.api", "bot.app", "bot.cli", "bot.reminders",
                   "bot.scheduler", "nlu"),
    # channels are adapters around the engine: they decide nothing and keep nothing
    "bot.channels": ("bot.store", "bot.backoffice", "bot.api", "bot.app", "bot.cli", "nlu"),
    "bot.backoffice": ("bot.channels", "bot.cli", "bot.api", "nlu"),
    # the staff API: the back office for machines, on its access check; the same limits
    "bot.api": ("bot.channels", "bot.cli", "nlu"),
    "nlu": ("bot",),
}
"""For each layer (a module or a package), the layers it must never import."""


def _modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield name, path


def _imports(name: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:  # "from . import runner" imports the module, not the package
                sub = f"{module}.{alias.name}"
                found.add(sub if sub in NAMES else module)
    return {m for m in found if m.split(".")[0] in PACKAGES}


MODULES = dict(_modules())
NAMES = frozenset(MODULES)
GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _within(module: str, layer: str) -> bool:
    if layer.endswith("."):
        return module.startswith(layer)
    return module == layer or module.startswith(layer + ".")


def test_every_layer_of_the_rules_exists() -> None:
    for layer in MAY_NOT_IMPORT:
        assert any(_within(m, layer) for m in MODULES) or layer == "bot.backoffice", layer


@pytest.mark.parametrize("layer", sorted(MAY_NOT_IMPORT))
def test_no_forbidden_import(layer: str) -> None:
    forbidden = MAY_NOT_IMPORT[layer]
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if _within(module, layer)
        for target in targets
        if any(_within(target, other) for other in forbidden) and not _within(target, layer)
    )
    assert not wrong, "forbidden by docs/ARCHITECTURE.md: " + "; ".join(wrong)


def test_no_circle_of_imports_between_modules() -> None:
    edges = {m: {t for t in targets if t in MODULES and t != m} for m, targets in GRAPH.items()}
    circles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                circles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)
    assert not circles, "import circles: " + "; ".join(" -> ".join(c) for c in circles)


def test_the_engine_loads_without_the_store() -> None:
    import subprocess
    import sys

    code = "import bot.engine.engine, sys; print([m for m in sys.modules if m.startswith('bot.store')])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_the_rules_catch_a_forbidden_import() -> None:
    """The check itself can fail: an engine module that imported the store would be caught."""
    GRAPH["bot.engine.runner"].add("bot.store.store")
    try:
        with pytest.raises(AssertionError, match="bot.engine.runner imports bot.store.store"):
            test_no_forbidden_import("bot.engine")
    finally:
        GRAPH["bot.engine.runner"].discard("bot.store.store")
