"""Statistics the verdicts rest on: Welch's test, correlation coefficients, bootstrap intervals.

Every random draw comes from an explicit ``numpy.random.Generator`` passed in by the caller.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

COEFFICIENTS = ("pearson", "spearman", "kendall")


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation (ddof=1) and count of a set of values."""

    mean: float
    std: float
    n: int


def summarise(values: Sequence[float] | np.ndarray) -> Summary:
    """Mean and sample std (ddof=1; 0 for a single value) of finite values."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"expected a non-empty 1-D sequence of numbers, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("values must be finite (no NaN or infinity)")
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return Summary(float(arr.mean()), std, int(arr.size))


ALTERNATIVES = ("two-sided", "greater", "less")


@dataclass(frozen=True)
class WelchResult:
    """Welch's t, its degrees of freedom, the p value under ``alternative`` and the standard
    error of the difference of means."""

    t: float
    df: float
    p: float
    se: float
    alternative: str = "two-sided"


def _p_at_zero_se(diff: float, alternative: str) -> float:
    """p when both samples have no spread: the difference is certain (or exactly zero)."""
    if alternative == "two-sided":
        return 1.0 if diff == 0 else 0.0
    if diff == 0:
        return 0.5
    return 0.0 if (diff > 0) == (alternative == "greater") else 1.0


def welch(m1: float, s1: float, n1: int, m2: float, s2: float, n2: int,
          alternative: str = "two-sided") -> WelchResult:
    """Welch's unequal-variance t test of ``m1 - m2`` from summary statistics.

    ``scipy.stats.ttest_ind_from_stats(..., equal_var=False)`` except in the two cases scipy
    turns into NaN: no spread at all (``se == 0``: the difference is certain) and a side of one
    value (``n == 1``: that side adds its variance but no degrees of freedom). Works from
    summaries because the published side is only known as mean, std and n.
    """
    for name, n in (("n1", n1), ("n2", n2)):
        if not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"{name} must be a positive integer count, got {n!r}")
    if s1 < 0 or s2 < 0:
        raise ValueError(f"standard deviations must be >= 0, got {s1}, {s2}")
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")
    v1, v2 = s1 * s1 / n1, s2 * s2 / n2
    se = math.sqrt(v1 + v2)
    diff = m1 - m2
    if se == 0.0:
        t = 0.0 if diff == 0 else math.copysign(math.inf, diff)
        return WelchResult(t, math.inf, _p_at_zero_se(diff, alternative), 0.0, alternative)
    terms = (v1 * v1 / (n1 - 1) if n1 > 1 else 0.0) + (v2 * v2 / (n2 - 1) if n2 > 1 else 0.0)
    df = (v1 + v2) ** 2 / terms if terms > 0 else math.inf
    if n1 > 1 and n2 > 1:
        res = sps.ttest_ind_from_stats(m1, s1, n1, m2, s2, n2, equal_var=False,
                                       alternative=alternative)
        return WelchResult(float(res.statistic), df, min(float(res.pvalue), 1.0), se,
                           alternative)
    t = diff / se  # a side of one value: scipy's df would divide by n - 1 = 0
    dist = sps.t(df) if math.isfinite(df) else sps.norm()
    p = {"two-sided": 2 * dist.sf(abs(t)), "greater": dist.sf(t), "less": dist.cdf(t)}
    return WelchResult(t, df, min(float(p[alternative]), 1.0), se, alternative)


def correlation(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray,
                kind: str) -> float:
    """Pearson r, Spearman rho or Kendall tau-b of paired values (scipy's definitions)."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if xa.shape != ya.shape or xa.ndim != 1:
        raise ValueError(f"x and y must be 1-D of equal length, got {xa.shape} and {ya.shape}")
    if xa.size < 3:
        raise ValueError(f"a correlation needs at least 3 pairs, got {xa.size}")
    if kind == "pearson":
        return float(sps.pearsonr(xa, ya).statistic)
    if kind == "spearman":
        return float(sps.spearmanr(xa, ya).statistic)
    if kind == "kendall":
        return float(sps.kendalltau(xa, ya).statistic)
    raise ValueError(f"unknown correlation coefficient {kind!r}; expected one of {COEFFICIENTS}")


def bootstrap_correlation_ci(x: np.ndarray, y: np.ndarray, kind: str, rng: np.random.Generator,
                             n_resamples: int = 200, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of a correlation over resampled pairs."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    res = sps.bootstrap((xa, ya), lambda a, b: correlation(a, b, kind), paired=True,
                        vectorized=False, n_resamples=n_resamples, confidence_level=level,
                        method="percentile", rng=rng)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)
