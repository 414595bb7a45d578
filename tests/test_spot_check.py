"""CI spot check: the committed score tables and the code, held to a float64 reference that no
host can move (tfnas.spot says why float32 cannot be that reference).

Two checks per committed table, on a fixed seeded set of cells (``tfnas.spot.spot_cells``):

* the **code**: the first ``TFNAS_SPOT_N`` (default 4) spot cells of each dataset are re-scored
  in float64, every proxy together (one shared pass per cell, as the sweep scores), and must equal
  ``benchmarks/spot/spot-<dataset>.csv`` within ``tfnas.spot.FLOAT64_TOLERANCE``;
* the **table**: at every spot cell (20 per dataset) a committed float32 score must be a
  float32 rounding of that float64 value (``SpotRow.explains``), a committed float64 score (the
  AZ-NAS components' default tables) that value itself; the tables variants
  (``benchmarks/scores/variants/``) are held to the same reference. Both sides are committed
  files, so this verdict is the same on every host.

The float32 bit-for-bit check of old (a fresh float32 re-score against the table) failed on any
host whose kernels round differently from the one that made the tables: on an AMD EPYC, grasp at
cell #10078 gave 159.8 where an Intel host had written 212.6; float64 gives 156.5 on both kernel
paths of either.
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path

import pytest

import tfnas.scoring
from tfnas.proxies import get_proxy, proxies
from tfnas.scoring import score, score_many, settings_key
from tfnas.space import arch_at
from tfnas.spot import (
    FLOAT64_TOLERANCE,
    REALISATIONS,
    SPOT_CELLS,
    SPOT_POOL,
    SpotError,
    SpotRow,
    isclose64,
    read_spot,
    score_runs,
    spot_cells,
    spot_path,
    table_runs,
    write_spot,
)
from tfnas.tables import (
    ScoreTable,
    available_tables,
    load_table,
    sweep_order,
    table_path,
    table_variants,
    variant_root,
)

PROXIES = tuple(p.name for p in proxies() if p.builtin and p.table and not p.ensemble)
DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
SPOT_ROOT = table_path("params", "cifar10").parents[1] / "spot"
FRESH = int(os.environ.get("TFNAS_SPOT_N", "4"))

pytestmark = [
    pytest.mark.data,  # re-scores spot cells against the committed float64 reference and tables
    pytest.mark.usefixtures("one_torch_thread"),  # see tests/conftest.py
]


@functools.cache
def reference(dataset: str) -> dict[tuple[str, int], SpotRow]:
    """The committed spot reference of ``dataset``, by (proxy, cell index)."""
    _, rows = read_spot(spot_path(SPOT_ROOT, dataset))
    return {(row.proxy, row.arch.index): row for row in rows}


def _table(proxy: str, dataset: str, root: Path | None = None) -> ScoreTable:
    if not table_path(proxy, dataset, root).exists():
        pytest.skip(f"no {proxy}-{dataset} table yet; scripts/sweep-all or scripts/sweep-suite makes it")
    table = load_table(proxy, dataset, root)
    seed, batch = int(table.provenance["seed"]), int(table.provenance["batch_size"])
    assert table.settings == settings_key(proxy, dataset, seed, batch, table.precision), (
        f"{proxy}-{dataset} table was computed under other settings (scoring version or data "
        "changed); re-run its sweep")
    return table


def _unexplained(table: ScoreTable, rows: list[SpotRow]) -> list[str]:
    """The spot cells where ``table`` is not what the code computes in its precision: a float64
    table must equal the float64 reference (:data:`FLOAT64_TOLERANCE`), a float32 table must be
    a float32 rounding of it (``SpotRow.explains``)."""
    missing = [row.arch.index for row in rows if row.arch not in table.scores]
    assert not missing, f"{table.proxy}-{table.dataset} table lacks spot cells {missing[:5]}"
    tolerance = get_proxy(table.proxy).tolerance

    def fits(row: SpotRow, value: float) -> bool:
        if table.precision == "float64":
            return value == row.float64 or isclose64(row.float64, value)
        return row.explains(value, tolerance)

    return [f"#{row.arch.index}: table {table.scores[row.arch]!r}, float64 {row.float64!r}, "
            f"float32 roundings {list(row.float32)}"
            for row in rows if not fits(row, table.scores[row.arch])]


def _rows(proxy: str, dataset: str) -> list[SpotRow]:
    rows = [row for (name, _), row in reference(dataset).items() if name == proxy]
    assert rows, (f"benchmarks/spot/spot-{dataset}.csv has no {proxy} rows; run "
                  f"scripts/spot-reference {dataset}")
    return rows


@functools.cache
def fresh_float64(dataset: str, n: int) -> dict[tuple[str, int], float]:
    """Float64 scores of the first ``n`` spot cells of ``dataset`` for every committed table,
    each table's proxies scored together under its seed and batch."""
    runs = table_runs(load_table(p, dataset) for p in PROXIES if table_path(p, dataset).exists())
    return {(name, cell.arch.index): value for cell in spot_cells(dataset, n)
            for name, value in score_runs(cell.arch, runs, dataset, "float64").items()}


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("proxy", PROXIES)
def test_code_matches_the_float64_reference(proxy, dataset):
    _table(proxy, dataset)
    rows = {row.arch.index: row for row in _rows(proxy, dataset)}
    fresh = fresh_float64(dataset, min(FRESH, SPOT_CELLS))
    checked = [(index, value) for (name, index), value in fresh.items() if name == proxy]
    bad = [f"#{index} {arch_at(index)}: reference {rows[index].float64!r}, now {value!r}"
           for index, value in checked if not isclose64(rows[index].float64, value)]
    assert checked
    assert not bad, (f"{len(bad)} of {len(checked)} spot cells disagree with the float64 "
                     f"reference (the code changed what it computes; if on purpose, bump "
                     f"SCORING_VERSION and re-run the sweeps and scripts/spot-reference):\n"
                     + "\n".join(bad))


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("proxy", PROXIES)
def test_table_is_a_rounding_of_the_reference(proxy, dataset):
    table = _table(proxy, dataset)
    rows = _rows(proxy, dataset)
    bad = _unexplained(table, rows)
    assert not bad, (f"{len(bad)} of {len(rows)} spot cells of the {proxy}-{dataset} table "
                     f"({table.precision}) are not the code's value in that precision:\n"
                     + "\n".join(bad[:10]))


VARIANT_TABLES = [(variant, proxy, dataset) for variant in table_variants()
                  for proxy, dataset in available_tables(variant_root(variant))
                  if proxy in PROXIES and dataset in DATASETS]


@pytest.mark.parametrize(("variant", "proxy", "dataset"), VARIANT_TABLES)
def test_variant_table_is_a_rounding_of_the_reference(variant, proxy, dataset):
    """A tables variant (e.g. variants/float32/: the AZ-NAS components in the anchor's
    float32) is held to the same float64 reference as the default tables."""
    table = _table(proxy, dataset, variant_root(variant))
    rows = _rows(proxy, dataset)
    bad = _unexplained(table, rows)
    assert not bad, (f"{len(bad)} of {len(rows)} spot cells of the {variant} {proxy}-{dataset} "
                     f"table ({table.precision}) are not the code's value in that precision:\n"
                     + "\n".join(bad[:10]))


def test_the_variants_differ_from_the_default_tables_only_in_precision():
    """A variant table is a sample of the same sweep order under the same settings as the
    default table it stands beside, but for the arithmetic (what makes it a variant of that
    table); either may hold more cells of that order."""
    import json

    for variant, proxy, dataset in VARIANT_TABLES:
        own, base = load_table(proxy, dataset, variant_root(variant)), load_table(proxy, dataset)
        assert own.provenance["order"] == base.provenance["order"], (variant, proxy, dataset)
        assert all(len(t.sample.cells) == len(t.scores) for t in (own, base))  # both prefixes
        a, b = json.loads(own.settings), json.loads(base.settings)
        a.pop("precision", None)
        b.pop("precision", None)
        assert a == b and own.precision != base.precision, (variant, proxy, dataset)


def test_float64_is_the_same_on_another_kernel_path_and_thread_count(monkeypatch):
    """The float64 tolerance, tested: the first ImageNet16-120 spot cell scored in float64 with
    torch's native kernels (oneDNN off) and on two threads equals the default path within it, for
    every proxy the spot check covers (a committed ImageNet16-120 table; a proxy without one has no
    spot reference to hold, and the costliest new ones would take minutes here in float64)."""
    import torch

    cell = spot_cells("ImageNet16-120", 1)[0].arch
    names = [p for p in PROXIES if table_path(p, "ImageNet16-120").exists()]
    assert names, "no proxy has a committed ImageNet16-120 table"
    base = {k: v.score for k, v in score_many(cell, names, "ImageNet16-120", precision="float64").items()}
    monkeypatch.setattr(tfnas.scoring, "SCORING_THREADS", 2)
    with torch.backends.mkldnn.flags(enabled=False):
        other = {k: v.score for k, v in
                 score_many(cell, names, "ImageNet16-120", precision="float64").items()}
    bad = [f"{k}: {base[k]!r} vs {other[k]!r}" for k in names if not isclose64(base[k], other[k])]
    assert not bad, bad


def test_spot_cells_are_fixed_prefix_closed_and_in_every_table():
    pool = set(sweep_order(seed=0)[:SPOT_POOL])
    for dataset in DATASETS:
        cells = spot_cells(dataset)
        assert cells == spot_cells(dataset)
        assert spot_cells(dataset, 5) == cells[:5]
        assert len({c.arch for c in cells}) == SPOT_CELLS
        assert {c.arch.index for c in cells} <= pool
    assert spot_cells("cifar10") != spot_cells("cifar100")


def _row(ref: float, *roundings: float) -> SpotRow:
    return SpotRow("grasp", arch_at(1), ref, tuple(roundings) or (ref,) * len(REALISATIONS))


@pytest.mark.parametrize("row, value, ok", [
    (_row(100.0, 100.01, 99.99, 100.0), 100.05, True),    # 5x the largest rounding error
    (_row(100.0, 100.01, 99.99, 100.0), 100.2, False),    # 20x: no rounding explains it
    (_row(100.0, 100.0, 100.0, 100.0), 100.0, True),
    (_row(-math.inf), -math.inf, True),
    (_row(-math.inf), 1.0, False),
    (_row(5.0, 5.0, -math.inf, 5.0), 1e9, True),           # float32 breaks down there
    (_row(5.0, 5.0, 5.0, 5.0), -math.inf, False),
])
def test_a_table_value_is_explained_only_by_a_rounding(row, value, ok):
    assert row.explains(value, (0.0, 0.0)) is ok


def test_the_registered_tolerance_also_explains():
    row = _row(100.0, 100.0, 100.0, 100.0)
    assert row.explains(100.5, (1e-2, 0.0)) and not row.explains(102.0, (1e-2, 0.0))


def test_float64_tolerance_bounds():
    relative, absolute = FLOAT64_TOLERANCE
    assert isclose64(1000.0, 1000.0 * (1 + relative / 2))
    assert not isclose64(1000.0, 1000.0 * (1 + relative * 2))
    assert isclose64(-math.inf, -math.inf) and not isclose64(-math.inf, 0.0)


def test_spot_file_round_trips_and_refuses_what_it_is_not(tmp_path):
    rows = [SpotRow("params", arch_at(7), 3.5, (3.5, 3.5, 3.5)),
            SpotRow("az_expressivity", arch_at(9), -math.inf, (-math.inf, 1.0, 0.1 + 0.2))]
    path = write_spot(tmp_path / "s.csv", rows, {"dataset": "cifar10"})
    assert read_spot(path) == ({"dataset": "cifar10"}, rows)
    text = path.read_text()
    for broken in (text.replace(str(arch_at(9)), str(arch_at(10))),
                   text.replace("3.5,3.5", "3.5,nope"),
                   text.replace("-inf,1.0", "inf,1.0"),
                   text.replace("proxy,index", "proxy,cell"),
                   text.replace(",7,", ",99999999,"),
                   "# only: provenance\n"):
        path.write_text(broken)
        with pytest.raises(SpotError) as info:
            read_spot(path)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("proxy, dataset", [("synflow", "cifar10"), ("naswot", "ImageNet16-120")])
def test_thread_count_does_not_change_the_bits(proxy, dataset):
    """Another reduction split (2 threads vs 1) gives the same float32 bits for these two: the
    tables do not depend on how many threads the sweep used."""
    arch = arch_at(11)
    one = score(arch, proxy, dataset)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tfnas.scoring, "SCORING_THREADS", 2)
        two = score(arch, proxy, dataset)
    assert one == two
