"""Statistics the verdicts rest on: intervals of a difference and of a ratio of spreads, the
three-way decision, its power, and the repetitions that would decide it; Welch's test,
correlation coefficients and bootstrap intervals.

Every random draw comes from an explicit ``numpy.random.Generator`` passed in by the caller.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from harness.estimates import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED

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


def ranked_last(x: np.ndarray) -> tuple[np.ndarray, int]:
    """``x`` with non-finite values below every finite one, tied (how the harness's rank
    coefficients rank an undefined score), and how many there were."""
    bad = ~np.isfinite(x)
    if not bad.any():
        return x, 0
    finite = x[~bad]
    floor = (finite.min() if finite.size else 0.0) - 1.0
    return np.where(bad, floor, x), int(bad.sum())


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


# ---------------------------------------------------------------- the three-way decision



def _quantile(alpha: float, df: float) -> float:
    """The upper ``alpha`` quantile of Student's t with ``df`` degrees of freedom (normal when
    ``df`` is infinite)."""
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha}")
    if not df > 0:
        raise ValueError(f"degrees of freedom must be > 0, got {df}")
    return float(sps.norm.isf(alpha)) if math.isinf(df) else float(sps.t.isf(alpha, df))


def welch_df(parts: Sequence[tuple[float, float]]) -> float:
    """Welch–Satterthwaite degrees of freedom of a sum of variances.

    ``parts``: (variance, degrees of freedom) of each side; a side with infinite degrees of
    freedom (a standard error known from ``se`` or an interval) adds no term. Infinite when no
    side has finite degrees of freedom or the total variance is 0.
    """
    total = sum(v for v, _ in parts)
    terms = sum(v * v / df for v, df in parts if math.isfinite(df) and df > 0 and v > 0)
    if total <= 0 or terms <= 0:
        return math.inf
    return total * total / terms


def difference_interval(d: float, se: float, df: float, alpha: float) -> tuple[float, float]:
    """The ``1 - 2·alpha`` confidence interval ``d ± t(1 - alpha, df)·se`` of a difference.

    Its two ends are the two one-sided tests of TOST at level ``alpha``; ``se == 0`` (both sides
    exact) gives the point ``(d, d)``.
    """
    if se < 0 or not math.isfinite(se):
        raise ValueError(f"the standard error must be finite and >= 0, got {se}")
    if se == 0:
        return (d, d)
    half = _quantile(alpha, df) * se
    return (d - half, d + half)


def three_way(lo: float, hi: float, margin: float) -> tuple[str, float]:
    """Verdict and slack of an interval ``[lo, hi]`` against the equivalence region
    ``(-margin, +margin)``.

    *reproduced* when the interval lies strictly inside, *not reproduced* when it lies strictly
    outside ``[-margin, margin]``, else *inconclusive*. The slack is the distance to the nearest
    boundary that would change the verdict: > 0 decided, <= 0 inconclusive (minus the shift of the
    interval that would decide it; 0 exactly on a boundary).
    """
    if lo > hi:
        raise ValueError(f"interval ends out of order: [{lo}, {hi}]")
    if -margin < lo and hi < margin:
        return REPRODUCED, min(lo + margin, margin - hi)
    if hi < -margin:
        return NOT_REPRODUCED, -margin - hi
    if lo > margin:
        return NOT_REPRODUCED, lo - margin
    to_reproduce = max(hi - margin, -margin - lo, 0.0)
    to_reject = min(max(margin - lo, 0.0), max(hi + margin, 0.0))
    return INCONCLUSIVE, -min(to_reproduce, to_reject)


def one_sided(lo: float, hi: float, bound: float) -> tuple[str, float]:
    """Verdict and slack of an interval against a one-sided claim 'the difference exceeds
    ``bound``': *reproduced* when ``lo > bound``, *not reproduced* when ``hi < bound``, else
    *inconclusive* (slack as in :func:`three_way`)."""
    if lo > hi:
        raise ValueError(f"interval ends out of order: [{lo}, {hi}]")
    if lo > bound:
        return REPRODUCED, lo - bound
    if hi < bound:
        return NOT_REPRODUCED, bound - hi
    return INCONCLUSIVE, -min(bound - lo, hi - bound)


def tost_power(se: float, df: float, margin: float, alpha: float,
               true_difference: float = 0.0) -> float:
    """P(*reproduced*): the probability that the ``1 - 2·alpha`` interval falls inside
    ``(-margin, margin)`` when the true difference is ``true_difference``.

    The estimate is taken as ``true_difference + se·T`` with T Student's t (``df``), the standard
    error as known — the usual planning approximation. ``se == 0``: 1 or 0.
    """
    if se == 0:
        return float(abs(true_difference) < margin)
    c = _quantile(alpha, df) * se
    if c >= margin:
        return 0.0
    dist = sps.norm() if math.isinf(df) else sps.t(df)
    return float(max(dist.cdf((margin - c - true_difference) / se)
                     - dist.cdf((-margin + c - true_difference) / se), 0.0))


def rejection_power(se: float, df: float, margin: float, alpha: float,
                    true_difference: float) -> float:
    """P(*not reproduced*): the probability that the ``1 - 2·alpha`` interval falls wholly
    outside ``[-margin, margin]`` at the true difference (same approximation as
    :func:`tost_power`)."""
    if se == 0:
        return float(abs(true_difference) > margin)
    c = _quantile(alpha, df) * se
    dist = sps.norm() if math.isinf(df) else sps.t(df)
    return float(dist.sf((margin + c - true_difference) / se)
                 + dist.cdf((-margin - c - true_difference) / se))


def one_sided_power(se: float, df: float, bound: float, alpha: float,
                    true_difference: float) -> tuple[float, float]:
    """(P(*reproduced*), P(*not reproduced*)) of :func:`one_sided` at the true difference."""
    if se == 0:
        return float(true_difference > bound), float(true_difference < bound)
    c = _quantile(alpha, df) * se
    dist = sps.norm() if math.isinf(df) else sps.t(df)
    return (float(dist.sf((bound + c - true_difference) / se)),
            float(dist.cdf((bound - c - true_difference) / se)))


def sd_ratio_interval(s_ours: float, n_ours: int | None, s_ref: float, n_ref: int,
                      alpha: float) -> tuple[float, float]:
    """The ``1 - 2·alpha`` confidence interval of ``σ_ours / σ_ref`` from sample standard
    deviations.

    Two samples (``n_ours`` >= 2): the F interval ``r / sqrt(F(1-α)), r / sqrt(F(α))`` with
    ``r = s_ours / s_ref`` and F on ``(n_ours - 1, n_ref - 1)`` degrees of freedom. Our side
    exact (``n_ours`` None: ``s_ours`` is σ_ours itself): the chi-square interval of σ_ref,
    ``(n_ref - 1)·s_ref² / χ²``, turned into the ratio. A zero std gives a ratio of 0 or
    infinity (both zero: exactly 1).
    """
    if s_ours < 0 or s_ref < 0:
        raise ValueError(f"standard deviations must be >= 0, got {s_ours}, {s_ref}")
    if not isinstance(n_ref, int) or n_ref < 2:
        raise ValueError(f"the reference spread needs n >= 2 repetitions, got {n_ref!r}")
    if n_ours is not None and (not isinstance(n_ours, int) or n_ours < 2):
        raise ValueError(f"our spread needs n >= 2 repetitions or none (exact), got {n_ours!r}")
    if s_ours == 0 and s_ref == 0:
        return (1.0, 1.0)
    if s_ref == 0:
        return (math.inf, math.inf)
    r = s_ours / s_ref
    d_ref = n_ref - 1
    if n_ours is None:
        lo_q, hi_q = sps.chi2.ppf(alpha, d_ref), sps.chi2.isf(alpha, d_ref)
        return (r * math.sqrt(lo_q / d_ref), r * math.sqrt(hi_q / d_ref))
    f = sps.f(n_ours - 1, d_ref)
    return (r / math.sqrt(f.isf(alpha)), r / math.sqrt(f.ppf(alpha)))


def sd_ratio_power(n_ours: int | None, n_ref: int, factor: float, alpha: float,
                   true_ratio: float = 1.0) -> tuple[float, float]:
    """(P(*reproduced*), P(*not reproduced*)) of the spread test: the log of the
    :func:`sd_ratio_interval` against ``(-log factor, log factor)`` when ``σ_ours / σ_ref`` is
    ``true_ratio``. Exact under normal samples (F or chi-square)."""
    if true_ratio <= 0 or not math.isfinite(true_ratio):
        raise ValueError(f"the true ratio must be positive and finite, got {true_ratio}")
    d_ref = n_ref - 1
    f2, rho2 = factor * factor, true_ratio * true_ratio
    if n_ours is None:
        # ratio² interval = ρ²·[q_α/X, q_(1-α)/X], X ~ χ²(d_ref)
        x = sps.chi2(d_ref)
        q_lo, q_hi = x.ppf(alpha), x.isf(alpha)
        rep = max(x.cdf(rho2 * q_lo * f2) - x.cdf(rho2 * q_hi / f2), 0.0)
        rej = x.cdf(rho2 * q_lo / f2) + x.sf(rho2 * q_hi * f2)
        return float(rep), float(min(rej, 1.0))
    # ratio² interval = [R/F_hi, R/F_lo], R = ρ²·F, F ~ F(n_ours - 1, d_ref)
    f = sps.f(n_ours - 1, d_ref)
    f_lo, f_hi = f.ppf(alpha), f.isf(alpha)
    rep = max(f.cdf(f_lo * f2 / rho2) - f.cdf(f_hi / (f2 * rho2)), 0.0)
    rej = f.sf(f_hi * f2 / rho2) + f.cdf(f_lo / (f2 * rho2))
    return float(rep), float(min(rej, 1.0))


def _first_count_below(width: Callable[[int], float], half_width: float, lo: int,
                       limit: int) -> int | None:
    """The smallest count k in ``lo..limit`` with ``width(k) < half_width`` (``width`` falls
    with k: bisection), or None when even ``limit`` is too few."""
    if width(limit) >= half_width:
        return None
    if width(lo) < half_width:
        return lo
    hi = limit
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if width(mid) < half_width:
            hi = mid
        else:
            lo = mid
    return hi


def repetitions_to_decide(half_width: float, alpha: float, std: float,
                          fixed_variance: float = 0.0, fixed_df: float = math.inf,
                          now: int | None = None, limit: int = 10**7) -> int | None:
    """The smallest count k of repetitions of a side with spread ``std`` for which the
    ``1 - 2·alpha`` interval's half-width ``t(1 - alpha, df)·sqrt(std²/k + fixed_variance)``
    falls below ``half_width`` (the other side fixed: its variance of the mean and degrees of
    freedom; df by Welch–Satterthwaite). None when no count can (the fixed side alone is too
    wide, or ``std`` is 0) or more than ``limit`` would be needed; at least ``now + 1``.
    """
    if std <= 0 or half_width <= 0:
        return None

    def width(k: int) -> float:
        var = std * std / k
        df = welch_df([(var, k - 1), (fixed_variance, fixed_df)])
        return _quantile(alpha, df) * math.sqrt(var + fixed_variance)

    return _first_count_below(width, half_width, max(2, (now or 1) + 1), limit)


def spread_repetitions_to_decide(half_width: float, alpha: float, n_fixed: int | None,
                                 now: int | None = None, limit: int = 10**7) -> int | None:
    """About how many repetitions bring the log-ratio-of-spreads interval's half-width below
    ``half_width``, the other side's count ``n_fixed`` kept (None: that side exact).

    Uses the large-sample variance ``1 / (2(n - 1))`` of a log sample standard deviation.
    """
    if half_width <= 0:
        return None
    z = float(sps.norm.isf(alpha))
    room = (half_width / z) ** 2 - (0.0 if n_fixed is None else 1 / (2 * (n_fixed - 1)))
    if room <= 0:
        return None
    k = max(2, math.ceil(1 + 1 / (2 * room)), (now or 1) + 1)
    return k if k <= limit else None


def repetitions_each_to_decide(half_width: float, alpha: float, std_a: float, std_b: float,
                               now: int | None = None, limit: int = 10**7) -> int | None:
    """The smallest count k of repetitions on *each* side (spreads ``std_a`` and ``std_b``)
    for which the ``1 - 2·alpha`` interval's half-width falls below ``half_width``."""
    if half_width <= 0 or std_a <= 0 or std_b <= 0:
        return None
    var = std_a * std_a + std_b * std_b

    def width(k: int) -> float:
        df = welch_df([(std_a * std_a / k, k - 1), (std_b * std_b / k, k - 1)])
        return _quantile(alpha, df) * math.sqrt(var / k)

    return _first_count_below(width, half_width, max(2, (now or 1) + 1), limit)
