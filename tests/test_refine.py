"""A Monte-Carlo estimate near a verdict boundary is refined until the boundary lies beyond its
error (or the kind's cap), so that no verdict depends on the master seed."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.evaluate import judged
from harness.kinds import Comparison, Measurement
from harness.measurement_model import MC_GUARD, MeasurementModel
from harness.verdicts import Estimate, Tolerance

TOL = Tolerance("tost", margin=1.0, alpha=0.05, justification="test")
CLAIM = SimpleNamespace(tolerance=TOL, published=Estimate(10.0, se=0.01))


def chain(truth: float, errors: list[float], rng: np.random.Generator, calls: list[int]
          ) -> Measurement:
    """A measurement whose k-th refinement has Monte-Carlo error ``errors[k]``."""
    def make(k: int) -> Measurement:
        calls.append(k)
        mc = errors[k]
        value = truth + rng.normal(0.0, mc)
        refine = (lambda: make(k + 1)) if k + 1 < len(errors) else None
        return Measurement(Estimate(value, se=float(np.hypot(mc, 0.01))), mc_se=mc, refine=refine)
    return make(0)


def test_an_exact_estimate_is_never_refined():
    calls: list[int] = []
    m = Measurement(Estimate(10.99, se=0.0), refine=lambda: calls.append(1))  # type: ignore[arg-type]
    result, (_, _, j, _) = judged(CLAIM, m)
    assert result is m and not calls


def test_an_estimate_far_from_every_boundary_is_kept():
    calls: list[int] = []
    result, _ = judged(CLAIM, chain(10.0, [0.05, 0.01], np.random.default_rng(0), calls))
    assert calls == [0]


def test_an_estimate_at_a_boundary_is_refined_to_the_cap():
    calls: list[int] = []
    truth = 10.0 + 1.0 - 1.645 * 0.01  # the interval's edge sits on the margin
    judged(CLAIM, chain(truth, [0.2, 0.05, 0.0125], np.random.default_rng(1), calls))
    assert calls == [0, 1, 2]


@settings(max_examples=40, deadline=None)
@given(offset=st.floats(-3.0, 3.0), seed=st.integers(0, 2**32 - 1))
def test_the_refined_verdict_is_the_same_under_another_seed(offset, seed):
    """Two seeds, one truth: the verdicts agree unless the truth sits within the final error
    (times the guard) of a boundary — the only case the cap leaves undecided."""
    truth = 10.0 + offset
    errors = [0.4, 0.1, 0.025, 0.00625]
    got = []
    for s in (seed, seed + 1):
        result, (_, _, j, _) = judged(CLAIM, chain(truth, errors, np.random.default_rng(s), []))
        got.append((j.verdict, result.mc_se))
    edges = (9.0, 11.0)
    half = 1.645 * float(np.hypot(errors[-1], 0.01))
    near = min(abs(abs(truth - 10.0) + half - 1.0), *(abs(truth - e) for e in edges))
    if near > 2 * MC_GUARD * errors[-1] + 4 * errors[-1]:
        assert got[0][0] == got[1][0]


def test_what_would_decide_says_when_nothing_on_our_side_can():
    """The published value's own sampling error (10/sqrt(30) ≈ 1.8, times 1.645) exceeds the
    gap to the margin: no repetitions of ours can narrow the interval below it."""
    from harness.verdicts import INCONCLUSIVE, judge

    j = judge(TOL, Estimate(10.5, 2.0, 30, se=0.0), Estimate(10.0, 10.0, 30))
    assert j.verdict == INCONCLUSIVE
    assert j.decide.startswith("nothing on our side decides it")
    assert "published repetitions" in j.decide  # many more published runs would
    j = judge(TOL, Estimate(10.5, 5.0, 3), Estimate(10.0, 0.5, 300))
    assert j.verdict == INCONCLUSIVE and "repetitions on our side" in j.decide


DIST = SimpleNamespace(tolerance=Tolerance("distribution", margin=1.0, factor=1.5, alpha=0.05,
                                           justification="test"),
                       published=Estimate(10.0, std=1.0, n=100))


def _spread_measurement(std: float, spread_mc: float, calls: list[int]) -> Measurement:
    return Measurement(Estimate(10.0, std=std, n=400, se=std / 20.0), spread_mc=spread_mc,
                       refine=lambda: calls.append(1) or _spread_measurement(std, 0.0, calls))


def _verdict_at(std: float) -> str:
    return judged(DIST, _spread_measurement(std, 0.0, []))[1][2].verdict


def test_a_spread_at_its_boundary_is_refined_though_the_mean_is_exact():
    """A Monte-Carlo spread (the mean's error 0, as for a search that always returns one cell)
    whose factor boundary lies within its own error is refined; far from it, it is not."""
    grid = np.linspace(1.0, 3.0, 201)
    verdicts = [_verdict_at(s) for s in grid]
    edge = next(i for i in range(1, len(grid)) if verdicts[i] != verdicts[i - 1])
    at_edge = (grid[edge - 1] + grid[edge]) / 2
    calls: list[int] = []
    judged(DIST, _spread_measurement(at_edge, 0.05, calls))
    assert calls
    far: list[int] = []
    judged(DIST, _spread_measurement(1.0, 0.05, far))
    assert not far
    exact: list[int] = []
    judged(DIST, _spread_measurement(at_edge, 0.0, exact))
    assert not exact


def _design_measurement(deff: float, design_mc: float, calls: list[int]) -> Measurement:
    model = MeasurementModel(10.0, deff, design_mc=design_mc)
    return Measurement(Estimate(10.0, std=1.3, n=400, se=0.0), model=model,
                       refine=lambda: calls.append(1) or _design_measurement(deff, 0.0, calls))


def test_a_design_effect_at_its_boundary_is_refined():
    """The published row is read with the model's design effect (its effective n); a verdict
    that a design effect within its Monte-Carlo error would change is refined, one far from the
    boundary or an exact one is not."""
    grid = np.linspace(0.05, 20.0, 400)
    verdicts = [judged(DIST, _design_measurement(d, 0.0, []))[1][2].verdict for d in grid]
    edges = [i for i in range(1, len(grid)) if verdicts[i] != verdicts[i - 1]]
    assert edges, "the design effect must matter to this rule for the test to mean anything"
    at_edge = (grid[edges[0] - 1] + grid[edges[0]]) / 2
    calls: list[int] = []
    judged(DIST, _design_measurement(at_edge, 0.1, calls))
    assert calls
    far = max(grid, key=lambda d: min(abs(d - grid[e]) for e in edges))
    kept: list[int] = []
    judged(DIST, _design_measurement(far, 0.01, kept))
    assert not kept
    exact: list[int] = []
    judged(DIST, _design_measurement(at_edge, 0.0, exact))
    assert not exact


GREATER = SimpleNamespace(tolerance=Tolerance("greater", alpha=0.05, justification="test"),
                          published=None)


def _width_comparison(se: float, se_mc: float, calls: list[int]) -> Comparison:
    a = Measurement(Estimate(1.0, se=se, se_df=5.0), se_mc=se_mc,
                    refine=lambda: calls.append(1) or _width_comparison(se, 0.0, calls).a)
    return Comparison(a, Measurement(Estimate(0.0, se=0.0)))


def test_a_standard_error_at_its_boundary_is_refined():
    """A comparison's interval width is a Monte-Carlo estimate (the spread between scoring
    realisations' means, each from runs): a verdict that a width within its own Monte-Carlo
    error would change is refined though the mean's error is 0; one far from the boundary, or
    an exact width, is not (issue #22: `cmp-rea-beats-random-cifar100` under seed 3)."""
    grid = np.linspace(0.1, 1.0, 181)
    verdicts = [judged(GREATER, _width_comparison(s, 0.0, []))[1][2].verdict for s in grid]
    edge = next(i for i in range(1, len(grid)) if verdicts[i] != verdicts[i - 1])
    at_edge = float(grid[edge - 1] + grid[edge]) / 2
    calls: list[int] = []
    judged(GREATER, _width_comparison(at_edge, 0.1, calls))
    assert calls
    far: list[int] = []
    judged(GREATER, _width_comparison(0.1, 0.1, far))
    assert not far
    exact: list[int] = []
    judged(GREATER, _width_comparison(at_edge, 0.0, exact))
    assert not exact
