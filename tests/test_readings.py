"""A paper table is one question: the reading its rows support, by likelihood or by verdicts."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.outcome import AlternativeRun, Outcome
from harness.readings import fit_table, log_likelihood
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


def test_fit_table_names_the_reading_all_rows_support_and_flags_conflicts():
    rng = np.random.default_rng(7)
    rows = []
    for i, mean in enumerate((10.0, 20.0, 30.0)):
        d = rng.normal(mean, 2.0, 30)
        pub = Estimate(float(d.mean()), float(d.std(ddof=1)), 30)
        rows.append(row(f"r{i}", pub, {
            "selected": (Estimate(mean + 8, 1.0, 30, se=0.0), NOT_REPRODUCED),
            "sampled": (Estimate(mean, 2.0, 30, se=0.0), REPRODUCED)},
            named="selected" if i == 0 else "sampled"))
    fit = fit_table("Table X", rows)
    assert fit.best_reading == "sampled" and fit.basis == "likelihood"
    assert fit.conflicts == ("r0 explains its divergence by 'selected', but the table's rows "
                             "support 'sampled'",)
    by = {r.reading: r for r in fit.readings}
    assert by["sampled"].reproduced == 3 and by["selected"].not_reproduced == 3


def test_without_spreads_the_verdicts_decide():
    rows = [row(f"r{i}", Estimate(0.7), {"pearson": (Estimate(0.5), NOT_REPRODUCED),
                                         "spearman": (Estimate(0.7), REPRODUCED)})
            for i in range(3)]
    fit = fit_table("Table X", rows)
    assert fit.best_reading == "spearman" and fit.basis == "verdicts" and not fit.conflicts
