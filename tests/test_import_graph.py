"""The project's import graph, read from the source: no cycles, and dependencies pointing one way.

``evaluation`` (the scorer participants install) knows nothing of Django or the service; the domain
(``leaderboard``) never imports the Celery glue (``workers``), which imports the domain. The graph is
built with ``ast`` from every module of the three packages (migrations aside), counting imports
wherever they are written — inside functions and ``if TYPE_CHECKING:`` blocks too — because a lazy
import hides a cycle without removing it.

An edge goes from a module to the module it names: ``import a.b.c`` and ``from a.b import c`` (when
``a/b/c.py`` exists) reach ``a.b.c``; ``from a.b import name`` reaches ``a.b``; relative imports are
resolved against the importing module's package. The parent packages Python runs on the way
(``a`` and ``a.b`` for ``a.b.c``) are *not* edges: counted, every package whose ``__init__`` imports
one of its own modules (``from .celery import app`` in ``workers/__init__.py``) would make a cycle
with each of them, though none of them uses what that ``__init__`` defines. A module that does use
it names it (``from . import PROTOCOL``, ``from a import b`` where ``b`` is a package) and gets the
edge, so an ``__init__`` that closes a loop is still caught. Strings that name modules (task names,
``import_string``, ``apps.get_model``) are not imports and are not counted.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("leaderboard", "workers", "evaluation")


def module_files() -> dict[str, Path]:
    """Every module of the project's packages by dotted name, a package by its ``__init__``."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def imported_names(module: str, path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """The dotted names ``module`` imports anywhere in its source: project modules resolved, others as written."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                base = package[: len(package) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                yield candidate if candidate in modules else source


def project_module(name: str, modules: dict[str, Path]) -> str | None:
    """The project module an import reaches (the longest known prefix), or None outside the project."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def import_graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Edges between project modules, and every module's imported names (external ones too)."""
    modules = module_files()
    edges: dict[str, set[str]] = {name: set() for name in modules}
    names: dict[str, set[str]] = {}
    for module, path in modules.items():
        names[module] = set(imported_names(module, path, modules))
        for name in names[module]:
            target = project_module(name, modules)
            if target is not None and target != module:
                edges[module].add(target)
    return edges, names


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path that ends where it starts, or None."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" once all it reaches is explored
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for target in sorted(edges[node]):
            if state.get(target) == "open":
                return path[path.index(target) :] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def imports_of(package: str, forbidden: tuple[str, ...], names: dict[str, set[str]]) -> dict[str, list[str]]:
    """What the modules of ``package`` import from the ``forbidden`` top-level packages, by module."""
    found = {
        module: sorted(name for name in imported if name.split(".")[0] in forbidden)
        for module, imported in names.items()
        if module.split(".")[0] == package
    }
    return {module: names for module, names in found.items() if names}


def test_the_graph_reads_relative_and_lazy_imports():
    edges, names = import_graph()
    assert "workers.celery" in edges["workers"]  # from .celery import app, in a package's __init__
    assert "evaluation.classic" in edges["evaluation"]
    assert "leaderboard.logging" in edges["leaderboard.settings"]
    assert "leaderboard.submissions.rules" in edges["leaderboard.submissions.intake"]  # from . import rules
    assert "leaderboard.logging" not in edges["leaderboard.submissions.intake"]  # its import logging is the stdlib's
    assert "celery.signals" in names["workers.celery"]  # the library, not workers.celery
    assert "evaluation.java" in edges["evaluation.versions"]  # imported inside a function


def test_no_module_imports_itself_through_others():
    edges, _ = import_graph()
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_domain_never_imports_the_celery_glue():
    _, names = import_graph()
    offenders = imports_of("leaderboard", ("workers",), names)
    assert not offenders, f"the domain imports the Celery glue: {offenders}"


def test_the_scorer_needs_neither_django_nor_the_service():
    _, names = import_graph()
    offenders = imports_of("evaluation", ("django", "leaderboard", "workers"), names)
    assert not offenders, f"the scorer imports the service: {offenders}"
