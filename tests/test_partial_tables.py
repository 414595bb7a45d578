"""Claims on incomplete score tables: a table swept in a seeded permutation is a uniform sample.

Synthetic tables (``write_table`` into a tmp dir, read through ``Context(tables_root=...)``) and
synthetic accuracies (placed in the context's accuracy columns) over the real 15,625 cells: a
complete table is judged as before (exact, ``se = 0``); a permutation prefix is judged on its
cells with the sampling error of a coefficient over n of N cells, which widens as n shrinks and
is honest (it matches the spread of the coefficient over repeated samples); an incomplete table
swept in index order is refused as not a uniform sample.

The sample is ``ScoreTable.sample``: the longest prefix of ``tfnas.tables.sweep_order`` (the
permutation ``numpy.random.default_rng(seed).permutation(15625)``) the table holds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.context import Context, NotRun
from harness.evaluate import evaluate_claim
from harness.kinds.correlation import measure_correlation, sampling_se
from harness.registry import ClaimError, parse_claim
from harness.stats import correlation
from harness.verdicts import INCONCLUSIVE, NOT_RUN, REPRODUCED
from tfnas.space import SPACE_SIZE, all_cells
from tfnas.tables import sweep_order, table_path, write_table

N = SPACE_SIZE
ORDER_SEED = 5
DATASET = "cifar100"


def permutation(seed: int = ORDER_SEED) -> np.ndarray:
    """The sweep order of a permutation-ordered table (as the design states it)."""
    perm = np.random.default_rng(seed).permutation(N)
    assert tuple(perm.tolist()) == sweep_order(seed=seed)
    return perm


def write(root: Path, proxy: str, values: np.ndarray, indices, order: str | None,
          dataset: str = DATASET) -> None:
    """A table of ``values[i]`` for the cells ``indices``, with provenance ``order``."""
    cells = all_cells()
    provenance = {} if order is None else {"order": order}
    write_table(table_path(proxy, dataset, root), proxy, dataset,
                {cells[int(i)]: float(values[int(i)]) for i in indices}, provenance)


def population(seed: int = 0, noise: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """(accuracy, score) of every cell: the score is the accuracy plus noise (rho about 0.75)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(N)
    acc = 70.0 + 10.0 * z
    return acc, z + noise * rng.standard_normal(N)


def context(root: Path, acc: np.ndarray, dataset: str = DATASET) -> Context:
    ctx = Context(tables_root=root, bootstrap=20)  # few resamples: the recorded CI is not judged
    ctx._columns[(dataset, "test200")] = acc  # synthetic accuracies instead of NATS-Bench's
    return ctx


def claim(proxy: str = "synflow", published: float = 0.75, sample: int = 0, **extra):
    protocol = {"proxy": proxy, "dataset": DATASET, "metric": "test200",
                "coefficient": "spearman", "sample": sample, "seed": 3, **extra}
    return parse_claim({"id": "test-partial", "title": "t", "source": "s", "kind": "correlation",
                        "protocol": protocol, "published": {"value": published},
                        "tolerance": {"rule": "equivalence", "margin": 0.05,
                                      "justification": "a test"},
                        "interpretation": "i"})


def test_a_complete_table_is_judged_exactly_as_before(tmp_path):
    acc, score = population()
    write(tmp_path, "synflow", score, range(N), f"permutation:{ORDER_SEED}")
    ctx = context(tmp_path, acc)
    r = correlation(score, acc, "spearman")
    m = measure_correlation(claim().protocol, ctx)
    assert m.estimate.value == r and m.estimate.se == 0.0 and m.estimate.n == N
    assert m.details["cell_set"] == "whole space" and "space_sample" not in m.details
    sampled = measure_correlation(claim(sample=1000).protocol, ctx)
    assert sampled.estimate.value == r and sampled.estimate.n == 1000
    assert sampled.estimate.se == sampling_se(r, "spearman", 1000, N)
    assert evaluate_claim(claim(published=r + 0.01), ctx).status == REPRODUCED
    assert evaluate_claim(claim(published=r + 0.2), ctx).status == "not reproduced"


def test_a_table_without_order_is_complete_all_the_same(tmp_path):
    acc, score = population()
    write(tmp_path, "synflow", score, range(N), None)
    m = measure_correlation(claim().protocol, context(tmp_path, acc))
    assert m.estimate.se == 0.0 and m.estimate.n == N


def test_a_permutation_prefix_is_a_sample_whose_interval_widens_as_it_shrinks(tmp_path):
    acc, score = population()
    r_pop = correlation(score, acc, "spearman")
    perm = permutation()
    widths, statuses = [], []
    for n in (8000, 2000, 250):
        root = tmp_path / str(n)
        write(root, "synflow", score, perm[:n], f"permutation:{ORDER_SEED}")
        ctx = context(root, acc)
        m = measure_correlation(claim().protocol, ctx)
        idx = np.sort(perm[:n])
        r_n = correlation(score[idx], acc[idx], "spearman")
        assert m.estimate.value == pytest.approx(r_n, abs=1e-12)
        assert m.estimate.se == pytest.approx(sampling_se(r_n, "spearman", n, N))
        assert m.details["n_cells"] == n and m.details["space_sample"]["sample"] is True
        assert "sample" in m.details["cell_set"] and str(n) in m.details["cell_set"]
        out = evaluate_claim(claim(published=r_pop), ctx)
        lo, hi = out.judgement.interval
        widths.append(hi - lo)
        statuses.append(out.status)
        assert str(n) in out.details["cell_set"]
    assert widths[0] < widths[1] < widths[2]
    assert statuses[0] == REPRODUCED  # 8,000 cells: the interval fits inside the margin
    assert statuses[2] == INCONCLUSIVE  # 250 cells: too wide to show equivalence


def test_cells_past_the_first_gap_of_the_permutation_are_not_part_of_the_sample(tmp_path):
    acc, score = population()
    perm = permutation()
    write(tmp_path, "synflow", score, np.concatenate([perm[:500], perm[600:900]]),
          f"permutation:{ORDER_SEED}")
    m = measure_correlation(claim().protocol, context(tmp_path, acc))
    assert m.details["n_cells"] == 500


@pytest.mark.parametrize("order", [None, "index"])
def test_an_incomplete_table_in_index_order_is_refused_as_no_sample(tmp_path, order):
    acc, score = population()
    write(tmp_path, "synflow", score, range(3000), order)
    ctx = context(tmp_path, acc)
    with pytest.raises(NotRun, match="not a uniform sample"):
        measure_correlation(claim().protocol, ctx)
    out = evaluate_claim(claim(), ctx)
    assert out.status == NOT_RUN and "not a uniform sample" in out.reason


def test_a_missing_table_is_not_run_as_before(tmp_path):
    acc, _ = population()
    out = evaluate_claim(claim(), context(tmp_path, acc))
    assert out.status == NOT_RUN and "no score table" in out.reason


def test_a_claim_on_k_cells_of_a_sample_adds_both_sampling_errors(tmp_path):
    acc, score = population()
    perm = permutation()
    for n, drawn in ((3000, 1000), (600, 600)):
        root = tmp_path / str(n)
        write(root, "synflow", score, perm[:n], f"permutation:{ORDER_SEED}")
        m = measure_correlation(claim(sample=1000).protocol, context(root, acc))
        r = m.estimate.value
        expected = np.hypot(sampling_se(r, "spearman", 1000, N), sampling_se(r, "spearman", n, N))
        assert m.estimate.se == pytest.approx(expected) and m.estimate.n == 1000
        assert m.details["sample"]["cells"] == drawn  # the seeded cells come from the sample
        held = {int(i) for i in perm[:n]}
        assert m.details["n_cells"] == n and len(held) == n


def test_against_another_incomplete_table_uses_the_common_cells(tmp_path):
    acc, score = population()
    other = score + np.random.default_rng(9).standard_normal(N)
    write(tmp_path, "synflow", score, permutation(5)[:4000], "permutation:5")
    write(tmp_path, "params", other, permutation(6)[:4000], "permutation:6")
    proto = parse_claim({"id": "t", "title": "t", "source": "s", "kind": "correlation",
                         "protocol": {"proxy": "synflow", "dataset": DATASET,
                                      "against": "params", "coefficient": "spearman"},
                         "published": {"value": 0.5},
                         "tolerance": {"rule": "equivalence", "margin": 0.05,
                                       "justification": "t"},
                         "interpretation": "i"}).protocol
    m = measure_correlation(proto, context(tmp_path, acc))
    common = sorted(set(permutation(5)[:4000].tolist()) & set(permutation(6)[:4000].tolist()))
    assert m.details["n_cells"] == len(common)
    assert m.estimate.value == pytest.approx(correlation(score[common], other[common], "spearman"))
    assert m.estimate.se > 0


def test_absolute_judges_the_magnitude_and_records_the_sign(tmp_path):
    acc, score = population()
    write(tmp_path, "synflow", -score, range(N), None)
    ctx = context(tmp_path, acc)
    m = measure_correlation(claim(absolute=True).protocol, ctx)
    assert m.estimate.value == pytest.approx(correlation(score, acc, "spearman"))
    assert m.details["signed_value"] < 0
    assert measure_correlation(claim().protocol, ctx).estimate.value < 0
    with pytest.raises(ClaimError, match="absolute"):
        claim(absolute="yes")


@pytest.mark.parametrize("kind", ["spearman", "kendall"])
def test_the_sampling_error_matches_the_spread_over_repeated_samples(kind):
    """The se formula (Fisher z, Bonett-Wright for rho, Fieller for tau, finite-population
    correction) against the standard deviation of the coefficient over 150 samples of 4,000."""
    acc, score = population(seed=1)
    r_pop = correlation(score, acc, kind)
    rng = np.random.default_rng(2)
    n = 4000
    values = [correlation(score[i], acc[i], kind)
              for i in (rng.choice(N, size=n, replace=False) for _ in range(150))]
    assert np.std(values, ddof=1) == pytest.approx(sampling_se(r_pop, kind, n, N), rel=0.2)


def test_a_comparison_of_two_correlations_on_samples_uses_their_common_cells(tmp_path):
    acc, score = population()
    worse = score + np.random.default_rng(4).standard_normal(N)
    write(tmp_path, "synflow", score, permutation()[:3000], f"permutation:{ORDER_SEED}")
    write(tmp_path, "params", worse, permutation()[:2000], f"permutation:{ORDER_SEED}")
    side = {"kind": "correlation", "dataset": DATASET, "metric": "test200",
            "coefficient": "spearman"}
    c = parse_claim({"id": "t", "title": "t", "source": "s", "kind": "comparison",
                     "protocol": {"a": {**side, "proxy": "synflow"}, "b": {**side, "proxy": "params"}},
                     "published": {}, "interpretation": "i",
                     "tolerance": {"rule": "greater", "margin": 0.0, "justification": "t"}})
    out = evaluate_claim(c, context(tmp_path, acc))
    assert out.details["a"]["n_cells"] == out.details["b"]["n_cells"] == 2000
    assert out.reproduced.se > 0 and out.reference.se > 0 and out.status == REPRODUCED
