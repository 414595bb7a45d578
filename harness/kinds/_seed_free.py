"""Seed-free estimates of a table-based search protocol (accuracy or score).

Random search is computed exactly (:mod:`harness.exact`); any other algorithm (REA) from
Monte-Carlo runs: batches of :data:`BATCH` runs until the Monte-Carlo standard error of the
expected value is below a tenth of the claim's margin (:func:`mc_target`), at most
:data:`MAX_RUNS` (then the larger Monte-Carlo error is carried in ``se``), and
:data:`NOISE_RUNS` under each further scoring realisation. On a proxy with re-scored cells (:mod:`harness.noise`) the estimate is computed
under every scoring realisation found: value = their mean, se = the spread between realisations
(one realisation's, ddof=1) combined with the Monte-Carlo error. The Estimate: value = expected
value, std = spread of one repetition, n = the values the published statistic pools (the
claim's repetitions x values per repetition), se = standard error of the value (0 = exact).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.context import Context, NotRun
from harness.exact import Discrete, ExactError, best_of_n, sampled_cells, sampling, unselected_cell
from harness.kinds import Measurement
from harness.verdicts import Estimate

BATCH = 40
"""Monte-Carlo runs added at a time."""
MAX_RUNS = 120
"""Most Monte-Carlo runs of one protocol under the committed table (REA on tables: ~35 ms a run
of 1,000 cycles, measured under load), so a claim with its four readings stays within minutes."""
NOISE_RUNS = 20
"""Runs under each further scoring realisation: the first ones of the same run seeds (common
random numbers), enough to see a realisation's shift; their Monte-Carlo error is carried."""
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
    per_run: float
    """Values one repetition reports (1 for best and unselected)."""


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


def _exact(proto: Any, scores: np.ndarray, values: np.ndarray) -> tuple[Discrete, float]:
    """Random search: the distribution of one repetition's value and the values it reports."""
    if proto.selection == "best":
        return best_of_n(scores, values, proto.n), 1.0
    if proto.selection == "unselected":
        return unselected_cell(scores, values, proto.n), 1.0
    return sampled_cells(values), float(proto.n)


def _run_cells(proto: Any, ctx: Context, realisation: int, scorer: Any, index: dict[str, int],
               seed: int) -> tuple[np.ndarray, int]:
    """(indices of every evaluated cell in order, index of the kept cell) of one run, kept for
    the session: the readings of a protocol (best, population, all, unselected) and its
    quantities (accuracy, score) read the same runs instead of running them again."""
    from tfnas.search.registry import get_algorithm

    key = ("runs", proto.algorithm, json.dumps(dict(proto.params), sort_keys=True), proto.proxy,
           proto.scored_on, getattr(proto, "metric", None) if proto.proxy == "oracle" else None,
           realisation, seed)

    def run() -> tuple[np.ndarray, int]:
        trace = get_algorithm(proto.algorithm).run(scorer=scorer, seed=seed, **proto.params)
        cells = np.array([index[str(e.arch)] for e in trace.evaluations], dtype=np.int32)
        return cells, index[str(trace.best)]

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
                 values: np.ndarray, runs: int | None) -> tuple[Discrete, float, int, float]:
    """Runs of the algorithm on a table of ``scores``: (distribution, MC se, runs, values per
    run). ``runs`` fixed reuses the same run seeds (common random numbers across
    realisations); None runs batches until :func:`mc_target` or :data:`MAX_RUNS`."""
    from tfnas.search import TableScorer, run_seeds
    from tfnas.spaces import get_space

    cells = get_space("tss").all_cells()
    scorer = TableScorer(dict(zip(cells, scores.tolist(), strict=True)), "table:realisation")
    index = {str(a): i for i, a in enumerate(cells)}
    seeds = run_seeds(ctx.seed_for(proto.seed), runs or MAX_RUNS)
    per_run: list[np.ndarray] = []
    while len(per_run) < len(seeds):
        for s in seeds[len(per_run):len(per_run) + BATCH]:
            run = _run_cells(proto, ctx, realisation, scorer, index, s)
            per_run.append(_run_values(proto, run, values, scores, s))
        if runs is None and _mc_se(per_run) < mc_target(proto.quantity, _pooled(per_run)):
            break
    flat = np.concatenate(per_run)
    weights = np.concatenate([np.full(v.size, 1.0 / (v.size * len(per_run))) for v in per_run])
    return (Discrete(flat, weights / weights.sum()), _mc_se(per_run), len(per_run),
            float(np.mean([v.size for v in per_run])))


def _run_means(per_run: list[np.ndarray]) -> np.ndarray:
    return np.array([np.mean(v[np.isfinite(v)]) if np.isfinite(v).any() else np.nan
                     for v in per_run])


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
    if proto.algorithm == "random":
        dist, per = _exact(proto, scores, values)
        mc, used = 0.0, None
    else:
        dist, mc, used, per = _monte_carlo(proto, ctx, seed, scores, values, runs)
    try:
        finite, dropped = dist.finite()
    except ExactError as exc:
        raise NotRun(f"every value the protocol can report is non-finite ({exc})") from exc
    return Realised(seed, finite, dropped, mc, used, per)


def _mixture(parts: list[Realised]) -> Discrete:
    return Discrete(np.concatenate([p.dist.values for p in parts]),
                    np.concatenate([p.dist.probs for p in parts]) / len(parts))


def _standard_error(parts: list[Realised]) -> float:
    means = np.array([p.dist.mean for p in parts])
    between = float(means.std(ddof=1)) if means.size > 1 else 0.0
    mc = float(np.sqrt(np.mean([p.mc_se**2 for p in parts])))
    return float(np.hypot(between, mc))


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
        "predicted": sampling(mix, n, rng, sims).to_dict(),
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


def seed_free(proto: Any, ctx: Context, details: Callable[[dict], Any], oracle: str
              ) -> Measurement:
    """The seed-free estimate of a table-based search protocol (memoised on ``ctx``).

    ``details`` makes the measurement's details record of the fields this module computes, and
    ``oracle`` is the proxy name that means the accuracy oracle: both the search kind's
    (:mod:`harness.kinds.search` passes them, so this helper never imports it)."""
    def estimate() -> Measurement:
        columns, noted = _realisations(proto, ctx, oracle)
        first = _realise(proto, ctx, *columns[0], runs=None)
        again = None if first.runs is None else min(first.runs, NOISE_RUNS)
        parts = [first] + [_realise(proto, ctx, s, c, again) for s, c in columns[1:]]
        mix = _mixture(parts)
        n = max(1, round((ctx.repetitions or proto.repetitions) * first.per_run))
        return Measurement(Estimate(mix.mean, mix.std, n, se=_standard_error(parts)),
                           details(_details(proto, ctx, parts, mix, n, noted, columns)))

    return ctx.memo("seed-free", ctx.run_key(proto), estimate)
