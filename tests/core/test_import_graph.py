"""The packages' import graph has no cycle: not at import time, not inside a function (a lazy
import), not under ``TYPE_CHECKING``. The graph is read from the source (every ``import`` statement
anywhere in a module), so a cycle hidden from the interpreter is still one here. The core is read
with its command line and emulator; the MCP server and the LangChain package beside it."""

from __future__ import annotations

import ast
from pathlib import Path

import qwen_ci_tool

from ..source import parse

REPO = Path(qwen_ci_tool.__file__).parent.parent
ROOT = "qwen_ci_tool"
PACKAGES = (ROOT, "mcp_server", "integrations")


def _modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for path in sorted(p for package in PACKAGES for p in (REPO / package).rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _targets(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that *name* imports, wherever in the file the import stands."""
    here = name if _is_package(path) else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            bases = [alias.name for alias in node.names]
            found.update(b for b in bases if b in modules)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = here.split(".")[: len(here.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                if f"{base}.{alias.name}" in modules:
                    found.add(f"{base}.{alias.name}")  # a submodule: `from . import _constants`
                elif base in modules:
                    found.add(base)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _targets(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of *graph* (as the modules along it, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_no_package_has_an_import_cycle_not_even_a_lazy_or_type_only_one() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_the_graph_sees_imports_inside_functions_and_under_type_checking() -> None:
    graph = import_graph()
    # cli.main imports the emulator inside a function; _protocols._base imports Settings for types only.
    assert "qwen_ci_tool.testing" in graph["qwen_ci_tool.cli.common"]
    assert "qwen_ci_tool._settings" in graph["qwen_ci_tool._protocols._base"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_the_core_never_imports_the_command_line() -> None:
    graph = import_graph()
    for name, targets in graph.items():
        # `python -m qwen_ci_tool` is the command line's door, not part of the core.
        if name.startswith(ROOT) and not name.startswith((f"{ROOT}.cli", f"{ROOT}.testing", f"{ROOT}.__main__")):
            assert not any(t.startswith(f"{ROOT}.cli") for t in targets), name
