"""Statistics the verdicts rest on: intervals of a difference and of a ratio of spreads, the
three-way decision, its power, and the repetitions that would decide it; Welch's test,
correlation coefficients and bootstrap intervals.

Every random draw comes from an explicit ``numpy.random.Generator`` passed in by the caller.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special
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



def upper_quantile(alpha: float, df: float) -> float:
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
    half = upper_quantile(alpha, df) * se
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


QUADRATURE_NODES = 64
"""Gauss–Legendre nodes per estimated variance the power integrals run over (see
:func:`_chi_nodes`): their error is far below a Monte-Carlo check's."""
_HUGE_DF = 1e7
"""Degrees of freedom beyond which an estimated variance is taken as known (its chi-square
factor is within 0.1% of 1)."""


@functools.cache
def _gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre nodes and weights on (0, 1) (computed once per count)."""
    t, w = np.polynomial.legendre.leggauss(n)
    return (t + 1) / 2, w / 2


def _random(var: float, df: float) -> bool:
    return var > 0 and math.isfinite(df) and df < _HUGE_DF


_TAIL = 1e-13
"""Probability left out in each tail of a chi-square the quadrature runs over."""


def _chi_nodes(df: float, lo: np.ndarray | float = 0.0, hi: np.ndarray | float = math.inf,
               nodes: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre nodes for an expectation over X/df, X chi-square on ``df``, restricted to
    ``lo <= X/df <= hi`` (arrays broadcast: one row per outer point): (the factors X/df, their
    weights). The nodes run over v = X**(1/4), whose density (∝ v**(2·df - 1)·exp(-v**4 / 2))
    is smooth at 0 even for df near 1, where the t tails come from, within the central
    1 - 2e-13 of X."""
    n = nodes or QUADRATURE_NODES
    t, w = _gauss_legendre(n)
    floor = math.sqrt(float(sps.chi.ppf(_TAIL, df)))
    ceil = math.sqrt(float(sps.chi.isf(_TAIL, df)))
    a = np.clip(np.sqrt(np.sqrt(np.asarray(lo, dtype=float) * df)), floor, ceil)[..., None]
    b = np.clip(np.sqrt(np.sqrt(np.asarray(hi, dtype=float) * df)), floor, ceil)[..., None]
    span = np.maximum(b - a, 0.0)
    v = a + span * t
    y = v * v
    return y * y / df, span * w * sps.chi.pdf(y, df) * 2 * v


def _decisions(parts: Sequence[tuple[float, float]], factors: Sequence[np.ndarray | float],
               alpha: float, true_difference: float, margin: float | None,
               bound: float | None) -> tuple[np.ndarray, np.ndarray]:
    """(P(reproduced), P(not reproduced)) of the interval decision given the realised variance
    estimates ``var_i · factor_i`` (arrays broadcast): the estimate is normal around the true
    difference with the true variance, the interval ``d ± t(1 - alpha, df)·se_hat`` with df by
    Welch–Satterthwaite over the realised parts, as the rules compute it."""
    sigma = math.sqrt(sum(v for v, _ in parts))
    if sigma == 0:  # the difference is known exactly: the decision is certain
        if margin is not None:
            return (np.asarray(float(abs(true_difference) < margin)),
                    np.asarray(float(abs(true_difference) > margin)))
        return (np.asarray(float(true_difference > bound)),
                np.asarray(float(true_difference < bound)))
    est = [v * np.asarray(f, dtype=float) for (v, _), f in zip(parts, factors, strict=True)]
    total = sum(est)
    terms = sum(e * e / df for e, (_, df) in zip(est, parts, strict=True)
                if math.isfinite(df) and df > 0)
    terms = np.broadcast_to(np.asarray(terms, dtype=float), np.shape(total))
    df = np.where(terms > 0, total * total / np.where(terms > 0, terms, 1.0), np.inf)
    q = np.where(np.isinf(df), sps.norm.isf(alpha),
                 special.stdtrit(np.where(np.isinf(df), 1.0, df), 1 - alpha))
    c = q * np.sqrt(total)
    z = sps.norm
    if margin is not None:
        rep = np.maximum(z.cdf((margin - c - true_difference) / sigma)
                         - z.cdf((-margin + c - true_difference) / sigma), 0.0)
        rep = np.where(c < margin, rep, 0.0)
        rej = (z.sf((margin + c - true_difference) / sigma)
               + z.cdf((-margin - c - true_difference) / sigma))
    else:
        assert bound is not None
        rep = z.sf((bound + c - true_difference) / sigma)
        rej = z.cdf((bound - c - true_difference) / sigma)
    return rep, rej


def _grid(dfs: Sequence[float]) -> tuple[list[np.ndarray], np.ndarray]:
    """A tensor grid over independent chi-square factors X/df (one per ``dfs``): the factors at
    each point (flat arrays) and the points' weights."""
    if not dfs:
        return [], np.ones(1)
    axes = [(x, w / w.sum()) for x, w in (_chi_nodes(df) for df in dfs)]  # weights sum to 1
    xs = np.meshgrid(*(x for x, _ in axes), indexing="ij")
    weights = np.ones_like(xs[0])
    for m in np.meshgrid(*(w for _, w in axes), indexing="ij"):
        weights = weights * m
    return [x.ravel() for x in xs], weights.ravel()


def _check(alpha: float, parts: Sequence[tuple[float, float]]) -> None:
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha}")
    for v, df in parts:
        if not (v >= 0 and math.isfinite(v)) or not df > 0:
            raise ValueError(f"a variance must be finite and >= 0 with df > 0, got {v}, {df}")


def difference_power(parts: Sequence[tuple[float, float]], alpha: float, true_difference: float,
                     *, margin: float | None = None,
                     bound: float | None = None) -> tuple[float, float]:
    """(P(*reproduced*), P(*not reproduced*)) of the interval decision at a true difference.

    ``parts``: (variance, degrees of freedom) of each side's contribution, taken as the true
    variances; a part with finite degrees of freedom is estimated, ``variance · X/df`` with X
    chi-square on df, independent of the normal estimate (a sample variance), and the interval
    uses the Welch–Satterthwaite df of the realised parts, as the rules do. Against
    ``(-margin, margin)`` (:func:`three_way`) or 'above ``bound``' (:func:`one_sided`). Exact for
    one estimated part (a one-sample t decision); for two it integrates the same Welch
    interval the rule computes (exact for normal samples). Gauss–Legendre over each estimated
    part's chi-square (:data:`QUADRATURE_NODES`).
    """
    if (margin is None) == (bound is None):
        raise ValueError("give exactly one of margin (two-sided) and bound (one-sided)")
    _check(alpha, parts)
    parts = [(float(v), float(df)) for v, df in parts]
    if sum(v for v, _ in parts) == 0:
        if margin is not None:
            return float(abs(true_difference) < margin), float(abs(true_difference) > margin)
        return float(true_difference > bound), float(true_difference < bound)
    rand = [i for i, (v, df) in enumerate(parts) if _random(v, df)]
    xs, w = _grid([parts[i][1] for i in rand])
    factors: list[np.ndarray | float] = [1.0] * len(parts)
    for i, x in zip(rand, xs, strict=True):
        factors[i] = x
    fixed = [(v, df if i in rand else math.inf) for i, (v, df) in enumerate(parts)]
    rep, rej = _decisions(fixed, factors, alpha, true_difference, margin, bound)
    return (float(min(max(np.sum(w * rep), 0.0), 1.0)),
            float(min(max(np.sum(w * rej), 0.0), 1.0)))


def tost_power(se: float, df: float, margin: float, alpha: float,
               true_difference: float = 0.0) -> float:
    """P(*reproduced*): the probability that the ``1 - 2·alpha`` interval falls inside
    ``(-margin, margin)`` when the true difference is ``true_difference``, the standard error
    ``se`` estimated on ``df`` degrees of freedom (:func:`difference_power`; ``df`` infinite:
    known). ``se == 0``: 1 or 0."""
    return difference_power([(se * se, df)], alpha, true_difference, margin=margin)[0]


def rejection_power(se: float, df: float, margin: float, alpha: float,
                    true_difference: float) -> float:
    """P(*not reproduced*): the probability that the ``1 - 2·alpha`` interval falls wholly
    outside ``[-margin, margin]`` at the true difference (as :func:`tost_power`)."""
    return difference_power([(se * se, df)], alpha, true_difference, margin=margin)[1]


def one_sided_power(se: float, df: float, bound: float, alpha: float,
                    true_difference: float) -> tuple[float, float]:
    """(P(*reproduced*), P(*not reproduced*)) of :func:`one_sided` at the true difference (as
    :func:`tost_power`)."""
    return difference_power([(se * se, df)], alpha, true_difference, bound=bound)


def _ratio_interval_factors(n_ours: int | None, n_ref: int, alpha: float) -> tuple[float, float]:
    """(a_lo, a_hi): the :func:`sd_ratio_interval` of σ_ours²/σ_ref² is ``R·[a_lo, a_hi]``
    with R the observed ratio of variances."""
    d_ref = n_ref - 1
    if n_ours is None:
        return (float(sps.chi2.ppf(alpha, d_ref)) / d_ref,
                float(sps.chi2.isf(alpha, d_ref)) / d_ref)
    d_ours = n_ours - 1
    return (1 / float(sps.f.isf(alpha, d_ours, d_ref)),
            1 / float(sps.f.ppf(alpha, d_ours, d_ref)))


@dataclass(frozen=True)
class SpreadTest:
    """The spread part of a ``distribution`` decision, for :func:`distribution_power`."""

    n_ours: int | None
    """Our repetitions (F on ``n_ours - 1``), None when our spread is exact (chi-square)."""
    n_ref: int
    factor: float
    ours_part: int | None = None
    """Which mean part's variance estimate is our sample variance (the same draws), if any."""
    ref_part: int | None = None
    """Which mean part's variance estimate is the reference's sample variance, if any."""


def distribution_power(parts: Sequence[tuple[float, float]], spread: SpreadTest, alpha: float,
                       margin: float, true_difference: float,
                       true_ratio: float) -> tuple[float, float]:
    """(P(*reproduced*), P(*not reproduced*)) of a ``distribution`` decision: the mean part
    (:func:`difference_power`, against ±margin) and the spread part (:func:`sd_ratio_interval`
    against ``(1/factor, factor)``) at a true difference and a true ratio σ_ours/σ_ref: our σ is
    the one off by the ratio, so a mean part whose variance is our sample variance
    (``spread.ours_part``) grows by ``true_ratio²``; ``parts`` are the variances at ratio 1.

    Reproduced needs both parts, not reproduced either. The two parts share the sample
    variances (the mean's interval width is made of them), so they are not independent: the
    probability is integrated over the sample variances — the reference's innermost, over the
    range where the spread part is reproduced (resp. not rejected), so the quadrature never
    crosses the spread's decision edges. Exact for normal samples.
    """
    _check(alpha, parts)
    if true_ratio <= 0 or not math.isfinite(true_ratio):
        raise ValueError(f"the true ratio must be positive and finite, got {true_ratio}")
    parts = [(float(v), float(df)) for v, df in parts]
    if spread.ours_part is not None:  # our spread is off by the true ratio: so is our mean's
        v, df = parts[spread.ours_part]
        parts[spread.ours_part] = (v * true_ratio * true_ratio, df)
    d_ref = spread.n_ref - 1
    spread_rej = sd_ratio_power(spread.n_ours, spread.n_ref, spread.factor, alpha, true_ratio)[1]
    # the chi-square factors: [ours' spread (if sampled)], the mean parts' own, then the ref's
    outer: list[float] = []
    ours_dim = None
    if spread.n_ours is not None:
        ours_dim = len(outer)
        outer.append(float(spread.n_ours - 1))
    own = {i: len(outer) + k for k, i in enumerate(
        i for i, (v, df) in enumerate(parts)
        if _random(v, df) and i not in (spread.ours_part, spread.ref_part))}
    outer += [parts[i][1] for i in own]
    xs, w_out = _grid(outer)
    x_ours = xs[ours_dim] if ours_dim is not None else np.ones_like(w_out)
    a_lo, a_hi = _ratio_interval_factors(spread.n_ours, spread.n_ref, alpha)
    f2, rho2 = spread.factor ** 2, true_ratio ** 2

    def over(lo_k: float, hi_k: float) -> tuple[np.ndarray, np.ndarray]:
        """The reference's variance factor on nodes over ``rho2·x_ours·[lo_k, hi_k]`` (one row
        per outer point), and their weights (times the outer ones)."""
        x, w = _chi_nodes(float(d_ref), rho2 * x_ours * lo_k, rho2 * x_ours * hi_k)
        return x, w * w_out[:, None]

    def factors_at(x_ref: np.ndarray) -> list[np.ndarray | float]:
        out: list[np.ndarray | float] = []
        for i in range(len(parts)):
            if i == spread.ref_part:
                out.append(x_ref)
            elif i == spread.ours_part and ours_dim is not None:
                out.append(x_ours[:, None])
            elif i in own:
                out.append(xs[own[i]][:, None])
            else:
                out.append(1.0)
        return out

    fixed = [(v, df if (i in own or i in (spread.ours_part, spread.ref_part)) else math.inf)
             for i, (v, df) in enumerate(parts)]
    # reproduced: the spread is inside when R = rho2·x_ours/x_ref lies in (1/(a_lo f2), f2/a_hi)
    x_ref, w = over(a_hi / f2, a_lo * f2)
    rep = float(np.sum(w * _decisions(fixed, factors_at(x_ref), alpha, true_difference,
                                      margin, None)[0]))
    # not reproduced: the spread is rejected, or it is not and the mean is
    x_ref, w = over(a_lo / f2, a_hi * f2)
    rej = spread_rej + float(np.sum(w * _decisions(fixed, factors_at(x_ref), alpha,
                                                   true_difference, margin, None)[1]))
    return min(max(rep, 0.0), 1.0), min(max(rej, 0.0), 1.0)


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
    d_ours = n_ours - 1  # scipy's functions, not a frozen distribution: ~100x cheaper a call
    return (r / math.sqrt(sps.f.isf(alpha, d_ours, d_ref)),
            r / math.sqrt(sps.f.ppf(alpha, d_ours, d_ref)))


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
        q_lo, q_hi = sps.chi2.ppf(alpha, d_ref), sps.chi2.isf(alpha, d_ref)
        rep = max(sps.chi2.cdf(rho2 * q_lo * f2, d_ref) - sps.chi2.cdf(rho2 * q_hi / f2, d_ref),
                  0.0)
        rej = sps.chi2.cdf(rho2 * q_lo / f2, d_ref) + sps.chi2.sf(rho2 * q_hi * f2, d_ref)
        return float(rep), float(min(rej, 1.0))
    # ratio² interval = [R/F_hi, R/F_lo], R = ρ²·F, F ~ F(n_ours - 1, d_ref)
    d_ours = n_ours - 1
    f_lo, f_hi = sps.f.ppf(alpha, d_ours, d_ref), sps.f.isf(alpha, d_ours, d_ref)
    rep = max(sps.f.cdf(f_lo * f2 / rho2, d_ours, d_ref)
              - sps.f.cdf(f_hi / (f2 * rho2), d_ours, d_ref), 0.0)
    rej = sps.f.sf(f_hi * f2 / rho2, d_ours, d_ref) + sps.f.cdf(f_lo / (f2 * rho2), d_ours, d_ref)
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
        return upper_quantile(alpha, df) * math.sqrt(var + fixed_variance)

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
        return upper_quantile(alpha, df) * math.sqrt(var / k)

    return _first_count_below(width, half_width, max(2, (now or 1) + 1), limit)
