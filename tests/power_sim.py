"""Brute-force simulation of the tolerance rules, to check the power they report.

Each check draws normal samples (or estimates with an estimated standard error) at a true
difference, judges every draw with the rule (:func:`harness.verdicts.judge`), and compares the
frequency of the verdict with the probability the rule reported for estimates at those true
values. The tolerance is the binomial sampling error of the simulation alone: a check fails when
the frequency is further from the reported probability than a two-sided binomial test at level
:data:`LEVEL` allows for that many draws. The quadrature of the formulas is far more precise
than that (its error is below 1e-7: tests/test_power_formulas.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import strategies as st
from scipy import stats as sps

from harness import stats
from harness.rules import get_rule
from harness.verdicts import (
    INCONCLUSIVE,
    NOT_REPRODUCED,
    REPRODUCED,
    Estimate,
    Judgement,
    Tolerance,
    judge,
)

LEVEL = 1e-6
"""Two-sided binomial level of one comparison: over every example a false alarm stays rarer than
one in ten thousand runs."""


def agrees(p: float, hits: int, sims: int) -> bool:
    """True when ``hits`` of ``sims`` draws is a plausible count for probability ``p``."""
    p = min(max(p, 0.0), 1.0)
    if p in (0.0, 1.0):
        return hits == (0 if p == 0.0 else sims)
    return sps.binomtest(hits, sims, p).pvalue > LEVEL


@dataclass(frozen=True)
class Side:
    """How one side of a simulated claim is measured."""

    how: str
    """'sample' (mean ± std over n draws), 'exact' (the true value, se 0, exact spread) or
    'noisy' (the value with an error se estimated on se_df degrees of freedom, exact spread)."""
    sigma: float
    n: int
    se: float = 0.0
    se_df: float = 4.0

    def truth(self, value: float) -> Estimate:
        """The estimate at the true values: what the power is computed from."""
        if self.how == "sample":
            return Estimate(value, self.sigma, self.n)
        if self.how == "exact":
            return Estimate(value, self.sigma, self.n, se=0.0, spread_exact=True)
        return Estimate(value, self.sigma, self.n, se=self.se, se_df=self.se_df,
                        spread_exact=True)

    def draw(self, value: float, rng: np.random.Generator, sims: int,
             relative: bool = False) -> list[Estimate]:
        """``sims`` estimates of a true ``value`` (``relative``: log-normal with a constant
        relative error, the ratio rule's model)."""
        if self.how == "sample":
            x = rng.normal(value, self.sigma, (sims, self.n))
            return [Estimate(float(m), float(s), self.n)
                    for m, s in zip(x.mean(axis=1), x.std(axis=1, ddof=1), strict=True)]
        if self.how == "exact":
            return [self.truth(value)] * sims
        if relative:
            v = value * np.exp(rng.normal(0.0, self.se, sims))
            s = self.se * np.sqrt(rng.chisquare(self.se_df, sims) / self.se_df)
            return [Estimate(float(a), se=float(a * b), se_df=self.se_df)
                    for a, b in zip(v, s, strict=True)]
        v = rng.normal(value, self.se, sims)
        s = self.se * np.sqrt(rng.chisquare(self.se_df, sims) / self.se_df)
        return [Estimate(float(a), self.sigma, self.n, se=float(b), se_df=self.se_df,
                         spread_exact=True) for a, b in zip(v, s, strict=True)]


def simulate(tol: Tolerance, ours: Side, ref: Side, difference: float, ratio: float,
             rng: np.random.Generator, sims: int) -> dict[str, int]:
    """Verdict counts of the rule over ``sims`` simulated claims whose true difference (log
    ratio for a factor rule) and true σ ratio are given. The power formulas and the counts of
    repetitions that would decide are replaced while simulating: the verdict does not read them,
    they only cost time."""
    factor_rule = get_rule(tol.rule).unit == "factor"
    ref_value = 10.0
    ours_value = ref_value * math.exp(difference) if factor_rule else ref_value + difference
    ours = Side(ours.how, ours.sigma * ratio, ours.n, ours.se, ours.se_df)
    rs = ours.draw(ours_value, rng, sims, relative=factor_rule)
    ps = ref.draw(ref_value, rng, sims, relative=factor_rule)
    counts = {REPRODUCED: 0, NOT_REPRODUCED: 0, INCONCLUSIVE: 0}
    with pytest.MonkeyPatch.context() as patch:
        for name in ("difference_power", "distribution_power", "sd_ratio_power"):
            patch.setattr(stats, name, lambda *a, **k: (0.0, 0.0))
        for name in ("repetitions_to_decide", "repetitions_each_to_decide",
                     "spread_repetitions_to_decide"):  # only the 'decide' text reads them
            patch.setattr(stats, name, lambda *a, **k: None)
        for r, p in zip(rs, ps, strict=True):
            counts[judge(tol, r, p).verdict] += 1
    return counts


def truths(tol: Tolerance) -> tuple[tuple[float, float], tuple[float, float]]:
    """((difference, σ ratio) where ``power`` is P(reproduced), (…) where ``power_effect`` is
    P(not reproduced)), as the rules document them."""
    rule = get_rule(tol.rule)
    effect = rule.effect(tol)
    if tol.rule == "greater":
        bound = float(tol.margin or 0.0)
        return (bound + effect, 1.0), (bound - effect, 1.0)
    if tol.rule == "noninferior":
        return (0.0, 1.0), (-2 * float(tol.margin), 1.0)
    edge = math.log(tol.factor) if rule.unit == "factor" else float(tol.margin)
    ratio = tol.factor ** 2 if tol.rule == "distribution" else 1.0
    return (0.0, 1.0), (edge + effect, ratio)


SIDES = st.builds(Side, st.sampled_from(["sample", "exact", "noisy"]), st.floats(0.5, 3),
                  st.integers(2, 40), st.floats(0.05, 1.0), st.sampled_from([2.0, 5.0, 30.0]))
PUBLISHED = st.builds(Side, st.just("sample"), st.floats(0.5, 3), st.integers(2, 40))


@st.composite
def tolerances(draw) -> Tolerance:
    rule = draw(st.sampled_from(["tost", "equivalence", "distribution", "ratio", "greater",
                                 "noninferior"]))
    alpha = draw(st.sampled_from([0.05, 0.1]))
    margin = draw(st.floats(0.2, 3))
    kw = {"tost": dict(margin=margin), "equivalence": dict(margin=margin),
          "distribution": dict(margin=margin, factor=draw(st.floats(1.2, 3))),
          "ratio": dict(factor=draw(st.floats(1.05, 2))),
          "greater": dict(margin=draw(st.sampled_from([0.0, margin]))),
          "noninferior": dict(margin=margin)}[rule]
    return Tolerance(rule, alpha=alpha, justification="simulated", **kw)


def check_against_simulation(tol: Tolerance, ours: Side, ref: Side, seed: int,
                             sims: int) -> Judgement:
    if tol.rule == "ratio":  # relative errors, no spread: both sides carry an se
        ours = Side("noisy", 1.0, 1, ours.se, ours.se_df) if ours.how != "exact" else \
            Side("exact", 0.0, 1)
        ref = Side("noisy", 1.0, 1, 0.1, 10.0)
    if tol.rule != "distribution" and ours.how == "exact" and ref.how == "exact":
        ref = Side("sample", 1.0, 10)
    if tol.rule == "distribution":  # the power is at the reference: our spread equal to its own
        ours = Side(ours.how, ref.sigma, ours.n, ours.se, ours.se_df)
    rng = np.random.default_rng(seed)
    ref_value = 10.0
    ours_truth = ours.truth(ref_value)
    ref_truth = ref.truth(ref_value)
    if tol.rule == "ratio":
        ours_truth = Estimate(ref_value, se=ours.se * ref_value, se_df=ours.se_df) \
            if ours.how == "noisy" else Estimate(ref_value, se=0.0)
        ref_truth = Estimate(ref_value, se=0.1 * ref_value, se_df=10.0)
    j = judge(tol, ours_truth, ref_truth)
    (d0, rho0), (d1, rho1) = truths(tol)
    at_power = simulate(tol, ours, ref, d0, rho0, rng, sims)
    at_effect = simulate(tol, ours, ref, d1, rho1, rng, sims)
    assert agrees(j.power, at_power[REPRODUCED], sims), (j.power, at_power)
    assert agrees(j.power_effect, at_effect[NOT_REPRODUCED], sims), (j.power_effect, at_effect)
    return j
