"""proxy_ranking: the standard error of a pair's difference is the paired one."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.kinds.proxy_ranking import judge_order, paired_difference_se


@given(st.floats(0.05, 0.99), st.floats(0.1, 3), st.floats(0.1, 3), st.integers(0, 2**32))
def test_the_paired_se_is_the_sd_of_the_differences_and_below_the_sum(rho, sa, sb, seed):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((2, 4000))
    a = sa * z[0]
    b = sb * (rho * z[0] + np.sqrt(1 - rho * rho) * z[1])  # positively correlated with a
    se = paired_difference_se(a, b)
    assert se == pytest.approx(np.std(a - b, ddof=1), rel=1e-12)
    assert se < np.std(a, ddof=1) + np.std(b, ddof=1)


def test_a_pair_is_judged_on_the_paired_se_when_given():
    measured = {"a": (0.70, 0.04), "b": (0.63, 0.04)}
    values = (("a", 0.7), ("b", 0.6))
    # the errors combined as independent: 0.07 − 1.645·0.0566 < 0, undecided
    _, rows = judge_order(measured, values, 0.05)
    assert rows[0]["status"] == "undecided" and rows[0]["se"] == pytest.approx(0.0566, abs=1e-4)
    # the paired error of two strongly correlated coefficients on the same cells decides it
    _, rows = judge_order(measured, values, 0.05, {("a", "b"): 0.01})
    assert rows[0]["status"] == "in order" and rows[0]["se"] == 0.01


def test_paired_draws_must_pair():
    with pytest.raises(ValueError, match="paired draws"):
        paired_difference_se(np.zeros(3), np.zeros(4))
