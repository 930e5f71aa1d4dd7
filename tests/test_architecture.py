"""The shape of the code, checked: small functions, no import cycles, services that meet only on the topics.

Read from the source (ast), not by importing it: an import inside a function counts like one at the top, so
a cycle cannot hide behind a function-local import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from services import SERVICE_NAMES

ROOT = Path(__file__).resolve().parent.parent
# Every package of non-test code (tests/ is left out on purpose).
PACKAGES = (
    "bench",
    "caseline",
    "deadlines",
    "deploy",
    "district",
    "eventcore",
    "examples",
    "schemas",
    "services",
    "webui",
)
MAX_FUNCTION_LINES = 80


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        if (ROOT / package).is_dir()
        for path in sorted((ROOT / package).rglob("*.py"))
    }


@cache
def _tree(module: str) -> ast.Module:
    path = _modules()[module]
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported_names(module: str) -> Iterator[str]:
    """Every module (or module attribute) this one imports, wherever the import statement stands."""
    is_package = _modules()[module].name == "__init__.py"
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                source = ".".join([*package, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            yield source
            yield from (f"{source}.{alias.name}" for alias in node.names)


@cache
def _import_graph() -> dict[str, frozenset[str]]:
    known = _modules()
    return {
        module: frozenset(name for name in _imported_names(module) if name in known and name != module)
        for module in known
    }


def _cycles(graph: dict[str, frozenset[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each one import cycle or more."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph[module]):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_the_checks_read_every_package_of_the_code() -> None:
    modules = _modules()
    assert {"caseline.commandline", "eventcore.mapper", "services.routing.adapters.http"} <= set(modules)
    assert not any(name.startswith("tests") for name in modules)


def test_no_function_is_longer_than_eighty_lines() -> None:
    too_long = [
        f"{module}.{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for module in _modules()
        for node in ast.walk(_tree(module))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not too_long, too_long


def test_no_modules_import_each_other_even_from_inside_a_function() -> None:
    assert _cycles(_import_graph()) == []


def test_the_cycle_check_finds_a_cycle_closed_by_a_function_local_import() -> None:
    graph = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset({"a"})}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_the_cli_registers_its_commands_without_the_root_importing_them() -> None:
    graph = _import_graph()
    commands = {module for module in graph if module.startswith("caseline.") and module.endswith("_commands")}
    assert "caseline.routing_commands" in commands
    assert not graph["caseline.commandline"] & commands


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_a_service_imports_no_other_service(service: str) -> None:
    others = tuple(f"services.{other}" for other in SERVICE_NAMES if other != service)
    crossing = sorted(
        f"{module} imports {imported}"
        for module, imports in _import_graph().items()
        if module == f"services.{service}" or module.startswith(f"services.{service}.")
        for imported in imports
        if imported.startswith(others)
    )
    assert not crossing, crossing
