"""Each reading's measurement model against brute-force simulation of the protocol.

A paper table of 30 repetitions is simulated under a reading (random search on a synthetic space:
the selected cell, or all N sampled cells pooled); the row, read with that reading's model
(:mod:`harness.measurement_model`), must be judged consistent with the reading's predicted
distribution at the stated rate (:func:`harness.readings.fit_p_value`: rejections at most
alpha, up to the simulation's own error), and a row simulated under another reading must be
rejected. The design effect of correlated values within a repetition must give the spread of
the pooled mean that simulation shows.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.exact import best_of_n, sampled_cells
from harness.measurement_model import MeasurementModel, ModelError, from_runs, without_replacement
from harness.readings import fit_p_value
from harness.verdicts import Estimate

ALPHA = 0.05
TABLES = 300
REPS = 30


def _space(rng: np.random.Generator, m: int = 1500) -> tuple[np.ndarray, np.ndarray]:
    acc = rng.normal(70.0, 8.0, m)
    score = acc + rng.normal(0.0, 6.0, m)
    return score, acc


def _row(values: np.ndarray) -> Estimate:
    return Estimate(float(values.mean()), float(values.std(ddof=1)), REPS)


def _simulate(rng: np.random.Generator, score: np.ndarray, acc: np.ndarray, n: int,
              selection: str) -> Estimate:
    """One published row: 30 repetitions of random search over ``n`` distinct cells."""
    got = []
    for _ in range(REPS):
        cells = rng.choice(score.size, n, replace=False)
        got.append(acc[[cells[np.argmax(score[cells])]]] if selection == "best" else acc[cells])
    return _row(np.concatenate(got))


def _rate(rng: np.random.Generator, n: int, truth: str, reading: str) -> float:
    score, acc = _space(rng)
    dist = best_of_n(score, acc, n) if reading == "best" else sampled_cells(acc)
    model = MeasurementModel(1.0) if reading == "best" else without_replacement(n, score.size)
    predicted = Estimate(dist.mean, dist.std, se=0.0)
    rejected = 0
    for _ in range(TABLES):
        row = model.published(_simulate(rng, score, acc, n, truth))
        rejected += fit_p_value(row, predicted) <= ALPHA
    return rejected / TABLES


# the simulation's own error: 3 binomial standard errors of a rejection rate of alpha
SLACK = 3 * math.sqrt(ALPHA * (1 - ALPHA) / TABLES)


@pytest.mark.parametrize("reading,n", [("best", 10), ("best", 100), ("all", 10), ("all", 100)])
def test_a_table_simulated_under_a_reading_fits_it_at_the_stated_rate(reading, n):
    assert _rate(np.random.default_rng(11 + n), n, reading, reading) <= ALPHA + SLACK


@pytest.mark.parametrize("truth,reading,n", [("all", "best", 100), ("best", "all", 100)])
def test_a_table_simulated_under_another_reading_is_rejected(truth, reading, n):
    assert _rate(np.random.default_rng(5), n, truth, reading) >= 0.9


def test_reading_a_pooled_row_as_a_mean_of_30_would_not_reject_the_wrong_reading():
    """The finding the model fixes: all N sampled cells pool 30·N values, so their mean is far
    more precise than a 30-value mean; read as 30 values, a row of sampled cells would fit
    readings whose expected value lies several 30-value standard errors away."""
    rng = np.random.default_rng(2)
    score, acc = _space(rng)
    row = _simulate(rng, score, acc, 100, "all")
    shifted = Estimate(float(acc.mean()) + 2.5 * float(acc.std()) / math.sqrt(REPS) / 2,
                       float(acc.std()), se=0.0)
    assert fit_p_value(row, shifted) > ALPHA  # as a mean of 30: not rejected
    assert fit_p_value(without_replacement(100, acc.size).published(row), shifted) <= ALPHA


@settings(max_examples=20, deadline=None)
@given(per=st.integers(5, 60), rho=st.floats(0.0, 0.8), seed=st.integers(0, 2**32 - 1))
def test_the_design_effect_gives_the_spread_of_the_pooled_mean(per, rho, seed):
    """Correlated values within a run (a shared run effect, as REA's mutated cells have): the
    model from simulated runs predicts the sd of a pooled 30-run mean that simulation shows."""
    rng = np.random.default_rng(seed)

    def runs(k: int) -> np.ndarray:
        shared = rng.normal(0, math.sqrt(rho), (k, 1))
        return shared + rng.normal(0, math.sqrt(1 - rho), (k, per))

    calibration = runs(4000)
    sigma = float(calibration.std())
    model = from_runs(np.stack([calibration.mean(axis=1), (calibration**2).mean(axis=1)], 1), per)
    pooled_means = np.array([runs(REPS).mean() for _ in range(400)])
    predicted = model.mean_se(sigma, REPS)
    assert abs(float(pooled_means.std(ddof=1)) / predicted - 1) < 0.2
    assert model.effective_n(REPS) <= REPS * per * 1.1


def test_one_value_per_repetition_is_the_row_as_it_stands():
    row = Estimate(67.4, 10.1, 30)
    assert MeasurementModel(1.0).published(row) == row
    assert without_replacement(100, 15625).published(row).n > 3000
    assert MeasurementModel(1.0).published(Estimate(0.7)) == Estimate(0.7)


@pytest.mark.parametrize("bad", [{"per_repetition": 0}, {"per_repetition": 1, "noise": "shared"},
                                 {"per_repetition": float("nan")}, {"design_effect": 1}, [1]])
def test_a_bad_model_is_refused_in_one_line(bad):
    with pytest.raises(ModelError) as err:
        MeasurementModel.from_dict(bad)
    assert "\n" not in str(err.value)


def test_a_model_round_trips():
    m = MeasurementModel(64.0, 3.5)
    assert MeasurementModel.from_dict(m.to_dict()) == m
