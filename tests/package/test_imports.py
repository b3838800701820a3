"""The package's imports: no cycle among the modules' module-level imports, and every module
imports on its own.

The graph has an edge ``a → b`` for each import statement that runs when ``a`` is imported (at
module level, in class bodies, under ``if``/``try``; not inside functions, nor under
``if TYPE_CHECKING``) and names ``b``, a module of mathdnn: ``from p import n`` names ``p.n`` when
that is a module, else ``p``. (Importing ``p.n`` also runs ``p/__init__.py``; a package that
imports its own modules is not a cycle of the code, so the graph leaves that implicit step out.)
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import mathdnn

PACKAGE = Path(mathdnn.__file__).resolve().parent


def module_names() -> dict[str, Path]:
    names = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


MODULES = module_names()


def _runs_at_import(statements: list[ast.stmt]) -> list[ast.stmt]:
    """The statements among ``statements`` that run when the module is imported, flattened."""
    out = []
    for node in statements:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if isinstance(node, ast.If):
            test = ast.unparse(node.test)
            if test.endswith("TYPE_CHECKING"):
                out += _runs_at_import(node.orelse)
                continue
            out += _runs_at_import(node.body) + _runs_at_import(node.orelse)
        elif isinstance(node, ast.Try):
            out += _runs_at_import(node.body + node.orelse + node.finalbody)
            for handler in node.handlers:
                out += _runs_at_import(handler.body)
        elif isinstance(node, ast.ClassDef | ast.With):
            out += _runs_at_import(node.body)
        else:
            out.append(node)
    return out


def imported_modules(name: str, path: Path) -> set[str]:
    """The mathdnn modules ``name`` imports at module level."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in _runs_at_import(ast.parse(path.read_text()).body):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {m for m in found if m in MODULES and m != name}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` as a list of nodes (first = last), or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_is_found():
    graph = {name: imported_modules(name, path) for name, path in MODULES.items()}
    assert "mathdnn.functional.numerics" in graph["mathdnn.functional.activation"]
    assert "mathdnn.check" in graph["mathdnn.verify.engine"]
    assert "mathdnn.data" not in graph["mathdnn.cli"]  # mnist_dir imports it when called
    assert graph["mathdnn.check"] == set()  # Check imports nothing of mathdnn's


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle():
    graph = {name: imported_modules(name, path) for name, path in MODULES.items()}
    assert find_cycle(graph) is None


def test_every_module_imports_on_its_own():
    """Each module in a process where no other mathdnn module was imported before it (``__main__``
    modules run a command when imported, so they are left out)."""
    names = sorted(name for name in MODULES if not name.endswith(".__main__"))
    script = (
        "import importlib, sys\n"
        "failed = []\n"
        f"for name in {names!r}:\n"
        "    for loaded in [m for m in sys.modules\n"
        "                   if m == 'mathdnn' or m.startswith('mathdnn.')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as err:\n"
        "        failed.append(f'{name}: {type(err).__name__}: {err}')\n"
        "print('\\n'.join(failed))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=PACKAGE.parent,
    )
    assert result.stdout.strip() == ""
