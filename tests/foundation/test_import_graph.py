"""The shape of the SDK's module graph (issue 13), read from the source with ``ast``:

- the client SDK never imports the sandbox: only ``soa_sdk/sandbox/**``, the composition
  root (``soa_sdk/lab.py``) and the command line (``soa_sdk/cli.py``, ``soa_sdk/runner.py``)
  import ``soa_sdk.sandbox`` (``soa_sdk/clients.py`` builds the clients for real endpoints
  too, so it does not). A step may name
  :class:`soa_sdk.sandbox.controls.SandboxControls` in its type hints, under
  ``if TYPE_CHECKING:`` (never executed, so nothing of the sandbox is loaded);
- no step imports ``soa_sdk.lab``: a step gets its clients as constructor arguments; nor
  does any other module but the package's ``__init__`` (it re-exports ``Lab``) and the CLI;
- no cycle among soa_sdk's top-level modules and packages (every import counts, type-only
  and function-level ones included).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import soa_sdk

ROOT = Path(soa_sdk.__file__).parent
MAY_IMPORT_SANDBOX = {"soa_sdk.lab", "soa_sdk.cli", "soa_sdk.runner"}
MAY_IMPORT_LAB = {"soa_sdk", "soa_sdk.cli", "soa_sdk.runner"}
TYPE_ONLY_SANDBOX = {"soa_sdk.sandbox.controls"}
STEPS = (
    "soa_sdk.org",
    "soa_sdk.runtime",
    "soa_sdk.observe",
    "soa_sdk.release",
    "soa_sdk.access",
    "soa_sdk.extend",
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported module, whether only under ``if TYPE_CHECKING:``) for every import."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, type_only: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, type_only)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, type_only) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((target, type_only))
            # ``from soa_sdk import org`` imports the module soa_sdk.org
            found.extend((f"{target}.{alias.name}", type_only) for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child, type_only)

    visit(ast.parse(path.read_text(), str(path)), False)
    return [(name, type_only) for name, type_only in found if _exists(name)]


def _exists(name: str) -> bool:
    if name != "soa_sdk" and not name.startswith("soa_sdk."):
        return False
    relative = Path(*name.split(".")[1:]) if "." in name else Path()
    where = ROOT / relative
    return where.with_suffix(".py").is_file() or (where / "__init__.py").is_file()


def _modules() -> dict[str, list[tuple[str, bool]]]:
    return {_module_name(p): _imports(p) for p in sorted(ROOT.rglob("*.py"))}


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_the_graph_is_read() -> None:
    modules = _modules()
    assert "soa_sdk.lab" in modules and "soa_sdk.sandbox.controls" in modules
    assert any(name == "soa_sdk.access" for name, _ in modules["soa_sdk.lab"])


def test_only_the_composition_root_and_the_cli_import_the_sandbox() -> None:
    offenders = []
    for module, imports in _modules().items():
        if _within(module, "soa_sdk.sandbox") or module in MAY_IMPORT_SANDBOX:
            continue
        for name, type_only in imports:
            if not _within(name, "soa_sdk.sandbox"):
                continue
            if type_only and name in TYPE_ONLY_SANDBOX:
                continue
            offenders.append(f"{module} imports {name}" + (" (type only)" if type_only else ""))
    assert offenders == []


def test_no_step_imports_the_lab() -> None:
    offenders = [
        f"{module} imports {name}"
        for module, imports in _modules().items()
        if any(_within(module, step) for step in STEPS)
        for name, _ in imports
        if _within(name, "soa_sdk.lab")
    ]
    assert offenders == []


def test_nothing_but_the_package_and_the_cli_imports_the_lab() -> None:
    offenders = [
        f"{module} imports {name}"
        for module, imports in _modules().items()
        if module not in MAY_IMPORT_LAB and not _within(module, "soa_sdk.lab")
        for name, _ in imports
        if _within(name, "soa_sdk.lab")
    ]
    assert offenders == []


def _top(name: str) -> str:
    return ".".join(name.split(".")[:2])


def test_no_cycle_among_top_level_modules() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, imports in _modules().items():
        if module == "soa_sdk":
            continue  # the package's own __init__ re-exports Lab for notebooks
        for name, _ in imports:
            if name != "soa_sdk" and _top(name) != _top(module):
                graph[_top(module)].add(_top(name))
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node)
    assert cycles == []
