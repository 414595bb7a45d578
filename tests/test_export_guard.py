"""An export never writes into the package by default and never shrinks or replaces a table silently."""

from __future__ import annotations

import hashlib
import os

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tfnas.cli import main as cli_main
from tfnas.space import arch_at
from tfnas.store import ScoreStore
from tfnas.sweep import EXIT_REFUSED
from tfnas.tables import DEFAULT_ROOT, EXPORT_ROOT, load_table, table_path

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py


def main(argv):
    """``tfnas sweep ARGV``."""
    return cli_main(["sweep", *argv])


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sweep(store, root, indices, *extra):
    return main(["--proxy", "params", "--dataset", "cifar10", "--indices", indices,
                 "--store", str(store), "--export", str(root), *extra])


def test_the_default_export_folder_is_outside_the_package(tmp_path, monkeypatch, capsys):
    committed = DEFAULT_ROOT.resolve()  # the checkout's tables: tests run from its root
    monkeypatch.chdir(tmp_path)
    before = {p.name: _digest(p) for p in committed.glob("params-cifar10*")}
    assert main(["--proxy", "params", "--dataset", "cifar10", "--indices", "0-3",
                 "--store", "s.sqlite", "--export"]) == 0
    assert "tfnas-scores" in capsys.readouterr().out
    assert len(load_table("params", "cifar10", tmp_path / EXPORT_ROOT).scores) == 4
    assert {p.name: _digest(p) for p in committed.glob("params-cifar10*")} == before


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.sets(st.integers(0, 40), min_size=2, max_size=6),
       second=st.sets(st.integers(0, 40), min_size=1, max_size=6))
@example(first={1, 2}, second={1, 2, 3})  # grows
@example(first={1, 2, 3}, second={1})  # would shrink
def test_a_table_only_grows_unless_forced(tmp_path_factory, capsys, first, second):
    """Exporting a store that lacks some of the table's cells is refused and leaves the file's
    bytes as they were; a superset is written; --force replaces."""
    tmp = tmp_path_factory.mktemp("guard")
    root = tmp / "tables"
    assert _sweep(tmp / "a.sqlite", root, ",".join(map(str, sorted(first)))) == 0
    path = table_path("params", "cifar10", root)
    before = _digest(path)
    status = _sweep(tmp / "b.sqlite", root, ",".join(map(str, sorted(second))))
    err = capsys.readouterr().err
    if first <= second:
        assert status == 0 and len(load_table("params", "cifar10", root).scores) == len(second)
    else:
        assert status == EXIT_REFUSED and _digest(path) == before
        assert "refused" in err and "--force" in err and err.count("\n") == 1, err
        with ScoreStore(tmp / "b.sqlite") as store:  # nothing lost: the new scores are stored
            assert len(store.scored("params", "cifar10", load_table(
                "params", "cifar10", root).settings)) == len(second)
        assert _sweep(tmp / "b.sqlite", root, ",".join(map(str, sorted(second))), "--force") == 0
        assert set(load_table("params", "cifar10", root).scores) == {arch_at(i) for i in second}


def test_a_table_of_other_settings_is_not_replaced(tmp_path, capsys):
    root = tmp_path / "tables"
    args = ["--proxy", "synflow", "--dataset", "cifar10", "--indices", "0-1", "--export", str(root)]
    assert main(args + ["--store", str(tmp_path / "a.sqlite")]) == 0
    path = table_path("synflow", "cifar10", root)
    before = _digest(path)
    assert main(args + ["--store", str(tmp_path / "b.sqlite"), "--seed", "1"]) == EXIT_REFUSED
    err = capsys.readouterr().err
    assert "other settings" in err and _digest(path) == before


def test_a_corrupt_table_is_refused_not_overwritten(tmp_path, capsys):
    root = tmp_path / "tables"
    root.mkdir()
    path = table_path("params", "cifar10", root)
    path.write_bytes(b"not a table")
    assert _sweep(tmp_path / "a.sqlite", root, "0-1") == EXIT_REFUSED
    assert path.read_bytes() == b"not a table"
    assert "not a readable score table" in capsys.readouterr().err
    assert _sweep(tmp_path / "a.sqlite", root, "0-1", "--force") == 0
    assert len(load_table("params", "cifar10", root).scores) == 2


def test_force_needs_export(tmp_path):
    from tfnas.cli import main as cli

    assert cli(["sweep", "--proxy", "params", "--dataset", "cifar10", "--indices", "0",
                "--store", os.fspath(tmp_path / "a.sqlite"), "--force"]) == 2
