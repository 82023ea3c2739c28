"""The subscriptions app's modules depend on each other one way: no import circle, not
even through an import inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import subscriptions

APP = Path(subscriptions.__file__).parent


def imported_app_modules(path: Path) -> set[str]:
    """The `subscriptions.*` modules a file imports, wherever in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level == 1:
                base = f"subscriptions.{base}" if base else "subscriptions"
            if base == "subscriptions":
                found.update(f"subscriptions.{alias.name}" for alias in node.names)
            elif base.startswith("subscriptions."):
                found.add(base)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("subscriptions."))
    return found


def import_graph() -> dict[str, set[str]]:
    modules = {f"subscriptions.{path.stem}": path for path in APP.glob("*.py") if path.stem != "__init__"}
    return {name: imported_app_modules(path) & modules.keys() for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return visiting[visiting.index(node) :] + [node]
        if node in done:
            return None
        visiting.append(node)
        for target in sorted(graph[node]):
            if cycle := visit(target):
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        if cycle := visit(start):
            return cycle
    return None


def test_the_subscriptions_modules_import_each_other_one_way():
    assert find_cycle(import_graph()) is None, " → ".join(find_cycle(import_graph()))


def test_the_layout_check_sees_an_import_inside_a_function():
    graph = {"a": {"b"}, "b": {"a"}}
    assert find_cycle(graph) == ["a", "b", "a"]
    assert "subscriptions.tasks" in import_graph()["subscriptions.services"]
