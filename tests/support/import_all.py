"""Import every module of some packages, as a process started from a given virtualenv sees them.

    python tests/support/import_all.py --root DIR [--django] [--lazy] [--forbid NAME ...] PACKAGE ...

A dependency missing from a requirements file should show at once, not when some code path first
runs in production. So every module of the packages is imported; with ``--lazy``, so is every
module that their code imports inside a function (a task's, a command's, a page's), found in the
source; with ``--django``, Django is set up first (``DJANGO_SETTINGS_MODULE`` from the environment),
and every class the settings name by a dotted path (middleware, storage and email backends, logging
handlers and filters...) and the Celery broker's transport are imported as well. ``--forbid``
fails when a module of that name was imported at all (the scorer must not import Django). Prints
one line per import and exits 1 listing every failure.

It runs under the interpreter being checked, so it uses the standard library only.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import pkgutil
import sys
import traceback
from pathlib import Path
from types import ModuleType


def settings_paths(settings) -> list[str]:
    """The dotted paths of classes and functions the settings name."""
    paths = list(getattr(settings, "MIDDLEWARE", []))
    paths += [backend["BACKEND"] for backend in getattr(settings, "STORAGES", {}).values()]
    paths += [settings.EMAIL_BACKEND]
    paths += list(getattr(settings, "FILE_UPLOAD_HANDLERS", []))
    paths += [validator["NAME"] for validator in getattr(settings, "AUTH_PASSWORD_VALIDATORS", [])]
    for template in settings.TEMPLATES:
        paths.append(template["BACKEND"])
        paths += template.get("OPTIONS", {}).get("context_processors", [])
    for name, value in getattr(settings, "REST_FRAMEWORK", {}).items():
        if name.endswith(("_CLASS", "_CLASSES")):
            paths += [value] if isinstance(value, str) else list(value)
    logging = getattr(settings, "LOGGING", {}) or {}
    for section in ("handlers", "formatters", "filters"):
        for config in logging.get(section, {}).values():
            for key in ("class", "()"):
                if isinstance(config.get(key), str):
                    paths.append(config[key])
    return [path for path in paths if path and "." in path]


def imported_in_source(module_name: str) -> set[str]:
    """Absolute names of the modules ``module_name``'s source imports anywhere, functions included,
    except under ``if TYPE_CHECKING:`` (names only a type checker reads)."""
    module = sys.modules[module_name]
    path = getattr(module, "__file__", None)
    if not path or not path.endswith(".py"):
        return set()
    tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=path)
    package = module_name if path.endswith("__init__.py") else module_name.rpartition(".")[0]
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            # ``from package import submodule`` imports a module too.
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def may_be_a_module(name: str) -> bool:
    """False for ``package.name`` found in ``from package import name`` when ``name`` is a class, a
    function or a constant rather than a submodule."""
    parent, _, attribute = name.rpartition(".")
    module = sys.modules.get(parent)
    if module is None:
        return True  # a top-level name (or below a package that failed, which importing says again)
    if not hasattr(module, "__path__"):
        return False  # a plain module has no submodules
    value = getattr(module, attribute, None)
    return value is None or isinstance(value, ModuleType)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True, help="the folder the packages are in")
    parser.add_argument("--django", action="store_true", help="django.setup() first; import what settings name")
    parser.add_argument("--lazy", action="store_true", help="also import what the modules import inside functions")
    parser.add_argument("--forbid", action="append", default=[], help="a top-level module that must not be imported")
    parser.add_argument("packages", nargs="+")
    args = parser.parse_args()
    sys.path[0] = args.root  # not tests/support/, where this file is

    failures: list[tuple[str, str]] = []

    def attempt(name: str, load) -> None:
        try:
            load()
            print(f"ok {name}")
        except Exception:  # noqa: BLE001 - every failure is reported
            failures.append((name, traceback.format_exc(limit=4)))

    if args.django:
        import django
        from django.conf import settings
        from django.utils.module_loading import import_string

        django.setup()
        for path in settings_paths(settings):
            attempt(path, lambda path=path: import_string(path))

        def broker_transport():
            from workers.celery import app

            with app.connection_for_write() as connection:  # no connection is made until it is used
                return connection.get_transport_cls()

        attempt("the broker's transport", broker_transport)

    project: list[str] = []
    for package_name in args.packages:
        package = importlib.import_module(package_name)
        project += [package_name] + [info.name for info in pkgutil.walk_packages(package.__path__, package_name + ".")]
    project = [name for name in project if name.rsplit(".", 1)[-1] != "__main__"]  # running it is the CLI's test
    for name in project:
        attempt(name, lambda name=name: importlib.import_module(name))
    if args.lazy:
        found = set()
        for name in project:
            if name in sys.modules:
                found |= imported_in_source(name)
        for name in sorted(found - set(project)):  # a package before its modules
            if may_be_a_module(name):
                attempt(name, lambda name=name: importlib.import_module(name))
    for forbidden in args.forbid:
        if forbidden in sys.modules:
            failures.append((forbidden, f"{forbidden} was imported, and must not be"))
    for name, error in failures:
        print(f"FAILED {name}\n{error}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
