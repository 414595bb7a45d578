"""The CLI's error contract: a TfnasError is one line, anything else is a bug with a traceback.

Also: the subcommands are one fixed table (no plugin registry), ``tfnas sweep`` is parsed by the
CLI, and every input error the library raises on purpose is a TfnasError as well as the builtin
a caller may catch.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import pickle
import sqlite3
from pathlib import Path

import pytest

from tfnas import cli
from tfnas.checks import ArgumentError, ArgumentTypeError
from tfnas.errors import TfnasError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def command(monkeypatch: pytest.MonkeyPatch):
    """Add one subcommand ``h3-case CASE`` that calls ``cases[CASE]()``."""

    def add(cases: dict) -> None:
        case = cli.Subcommand("h3-case", "raise", lambda p: p.add_argument("case"),
                              lambda args: cases[args.case]() and 0)
        monkeypatch.setattr(cli, "COMMANDS", (*cli.COMMANDS, case))

    return add


def test_the_subcommands_are_one_fixed_table() -> None:
    assert [c.name for c in cli.COMMANDS] == ["proxies", "score", "search", "sweep"]
    assert not hasattr(cli, "register_subcommand") and not hasattr(cli, "PLUGINS")
    import tfnas.sweep

    assert not hasattr(tfnas.sweep, "main") and not hasattr(tfnas.sweep, "register_cli")


def test_a_tfnas_error_is_one_line(command, capsys: pytest.CaptureFixture[str]) -> None:
    def refuse() -> None:
        raise ArgumentError("bad input\nsecond line")

    command({"refuse": refuse})
    assert cli.main(["h3-case", "refuse"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tfnas: error: bad input")


def test_running_out_of_memory_is_one_line(command, capsys: pytest.CaptureFixture[str]) -> None:
    def grow() -> None:
        raise MemoryError

    command({"memory": grow})
    assert cli.main(["h3-case", "memory"]) == 1
    assert "out of memory" in capsys.readouterr().err


@pytest.mark.parametrize("error", [
    ValueError("a bug"), TypeError("a bug"), KeyError("a bug"), LookupError("a bug"),
    OSError("a bug"), ArithmeticError("a bug"), RecursionError("a bug"),
    sqlite3.OperationalError("a bug"), pickle.UnpicklingError("a bug"), UnicodeError("a bug"),
])
def test_any_other_exception_is_a_bug_and_raises(command, error: Exception) -> None:
    """Not turned into one line: a traceback points at the bug."""

    def fail() -> None:
        raise error

    command({"fail": fail})
    with pytest.raises(type(error)):
        cli.main(["h3-case", "fail"])


def test_argparse_errors_stay_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["sweep", "--proxy", "params"]) == 2
    assert "required" in capsys.readouterr().err


def test_sweep_indices_are_parsed_by_the_cli(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    assert cli.main(["sweep", "--proxy", "params", "--dataset", "cifar10", "--indices", "5-2",
                     "--store", str(store)]) == 2
    assert "--indices" in capsys.readouterr().err and not store.exists()


def test_input_errors_are_tfnas_errors_and_builtins() -> None:
    assert issubclass(ArgumentError, TfnasError) and issubclass(ArgumentError, ValueError)
    assert issubclass(ArgumentTypeError, TfnasError) and issubclass(ArgumentTypeError, TypeError)
    from tfnas.datasets import get_dataset
    from tfnas.network import check_num_classes

    for call, builtin in ((lambda: get_dataset(3), TypeError),
                          (lambda: check_num_classes(0), ValueError),
                          (lambda: check_num_classes("10"), TypeError)):
        with pytest.raises(TfnasError) as info:
            call()
        assert isinstance(info.value, builtin)


_BUILTINS = {"ValueError", "TypeError", "KeyError", "LookupError", "FileNotFoundError"}
INTERNAL_RAISES = {
    ("tfnas/proxies/synflow.py", "TypeError"),  # the fast path's own precondition, checked first
}
"""Builtin raises that are not about input: invariants of tfnas's own code."""


def test_tfnas_raises_no_bare_builtin_for_input() -> None:
    """``raise ValueError(...)`` (and TypeError, KeyError, LookupError, FileNotFoundError) only
    where it guards tfnas's own code: input errors are TfnasError subclasses."""
    found = set()
    for path in sorted((ROOT / "tfnas").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                func = node.exc.func
                if isinstance(func, ast.Name) and func.id in _BUILTINS:
                    found.add((path.relative_to(ROOT).as_posix(), func.id))
    assert found == INTERNAL_RAISES


def test_the_namespace_is_parsed_once_per_subcommand() -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["sweep", "--proxy", "params", "--dataset", "cifar10"])
    assert isinstance(args, argparse.Namespace) and args._run is not None
    assert dataclasses.is_dataclass(cli.COMMANDS[0])
