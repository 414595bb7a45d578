"""Verdict rules and the statistics under them: properties (hypothesis) and error handling."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy import stats as sps

from harness.stats import (
    bootstrap_correlation_ci,
    correlation,
    sd_ratio_interval,
    summarise,
    welch,
)
from harness.verdicts import (
    INCONCLUSIVE,
    KNOWN_DIVERGENCE,
    NOT_REPRODUCED,
    REPRODUCED,
    UNEXPECTED_PASS,
    Estimate,
    Judgement,
    Tolerance,
    judge,
)

values = st.floats(-1e4, 1e4, allow_nan=False)
stds = st.floats(0.01, 1e3)
counts = st.integers(2, 1000)
margins = st.floats(0, 1)


def est(v, s=None, n=None, ci=None):
    return Estimate(v, s, n, ci)


def tol(rule, **kw):
    return Tolerance(rule, justification="x", **kw)


@given(values, values, margins, margins, st.floats(0, 0.5))
def test_equivalence_properties(a, b, m1, m2, hw):
    """Equal values with a margin above the interval reproduce; the decision is symmetric in the
    two sides and monotone in the margin (the interval, not the margin, carries the noise)."""
    ra, rb = est(a, ci=(a - hw, a + hw)), est(b, ci=(b - hw, b + hw))
    small, big = sorted((m1, m2))
    t_small, t_big = tol("equivalence", margin=small), tol("equivalence", margin=big)
    half = judge(t_small, ra, est(a)).statistic["high"]  # the difference is 0
    if small > half:
        assert judge(t_small, ra, est(a)).passed  # equal reproduces
    assert judge(t_small, ra, rb).verdict == judge(t_small, rb, ra).verdict  # symmetric
    if judge(t_small, ra, rb).passed:
        assert judge(t_big, ra, rb).passed  # monotone in the margin


@given(st.floats(1e-3, 1e4), st.floats(1e-3, 1e4), st.floats(1.001, 100), st.floats(1.001, 100))
def test_ratio_properties(a, b, f1, f2):
    small, big = sorted((f1, f2))
    ts, tb = tol("ratio", factor=small), tol("ratio", factor=big)
    assert judge(ts, est(a), est(a)).passed
    assert judge(ts, est(a), est(b)).verdict == judge(ts, est(b), est(a)).verdict
    if judge(ts, est(a), est(b)).passed:
        assert judge(tb, est(a), est(b)).passed


def test_ratio_judges_the_log_ratio_with_relative_errors():
    j = judge(tol("ratio", factor=2.0), est(110.0, 10.0, 30), est(100.0, 10.0, 30))
    assert j.difference == pytest.approx(math.log(1.1))
    assert j.statistic["ratio"] == pytest.approx(1.1) and j.allowed == 2.0
    se = math.hypot(10 / 110, 10 / 100) / math.sqrt(30)
    assert j.statistic["se"] == pytest.approx(se)
    assert j.statistic["ratio_low"] == pytest.approx(math.exp(j.interval[0]))
    with pytest.raises(ValueError, match="positive values"):
        judge(tol("ratio", factor=2.0), est(-1.0), est(1.0))


def test_welch_matches_scipy_on_raw_samples():
    rng = np.random.default_rng(3)
    x, y = rng.normal(0, 1, 40), rng.normal(0.4, 2, 25)
    sx, sy = summarise(x), summarise(y)
    ours = welch(sx.mean, sx.std, sx.n, sy.mean, sy.std, sy.n)
    ref = sps.ttest_ind(x, y, equal_var=False)
    assert ours.t == pytest.approx(ref.statistic, rel=1e-9)
    assert ours.p == pytest.approx(ref.pvalue, rel=1e-9)


def test_tost_decides_three_ways():
    t = tol("tost", margin=1.0)
    assert judge(t, est(70.1, 1.0, 30), est(70.0, 1.0, 30)).verdict == REPRODUCED
    assert judge(t, est(73.0, 1.0, 30), est(70.0, 1.0, 30)).verdict == NOT_REPRODUCED
    j = judge(t, est(71.0, 1.0, 30), est(70.0, 1.0, 30))  # on the edge: undecidable
    assert j.verdict == INCONCLUSIVE and j.slack <= 0 and "edge" in j.decide
    j = judge(t, est(70.7, 1.0, 30), est(70.0, 1.0, 30))
    assert j.verdict == INCONCLUSIVE and "repetitions" in j.decide and "0.3" in j.decide


def test_could_not_reject_is_not_reproduced():
    """The old failure: a large published std made anything 'reproduce' (Welch p >= alpha)."""
    j = judge(tol("tost", margin=1.0), est(70.0, 0.5, 30), est(70.5, 12.0, 30))
    assert j.verdict == INCONCLUSIVE
    assert "published repetitions" in j.decide and j.power < 0.5


def test_decide_text_is_computed():
    j = judge(tol("tost", margin=1.0), est(70.4, 2.0, 10), est(70.0, 1.0, 100))
    assert j.verdict == INCONCLUSIVE
    assert j.decide.startswith("about ") and "on our side (now 10)" in j.decide
    assert "below 0.6" in j.decide
    k = int(j.decide.split()[1])
    # k repetitions on our side decide it (same mean and std), k - 1 do not
    assert judge(tol("tost", margin=1.0), est(70.4, 2.0, k), est(70.0, 1.0, 100)).verdict \
        == REPRODUCED
    assert judge(tol("tost", margin=1.0), est(70.4, 2.0, k - 1), est(70.0, 1.0, 100)).verdict \
        == INCONCLUSIVE
    # the published side alone leaves a half-width over the gap: nothing of ours decides it
    alone = judge(tol("tost", margin=1.0), est(70.4, 2.0, 10), est(70.0, 2.0, 30))
    assert alone.decide.startswith("nothing on our side decides it")
    exact = judge(tol("tost", margin=1.0), Estimate(70.4, 2.0, 10, se=0.0), est(70.0, 6.0, 5))
    assert "published repetitions (now 5)" in exact.decide
    fine = judge(tol("equivalence", margin=0.05), est(0.8, ci=(0.7, 0.9)), est(0.79))
    assert fine.decide.startswith("a finer measurement")


def test_distribution_judges_mean_and_spread():
    t = tol("distribution", margin=1.0, factor=1.5)
    ok = judge(t, est(70.0, 1.0, 200), est(70.1, 1.05, 200))
    assert ok.verdict == REPRODUCED and ok.statistic["spread_verdict"] == 1.0
    narrow = judge(t, est(70.0, 1.0, 30), est(70.1, 4.0, 30))  # same mean, spread 4x
    assert narrow.statistic["spread_verdict"] == -1.0 and narrow.verdict == NOT_REPRODUCED
    assert "spread" in narrow.explanation and "mean" in narrow.explanation
    exact = judge(t, Estimate(70.0, 1.0, 30, se=0.0, spread_exact=True), est(70.0, 1.0, 30))
    lo, hi = sd_ratio_interval(1.0, None, 1.0, 30, 0.05)
    assert (exact.statistic["spread_low"], exact.statistic["spread_high"]) == (lo, hi)
    # the declared field decides, not se == 0: an exact mean with a sampled spread uses F
    sampled = judge(t, Estimate(70.0, 1.0, 30, se=0.0), est(70.0, 1.0, 30))
    assert (sampled.statistic["spread_low"], sampled.statistic["spread_high"]) == \
        sd_ratio_interval(1.0, 30, 1.0, 30, 0.05)
    with pytest.raises(ValueError, match="std on both sides"):
        judge(t, est(70.0), est(70.0, 1.0, 30))


def test_greater_and_noninferior():
    g = tol("greater")
    assert judge(g, est(10, 1, 30), est(5, 1, 30)).passed
    assert judge(g, est(5, 1, 30), est(10, 1, 30)).verdict == NOT_REPRODUCED
    assert judge(g, est(5, 1, 30), est(5, 1, 30)).verdict == INCONCLUSIVE  # equal: not better
    ni = tol("noninferior", margin=0.05)
    assert judge(ni, est(0.70), est(0.74)).passed
    assert judge(ni, est(0.60), est(0.74)).verdict == NOT_REPRODUCED
    assert judge(ni, est(0.69, ci=(0.66, 0.72)), est(0.74)).verdict == INCONCLUSIVE


def test_at_most_and_holds():
    t = tol("at_most")
    assert judge(t, est(149.0, 1.0, 3), est(150.0)).passed
    assert judge(t, est(151.0, 1.0, 3), est(150.0)).verdict == NOT_REPRODUCED
    one = judge(t, est(149.0, None, 1), est(150.0))  # one run says nothing of 'always'
    assert one.verdict == INCONCLUSIVE and "2 more run(s)" in one.decide
    assert judge(t, est(151.0, None, 1), est(150.0)).verdict == NOT_REPRODUCED
    h = tol("holds")
    assert judge(h, est(1.0), est(1.0)).passed
    assert judge(h, est(0.0), est(1.0)).verdict == NOT_REPRODUCED
    assert judge(h, est(0.6), est(1.0)).verdict == INCONCLUSIVE
    with pytest.raises(ValueError, match="claimed 0 or 1"):
        judge(h, est(0.5), est(0.5))


def test_the_old_status_name_is_the_diagnosis_that_no_longer_holds():
    assert UNEXPECTED_PASS == "diagnosis unsupported" and KNOWN_DIVERGENCE != UNEXPECTED_PASS


@pytest.mark.parametrize("kwargs, field", [
    ({"rule": "nope"}, "unknown tolerance rule"),
    ({"rule": "welch"}, "was removed.*'distribution'.*'tost'"),
    ({"rule": "welch", "alpha": 0.01}, "was removed"),
    ({"rule": "tost"}, "margin"),
    ({"rule": "distribution", "margin": 1.0}, "factor"),
    ({"rule": "tost", "margin": 1, "alpha": 1.5}, "alpha"),
    ({"rule": "tost", "margin": 1, "alpha": 0.5}, "alpha must be in"),
    ({"rule": "equivalence"}, "margin"),
    ({"rule": "equivalence", "margin": -1}, "margin"),
    ({"rule": "ratio", "factor": 0.5}, "factor"),
    ({"rule": "equivalence", "margin": math.inf}, "margin must be a finite number"),
    ({"rule": "equivalence", "margin": math.nan}, "margin must be a finite number"),
    ({"rule": "noninferior", "margin": math.nan}, "margin must be a finite number"),
    ({"rule": "ratio", "factor": math.inf}, "factor must be a finite number"),
    ({"rule": "at_most", "margin": math.inf}, "margin must be a finite number"),
    ({"rule": "at_most", "margin": "0.1"}, "margin must be a finite number"),
    ({"rule": "tost", "margin": 1, "alpha": True}, "alpha must be a finite number"),
    ({"rule": ["welch"]}, "unknown tolerance rule"),
    ({"rule": "holds", "justification": 3}, "justification must be a string"),
])
def test_bad_tolerances_are_refused(kwargs, field):
    """Including NaN and infinite parameters: ``margin = inf`` would pass anything."""
    with pytest.raises(ValueError, match=field):
        Tolerance(**kwargs)


def test_a_removed_rule_fails_in_one_line():
    with pytest.raises(ValueError) as info:
        Tolerance("welch", alpha=0.01)
    assert "\n" not in str(info.value) and "removed" in str(info.value)


def test_rules_refuse_non_finite_values():
    with pytest.raises(ValueError, match="finite values"):
        judge(tol("tost", margin=1.0), est(math.nan), est(1.0))


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
        verdict = REPRODUCED if abs(r.value - p.value) <= allowed else NOT_REPRODUCED
        return Judgement(verdict, r.value - p.value, allowed, {}, f"within {tol.margin}%")

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

    d = get_rule("distribution")
    assert d.needs == ("margin", "factor") and d.published_spread
    assert get_rule("tost").needs == ("margin",) and get_rule("greater").needs == ()
    assert get_rule("greater").comparative and get_rule("noninferior").comparative
    assert get_rule("ratio").unit == "factor" and get_rule("at_most").compares == "max"
    t = Tolerance("ratio", factor=2.0, justification="x")
    assert get_rule("ratio").effect(t) == pytest.approx(math.log(2.0))
    assert get_rule("tost").effect(Tolerance("tost", margin=0.7, justification="x")) == 0.7
    with pytest.raises(ValueError, match="removed"):
        get_rule("welch")
    with pytest.raises(ValueError, match="removed"):
        register_rule_named("welch")


def register_rule_named(name):
    from harness.rules import register_rule

    return register_rule(name)


@given(ours=values, ref=values, s1=stds, s2=stds, n1=counts, n2=counts,
       rule=st.sampled_from(["tost", "distribution", "greater", "noninferior"]))
def test_verdict_only_gives_the_same_verdict_and_interval_without_the_power(
        ours, ref, s1, s2, n1, n2, rule):
    """The Monte-Carlo guard judges shifted estimates for their verdicts only
    (``harness.rules.verdict_only``): the verdict, the difference and the interval are those of
    the full judgement; only the power and the 'what would decide it' are left out."""
    from harness.rules import verdict_only

    tol = Tolerance(rule, margin=1.0, factor=1.5 if rule == "distribution" else None,
                    alpha=0.05, justification="test")
    a, b = est(ours, s1, n1), est(ref, s2, n2)
    full = judge(tol, a, b)
    with verdict_only():
        quick = judge(tol, a, b)
    assert (quick.verdict, quick.difference, quick.interval) == (
        full.verdict, full.difference, full.interval)
    assert quick.power is None and quick.power_effect is None and not quick.decide
    assert judge(tol, a, b).power == full.power  # the block leaves nothing behind
