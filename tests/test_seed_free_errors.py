"""The Monte-Carlo errors of a seed-free estimate (mean, spread, design effect) predict how the
estimate moves between master seeds, checked against brute-force simulation of the protocol's
structure: runs with correlated values, heavy tails, and scoring realisations that share their
first run seeds (common random numbers)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from harness.kinds._seed_free import (
    from_run_values,
    mean_error,
    mixture,
    se_error,
    spread_error,
    standard_error,
)

REPLICATES = 300
QUICK = settings(max_examples=5, deadline=None, derandomize=True,
                 phases=[Phase.explicit, Phase.generate])
"""Each example simulates hundreds of replicates: no shrinking (a failing example is shown),
and the same examples on every run (a statistical bound, not a flaky test)."""


def _rms(errors: list[float]) -> float:
    """The root mean square of predicted errors: the one a variance's unbiased estimate gives
    (a median of estimates from few heavy-tailed runs sits below it)."""
    return float(np.sqrt(np.mean(np.square(errors))))


def _experiment(rng: np.random.Generator, runs: int, shared: int, realisations: int,
                per_run: int, rho: float, heavy: float, between: float = 1.0) -> list:
    """One seed-free estimate's realisations: the first realisation has ``runs`` runs, each
    further one the first ``shared`` of the same run seeds. A run has a quality shared by
    every realisation (same seed, same search), of spread ``between``, heavy-tailed with
    weight ``heavy``, and ``per_run`` values whose noise is shared across realisations with
    correlation ``rho``."""
    quality = between * (rng.normal(0.0, 1.0, runs)
                         + (rng.random(runs) < heavy) * rng.normal(0, 3.0, runs))
    common = rng.normal(0.0, 1.0, (runs, per_run))
    parts = []
    for r in range(realisations):
        n = runs if r == 0 else shared
        own = rng.normal(0.0, 1.0, (n, per_run))
        values = quality[:n, None] + rho * common[:n] + math.sqrt(1 - rho * rho) * own + 0.3 * r
        parts.append(from_run_values(r, list(values)))
    return parts


@QUICK
@given(seed=st.integers(0, 2**32 - 1), realisations=st.sampled_from([1, 4]),
       per_run=st.sampled_from([1, 16]), rho=st.floats(0.0, 0.95), heavy=st.floats(0.0, 0.05))
def test_the_errors_of_mean_and_spread_match_simulation(seed, realisations, per_run, rho,
                                                          heavy):
    """Over independent replicates (independent master seeds), the spread of the mixture's
    mean is its predicted Monte-Carlo error and the relative spread of its σ the predicted
    ``spread_error``, within a third (the replicates' own sampling error is about 4%), with
    120 runs and 20 under each further realisation (the harness now runs all 120 under each:
    unequal counts are the harder case of the grouping by run seed). The delta method
    is first-order: with rare heavy outliers among the runs it understates the spread's error
    by up to about a quarter (seen on a grid when this test was written), one reason the
    guard is :data:`~harness.measurement_model.MC_GUARD` errors. Treating the realisations as
    independent understates both errors when their runs share seeds."""
    rng = np.random.default_rng(seed)
    means, sigmas, mean_errors, spread_errors = [], [], [], []
    for _ in range(REPLICATES):
        parts = _experiment(rng, 120, 20, realisations, per_run, rho, heavy)
        mix = mixture(parts)
        means.append(mix.mean)
        sigmas.append(mix.std)
        mean_errors.append(mean_error(parts))
        spread_errors.append(spread_error(parts))
    observed_mean = float(np.std(means, ddof=1))
    observed_spread = float(np.std(sigmas, ddof=1) / np.mean(sigmas))
    assert 0.75 <= observed_mean / _rms(mean_errors) <= 1.33
    assert 0.75 <= observed_spread / _rms(spread_errors) <= 1.33


def test_one_value_per_run_in_one_realisation_is_the_kurtosis_formula():
    """With one value per run and one realisation the spread's error is √((κ − 1)/4n), κ the
    values' kurtosis (the delta method for a sample standard deviation)."""
    rng = np.random.default_rng(7)
    values = rng.standard_t(5, 400)
    part = from_run_values(0, [np.array([v]) for v in values])
    c = values - values.mean()
    kurtosis = float(np.mean(c**4) / np.mean(c**2) ** 2)
    assert math.isclose(spread_error([part]), math.sqrt((kurtosis - 1) / (4 * values.size)),
                        rel_tol=0.01)


def test_an_exact_realisation_has_no_monte_carlo_error():
    parts = [from_run_values(0, [np.array([1.0, 2.0]), np.array([3.0, 5.0])])]
    exact = [type(parts[0])(0, parts[0].dist, 0.0, 0.0, None, parts[0].model)]
    assert mean_error(exact) == 0.0 and spread_error(exact) == 0.0
    assert mean_error(parts) > 0.0 and spread_error(parts) > 0.0


@QUICK
@given(seed=st.integers(0, 2**32 - 1), between=st.floats(0.1, 1.5), heavy=st.floats(0.0, 0.05))
def test_the_design_effects_error_matches_simulation(seed, between, heavy):
    """The relative spread of the design effect over independent replicates of 120 runs of 16
    correlated values is its predicted ``design_mc``, within a third, from runs that differ
    little to runs that differ as much as the values within a run (design effects about 1 to
    9); when runs differ far more, the errors of V and σ² nearly cancel and the first-order
    error is up to a third low."""
    rng = np.random.default_rng(seed)
    effects, errors = [], []
    for _ in range(REPLICATES):
        parts = _experiment(rng, 120, 1, 1, 16, 0.0, heavy, between)
        effects.append(parts[0].model.design_effect)
        errors.append(parts[0].model.design_mc)
    observed = float(np.std(effects, ddof=1) / np.mean(effects))
    assert 0.75 <= observed / _rms(errors) <= 1.33


def _realisations_apart(rng: np.random.Generator, runs: int, realisations: int, per_run: int,
                        rho: float, heavy: float, step: float, miss: float) -> list:
    """Realisations ``step`` apart, all of the same ``runs`` run seeds (as the harness runs
    them): a run's quality is shared by every realisation, heavy-tailed with weight
    ``heavy``; with probability ``miss`` (more in some realisations) a run returns a cell
    12 points worse (REA missing the best-scored cell), and ``per_run`` values have noise
    shared across realisations with correlation ``rho``."""
    quality = rng.normal(0.0, 1.0, runs) + (rng.random(runs) < heavy) * rng.normal(0, 3.0, runs)
    u = rng.random(runs)
    common = rng.normal(0.0, 1.0, (runs, per_run))
    parts = []
    for r in range(realisations):
        own = rng.normal(0.0, 1.0, (runs, per_run))
        missed = (u < miss * (1 + r % 3)) * -12.0
        values = ((quality + missed)[:, None] + rho * common
                  + math.sqrt(1 - rho * rho) * own + step * r)
        parts.append(from_run_values(r, list(values)))
    return parts


@QUICK
@given(seed=st.integers(0, 2**32 - 1), realisations=st.sampled_from([2, 4, 6]),
       per_run=st.sampled_from([1, 16]), rho=st.floats(0.0, 0.95), heavy=st.floats(0.0, 0.05),
       step=st.sampled_from([0.1, 0.3, 1.0]), miss=st.sampled_from([0.0, 0.01, 0.03]))
def test_the_error_of_the_standard_error_matches_simulation(seed, realisations, per_run, rho,
                                                            heavy, step, miss):
    """The interval's width is a Monte-Carlo estimate too: over independent replicates the
    relative spread of ``se`` (between realisations over √R, with the mean's Monte-Carlo error)
    is the predicted ``se_error``: never understated by more than a third, whether the
    realisations differ by much more than their errors or by less, and with rare misses among
    the runs. It may overstate: with two realisations whose difference is mostly Monte-Carlo
    error, B is a χ²₁ and the delta method overstates the error of its square root (observed /
    predicted 0.66–1.13 on a 144-point grid of these parameters, 200 replicates each, when this
    test was written; overstating only refines more). Ignoring the second-order terms had
    understated it up to five-fold (realisations 0.1 apart, heavy runs), and a realisation's
    mean from 20 runs showed a rare miss under one master seed and not another (issue #22: one
    alternative's verdict moved with the seed)."""
    rng = np.random.default_rng(seed)
    ses, errors = [], []
    for _ in range(REPLICATES):
        parts = _realisations_apart(rng, 120, realisations, per_run, rho, heavy, step, miss)
        se, _ = standard_error([p.dist.mean for p in parts], mean_error(parts))
        ses.append(se)
        errors.append(se_error(parts, se))
    observed = float(np.std(ses, ddof=1) / np.mean(ses))
    assert 0.6 <= observed / _rms(errors) <= 1.33


def test_an_exact_or_single_realisation_standard_error_has_no_monte_carlo_error():
    rng = np.random.default_rng(3)
    parts = _realisations_apart(rng, 50, 3, 1, 0.0, 0.0, 0.3, 0.0)
    exact = [type(p)(p.seed, p.dist, 0.0, 0.0, None, p.model) for p in parts]
    assert se_error(exact, 1.0) == 0.0
    assert se_error(parts[:1], 1.0) == 0.0
    assert se_error(parts, 1.0) > 0.0
