"""Seed-free estimates of a table-based search protocol (accuracy or score).

Random search is computed exactly (:mod:`harness.exact`); any other algorithm (REA) from
Monte-Carlo runs: batches of :data:`BATCH` runs until the Monte-Carlo standard error of the
expected value is below a tenth of the claim's margin (:func:`mc_target`), at most
:data:`MAX_RUNS` (then the larger Monte-Carlo error is carried in ``se``), and as many runs, of
the same run seeds, under each further scoring realisation. On a proxy with re-scored cells (:mod:`harness.noise`) the estimate is computed
under every scoring realisation found: value = their mean, se = the spread between realisations
over the square root of their number: scoring noise is fresh per repetition,
:mod:`harness.measurement_model`) combined with the Monte-Carlo error. The Estimate: value =
expected value, std = spread of one value, n = the values the published statistic pools (the
claim's repetitions x values per repetition), se = standard error of the value (0 = exact).
The measurement carries the reading's :class:`~harness.measurement_model.MeasurementModel`
(values per repetition, design effect), with which the published row is read.
"""

from __future__ import annotations

import functools
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.context import Context, NotRun
from harness.exact import Discrete, ExactError, best_of_n, sampled_cells, sampling, unselected_cell
from harness.kinds import Measurement
from harness.measurement_model import MeasurementModel, from_runs, without_replacement
from harness.verdicts import Estimate

BATCH = 40
"""Monte-Carlo runs added at a time."""
MAX_RUNS = 120
"""Most Monte-Carlo runs of one protocol under each scoring realisation before refinement (REA by
cell index: 4-6 ms a run of 1,000 cycles, :mod:`tfnas.search.rea_table`), so a claim with its
four readings and six realisations stays within a minute or two."""
MIN_RUNS = 120
"""The fewest Monte-Carlo runs of a first estimate (its spread needs them even when its mean's
error is already below target)."""
REFINE = 2
"""The factor by which a refinement multiplies the Monte-Carlo runs."""
MAX_SCALE = 8
"""The most runs a refined estimate uses: ``MAX_SCALE`` x :data:`MAX_RUNS` (960 REA runs under
each scoring realisation, 5,760 for six: about half a minute), reached only near a verdict
boundary."""
ACCURACY_MARGIN = 1.0
"""The search-accuracy margin of the claims files (percentage points): the target is a tenth."""
SCORE_MARGIN = 0.01
"""The search-score margin (1% of the mean): the target is a tenth of it."""


@dataclass(frozen=True)
class Realised:
    """One scoring realisation's distribution of a repetition's value."""

    seed: int
    dist: Discrete
    dropped: float
    """Probability of a non-finite value, left out (conditioned on a finite one)."""
    mc_se: float
    runs: int | None
    """Monte-Carlo runs (None: exact)."""
    model: MeasurementModel
    """What one repetition is under this reading (values, design effect)."""
    run_moments: np.ndarray | None = None
    """Per Monte-Carlo run, the mean of its finite values and of their squares (runs x 2; None
    when exact): the runs are the independent unit, so the spread's error comes from them."""


def mc_target(quantity: str, mean: float) -> float:
    """The Monte-Carlo standard error to reach: a tenth of the claim kind's margin."""
    return ACCURACY_MARGIN / 10 if quantity == "accuracy" else SCORE_MARGIN / 10 * abs(mean)


def _realisations(proto: Any, ctx: Context, oracle: str
                  ) -> tuple[list[tuple[int, np.ndarray]], dict]:
    """(seed, score column) of every scoring realisation used, and what to record of them."""
    if proto.proxy == oracle:
        col = ctx.accuracy_column(proto.scored_on, proto.metric)
        return [(0, col)], {"seeds": [0], "note": "oracle fitness: no scoring noise"}
    base = ctx.score_column(proto.proxy, proto.scored_on)
    if not ctx.scoring_noise:
        return [(0, base)], {"seeds": [0], "note": "scoring noise off (--no-scoring-noise)"}
    noise = ctx.noise(proxy=proto.proxy, dataset=proto.scored_on)
    if noise is None:
        return [(0, base)], {"seeds": [0], "note": "no re-scored cells for this table: one "
                             "realisation, scoring noise not carried"}
    return [(r.seed, r.scores) for r in noise.realisations], noise.describe()


def _values(proto: Any, ctx: Context, scores: np.ndarray) -> np.ndarray:
    if proto.quantity == "accuracy":
        return ctx.accuracy_column(proto.dataset, proto.metric)
    return scores


def _exact(proto: Any, scores: np.ndarray, values: np.ndarray
           ) -> tuple[Discrete, MeasurementModel]:
    """Random search: the distribution of one value and what one repetition reports."""
    if proto.selection == "best":
        return best_of_n(scores, values, proto.n), MeasurementModel(1.0)
    if proto.selection == "unselected":
        return unselected_cell(scores, values, proto.n), MeasurementModel(1.0)
    finite = int(np.isfinite(values).sum())
    return sampled_cells(values), without_replacement(proto.n, max(finite, proto.n))


def _run_cells(proto: Any, ctx: Context, realisation: int, scores: np.ndarray,
               seed: int, slow: Callable[[], tuple[Any, dict[str, int]]]
               ) -> tuple[np.ndarray, int]:
    """(indices of every evaluated cell in order, index of the kept cell) of one run, kept for
    the session: the readings of a protocol (best, population, all, unselected) and its
    quantities (accuracy, score) read the same runs instead of running them again. REA with a
    cycle budget runs by cell index (:func:`tfnas.search.rea_table.rea_table`: the same cells
    as the algorithm with the table's scorer, several times faster)."""
    from tfnas.search.rea import DEFAULT_CYCLES, DEFAULT_POPULATION, DEFAULT_SAMPLE
    from tfnas.search.rea_table import rea_table
    from tfnas.search.registry import get_algorithm

    key = ("runs", proto.algorithm, json.dumps(dict(proto.params), sort_keys=True), proto.proxy,
           proto.scored_on, getattr(proto, "metric", None) if proto.proxy == "oracle" else None,
           realisation, seed)

    def run() -> tuple[np.ndarray, int]:
        params = dict(proto.params)
        if proto.algorithm == "rea" and params.get("time_budget") is None:
            fast = rea_table(scores, params.get("population", DEFAULT_POPULATION),
                             params.get("sample", DEFAULT_SAMPLE),
                             params.get("cycles", DEFAULT_CYCLES), seed)
            return fast.cells.astype(np.int32), fast.best
        scorer, index = slow()
        trace = get_algorithm(proto.algorithm).run(scorer=scorer, seed=seed, **proto.params)
        order = np.array([index[str(e.arch)] for e in trace.evaluations], dtype=np.int32)
        return order, index[str(trace.best)]

    return ctx.memo("seed-free-runs", key, run)


def _run_values(proto: Any, run: tuple[np.ndarray, int], values: np.ndarray, scores: np.ndarray,
                seed: int) -> np.ndarray:
    """The values one run reports under the protocol's selection (as ``search._selected``)."""
    from tfnas.search.random_search import rank_key

    cells, best = run
    if proto.selection == "best":
        return values[[best]]
    if proto.selection == "population":
        return values[cells[-proto.population:]]
    if proto.selection == "unselected":
        keys = [rank_key(float(v)) for v in scores[cells]]
        keep = keys.index(max(keys))
        others = [c for i, c in enumerate(cells.tolist()) if i != keep]
        return values[[random.Random(seed).choice(others)]] if others else values[[]]
    return values[cells]


def _monte_carlo(proto: Any, ctx: Context, realisation: int, scores: np.ndarray,
                 values: np.ndarray, runs: int | None) -> list[np.ndarray]:
    """The values each run of the algorithm on a table of ``scores`` reports, in run-seed
    order. ``runs`` fixed reuses the same run seeds (common random numbers across
    realisations); None runs batches until :func:`mc_target` or :data:`MAX_RUNS`."""
    from tfnas.search import TableScorer, run_seeds
    from tfnas.spaces import get_space

    @functools.cache
    def slow() -> tuple[Any, dict[str, int]]:
        """The table's scorer and the cell index, once per realisation, for the algorithms
        that are not run by index."""
        cells = get_space("tss").all_cells()
        scorer = TableScorer(dict(zip(cells, scores.tolist(), strict=True)), "table:realisation")
        return scorer, {str(a): i for i, a in enumerate(cells)}

    seeds = run_seeds(ctx.seed_for(proto.seed), runs or MAX_RUNS)
    per_run: list[np.ndarray] = []
    while len(per_run) < len(seeds):
        for s in seeds[len(per_run):len(per_run) + BATCH]:
            run = _run_cells(proto, ctx, realisation, scores, s, slow)
            per_run.append(_run_values(proto, run, values, scores, s))
        # At least MIN_RUNS: the mean's error can vanish (REA returns one cell) while the
        # spread, estimated from few runs, still moves with the seed.
        if (runs is None and len(per_run) >= MIN_RUNS
                and _mc_se(per_run) < mc_target(proto.quantity, _pooled(per_run))):
            break
    return per_run


def from_run_values(seed: int, per_run: list[np.ndarray]) -> Realised:
    """One realisation from its Monte-Carlo runs' values (each run weighs the same): the
    distribution of a value, its mean's Monte-Carlo error, the measurement model from the
    runs' means, and the runs' moments from which the errors of a mixture are computed."""
    flat = np.concatenate(per_run)
    weights = np.concatenate([np.full(v.size, 1.0 / (v.size * len(per_run))) for v in per_run])
    finite, dropped = _finite(Discrete(flat, weights / weights.sum()))
    per = float(np.mean([v.size for v in per_run]))
    moments = _run_moments(per_run)
    return Realised(seed, finite, dropped, _mc_se(per_run), len(per_run), from_runs(moments, per),
                    moments)


def _run_moments(per_run: list[np.ndarray]) -> np.ndarray:
    """(mean, mean of squares) of each run's finite values, in run-seed order (NaN for a run
    without one, so that row i of every realisation is the same run seed)."""
    rows = [(float(np.mean(f)), float(np.mean(f * f))) if f.size else (math.nan, math.nan)
            for f in (v[np.isfinite(v)] for v in per_run)]
    return np.array(rows, dtype=float).reshape(-1, 2)


def _run_means(per_run: list[np.ndarray]) -> np.ndarray:
    return _run_moments(per_run)[:, 0]


def _finite(dist: Discrete) -> tuple[Discrete, float]:
    """The distribution's finite part and the mass dropped; NotRun when nothing is finite."""
    try:
        return dist.finite()
    except ExactError as exc:
        raise NotRun(f"every value the protocol can report is non-finite ({exc})") from exc


def _pooled(per_run: list[np.ndarray]) -> float:
    m = _run_means(per_run)
    return float(np.nanmean(m)) if np.isfinite(m).any() else float("nan")


def _mc_se(per_run: list[np.ndarray]) -> float:
    m = _run_means(per_run)
    m = m[np.isfinite(m)]
    return float(m.std(ddof=1) / np.sqrt(m.size)) if m.size > 1 else float("inf")


def _realise(proto: Any, ctx: Context, seed: int, scores: np.ndarray,
             runs: int | None) -> Realised:
    values = _values(proto, ctx, scores)
    if proto.algorithm != "random":
        return from_run_values(seed, _monte_carlo(proto, ctx, seed, scores, values, runs))
    dist, model = _exact(proto, scores, values)
    finite, dropped = _finite(dist)
    return Realised(seed, finite, dropped, 0.0, None, model)


def mixture(parts: list[Realised]) -> Discrete:
    """The distribution of one repetition's value: the realisations' mixture, equal weights."""
    return Discrete(np.concatenate([p.dist.values for p in parts]),
                    np.concatenate([p.dist.probs for p in parts]) / len(parts))


def standard_error(means: Any, mc: float) -> tuple[float, float | None]:
    """(se, its degrees of freedom) of the mixture's mean over realisations: fresh scoring
    noise, so the realisations' spread over √R (R − 1 degrees of freedom), combined with the
    mixture mean's Monte-Carlo error ``mc`` (known: infinite degrees of freedom) by
    Welch–Satterthwaite. Degrees of freedom None: the error is known (one realisation)."""
    m = np.asarray(means, dtype=float)
    r = m.size
    between = float(m.var(ddof=1)) / r if r > 1 else 0.0
    mc_var = mc * mc
    se = float(np.sqrt(between + mc_var))
    if r < 2 or between == 0.0:
        return se, None
    return se, (between + mc_var) ** 2 / (between**2 / (r - 1))


def crn_variance(parts: list[Realised], per_run: Callable[[np.ndarray], np.ndarray]) -> float:
    """The Monte-Carlo variance of Σ_r w·mean_i f(run i of realisation r) (equal weights w over
    realisations; ``per_run`` maps a realisation's run moments to f per run). Realisations share
    their first run seeds (common random numbers), so the independent unit is the run seed, not
    the realisation: Z_i = Σ_r w·f_ri/runs_r sums seed i over the realisations that ran it, and
    the variance is Σ_i var(Z_i), estimated within each group of seeds run by the same
    realisations. 0 when exact; infinite when a group has one seed."""
    w = 1.0 / len(parts)
    rows = [np.nan_to_num(per_run(p.run_moments)) * w / p.run_moments.shape[0]
            for p in parts if p.run_moments is not None]
    if not rows:
        return 0.0
    longest = max(r.size for r in rows)
    z, cover = np.zeros(longest), np.zeros(longest, dtype=int)
    for r in rows:
        z[:r.size] += r
        cover[:r.size] += 1
    total = 0.0
    for k in np.unique(cover):
        group = z[cover == k]
        if group.size < 2:
            return math.inf
        total += group.size * float(np.var(group, ddof=1))
    return total


def mean_error(parts: list[Realised]) -> float:
    """The Monte-Carlo standard error of the mixture's mean (0 when exact)."""
    return math.sqrt(crn_variance(parts, lambda m: m[:, 0]))


def spread_error(parts: list[Realised]) -> float:
    """The relative Monte-Carlo error of the mixture's spread σ (0 when exact), by the delta
    method over the run seeds: σ² = Σ_r w·E_r[x²] − μ² with E_r the mean over realisation r's
    runs, so δσ² = Σ_r w·mean_i (δa_ri − 2μ·δb_ri) (a, b: a run's mean square and mean), whose
    variance is :func:`crn_variance`; the relative error of σ is √var(σ²) / 2σ². No assumption
    on how a run's values correlate or on their kurtosis (with one value per run and one
    realisation it is √((κ − 1)/4n))."""
    w = 1.0 / len(parts)
    mu = w * sum(p.dist.mean for p in parts)
    var2 = w * sum(p.dist.std ** 2 + p.dist.mean ** 2 for p in parts) - mu * mu
    if not var2 > 0:
        return 0.0
    return math.sqrt(crn_variance(parts, lambda m: m[:, 1] - 2.0 * mu * m[:, 0])) / (2.0 * var2)


def se_error(parts: list[Realised], se: float) -> float:
    """The relative Monte-Carlo error of ``se`` (:func:`standard_error`): se² = B/R + mc² with B
    the variance of the R realisations' means m = μ + e, whose Monte-Carlo errors e share run
    seeds (covariance C, from the runs' means seed by seed). With H the centring matrix,
    B = mᵀHm/(R − 1) and var B = (4·μᵀHCHμ + 2·tr((HC)²))/(R − 1)² for Gaussian e: the first
    term dominates when the realisations differ by more than their errors, the second when
    they do not. mc² is a variance over n run seeds of their mean over realisations, whose
    own relative variance is (κ − 1)/n (κ its kurtosis). The relative error of se is
    √(var B/R² + var mc²) / (2·se²) (the two taken as independent); 0 when exact or with one
    realisation. The interval's width is itself a Monte-Carlo estimate: a verdict is refined
    while a move of the width within this error would change it."""
    moments = [p.run_moments for p in parts if p.run_moments is not None]
    r = len(parts)
    if r < 2 or not se > 0 or len(moments) < r:
        return 0.0
    runs = min(m.shape[0] for m in moments)
    if runs < 2:
        return math.inf
    x = np.nan_to_num(np.stack([m[:runs, 0] for m in moments], axis=1))
    c = np.cov(x, rowvar=False) / runs
    h = np.eye(r) - 1.0 / r
    d = h @ np.array([p.dist.mean for p in parts])
    hc = h @ c
    var_b = (4.0 * d @ c @ d + 2.0 * float(np.trace(hc @ hc))) / (r - 1) ** 2
    z = x.mean(axis=1)
    zc = z - z.mean()
    mc2 = float(np.mean(zc * zc)) / runs
    kurtosis = float(np.mean(zc**4) / np.mean(zc * zc) ** 2) if mc2 > 0 else 1.0
    var_mc2 = mc2 * mc2 * max(kurtosis - 1.0, 0.0) / runs
    return math.sqrt(max(var_b / (r * r) + var_mc2, 0.0)) / (2.0 * se * se)


TOP_CELLS = 10
"""Cells recorded near the top of the ranking (score, accuracy, noise, chance of being kept)."""


def _top_cells(proto: Any, ctx: Context, columns: list[tuple[int, np.ndarray]]
               ) -> list[dict[str, Any]]:
    """The best cells of the committed ranking: score, accuracy, score sd between realisations,
    and (random search, best) the probability that a repetition keeps each."""
    from harness.exact import rank_keys, win_probabilities
    from tfnas.spaces import get_space

    cols = np.stack([c for _, c in columns])
    acc = ctx.accuracy_column(proto.dataset, proto.metric)
    top = np.argsort(-rank_keys(cols[0]), kind="stable")[:TOP_CELLS]
    wins = None
    if proto.algorithm == "random" and proto.selection == "best":
        wins = np.mean([win_probabilities(c, proto.n)[top] for c in cols], axis=0)
    out = []
    for j, i in enumerate(top):
        row: dict[str, Any] = {"cell": str(get_space("tss").arch_at(int(i))), "index": int(i),
                               "score": float(cols[0, i]), "accuracy": float(acc[i])}
        if cols.shape[0] > 1 and np.isfinite(cols[:, i]).all():
            row["score_sd"] = float(cols[:, i].std(ddof=1))
        if wins is not None:
            row["wins"] = float(min(1.0, wins[j]))
        out.append(row)
    return out


def _predicted(pred: dict[str, Any], model: MeasurementModel) -> dict[str, Any]:
    """The simulated sampling distribution (independent values) with the mean's spread widened
    by the reading's design effect (correlated values within a repetition)."""
    if model.design_effect == 1.0:
        return pred
    scale = float(np.sqrt(model.design_effect))
    m = dict(pred["mean"])
    mu = m["mean"]
    pred["mean"] = {k: v if k == "mean" else v * scale if k == "sd" else mu + (v - mu) * scale
                    for k, v in m.items()}
    return pred


def _details(proto: Any, ctx: Context, parts: list[Realised], mix: Discrete, n: int,
             noted: dict, columns: list[tuple[int, np.ndarray]]) -> dict[str, Any]:
    reps = ctx.repetitions or proto.repetitions
    rng = np.random.default_rng(ctx.seed_for(proto.seed))
    sims = max(500, min(20_000, 4_000_000 // n))
    runs = parts[0].runs
    scores = columns[0][1]
    nonfinite = int((~np.isfinite(scores)).sum())
    return {
        "method": "exact" if runs is None else f"Monte-Carlo {runs} runs",
        "expected": mix.mean, "std_one_repetition": mix.std,
        "predicted": _predicted(sampling(mix, n, rng, sims).to_dict(), parts[0].model),
        "cells": {"used": int(scores.size), "left_out": 0, "nonfinite_scores": nonfinite,
                  "why": ("none left out: non-finite scores ranked last, as random search does"
                          if nonfinite else "every cell has a finite score"),
                  "nonfinite_value_probability": [p.dropped for p in parts]},
        "scoring_noise": noted,
        "realisations": [{"seed": p.seed, "value": p.dist.mean, "std": p.dist.std,
                          "mc_se": p.mc_se} for p in parts],
        "top_cells": _top_cells(proto, ctx, columns),
        "master_seed": ctx.seed_for(proto.seed), "repetitions": reps,
        "max": float(mix.values.max()), "n_values": n,
    }


def seed_free(proto: Any, ctx: Context, details: Callable[[dict], Any], oracle: str,
              scale: int = 1) -> Measurement:
    """The seed-free estimate of a table-based search protocol (memoised on ``ctx``).

    ``details`` makes the measurement's details record of the fields this module computes, and
    ``oracle`` is the proxy name that means the accuracy oracle: both the search kind's
    (:mod:`harness.kinds.search` passes them, so this helper never imports it). A Monte-Carlo
    estimate carries its error (``mc_se``) and a ``refine`` step: ``scale`` times
    :data:`REFINE` more runs (the first runs are the same seeds, kept on ``ctx``), up to
    :data:`MAX_SCALE` — the evaluation refines while a verdict boundary lies within the error."""
    def estimate() -> Measurement:
        columns, noted = _realisations(proto, ctx, oracle)
        first = _realise(proto, ctx, *columns[0], runs=None if scale == 1 else MAX_RUNS * scale)
        # Every realisation runs the first one's run seeds (common random numbers), all of them:
        # a search that nearly always returns one cell misses it rarely (REA: one run in tens),
        # and a realisation's mean from a few runs would show the miss under one master seed
        # and not under another, moving the spread between realisations, hence the interval.
        parts = [first] + [_realise(proto, ctx, s, c, first.runs) for s, c in columns[1:]]
        mix = mixture(parts)
        n = max(1, round((ctx.repetitions or proto.repetitions) * first.model.per_repetition))
        mc = mean_error(parts)
        se, se_df = standard_error([p.dist.mean for p in parts], mc)
        se_mc = se_error(parts, se)
        record = _details(proto, ctx, parts, mix, n, noted, columns)
        record["se_df"] = se_df
        record["model"] = first.model.to_dict()
        record["mc_se"] = mc
        record["spread_mc"] = spread = spread_error(parts)
        finer = scale * REFINE
        refine = (None if first.runs is None or finer > MAX_SCALE else
                  lambda: seed_free(proto, ctx, details, oracle, finer))
        # Random search's spread is the exact distribution's (chi-square on the published side);
        # a Monte-Carlo spread is estimated from the runs and judged as a sample of the
        # published statistic's n values (F): conservative, and no spread verdict then hangs
        # on the Monte-Carlo runs, hence on the master seed.
        return Measurement(Estimate(mix.mean, mix.std, n, se=se, se_df=se_df,
                                    spread_exact=first.runs is None),
                           details(record), model=first.model, mc_se=mc, refine=refine,
                           spread_mc=spread, se_mc=se_mc)

    return ctx.memo("seed-free", (ctx.run_key(proto), scale), estimate)
