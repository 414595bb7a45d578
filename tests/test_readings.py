"""A paper table is one question: the readings its informative rows are consistent with."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.measurement_model import MC_GUARD, MeasurementModel
from harness.outcome import AlternativeRun, Outcome
from harness.readings import fit_p_value, fit_table, holm, log_likelihood, robust_p_value
from harness.verdicts import NOT_REPRODUCED, REPRODUCED, Estimate, Judgement, Tolerance

TOL = Tolerance("equivalence", margin=1.0, justification="why")


def _j(verdict: str) -> Judgement:
    return Judgement(verdict, 0.0, 1.0)


def row(cid: str, published: Estimate, readings: dict[str, tuple[Estimate, str]],
        named: str | None = None) -> Outcome:
    (first, (est, verdict)), *others = readings.items()
    alts = tuple(AlternativeRun(label, {}, e, v == REPRODUCED, "", judgement=_j(v))
                 for label, (e, v) in others)
    return Outcome(id=cid, status=verdict, tolerance=TOL, table="Table X", published=published,
                   reading=first, reproduced=est, judgement=_j(verdict), alternatives_run=alts,
                   known_divergence=None if named is None else {"because": "b", "reading": named})


@settings(max_examples=60, deadline=None)
@given(mean=st.floats(-50, 50), std=st.floats(0.5, 20), shift=st.floats(3, 10),
       seed=st.integers(0, 2**32 - 1))
def test_the_generating_reading_fits_better_than_a_shifted_one(mean, std, shift, seed):
    rng = np.random.default_rng(seed)
    draws = rng.normal(mean, std, 30)
    published = Estimate(float(draws.mean()), float(draws.std(ddof=1)), 30)
    right = log_likelihood(published, Estimate(mean, std, 30, se=0.0))
    wrong = log_likelihood(published, Estimate(mean + shift * std, std, 30, se=0.0))
    narrow = log_likelihood(published, Estimate(mean, std / 4, 30, se=0.0))
    assert right > wrong and right > narrow


def test_no_spread_no_likelihood():
    assert log_likelihood(Estimate(1.0), Estimate(1.0, 1.0, 30)) is None
    assert log_likelihood(Estimate(1.0, 1.0, 30), Estimate(1.0)) is None


def _table(means: tuple[float, ...], rng: np.random.Generator) -> list[tuple[Estimate, float]]:
    out = []
    for mean in means:
        d = rng.normal(mean, 2.0, 30)
        out.append((Estimate(float(d.mean()), float(d.std(ddof=1)), 30), mean))
    return out


def test_fit_table_names_the_one_consistent_reading_and_flags_conflicts():
    rows = []
    for i, (pub, mean) in enumerate(_table((10.0, 20.0, 30.0), np.random.default_rng(7))):
        rows.append(row(f"r{i}", pub, {
            "selected": (Estimate(mean + 8, 1.0, 30, se=0.0), NOT_REPRODUCED),
            "sampled": (Estimate(mean, 2.0, 30, se=0.0), REPRODUCED)},
            named="selected" if i == 0 else "sampled"))
    fit = fit_table("Table X", rows)
    assert fit.best_reading == "sampled" and fit.basis == "one consistent"
    assert fit.consistent == ("sampled",) and fit.unexplained == ()
    assert fit.conflicts == ("r0 explains its divergence by 'selected', but the table's "
                             "informative rows are consistent with 'sampled' only",)
    by = {r.reading: r for r in fit.readings}
    assert by["sampled"].reproduced == 3 and by["selected"].not_reproduced == 3
    assert set(by["selected"].rejected_by) == {"r0", "r1", "r2"} and not by["sampled"].rejected_by


def test_a_row_no_reading_explains_takes_no_part_in_choosing():
    """The score row rejects both readings; the accuracy rows cannot tell them apart: the table
    does not decide, however much better one reading's likelihood on the score row is."""
    rng = np.random.default_rng(3)
    rows = []
    for i, (pub, mean) in enumerate(_table((10.0, 20.0), rng)):
        rows.append(row(f"acc{i}", pub, {"selected": (Estimate(mean, 2.0, 30, se=0.0), REPRODUCED),
                                         "sampled": (Estimate(mean + 0.1, 2.1, 30, se=0.0),
                                                     REPRODUCED)}))
    pub = Estimate(100.0, 5.0, 30)
    rows.append(row("score", pub, {"selected": (Estimate(150.0, 5.0, 30, se=0.0), NOT_REPRODUCED),
                                   "sampled": (Estimate(60.0, 5.0, 30, se=0.0), NOT_REPRODUCED)},
                    named="selected"))
    fit = fit_table("Table X", rows)
    assert fit.unexplained == ("score",)
    assert fit.basis == "undecided" and fit.best_reading is None
    assert set(fit.consistent) == {"selected", "sampled"}
    assert fit.undecided().startswith("UNDECIDED Table X: its informative rows are consistent "
                                      "with 2 readings")
    assert fit.conflicts == ("score explains its divergence by 'selected', but the table does "
                             "not decide between 'selected' and 'sampled'",)


def test_no_reading_consistent_with_every_informative_row():
    rng = np.random.default_rng(5)
    (p0, m0), (p1, m1) = _table((10.0, 20.0), rng)
    rows = [row("a", p0, {"x": (Estimate(m0, 2.0, 30, se=0.0), REPRODUCED),
                          "y": (Estimate(m0 + 9, 2.0, 30, se=0.0), NOT_REPRODUCED)}),
            row("b", p1, {"x": (Estimate(m1 + 9, 2.0, 30, se=0.0), NOT_REPRODUCED),
                          "y": (Estimate(m1, 2.0, 30, se=0.0), REPRODUCED)})]
    fit = fit_table("Table X", rows)
    assert fit.basis == "none consistent" and fit.consistent == () and fit.unexplained == ()
    assert fit.undecided().startswith("NO READING FITS")


@settings(max_examples=30, deadline=None)
@given(p=st.lists(st.floats(0, 1), min_size=1, max_size=12), alpha=st.floats(0.001, 0.2))
def test_holm_rejects_a_prefix_of_the_sorted_p_values_within_bonferroni_bounds(p, alpha):
    rejected = holm(p, alpha)
    order = sorted(range(len(p)), key=lambda i: p[i])
    flags = [rejected[i] for i in order]
    assert flags == sorted(flags, reverse=True)  # a prefix of the smallest
    assert all(rejected[i] for i in range(len(p)) if p[i] <= alpha / len(p))
    assert not any(rejected[i] for i in range(len(p)) if p[i] > alpha)


def test_without_spreads_the_standard_errors_decide():
    rows = [row(f"r{i}", Estimate(0.7), {"pearson": (Estimate(0.5, se=0.01), NOT_REPRODUCED),
                                         "spearman": (Estimate(0.7, se=0.01), REPRODUCED)})
            for i in range(3)]
    fit = fit_table("Table X", rows)
    assert fit.best_reading == "spearman" and fit.basis == "one consistent" and not fit.conflicts


def test_the_first_screen_names_the_claims_that_cannot_come_out_reproduced():
    from harness.report import cannot_reproduce
    from harness.rules import POWER_FLOOR as CANNOT

    def rec(cid: str, power: float) -> Outcome:
        j = Judgement(REPRODUCED if power > 0.5 else "inconclusive", 0.0, 1.0, power=power)
        return Outcome(id=cid, status=j.verdict, tolerance=TOL, judgement=j)

    recs = [rec("a", 0.0), rec("b", CANNOT), rec("c", 0.9), rec("d", 2 * CANNOT)]
    assert cannot_reproduce(recs) == ["a", "b"]


def test_a_table_with_no_row_measured_says_so_and_a_decided_one_says_nothing():
    assert fit_table("Table Y", []).undecided() == "NOT RUN Table Y: no row of the table was measured"
    rng = np.random.default_rng(4)
    rows = [row(f"r{i}", pub, {"x": (Estimate(mean, 2.0, 30, se=0.0), REPRODUCED),
                               "y": (Estimate(mean + 9, 2.0, 30, se=0.0), NOT_REPRODUCED)})
            for i, (pub, mean) in enumerate(_table((10.0, 20.0), rng))]
    fit = fit_table("Table X", rows)
    assert fit.best_reading == "x" and fit.undecided() == ""


@settings(max_examples=40, deadline=None)
@given(mean=st.floats(-5, 5), std=st.floats(0.5, 3), n=st.integers(5, 2000),
       shift=st.floats(-2, 2), ratio=st.floats(0.5, 2), mc=st.floats(0, 0.5),
       spread_mc=st.floats(0, 0.2), design_mc=st.floats(0, 0.3))
def test_the_robust_p_value_is_the_best_fit_within_the_monte_carlo_band(
        mean, std, n, shift, ratio, mc, spread_mc, design_mc):
    """The robust p-value is never below the plain fit test's, reduces to it without
    Monte-Carlo error, and is at least the p-value of any prediction the band contains (here its
    ends: the mean moved fully toward the published value, the spread at either edge, the
    design effect at either edge)."""
    model = MeasurementModel(4.0, 2.0, design_mc=design_mc)
    published = Estimate(mean + shift, std, n)
    predicted = Estimate(mean, std * ratio, 30, se=0.1)
    robust = robust_p_value(published, predicted, mc, spread_mc, model)
    plain = fit_p_value(model.published(published), predicted)
    assert robust >= plain - 1e-12
    exact = MeasurementModel(4.0, 2.0)
    assert robust_p_value(published, predicted, 0.0, 0.0, exact) == pytest.approx(
        fit_p_value(exact.published(published), predicted), abs=1e-12)
    moved = dataclasses.replace(predicted, value=predicted.value + math.copysign(
        min(MC_GUARD * mc, abs(shift)), shift))
    band, design = min(MC_GUARD * spread_mc, 0.999), min(MC_GUARD * design_mc, 0.999)
    for f in (1 - band, 1 + band):
        for g in (1 - design, 1 + design):
            edge = fit_p_value(model.scaled(g).published(published),
                               dataclasses.replace(moved, std=predicted.std * f))
            assert robust >= edge - 1e-12


def test_a_rejection_inside_the_spread_band_does_not_count():
    """A published std two Monte-Carlo errors from the predicted spread rejects the reading
    with the spread taken as exact, not once its error is carried."""
    published = Estimate(10.0, 1.0, 2000)
    predicted = Estimate(10.0, 1.06, 2000, se=0.0)
    assert fit_p_value(published, predicted) < 0.01
    assert robust_p_value(published, predicted, 0.0, 0.03) > 0.5
