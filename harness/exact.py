"""Seed-free estimates: exact distributions of what a table-based random search reports.

Random search draws N distinct cells uniformly without replacement from all M cells of a complete
score table and keeps the one with the highest score (NaN and -inf ranked last, as
:func:`tfnas.search.random_search.rank_key` does; among tied scores the first drawn is kept, so
the winner is uniform within the tie). With the cells sorted by score, best first, the cell of
rank k wins with probability C(M-k, N-1) / C(M, N) (computed in log space), averaged over a tie.

Readings of "the value one repetition reports" (each a :class:`Discrete` over cell values):
:func:`best_of_n` (the selected cell), :func:`sampled_cells` (any sampled cell: "all") and
:func:`unselected_cell` (one of the N-1 cells not selected, uniformly). :func:`sampling` gives
the sampling distribution of the published statistic (the mean and the sample std of n
repetitions): the mean's mean and sd exactly, quantiles by simulation from an explicit
:class:`numpy.random.Generator`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

QUANTILES = (0.05, 0.5, 0.95)
"""The quantiles reported of a sampling distribution."""
SIMULATIONS = 20_000
"""Simulated n-repetition runs behind the quantiles (their Monte-Carlo error is ~1% of the sd)."""


class ExactError(ValueError):
    """Input an exact distribution cannot be computed from; the message says what was expected."""


@dataclass(frozen=True)
class Discrete:
    """A discrete distribution: ``values[i]`` with probability ``probs[i]`` (they sum to 1)."""

    values: np.ndarray
    probs: np.ndarray

    def __post_init__(self) -> None:
        if self.values.shape != self.probs.shape or self.values.ndim != 1 or not self.values.size:
            raise ExactError(f"values and probs must be equal non-empty 1-D arrays, got shapes "
                             f"{self.values.shape} and {self.probs.shape}")
        if np.any(self.probs < 0) or not np.isclose(self.probs.sum(), 1.0, atol=1e-9):
            raise ExactError(f"probs must be >= 0 and sum to 1, got sum {self.probs.sum():.12g}")

    @property
    def mean(self) -> float:
        """The expected value of one repetition."""
        return float(np.dot(self.probs, self.values))

    @property
    def std(self) -> float:
        """The standard deviation of one repetition (the population std of the distribution)."""
        if np.all(self.values == self.values[0]):
            return 0.0
        var = float(np.dot(self.probs, (self.values - self.mean) ** 2))
        return float(np.sqrt(max(var, 0.0)))

    def mean_of(self, n: int) -> tuple[float, float]:
        """Exact mean and sd of the mean of ``n`` independent repetitions."""
        _check_n(n, "repetitions")
        return self.mean, self.std / float(np.sqrt(n))

    def draw(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
        """Independent draws of one repetition's value."""
        return self.values[rng.choice(self.values.size, size=size, p=self.probs)]

    def finite(self) -> tuple[Discrete, float]:
        """The distribution conditioned on a finite value, and the probability left out."""
        ok = np.isfinite(self.values)
        kept = float(self.probs[ok].sum())
        if kept <= 0:
            raise ExactError("every value with positive probability is non-finite")
        if ok.all():
            return self, 0.0
        return Discrete(self.values[ok], self.probs[ok] / kept), 1.0 - kept


@dataclass(frozen=True)
class Spread:
    """Mean, sd and :data:`QUANTILES` of a statistic's sampling distribution."""

    mean: float
    sd: float
    quantiles: tuple[float, ...]

    def to_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "sd": self.sd,
                **{f"q{round(q * 100):02d}": v for q, v in zip(QUANTILES, self.quantiles,
                                                                   strict=True)}}


@dataclass(frozen=True)
class Sampling:
    """The sampling distribution of an ``n``-repetition run's mean and sample std (ddof=1)."""

    n: int
    mean: Spread
    std: Spread

    def to_dict(self) -> dict[str, object]:
        return {"repetitions": self.n, "mean": self.mean.to_dict(), "std": self.std.to_dict()}


def sampling(dist: Discrete, n: int, rng: np.random.Generator,
             runs: int = SIMULATIONS) -> Sampling:
    """The predicted distribution of the published statistic: the mean (exact mean and sd;
    simulated quantiles) and the sample std (simulated) of ``n`` repetitions."""
    _check_n(n, "repetitions")
    _check_n(runs, "simulated runs")
    batch = max(1, min(runs, 2_000_000 // n))
    means, stds = [], []
    done = 0
    while done < runs:
        k = min(batch, runs - done)
        x = dist.draw(rng, (k, n))
        means.append(x.mean(axis=1))
        stds.append(x.std(axis=1, ddof=1) if n > 1 else np.zeros(k))
        done += k
    m, s = np.concatenate(means), np.concatenate(stds)
    mu, sd = dist.mean_of(n)
    return Sampling(n, Spread(mu, sd, _quantiles(m)), Spread(float(s.mean()), float(s.std()),
                                                              _quantiles(s)))


def _quantiles(x: np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in np.quantile(x, QUANTILES))


def _check_n(n: object, what: str) -> None:
    if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 1:
        raise ExactError(f"{what} must be a positive integer, got {n!r}")


def _column(a: object, name: str) -> np.ndarray:
    arr = np.asarray(a, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ExactError(f"{name} must be a non-empty 1-D column (one entry per cell), "
                         f"got shape {arr.shape}")
    return arr


def rank_keys(scores: np.ndarray) -> np.ndarray:
    """The order random search picks winners by: the score, NaN as -inf (ranked last)."""
    return np.where(np.isnan(scores), -np.inf, scores)


def log_comb(a: np.ndarray, b: int) -> np.ndarray:
    """log C(a, b) for arrays ``a`` (-inf where a < b)."""
    a = np.asarray(a, dtype=float)
    out = np.full(a.shape, -np.inf)
    ok = a >= b
    out[ok] = gammaln(a[ok] + 1) - gammaln(b + 1) - gammaln(a[ok] - b + 1)
    return out


def win_probabilities(scores: np.ndarray, n: int) -> np.ndarray:
    """P(cell i is the one random search keeps) for every cell of a complete score column.

    Rank k (1 = best) wins with C(M-k, N-1)/C(M, N); tied cells share their group's total.
    """
    scores = _column(scores, "scores")
    m = scores.size
    _check_n(n, "n")
    if n > m:
        raise ExactError(f"n must be at most the {m} cells of the column, got {n}")
    keys = rank_keys(scores)
    order = np.argsort(-keys, kind="stable")
    ranks = np.arange(1, m + 1, dtype=float)
    w = np.exp(log_comb(m - ranks, n - 1) - log_comb(np.array([m]), n)[0])
    _, group = np.unique(-keys[order], return_inverse=True)  # sorted ascending = best first
    shared = np.bincount(group, weights=w) / np.bincount(group)
    probs = np.empty(m)
    probs[order] = shared[group]
    return probs


def _discrete(values: np.ndarray, probs: np.ndarray) -> Discrete:
    keep = probs > 0
    p = probs[keep]
    return Discrete(values[keep], p / p.sum())


def best_of_n(scores: object, values: object, n: int) -> Discrete:
    """The value (e.g. accuracy) of the cell random search keeps among ``n`` drawn."""
    s, v = _column(scores, "scores"), _column(values, "values")
    _same_size(s, v)
    return _discrete(v, win_probabilities(s, n))


def sampled_cells(values: object) -> Discrete:
    """The value of any sampled cell (the reading "all"): uniform over the cells."""
    v = _column(values, "values")
    return Discrete(v, np.full(v.size, 1.0 / v.size))


def unselected_cell(scores: object, values: object, n: int) -> Discrete:
    """The value of one of the ``n - 1`` drawn cells that were not kept, chosen uniformly.

    P(cell i) = (P(i drawn) - P(i kept)) / (n - 1) = (n/M - P(i kept)) / (n - 1).
    """
    s, v = _column(scores, "scores"), _column(values, "values")
    _same_size(s, v)
    _check_n(n, "n")
    if n < 2:
        raise ExactError("the unselected-cell reading needs n >= 2 (with n = 1 every drawn cell "
                         "is the selected one)")
    probs = (n / s.size - win_probabilities(s, n)) / (n - 1)
    return _discrete(v, np.clip(probs, 0.0, None))


def _same_size(scores: np.ndarray, values: np.ndarray) -> None:
    if scores.size != values.size:
        raise ExactError(f"scores and values must cover the same cells, got {scores.size} "
                         f"scores and {values.size} values")


def empirical(values: object) -> Discrete:
    """The empirical distribution of observed values (equal weights), e.g. Monte-Carlo runs."""
    return sampled_cells(values)
