"""The exact best-of-N distributions equal simulations of the real random search."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.exact import (
    Discrete,
    ExactError,
    best_of_n,
    sampled_cells,
    sampling,
    unselected_cell,
    win_probabilities,
)
from tfnas.search import TableScorer, random_search
from tfnas.spaces import SearchSpace, get_space

TSS = get_space("tss")
SCORE_LEVELS = [-math.inf, math.nan, 0.0, 1.0, 2.0, 3.5]
RUNS = 3000


def tiny_space(m: int):
    """The first ``m`` cells of the topology space as a space of their own (unregistered; its
    traces name the topology space)."""
    attrs = {"size": m, "sample_distinct": SearchSpace.sample_distinct}
    return type("Tiny", (type(TSS),), attrs)()


columns = st.lists(st.sampled_from(SCORE_LEVELS), min_size=2, max_size=9)


def simulate(scores: list[float], n: int, runs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """How often each cell is kept, and how often each is drawn but not kept, over ``runs``
    runs of tfnas's random search on a TableScorer of ``scores``."""
    space = tiny_space(len(scores))
    scorer = TableScorer({TSS.arch_at(i): s for i, s in enumerate(scores)}, "test")
    kept = np.zeros(len(scores))
    other = np.zeros(len(scores))
    rng = random.Random(seed)
    for _ in range(runs):
        trace = random_search(scorer, n, rng.randrange(2**31), space=space)
        k = TSS.index_of(trace.best)
        kept[k] += 1
        for e in trace.evaluations:
            i = TSS.index_of(e.arch)
            other[i] += i != k
    return kept / runs, other / (runs * max(n - 1, 1))


def within_mc(p_exact: np.ndarray, p_sim: np.ndarray, runs: int) -> bool:
    """Every frequency within 5 Monte-Carlo standard errors (plus a little) of its probability."""
    bound = 5 * np.sqrt(p_exact * (1 - p_exact) / runs) + 2.0 / runs
    return bool(np.all(np.abs(p_exact - p_sim) <= bound))


@settings(max_examples=12, deadline=None)  # each example is 3,000 real searches (~0.5 s)
@given(columns, st.data())
def test_exact_equals_simulated_random_search(scores: list[float], data: st.DataObject) -> None:
    n = data.draw(st.integers(1, len(scores)))
    kept, unselected = simulate(scores, n, RUNS, seed=len(scores) * 31 + n)
    cells = np.arange(len(scores), dtype=float)
    p_best = np.zeros(len(scores))
    d = best_of_n(scores, cells, n)
    p_best[d.values.astype(int)] = d.probs
    assert within_mc(p_best, kept, RUNS)
    if n >= 2:
        u = unselected_cell(scores, cells, n)
        p_u = np.zeros(len(scores))
        p_u[u.values.astype(int)] = u.probs
        assert within_mc(p_u, unselected, RUNS * (n - 1))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6) | st.sampled_from([-math.inf, math.nan]), min_size=1,
                max_size=300), st.data())
def test_probabilities_sum_to_one(scores: list[float], data: st.DataObject) -> None:
    n = data.draw(st.integers(1, len(scores)))
    p = win_probabilities(np.array(scores), n)
    assert np.all(p >= 0)
    assert p.sum() == pytest.approx(1.0, abs=1e-9)


@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=50, unique=True))
def test_n_equal_m_keeps_the_top_cell(scores: list[float]) -> None:
    values = np.arange(len(scores), dtype=float)
    d = best_of_n(scores, values, len(scores))
    assert d.values.tolist() == [float(np.argmax(scores))]


@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=50),
       st.lists(st.floats(0, 100), min_size=50, max_size=50))
def test_n_one_is_the_uniform_mean(scores: list[float], values: list[float]) -> None:
    v = np.array(values[: len(scores)])
    d = best_of_n(scores, v, 1)
    assert d.mean == pytest.approx(v.mean(), abs=1e-9)
    assert d.mean == pytest.approx(sampled_cells(v).mean, abs=1e-9)


def test_large_space_is_stable() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(size=15625)
    for n in (1, 10, 100, 1000, 15625):
        p = win_probabilities(scores, n)
        assert p.sum() == pytest.approx(1.0, abs=1e-9)
        assert np.isfinite(p).all()
    assert win_probabilities(scores, 15625)[np.argmax(scores)] == pytest.approx(1.0)


def test_ties_share_uniformly_and_minus_inf_ranks_last() -> None:
    p = win_probabilities(np.array([1.0, 1.0, -math.inf, 0.0]), 3)
    assert p[0] == pytest.approx(p[1])
    assert p[2] == 0.0  # -inf is kept only when every drawn cell is -inf
    assert p[3] == pytest.approx(1 - p[0] - p[1])


def test_unselected_needs_two_cells() -> None:
    with pytest.raises(ExactError, match="n >= 2"):
        unselected_cell([1.0, 2.0], [1.0, 2.0], 1)


def test_bad_inputs_say_what_was_expected() -> None:
    with pytest.raises(ExactError, match="at most the 2 cells"):
        best_of_n([1.0, 2.0], [1.0, 2.0], 3)
    with pytest.raises(ExactError, match="same cells"):
        best_of_n([1.0, 2.0], [1.0], 1)
    with pytest.raises(ExactError, match="sum to 1"):
        Discrete(np.array([1.0]), np.array([0.5]))


def test_sampling_distribution_of_a_30_run_statistic() -> None:
    d = Discrete(np.array([0.0, 1.0]), np.array([0.5, 0.5]))
    s = sampling(d, 30, np.random.default_rng(1), runs=20_000)
    assert s.mean.mean == 0.5
    assert s.mean.sd == pytest.approx(0.5 / math.sqrt(30))
    assert s.mean.quantiles[1] == pytest.approx(0.5, abs=0.05)
    assert s.std.mean == pytest.approx(0.5, abs=0.02)  # sample std of a fair coin, n = 30
    again = sampling(d, 30, np.random.default_rng(1), runs=20_000)
    assert again == s  # an explicit Generator: the same draws


def test_finite_conditions_on_finite_values() -> None:
    d = Discrete(np.array([-math.inf, 2.0, 4.0]), np.array([0.5, 0.25, 0.25]))
    f, dropped = d.finite()
    assert dropped == 0.5
    assert f.mean == 3.0
