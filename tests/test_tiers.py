"""The test tiers stay honest: a test that starts a process is marked ``integration``.

The unit tier (``pytest tests -m "not slow and not integration and not data"``) is what a
developer runs on every edit; a test that spawns ``python`` (``subprocess``, ``sys.executable``)
costs a torch import per process and belongs to the integration tier, as does pytest run inside
pytest (``pytester``). This scan reads every test module's source: a test function that reaches a
process (itself, through a helper or fixture of its module, or at module level) must be marked
``integration``, by itself, its class or the module's ``pytestmark``.
"""

from __future__ import annotations

import ast
import os
import tomllib
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
MARK = "mark.integration"
PYTEST_IN_PYTEST = {"pytester", "testdir"}


def _uses(node: ast.AST, names: set[str], attributes: set[tuple[str, str]]) -> set[str]:
    """The names in ``names`` and ``module.attr`` pairs in ``attributes`` that ``node`` refers to,
    type annotations left out (``-> subprocess.CompletedProcess`` starts nothing)."""
    found: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.arg | ast.AnnAssign):
            children = [n.value] if isinstance(n, ast.AnnAssign) and n.value else []
            stack.extend(children)
            continue
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef):
            stack.extend([*n.decorator_list, *n.body, *n.args.defaults,
                          *[d for d in n.args.kw_defaults if d is not None]])
            continue
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name):
            if (n.value.id, n.attr) in attributes:
                found.add(f"{n.value.id}.{n.attr}")
        if isinstance(n, ast.Name) and n.id in names:
            found.add(n.id)
        stack.extend(ast.iter_child_nodes(n))
    return found


def _marked(decorators: list[ast.expr]) -> bool:
    return any(MARK in ast.unparse(d) for d in decorators)


def _pytestmark(body: list[ast.stmt]) -> bool:
    return any(isinstance(s, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark"
                                                 for t in s.targets) and MARK in ast.unparse(s.value)
               for s in body)


def unmarked_process_tests(source: str) -> list[str]:
    """The tests of a module's ``source`` that reach a process and are not marked integration."""
    tree = ast.parse(source)
    process_names = {"subprocess"}  # import subprocess; from subprocess import run, Popen
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "subprocess":
            process_names |= {a.asname or a.name for a in node.names}
    process_attributes = {("sys", "executable")}
    if _pytestmark(tree.body):
        return []

    functions: dict[str, tuple[ast.FunctionDef | ast.AsyncFunctionDef, bool]] = {}
    module_level: list[ast.stmt] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            functions[stmt.name] = (stmt, _marked(stmt.decorator_list))
        elif isinstance(stmt, ast.ClassDef):
            in_class = _marked(stmt.decorator_list) or _pytestmark(stmt.body)
            for item in stmt.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    marked = in_class or _marked(item.decorator_list)
                    functions[f"{stmt.name}.{item.name}"] = (item, marked)
        elif not isinstance(stmt, ast.Import | ast.ImportFrom):
            module_level.append(stmt)

    if any(_uses(s, process_names, process_attributes) for s in module_level
           if not (isinstance(s, ast.Assign) and isinstance(s.value, ast.Constant))):
        return ["<module level> (mark the module: pytestmark = pytest.mark.integration)"]

    # A function reaches a process if it uses one, calls a function that does, or takes a
    # fixture that does (fixtures are this module's functions, named by their parameters);
    # pytest's own ``pytester`` runs pytest in pytest.
    reaching = {name for name, (fn, _) in functions.items()
                if _uses(fn, process_names, process_attributes)
                or PYTEST_IN_PYTEST & {a.arg for a in [*fn.args.args, *fn.args.kwonlyargs]}}
    while True:
        short = {name.rpartition(".")[2] for name in reaching}
        more = {name for name, (fn, _) in functions.items() if name not in reaching and (
            _uses(fn, short, set())
            or short & {a.arg for a in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]})}
        if not more:
            break
        reaching |= more
    return sorted(name for name in reaching if name.rpartition(".")[2].startswith("test")
                  and not functions[name][1])


def _modules() -> list[Path]:
    return sorted(TESTS.glob("test_*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_a_test_that_starts_a_process_is_marked_integration(path: Path) -> None:
    unmarked = unmarked_process_tests(path.read_text(encoding="utf-8"))
    assert not unmarked, (f"{path.name}: these tests start processes (subprocess / sys.executable) "
                          f"but are not marked integration: {', '.join(unmarked)}")


@pytest.mark.parametrize(("source", "unmarked"), [
    ("import subprocess, sys\ndef test_a():\n    subprocess.run([sys.executable])\n", ["test_a"]),
    ("import sys\ndef helper():\n    return sys.executable\ndef test_a():\n    helper()\n",
     ["test_a"]),
    ("import subprocess\nimport pytest\n@pytest.fixture\ndef proc():\n    return subprocess.run\n"
     "def test_a(proc):\n    pass\ndef test_b():\n    pass\n", ["test_a"]),
    ("import subprocess\nimport pytest\n@pytest.mark.integration\ndef test_a():\n"
     "    subprocess.run(['x'])\n", []),
    ("import subprocess\nimport pytest\npytestmark = [pytest.mark.integration]\ndef test_a():\n"
     "    subprocess.run(['x'])\n", []),
    ("import subprocess\nimport pytest\n@pytest.mark.integration\nclass TestX:\n"
     "    def test_a(self):\n        subprocess.run(['x'])\n", []),
    ("import subprocess\nclass TestX:\n    def test_a(self):\n        subprocess.run(['x'])\n",
     ["TestX.test_a"]),
    ("from subprocess import run\ndef test_a():\n    run(['x'])\n", ["test_a"]),
    ("import subprocess\ndef check(r: subprocess.CompletedProcess) -> None:\n    pass\n"
     "def test_a():\n    check(None)\n", []),
    ("def helper(pytester):\n    return pytester.runpytest()\ndef test_a(pytester):\n"
     "    helper(pytester)\n", ["test_a"]),
    ("import subprocess\nOUT = subprocess.run(['x'])\ndef test_a():\n    pass\n",
     ["<module level> (mark the module: pytestmark = pytest.mark.integration)"]),
])
def test_the_scan_finds_what_it_should(source: str, unmarked: list[str]) -> None:
    assert unmarked_process_tests(source) == unmarked


def test_the_tier_markers_are_registered() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    markers = {m.partition(":")[0] for m in config["tool"]["pytest"]["ini_options"]["markers"]}
    assert {"slow", "integration", "data"} <= markers


def test_the_developer_profile_runs_no_more_examples_than_ci() -> None:
    from hypothesis import settings

    ci, dev = settings.get_profile("ci"), settings.get_profile("dev")
    assert dev.max_examples <= ci.max_examples
    assert not dev.derandomize  # the developer's runs explore other examples than CI's
    assert settings.get_profile("thorough").max_examples > ci.max_examples
    if "HYPOTHESIS_PROFILE" not in os.environ and not os.environ.get("CI"):
        assert settings.default.max_examples == dev.max_examples
