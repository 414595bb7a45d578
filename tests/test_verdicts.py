"""Verdict rules and the statistics under them: properties (hypothesis) and error handling."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy import stats as sps

from harness.stats import bootstrap_correlation_ci, correlation, summarise, welch
from harness.verdicts import (
    KNOWN_DIVERGENCE,
    NOT_REPRODUCED,
    REPRODUCED,
    UNEXPECTED_PASS,
    Estimate,
    Judgement,
    Tolerance,
    judge,
    status_of,
)

values = st.floats(-1e4, 1e4, allow_nan=False)
stds = st.floats(0.01, 1e3)
counts = st.integers(2, 1000)
alphas = st.floats(1e-4, 0.5)
margins = st.floats(0, 1)


def est(v, s=None, n=None, ci=None):
    return Estimate(v, s, n, ci)


@given(values, stds, counts, stds, counts, alphas)
def test_welch_equal_means_always_pass(m, s1, n1, s2, n2, alpha):
    assert judge(Tolerance("welch", alpha=alpha, justification="x"), est(m, s1, n1),
                 est(m, s2, n2)).passed


@given(values, stds, counts, values, stds, counts, alphas)
def test_welch_is_symmetric(m1, s1, n1, m2, s2, n2, alpha):
    tol = Tolerance("welch", alpha=alpha, justification="x")
    assert (judge(tol, est(m1, s1, n1), est(m2, s2, n2)).passed
            == judge(tol, est(m2, s2, n2), est(m1, s1, n1)).passed)


@given(values, stds, counts, values, stds, counts, alphas, alphas)
def test_welch_smaller_alpha_never_turns_pass_into_fail(m1, s1, n1, m2, s2, n2, a, b):
    wide, narrow = min(a, b), max(a, b)  # a smaller alpha is a wider tolerance
    r, p = est(m1, s1, n1), est(m2, s2, n2)
    if judge(Tolerance("welch", alpha=narrow, justification="x"), r, p).passed:
        assert judge(Tolerance("welch", alpha=wide, justification="x"), r, p).passed


@given(values, values, margins, margins, st.floats(0, 0.5))
def test_equivalence_properties(a, b, m1, m2, hw):
    ra, rb = est(a, ci=(a - hw, a + hw)), est(b, ci=(b - hw, b + hw))
    small, big = sorted((m1, m2))
    t_small = Tolerance("equivalence", margin=small, justification="x")
    t_big = Tolerance("equivalence", margin=big, justification="x")
    assert judge(t_small, ra, est(a)).passed  # equal passes
    assert judge(t_small, ra, rb).passed == judge(t_small, rb, ra).passed  # symmetric
    if judge(t_small, ra, rb).passed:
        assert judge(t_big, ra, rb).passed  # monotone in the margin


@given(st.floats(1e-3, 1e4), st.floats(1e-3, 1e4), st.floats(1, 100), st.floats(1, 100))
def test_ratio_properties(a, b, f1, f2):
    small, big = sorted((f1, f2))
    ts, tb = (Tolerance("ratio", factor=f, justification="x") for f in (small, big))
    assert judge(ts, est(a), est(a)).passed
    assert judge(ts, est(a), est(b)).passed == judge(ts, est(b), est(a)).passed
    if judge(ts, est(a), est(b)).passed:
        assert judge(tb, est(a), est(b)).passed


def test_welch_matches_scipy_on_raw_samples():
    rng = np.random.default_rng(3)
    x, y = rng.normal(0, 1, 40), rng.normal(0.4, 2, 25)
    sx, sy = summarise(x), summarise(y)
    ours = welch(sx.mean, sx.std, sx.n, sy.mean, sy.std, sy.n)
    ref = sps.ttest_ind(x, y, equal_var=False)
    assert ours.t == pytest.approx(ref.statistic, rel=1e-9)
    assert ours.p == pytest.approx(ref.pvalue, rel=1e-9)


def test_welch_detects_a_real_difference():
    # 30 vs 30 repetitions, difference of 3 standard errors: rejected at 0.01
    tol = Tolerance("welch", alpha=0.01, justification="x")
    se = math.sqrt(2 / 30)
    assert not judge(tol, est(3 * se * 1.5, 1.0, 30), est(0.0, 1.0, 30)).passed


def test_greater_and_noninferior():
    g = Tolerance("greater", alpha=0.05, justification="x")
    assert judge(g, est(10, 1, 30), est(5, 1, 30)).passed
    assert not judge(g, est(5, 1, 30), est(10, 1, 30)).passed
    assert not judge(g, est(5, 1, 30), est(5, 1, 30)).passed  # equal is not "better"
    ni = Tolerance("noninferior", margin=0.05, justification="x")
    assert judge(ni, est(0.70), est(0.74)).passed
    assert not judge(ni, est(0.60), est(0.74)).passed


def test_at_most_and_holds():
    t = Tolerance("at_most", justification="x")
    assert judge(t, est(149.0), est(150.0)).passed
    assert not judge(t, est(151.0), est(150.0)).passed
    h = Tolerance("holds", justification="x")
    assert judge(h, est(1.0), est(1.0)).passed and not judge(h, est(0.0), est(1.0)).passed


def test_status_has_strict_xfail_semantics():
    assert status_of(True, None) == REPRODUCED
    assert status_of(False, None) == NOT_REPRODUCED
    assert status_of(False, "diagnosis") == KNOWN_DIVERGENCE
    assert status_of(True, "diagnosis") == UNEXPECTED_PASS


@pytest.mark.parametrize("kwargs, field", [
    ({"rule": "nope"}, "unknown tolerance rule"),
    ({"rule": "welch"}, "alpha"),
    ({"rule": "welch", "alpha": 1.5}, "alpha"),
    ({"rule": "equivalence"}, "margin"),
    ({"rule": "equivalence", "margin": -1}, "margin"),
    ({"rule": "ratio", "factor": 0.5}, "factor"),
    ({"rule": "equivalence", "margin": math.inf}, "margin must be a finite number"),
    ({"rule": "equivalence", "margin": math.nan}, "margin must be a finite number"),
    ({"rule": "noninferior", "margin": math.nan}, "margin must be a finite number"),
    ({"rule": "ratio", "factor": math.inf}, "factor must be a finite number"),
    ({"rule": "at_most", "margin": math.inf}, "margin must be a finite number"),
    ({"rule": "at_most", "margin": "0.1"}, "margin must be a finite number"),
    ({"rule": "welch", "alpha": True}, "alpha must be a finite number"),
    ({"rule": ["welch"]}, "unknown tolerance rule"),
    ({"rule": "holds", "justification": 3}, "justification must be a string"),
])
def test_bad_tolerances_are_refused(kwargs, field):
    """Including NaN and infinite parameters: ``margin = inf`` would pass anything."""
    with pytest.raises(ValueError, match=field):
        Tolerance(**kwargs)


def test_welch_rule_needs_spread():
    with pytest.raises(ValueError, match="std and n"):
        judge(Tolerance("welch", alpha=0.01, justification="x"), est(1.0), est(1.0, 1, 3))


def test_stats_errors():
    with pytest.raises(ValueError, match="non-empty"):
        summarise([])
    with pytest.raises(ValueError, match="finite"):
        summarise([1.0, float("nan")])
    with pytest.raises(ValueError, match="unknown correlation"):
        correlation([1, 2, 3], [1, 2, 3], "cosine")
    with pytest.raises(ValueError, match="equal length"):
        correlation([1, 2, 3], [1, 2], "pearson")
    with pytest.raises(TypeError, match="Generator"):
        bootstrap_correlation_ci(np.arange(5.0), np.arange(5.0), "pearson", 0)
    with pytest.raises(ValueError, match="positive integer"):
        welch(0, 1, 0, 0, 1, 3)


def test_bootstrap_is_deterministic_and_covers_the_estimate():
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    y = x + rng.normal(size=300)
    for kind in ("pearson", "spearman", "kendall"):
        a = bootstrap_correlation_ci(x, y, kind, np.random.default_rng(5), n_resamples=100)
        b = bootstrap_correlation_ci(x, y, kind, np.random.default_rng(5), n_resamples=100)
        assert a == b
        assert a[0] <= correlation(x, y, kind) <= a[1]


@given(st.lists(st.floats(-1e3, 1e3), min_size=3, max_size=30))
def test_correlation_of_a_sequence_with_itself_is_one(xs):
    assume(len(set(xs)) == len(xs))
    for kind in ("pearson", "spearman", "kendall"):
        assert correlation(xs, xs, kind) == pytest.approx(1.0)


# ---------------------------------------------------------------- welch is scipy's, rules register


@given(values, st.floats(0, 1e3), st.integers(1, 1000), values, st.floats(0, 1e3),
       st.integers(1, 1000), st.sampled_from(["two-sided", "greater", "less"]))
def test_welch_is_scipys_ttest_ind_from_stats(m1, s1, n1, m2, s2, n2, alternative):
    """scipy where it is defined; the explicit cases where scipy gives NaN (se = 0, n = 1)."""
    ours = welch(m1, s1, n1, m2, s2, n2, alternative=alternative)
    ref = sps.ttest_ind_from_stats(m1, s1, n1, m2, s2, n2, equal_var=False,
                                   alternative=alternative)
    if s1 * s1 / n1 + s2 * s2 / n2 == 0:  # no spread: the difference is certain
        assert ours.se == 0 and ours.t == (0.0 if m1 == m2 else math.copysign(math.inf, m1 - m2))
        expected = {"two-sided": 0.0, "greater": float(m1 < m2), "less": float(m1 > m2)}
        assert ours.p == (0.5 if m1 == m2 and alternative != "two-sided" else
                          1.0 if m1 == m2 else expected[alternative])
    elif n1 > 1 and n2 > 1:
        assert ours.t == pytest.approx(float(ref.statistic), rel=1e-9, abs=1e-12)
        assert ours.p == pytest.approx(min(float(ref.pvalue), 1.0), rel=1e-9, abs=1e-300)
    else:  # a side of one value adds variance, no degrees of freedom; scipy divides by zero
        assert math.isfinite(ours.t) and 0 <= ours.p <= 1


@given(values, stds, counts, values, stds, counts)
def test_one_sided_p_is_half_the_two_sided_on_the_claimed_side(m1, s1, n1, m2, s2, n2):
    two = welch(m1, s1, n1, m2, s2, n2)
    one = welch(m1, s1, n1, m2, s2, n2, alternative="greater")
    expected = two.p / 2 if two.t > 0 else 1 - two.p / 2  # the hand-derived p it replaces
    assert one.p == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_a_rule_registered_by_a_test_is_used_and_declares_what_it_needs():
    from harness.rules import Rule, get_rule, register_rule, rule_names

    @register_rule("within_percent", needs=("margin",))
    def within_percent(tol, r, p):
        allowed = abs(p.value) * tol.margin / 100
        return Judgement(abs(r.value - p.value) <= allowed, r.value - p.value, allowed, {},
                         f"within {tol.margin}%")

    assert "within_percent" in rule_names() and isinstance(get_rule("within_percent"), Rule)
    with pytest.raises(ValueError, match="needs 'margin'"):
        Tolerance("within_percent", justification="x")
    tol = Tolerance("within_percent", margin=5, justification="x")
    assert judge(tol, est(104.0), est(100.0)).passed
    assert not judge(tol, est(106.0), est(100.0)).passed
    with pytest.raises(ValueError, match="already registered"):
        register_rule("within_percent")(lambda tol, r, p: None)


def test_rule_declarations_drive_the_registry_checks():
    from harness.rules import get_rule

    assert get_rule("welch").needs == ("alpha",) and get_rule("welch").published_spread
    assert get_rule("greater").comparative and get_rule("noninferior").comparative
    assert get_rule("ratio").unit == "factor" and get_rule("at_most").compares == "max"
