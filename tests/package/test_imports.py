"""The package's imports run one way: no circle among the modules, and the homework (``hw4``)
imported only from above it (``verify``, ``report``, ``grade``, ``cli``), a problem's module only
through the registry; every module imports on its own; and the framework around the problems
names none of them.

The graph has an edge ``a → b`` for each import statement anywhere in ``a`` (at module level,
inside functions, under ``if TYPE_CHECKING``) that names ``b``, a module of mathdnn: ``from p
import n`` names ``p.n`` when that is a module, else ``p``. Importing ``p.q.n`` also runs
``p/__init__.py`` and ``p/q/__init__.py`` first, so it is an edge to those packages too, unless
``a`` is inside them (then they are already running: a package that imports its own modules is
not a circle of the code, but a module that imports its own package by name is an edge to it).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import mathdnn

PACKAGE = Path(mathdnn.__file__).resolve().parent
# The layers that may import the homework: it sits above training and the library, below these.
ABOVE_HW4 = ("mathdnn.hw4", "mathdnn.verify", "mathdnn.report", "mathdnn.grade", "mathdnn.cli")


def module_names() -> dict[str, Path]:
    names = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


MODULES = module_names()


def inside(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def imported_modules(name: str, path: Path, source: str | None = None) -> set[str]:
    """The mathdnn modules that importing ``name`` may run: every module an import statement in it
    names, and the packages above each that ``name`` is not inside."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    named = set()
    for node in ast.walk(ast.parse(path.read_text() if source is None else source)):
        if isinstance(node, ast.Import):
            named |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            for alias in node.names:
                named.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    found = {module for module in named if module in MODULES and module != name}
    for module in named:
        parts = module.split(".")
        for k in range(1, len(parts)):
            step = ".".join(parts[:k])
            if step in MODULES and not inside(name, step):
                found.add(step)
    return found


GRAPH = {name: imported_modules(name, path) for name, path in MODULES.items()}


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
    assert "mathdnn.functional.numerics" in GRAPH["mathdnn.functional.activation"]
    assert "mathdnn.check" in GRAPH["mathdnn.verify.engine"]
    assert GRAPH["mathdnn.check"] == set()  # Check imports nothing of mathdnn's
    assert "mathdnn.engine" in GRAPH["mathdnn.functional._checks"]
    # importing a module runs the packages above it, but not from inside them
    assert "mathdnn.functional" in GRAPH["mathdnn.nn.layers"]
    assert "mathdnn.kernels" not in GRAPH["mathdnn.kernels.chunks"]
    assert "mathdnn" not in GRAPH["mathdnn.engine.tensor"]


def test_imports_inside_functions_and_for_type_checking_count():
    source = (
        "from typing import TYPE_CHECKING\n"
        "from . import chunks\n"
        "if TYPE_CHECKING:\n"
        "    from mathdnn.functional.conv import conv2d\n"
        "def rule():\n"
        "    from mathdnn.kernels import conv_rows, finite_only\n"
        "    import mathdnn.nn.layers\n"
    )
    found = imported_modules("mathdnn.kernels.example", PACKAGE / "kernels" / "example.py", source)
    assert found == {
        "mathdnn.kernels",  # finite_only: named, though the module is inside it
        "mathdnn.kernels.chunks",
        "mathdnn.kernels.conv_rows",
        "mathdnn.functional",  # runs first when mathdnn.functional.conv is imported
        "mathdnn.functional.conv",
        "mathdnn.nn",
        "mathdnn.nn.layers",
    }


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_circle():
    cycle = find_cycle(GRAPH)
    assert cycle is None, " → ".join(cycle)


def test_only_the_layers_above_it_import_the_homework():
    wrong = sorted(
        f"{a} → {b}"
        for a, targets in GRAPH.items()
        for b in targets
        if inside(b, "mathdnn.hw4") and not any(inside(a, layer) for layer in ABOVE_HW4)
    )
    assert wrong == []


def test_the_kernel_contract_is_below_the_formulas_and_the_fast_paths():
    """The formulas and the fast paths share ``windows`` and ``switch``, which import neither;
    the fast paths never import a formula, and the formula modules never import a fast path."""
    contract = ("mathdnn.windows", "mathdnn.switch")
    for module in contract:
        assert not any(
            inside(b, "mathdnn.functional") or inside(b, "mathdnn.kernels") for b in GRAPH[module]
        ), module
    for module, targets in GRAPH.items():
        if inside(module, "mathdnn.kernels"):
            assert not any(inside(b, "mathdnn.functional") for b in targets), module
        if inside(module, "mathdnn.functional") and module != "mathdnn.functional":
            assert not any(inside(b, "mathdnn.kernels") for b in targets), module


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


# ------------------------------------------------------- the framework around the problems
#: The packages that loop over the problems' registry and must name none of them (issue 20).
FRAMEWORK = ("mathdnn.cli", "mathdnn.report", "mathdnn.verify", "mathdnn.grade")
PROBLEM_MODULE = re.compile(r"mathdnn\.hw4\.p\d")
NAMES_A_PROBLEM = re.compile(r"\b[Pp]roblems? ?\d|\bp\d_\w+")


def test_only_the_registry_imports_a_problem_module():
    """Outside ``hw4`` a problem is reached through ``hw4.registry`` only."""
    wrong = sorted(
        f"{a} → {b}"
        for a, targets in GRAPH.items()
        for b in targets
        if PROBLEM_MODULE.match(b) and not inside(a, "mathdnn.hw4")
    )
    assert wrong == []
    assert any(PROBLEM_MODULE.match(b) for b in GRAPH["mathdnn.hw4.registry"])


def problem_literals(source: str) -> list[str]:
    """Where ``source`` names a problem: a string (docstrings and f-strings included) that says
    ``Problem 7`` or ``p7_…``, or a number as a string (``"7"``) that is compared, looked up,
    used as a key or passed to a function as its argument: dispatch on a problem's number."""
    found = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if match := NAMES_A_PROBLEM.search(node.value):
                found.append(f"line {node.lineno}: {match.group()!r}")
        operands: list[ast.expr] = []
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
        elif isinstance(node, ast.Subscript):
            operands = [node.slice]
        elif isinstance(node, ast.Dict):
            operands = [key for key in node.keys if key is not None]
        elif isinstance(node, ast.Call):
            operands = list(node.args)
        for operand in operands:
            if (
                isinstance(operand, ast.Constant)
                and isinstance(operand.value, str)
                and operand.value.isdigit()
            ):
                found.append(f"line {operand.lineno}: {operand.value!r} as a problem's number")
    return found


def test_problem_literals_are_found():
    assert problem_literals('"""Problem 7: C3."""\nrun_suite("7")\nif n == "5": x = {"6": 1}') == [
        "line 1: 'Problem 7'",
        "line 2: '7' as a problem's number",
        "line 3: '5' as a problem's number",
        "line 3: '6' as a problem's number",
    ]
    found = problem_literals('f"{k} problems"; f(default="4"); import_module("p5_losses")')
    assert found == ["line 1: 'p5_losses'"]


def test_the_framework_names_no_problem():
    """``cli``, ``report``, ``verify`` and ``grade`` hold no problem-specific code: adding a
    problem is its module and its line in the registry."""
    wrong = {
        name: found
        for name, path in MODULES.items()
        if any(inside(name, package) for package in FRAMEWORK)
        and (found := problem_literals(path.read_text()))
    }
    templates = PACKAGE / "report" / "templates"
    for path in sorted(templates.iterdir()):
        if found := NAMES_A_PROBLEM.findall(path.read_text()):
            wrong[str(path.relative_to(PACKAGE))] = found
    assert wrong == {}
