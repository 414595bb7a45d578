"""Locations come from settings with documented defaults, never from where tfnas is installed;
the public namespace is the space object API."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tfnas
from tfnas import config

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("function", "var", "default"), [
    (config.tables_root, "TFNAS_TABLES", Path("benchmarks/scores")),
    (config.noise_root, "TFNAS_NOISE", Path("benchmarks/noise")),
    (config.spot_root, "TFNAS_SPOT", Path("benchmarks/spot")),
])
def test_each_folder_is_a_setting_with_a_relative_default(monkeypatch, tmp_path, function, var,
                                                          default) -> None:
    monkeypatch.delenv(var, raising=False)
    assert function() == default and not function().is_absolute()
    monkeypatch.setenv(var, str(tmp_path))
    assert function() == tmp_path
    monkeypatch.setenv(var, "")
    assert function() == default


def test_the_readers_follow_the_settings(monkeypatch, tmp_path) -> None:
    from harness.noise import noise_proxies
    from tfnas.spot import spot_path
    from tfnas.tables import available_tables, table_path

    monkeypatch.setenv("TFNAS_TABLES", str(tmp_path / "t"))
    monkeypatch.setenv("TFNAS_SPOT", str(tmp_path / "s"))
    monkeypatch.setenv("TFNAS_NOISE", str(tmp_path / "n"))
    assert table_path("synflow", "cifar10") == tmp_path / "t" / "synflow-cifar10.csv.gz"
    assert spot_path(None, "cifar10") == tmp_path / "s" / "spot-cifar10.csv"
    (tmp_path / "t").mkdir()
    assert available_tables() == []
    (tmp_path / "n").mkdir()
    (tmp_path / "n" / "cells-params-cifar10.txt").write_text("# top 0\n", encoding="utf-8")
    assert noise_proxies() == ("params",)


def test_the_defaults_read_the_checkout_from_its_root(monkeypatch) -> None:
    monkeypatch.delenv("TFNAS_TABLES", raising=False)
    monkeypatch.chdir(ROOT)
    from tfnas.tables import table_path

    if not (ROOT / "benchmarks" / "scores").is_dir():
        pytest.skip("no committed tables in this checkout")
    assert table_path("params", "cifar10").resolve().parent == ROOT / "benchmarks" / "scores"


def test_no_location_is_derived_from_the_code_s_own_path() -> None:
    """No ``__file__`` in tfnas, and in harness only for its own package data (claims/)."""
    found = []
    for package in ("tfnas", "harness"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Name) and node.id == "__file__":
                    found.append(path.relative_to(ROOT).as_posix())
    assert found == ["harness/registry.py"]  # SHIPPED: the claims files inside the package


def test_the_namespace_exposes_the_space_objects() -> None:
    assert tfnas.get_space() is tfnas.TOPOLOGY and tfnas.get_space("sss") is tfnas.SIZE
    assert isinstance(tfnas.TOPOLOGY, tfnas.SearchSpace)
    assert tfnas.TOPOLOGY.size == 15_625 and tfnas.SIZE.size == 32_768
    for name in ("Arch", "sample"):  # README's first example has shown these
        assert getattr(tfnas, name) is getattr(__import__("tfnas.space").space, name)
    for gone in ("OPS", "SPACE_SIZE", "all_cells", "arch_at", "as_arch", "canonical", "index_of",
                 "is_connected", "mutate", "neighbours", "sample_distinct"):
        assert gone not in tfnas.__all__
        with pytest.raises(AttributeError):
            getattr(tfnas, gone)


def test_a_space_carries_its_facts() -> None:
    tss, sss = tfnas.TOPOLOGY, tfnas.SIZE
    assert (tss.word, tss.archive_name, tss.archive_epochs) == (
        "topology", "NATS-tss-v1_0-3ffb9-simple", (12, 200))
    assert (sss.word, sss.archive_name, sss.archive_epochs) == (
        "size", "NATS-sss-v1_0-50262-simple", (1, 12, 90))
    layout = sss.network_layout("8:16:24:32:64")
    assert layout.family == "infer.shape.tiny" and layout.channels == (8, 16, 24, 32, 64)
    cell = tss.arch_at(0)
    layout = tss.network_layout(cell)
    assert layout.family == "infer.tiny" and layout.cell == cell and len(layout.channels) == 17
