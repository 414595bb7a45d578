"""The proxy table's comparison with the layer count (harness.proxy_table: ρ − ρ(ℵ) and its
interval for two dependent coefficients that share the accuracy), checked against simulation of
the situation it is used in: a uniform sample of n cells of a finite space."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.proxy_table import dependent_difference
from harness.stats import correlation


def _population(rng: np.random.Generator, size: int, r1: float, r2: float, r12: float
                ) -> np.ndarray:
    """``size`` draws of (proxy, baseline, accuracy) with the given Pearson correlations."""
    cov = np.array([[1.0, r12, r1], [r12, 1.0, r2], [r1, r2, 1.0]])
    return rng.multivariate_normal(np.zeros(3), cov, size=size, method="cholesky")


@pytest.mark.parametrize(("r1", "r2", "r12", "n"), [
    (0.80, 0.72, 0.85, 400),   # a proxy a little above the layer count, strongly related to it
    (0.50, 0.72, 0.40, 300),   # a weaker, less related proxy
    (0.70, 0.70, 0.95, 1000),  # equal, nearly the same ranking
])
def test_the_interval_covers_the_space_difference_at_about_its_level(r1, r2, r12, n):
    rng = np.random.default_rng(20261207)
    space = _population(rng, 15625, r1, r2, r12)
    truth = (correlation(space[:, 0], space[:, 2], "spearman")
             - correlation(space[:, 1], space[:, 2], "spearman"))
    covered, replicates = 0, 300
    for _ in range(replicates):
        s = space[rng.choice(space.shape[0], n, replace=False)]
        a = correlation(s[:, 0], s[:, 2], "spearman")
        b = correlation(s[:, 1], s[:, 2], "spearman")
        ab = correlation(s[:, 0], s[:, 1], "spearman")
        low, high = dependent_difference(a, b, ab, n, space.shape[0])
        covered += low <= truth <= high
    # nominal 95%; 300 replicates: the binomial sd is 1.3 points. The band (0.90, 0.99) was set
    # before this test was first run.
    assert 0.90 <= covered / replicates <= 0.99


@settings(max_examples=50, deadline=None)
@given(st.floats(-0.95, 0.95), st.floats(-0.95, 0.95), st.floats(-0.95, 0.95),
       st.integers(10, 15000))
def test_the_interval_holds_the_difference(r1, r2, r12, n):
    low, high = dependent_difference(r1, r2, r12, n, 15625)
    assert low <= r1 - r2 <= high


def test_the_whole_space_has_no_interval_width():
    low, high = dependent_difference(0.8, 0.7, 0.5, 15625, 15625)
    assert low == pytest.approx(0.1) and high == pytest.approx(0.1)
