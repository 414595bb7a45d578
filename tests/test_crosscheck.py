"""The cross-implementation check: NASLib's cell encoding, the foreign-score readers, and the
agreement it reports (each sentence a predicate on the numbers)."""

from __future__ import annotations

import itertools
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.crosscheck import (
    CrosscheckError,
    crosscheck,
    naslib_arch,
    naslib_indices,
    read_foreign,
    render,
)
from tfnas.space import arch_at, index_of
from tfnas.tables import load_table, sweep_order


def test_naslib_encoding_is_a_bijection_onto_the_space():
    seen = set()
    for ops in itertools.product(range(5), repeat=6):
        arch = naslib_arch(ops)
        assert naslib_indices(arch) == ops
        seen.add(index_of(arch))
    assert len(seen) == 15625


def test_naslib_encoding_matches_their_conversion():
    # naslib/search_spaces/nasbench201/conversions.py, convert_op_indices_to_str((4, 3, 3, 3, 2, 3))
    assert str(naslib_arch((4, 3, 3, 3, 2, 3))) == (
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|nor_conv_1x1~0|nor_conv_3x3~1|"
        "nor_conv_1x1~2|")


def _cells(n: int = 60) -> list[int]:
    return list(sweep_order(seed=0)[:n])  # held by every committed table


def _suite_zero(tmp_path, proxy, dataset, values, nested=True, as_text=False):
    cells = {}
    for index, value in values.items():
        key = str(naslib_indices(arch_at(index)))
        score = (f"{{'score': {value!r}, 'time': 0.5}}" if as_text else {"score": value, "time": 0.5}
                 ) if nested else value
        cells[key] = {"jacov" if proxy == "jacob_cov" else proxy: score, "val_accuracy": 50.0,
                      "idx": "1", "made_up_proxy": 1.0}
    path = tmp_path / "zc.json"
    data = {dataset: cells} if nested else {"nasbench201": {dataset: cells}}
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("nested, as_text", [(True, False), (True, True), (False, False)])
def test_our_own_table_agrees_with_itself(tmp_path, nested, as_text):
    table = load_table("synflow", "cifar100")
    values = {i: table.scores[arch_at(i)] for i in _cells()}
    foreign = read_foreign(_suite_zero(tmp_path, "synflow", "cifar100", values, nested, as_text))
    assert foreign.unknown == ("made_up_proxy",)
    (row,) = crosscheck(foreign)
    assert (row.proxy, row.dataset, row.n) == ("synflow", "cifar100", 60)
    assert row.rho == pytest.approx(1.0) and row.ours == pytest.approx(row.theirs)
    assert "within our scoring noise" in row.finding
    assert "made_up_proxy" in render([row], foreign)


def test_a_reversed_ranking_is_reported_below_the_ceiling(tmp_path):
    table = load_table("synflow", "cifar10")
    values = {i: -table.scores[arch_at(i)] for i in _cells()}
    (row,) = crosscheck(read_foreign(_suite_zero(tmp_path, "synflow", "cifar10", values)))
    assert row.rho == pytest.approx(-1.0) and row.high < row.ceiling
    assert row.finding.startswith("below our noise ceiling")
    assert row.ours == pytest.approx(-row.theirs)


def test_a_seed_free_proxy_has_ceiling_one_and_a_constant_side_is_named(tmp_path):
    values = {i: 7.0 for i in _cells()}
    (row,) = crosscheck(read_foreign(_suite_zero(tmp_path, "params", "cifar10", values)))
    assert row.ceiling == 1.0 and row.ceiling_seeds == 0
    assert row.constant == "theirs" and "their scores are one value" in row.finding
    assert math.isnan(row.theirs)
    table = load_table("params", "cifar10")
    same = {i: table.scores[arch_at(i)] for i in _cells()}
    (row,) = crosscheck(read_foreign(_suite_zero(tmp_path, "params", "cifar10", same)))
    assert row.finding == "the same ranking (our proxy has no scoring noise)"
    shuffled = dict(zip(same, reversed(list(same.values())), strict=True))
    (row,) = crosscheck(read_foreign(_suite_zero(tmp_path, "params", "cifar10", shuffled)))
    assert row.finding.startswith("below 1")


def test_unmeasured_noise_is_said_so(tmp_path):
    table = load_table("grasp", "cifar10")
    values = {i: table.scores[arch_at(i)] for i in _cells()}
    (row,) = crosscheck(read_foreign(_suite_zero(tmp_path, "grasp", "cifar10", values)),
                        noise=tmp_path / "no-noise-here")
    assert row.ceiling is None and "cannot be told apart" in row.finding


def test_csv_of_arch_and_score(tmp_path):
    table = load_table("params", "cifar10")
    lines = ["arch,score"] + [f"{arch_at(i)},{table.scores[arch_at(i)]}" for i in _cells(20)]
    path = tmp_path / "s.csv"
    path.write_text("\n".join(lines) + "\n")
    (row,) = crosscheck(read_foreign(path, "params", "cifar10"))
    assert row.n == 20 and row.rho == pytest.approx(1.0)


@pytest.mark.parametrize("text", [
    "not json", "[" * 100_000, "[]", '{"cifar10": []}', '{"mnist": {}}',
    '{"cifar10": {"(9, 9, 9, 9, 9, 9)": {"snip": 1}}}',
    '{"cifar10": {"(0, 1, 2, 3, 4, 0)": {"snip": "many"}}}',
    '{"cifar10": {"(0, 1, 2, 3, 4, 0)": {"snip": true}}}',
    '{"cifar10": {"(0, 1, 2, 3, 4, 0)": 3}}',
    '{"cifar10": {"|bogus~0|": {"snip": 1}}}',
])
def test_what_is_no_score_file_is_one_line(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(CrosscheckError) as info:
        read_foreign(path)
    assert "\n" not in str(info.value) and len(str(info.value)) < 400


@given(st.text(max_size=200))
def test_any_text_is_read_or_refused_in_one_line(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("x") / "any.json"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        read_foreign(path)
    except CrosscheckError as exc:
        assert "\n" not in str(exc)


@pytest.mark.parametrize("args", [("--proxy", "snip"), ("--proxy", "nope", "--dataset", "cifar10")])
def test_a_csv_needs_a_known_proxy_and_dataset(tmp_path, args):
    path = tmp_path / "s.csv"
    path.write_text("arch,score\n")
    proxy = args[1]
    dataset = args[3] if len(args) > 2 else None
    with pytest.raises(CrosscheckError, match="a CSV needs"):
        read_foreign(path, proxy, dataset)


def test_cli_prints_the_table_or_one_error_line(tmp_path, capsys):
    from harness.__main__ import main

    bad = tmp_path / "bad.json"
    bad.write_text("{")
    status = main(["crosscheck", str(bad)])  # python -m harness crosscheck, in this process
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "not JSON" in err


def test_per_cell_batch_scores_each_cell_under_a_seed_of_its_own(tmp_path, monkeypatch):
    """Realisation r scores cell i under seed r * stride + i (a batch and init per cell); the
    ceiling is the mean ρ over every pair of runs, and the finding is the predicate on it."""
    import harness.crosscheck as cc
    import tfnas.scoring

    calls = []
    real = tfnas.scoring.score

    def spy(arch, proxy, dataset, **kw):  # the real scoring, with its seeds recorded
        calls.append((index_of(arch), kw["seed"]))
        return real(arch, proxy, dataset, **kw)

    monkeypatch.setattr(tfnas.scoring, "score", spy)
    table = load_table("params", "cifar10")
    cells = _cells(12)
    path = _suite_zero(tmp_path, "params", "cifar10",
                       {i: table.scores[arch_at(i)] for i in cells})
    row = cc.per_cell_ceiling(read_foreign(path), "params", "cifar10", realisations=3)
    assert sorted(calls) == sorted((i, r * cc.PER_CELL_SEED_STRIDE + i)
                                   for r in (1, 2, 3) for i in cells)
    assert len(row.pairs) == 3 and row.ceiling == pytest.approx(1.0)  # params: seed-free
    assert row.agreement == pytest.approx(1.0) and "within a per-cell batch" in row.finding
    reversed_path = _suite_zero(tmp_path, "params", "cifar10",
                                {i: -table.scores[arch_at(i)] for i in cells})
    row = cc.per_cell_ceiling(read_foreign(reversed_path), "params", "cifar10", realisations=2)
    assert row.agreement == pytest.approx(-1.0) and row.finding.startswith("below even")
    assert "| params | cifar10 | 12 |" in cc.render_per_cell([row])


def test_per_cell_batch_refuses_what_it_cannot_compare(tmp_path):
    from harness.crosscheck import per_cell_ceiling

    path = _suite_zero(tmp_path, "params", "cifar10", {i: 1.0 for i in _cells(5)})
    foreign = read_foreign(path)
    with pytest.raises(CrosscheckError, match="too few"):
        per_cell_ceiling(foreign, "params", "cifar10", 2)
    with pytest.raises(CrosscheckError, match="holds no synflow"):
        per_cell_ceiling(foreign, "synflow", "cifar10", 2)
    for bad in (1, 21, 2.5, True):
        with pytest.raises(CrosscheckError, match="realisations"):
            per_cell_ceiling(foreign, "params", "cifar10", bad)
