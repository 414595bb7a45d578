"""Measure a claim with tfnas: run its protocol (and each alternative reading) and judge it.

The measured step (the searches, or the correlation over the space) is a plain callable so the
benchmark fixture can time it. Anything the measurement needs that is not there (a score table,
a cell missing from a partial table) raises :class:`NotRun` with the reason; nothing is skipped
silently. So does any :class:`~tfnas.errors.TfnasError` raised while reading the inputs (a
corrupt or nonsensical table or accuracy file): the claim is *not run*, with the one-line reason.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.registry import Alternative, Claim
from harness.stats import bootstrap_correlation_ci, correlation, summarise
from harness.verdicts import ERROR, NOT_RUN, Estimate, judge, status_of
from tfnas.errors import TfnasError, one_line, shown

SCORE_SOURCES = ("tables", "live")
SCATTER_POINTS = 1500
MAX_REPETITIONS = 10_000
"""Most repetitions ``--repetitions`` may ask for: the registry's largest protocol uses 500."""
MAX_BOOTSTRAP = 100_000
"""Most bootstrap resamples: 200 is the default; beyond 100,000 the interval no longer moves."""
MIN_PAIRS = 3
"""Fewest finite (score, accuracy) pairs a correlation is computed from."""


class NotRun(Exception):  # noqa: N818 - an outcome, not an error
    """The claim cannot be measured here; the message is the reason."""


class OptionError(TfnasError, ValueError):
    """A harness run setting (score source, repetitions, bootstrap) is out of range."""


@dataclass
class Context:
    """Settings of one harness run and the data it loads once (tables, accuracy columns)."""

    score_source: str = "tables"
    tables_root: Path | None = None
    repetitions: int | None = None
    bootstrap: int = 200
    store_path: Path | None = None
    _tables: dict[tuple[str, str], Any] = field(default_factory=dict)
    _columns: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    _timed: dict[str, list[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.score_source not in SCORE_SOURCES:
            raise OptionError(f"score source must be one of {SCORE_SOURCES}, "
                              f"got {shown(self.score_source)}")
        if self.repetitions is not None and not 1 <= self.repetitions <= MAX_REPETITIONS:
            raise OptionError(f"repetitions must be in 1..{MAX_REPETITIONS} (the registry's "
                              f"largest protocol uses 500), got {shown(self.repetitions)}")
        if not 1 <= self.bootstrap <= MAX_BOOTSTRAP:
            raise OptionError(f"bootstrap resamples must be in 1..{MAX_BOOTSTRAP} (beyond that "
                              f"the interval no longer moves), got {shown(self.bootstrap)}")

    def accuracy_column(self, dataset: str, metric: str) -> np.ndarray:
        """Accuracy of every cell in index order: 12-epoch validation or 200-epoch test."""
        key = (dataset, metric)
        if key not in self._columns:
            from tfnas.oracles import default_oracle, valid_dataset

            oracle = default_oracle()
            if metric == "valid12":
                col = oracle.column(valid_dataset(dataset), 12, "valid")
            else:
                col = oracle.column(dataset, 200, "test")
            self._columns[key] = np.asarray(col, dtype=float)
        return self._columns[key]

    def table(self, proxy: str, dataset: str) -> Any:
        """The full-space score table, or :class:`NotRun` saying why there is none."""
        key = (proxy, dataset)
        if key not in self._tables:
            from tfnas.tables import TableError, TableNotFoundError, load_table

            try:
                self._tables[key] = load_table(proxy, dataset, root=self.tables_root)
            except TableNotFoundError as exc:
                raise NotRun(f"no score table for {proxy}/{dataset}: {exc}") from exc
            except TableError as exc:
                raise NotRun(f"score table {proxy}/{dataset} unusable: {exc}") from exc
        return self._tables[key]

    def scorer(self, proxy: str, dataset: str, live: bool = False) -> Any:
        """A table scorer, or a live proxy scorer (always live for timing claims)."""
        from tfnas.search import ProxyScorer, TableScorer

        if live or self.score_source == "live":
            store = None
            if self.store_path is not None and not live:
                from tfnas.store import ScoreStore

                store = ScoreStore(self.store_path)
            return ProxyScorer(proxy, dataset, store=store)
        table = self.table(proxy, dataset)
        return TableScorer(table.scores, f"table:{proxy}/{dataset}")


@dataclass
class Measurement:
    """A measured estimate and the details worth recording (seeds, values for plots)."""

    estimate: Estimate
    details: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- searches


# What decides a search's run (and so its wall time); metric, selection and quantity only read it.
_RUN_KEYS = ("algorithm", "proxy", "dataset", "score_dataset", "n", "population", "sample",
             "cycles", "seed")


def _search_traces(proto: dict[str, Any], ctx: Context, reuse: bool = False) -> list[Any]:
    """Run the search protocol's repetitions; timed runs are kept on ``ctx``.

    ``reuse`` serves a timed protocol that already ran in this session from those kept runs, so a
    scaling claim reads the very runs its time claims measured instead of scoring them again.
    """
    from tfnas.search import MissingScoreError, random_search, rea, repeat

    timing = proto["quantity"] == "time"
    reps = proto["repetitions"] if ctx.repetitions is None or timing else ctx.repetitions
    key = json.dumps({k: proto.get(k) for k in _RUN_KEYS} | {"repetitions": reps}, sort_keys=True)
    if timing and reuse and key in ctx._timed:
        return ctx._timed[key]
    scorer = ctx.scorer(proto["proxy"], proto.get("score_dataset", proto["dataset"]), live=timing)
    try:
        if proto["algorithm"] == "random":
            traces = repeat(random_search, reps, proto["seed"], scorer=scorer, n=proto["n"])
        else:
            traces = repeat(rea, reps, proto["seed"], scorer=scorer,
                            population=proto["population"], sample=proto["sample"],
                            cycles=proto["cycles"])
    except MissingScoreError as exc:
        raise NotRun(f"the score table lacks a cell the search needs ({exc}); "
                     "the table is partial — finish the sweep or use --score-source live") from exc
    if timing:
        ctx._timed[key] = traces
    return traces


def _search_values(proto: dict[str, Any], traces: list[Any], ctx: Context) -> list[float]:
    from tfnas.space import Arch

    q, sel = proto["quantity"], proto["selection"]
    if q == "time":
        return [t.wall_seconds for t in traces]
    acc = ctx.accuracy_column(proto["dataset"], proto["metric"]) if q == "accuracy" else None

    def value(arch: Arch | str, score: float) -> float:
        if acc is None:
            return score
        a = arch if isinstance(arch, Arch) else Arch.parse(arch)
        return float(acc[a.index])

    if sel == "best":
        return [value(t.best, t.best_score) for t in traces]
    out = []
    for t in traces:
        evals = t.evaluations if sel == "all" else t.evaluations[-proto["population"]:]
        out.extend(value(e.arch, e.score) for e in evals)
    return out


def measure_search(proto: dict[str, Any], ctx: Context, reuse: bool = False) -> Measurement:
    """Run the search protocol and reduce it to the claimed quantity."""
    traces = _search_traces(proto, ctx, reuse)
    values = _search_values(proto, traces, ctx)
    finite = [v for v in values if np.isfinite(v)]
    if not finite:
        raise NotRun("every measured value is non-finite (NaN/inf scores)")
    s = summarise(finite)
    details = {
        "run_seeds": [t.seed for t in traces], "master_seed": proto["seed"],
        "repetitions": len(traces), "values": [round(v, 6) for v in values[:2000]],
        "n_values": len(values), "dropped_nonfinite": len(values) - len(finite),
        "max": max(finite), "scorer": traces[0].scorer,
        "evaluations": [len(t.evaluations) for t in traces],
        "distinct_scored": [t.distinct for t in traces], "memoised": traces[0].memoised,
    }
    return Measurement(Estimate(s.mean, s.std, s.n), details)


# ---------------------------------------------------------------- correlations


def measure_correlation(proto: dict[str, Any], ctx: Context) -> Measurement:
    """Correlation of a proxy's scores with accuracy, over the space or a recorded sample."""
    from tfnas.space import SPACE_SIZE, all_cells, sample_distinct

    table = ctx.table(proto["proxy"], proto.get("score_dataset", proto["dataset"]))
    acc = ctx.accuracy_column(proto["dataset"], proto["metric"])
    n_sample = proto.get("sample", 0)
    seed = proto.get("seed", 0)
    cells = (all_cells() if n_sample == 0
             else sample_distinct(random.Random(seed), min(n_sample, SPACE_SIZE)))
    missing = [c for c in cells if c not in table.scores]
    if missing:
        raise NotRun(f"score table {proto['proxy']}/{table.dataset} lacks {len(missing)} of the "
                     f"{len(cells)} cells this correlation needs (table has {len(table.scores)} "
                     f"of {SPACE_SIZE}); finish the sweep")
    x = np.array([table.scores[c] for c in cells], dtype=float)
    y = np.array([acc[c.index] for c in cells], dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < MIN_PAIRS:
        raise NotRun(f"only {x.size} of the {len(cells)} cells have a finite score and accuracy "
                     f"for {proto['proxy']}/{table.dataset}; a correlation needs {MIN_PAIRS}")
    r = correlation(x, y, proto["coefficient"])
    rng = np.random.default_rng(seed)
    lo, hi = bootstrap_correlation_ci(x, y, proto["coefficient"], rng, n_resamples=ctx.bootstrap)
    pick = np.random.default_rng(seed).choice(x.size, size=min(SCATTER_POINTS, x.size),
                                              replace=False)
    details = {"n_cells": int(x.size), "dropped_nonfinite": int((~ok).sum()), "seed": seed,
               "bootstrap_resamples": ctx.bootstrap,
               "scatter": {"score": [float(v) for v in x[pick]],
                           "accuracy": [float(v) for v in y[pick]]}}
    return Measurement(Estimate(r, None, int(x.size), (lo, hi)), details)


# ---------------------------------------------------------------- composite claims


def _measure_any(proto: dict[str, Any], ctx: Context) -> Measurement:
    kind = proto.get("kind", "search")
    sub = {k: v for k, v in proto.items() if k != "kind"}
    return measure_correlation(sub, ctx) if kind == "correlation" else measure_search(sub, ctx)


def measure_scaling(proto: dict[str, Any], ctx: Context) -> Measurement:
    """Ratio of two searches' mean quantities, A / B (e.g. time at N=1000 over time at N=10).

    On one machine the ratio cancels the hardware, so it can be compared with a published ratio
    where the absolute times cannot. Timed runs already measured in this session are reused.
    """
    a = measure_search(proto["a"], ctx, reuse=True)
    b = measure_search(proto["b"], ctx, reuse=True)
    if not b.estimate.value > 0:
        raise NotRun(f"side B's mean is {b.estimate.value}; a ratio needs it positive")
    return Measurement(Estimate(a.estimate.value / b.estimate.value),
                       {"a": a.details, "b": b.details, "a_mean": a.estimate.value,
                        "b_mean": b.estimate.value})


def measure_best_dataset(proto: dict[str, Any], ctx: Context) -> Measurement:
    """For each method, which dataset has the highest mean score; 1.0 if always ``expected``."""
    from harness.registry import DATASETS

    per_method = []
    for method in proto["methods"]:
        means = {d: measure_search({**method, "dataset": d}, ctx).estimate.value for d in DATASETS}
        per_method.append({"method": _label(method), "means": means,
                           "best": max(means, key=means.get)})
    holds = all(m["best"] == proto["expected"] for m in per_method)
    return Measurement(Estimate(1.0 if holds else 0.0), {"methods": per_method})


def _label(proto: dict[str, Any]) -> str:
    if proto["algorithm"] == "random":
        return f"random N={proto['n']} + {proto['proxy']}"
    return f"REA P={proto['population']} S={proto['sample']} C={proto['cycles']} + {proto['proxy']}"


# ---------------------------------------------------------------- the claim


def measurer(claim: Claim, ctx: Context,
             alternative: Alternative | None = None) -> Callable[[], Measurement | tuple]:
    """The measured step of a claim under its interpretation (or an alternative) as a callable.

    An input error (:class:`~tfnas.errors.TfnasError`) raised while measuring becomes
    :class:`NotRun` with its one-line message: bad data is a reason not to run, not a crash.
    """
    proto = claim.protocol_for(alternative)
    steps: dict[str, Callable[[], Measurement | tuple]] = {
        "correlation": lambda: measure_correlation(proto, ctx),
        "search": lambda: measure_search(proto, ctx),
        "comparison": lambda: (_measure_any(proto["a"], ctx), _measure_any(proto["b"], ctx)),
        "scaling": lambda: measure_scaling(proto, ctx),
        "best_dataset": lambda: measure_best_dataset(proto, ctx),
    }
    return _input_errors_not_run(steps[claim.kind])


def _input_errors_not_run(step: Callable[[], Any]) -> Callable[[], Any]:
    def guarded() -> Any:
        try:
            return step()
        except TfnasError as exc:
            raise NotRun(f"input refused: {one_line(exc, 400)}") from exc
    return guarded


def _verdict_parts(claim: Claim, result: Measurement | tuple) -> dict[str, Any]:
    if isinstance(result, tuple):
        a, b = result
        j = judge(claim.tolerance, a.estimate, b.estimate)
        return {"reproduced": a.estimate.to_dict(), "reference": b.estimate.to_dict(),
                "judgement": _jdict(j), "details": {"a": a.details, "b": b.details}}
    estimate = result.estimate
    if claim.tolerance.rule == "at_most":  # 'always under': the longest run is compared
        estimate = Estimate(result.details["max"], estimate.std, estimate.n)
    j = judge(claim.tolerance, estimate, claim.published)
    return {"reproduced": estimate.to_dict(), "judgement": _jdict(j), "details": result.details}


def _jdict(j: Any) -> dict[str, Any]:
    return {"passed": j.passed, "difference": j.difference, "allowed": j.allowed,
            "statistic": j.statistic, "explanation": j.explanation}


def claim_header(claim: Claim, ctx: Context) -> dict[str, Any]:
    """What every outcome record carries about the claim and the run settings."""
    return {**claim.to_dict(), "score_source": "live" if claim.live else ctx.score_source,
            "repetitions_override": ctx.repetitions}


def not_run(claim: Claim, ctx: Context, reason: str) -> dict[str, Any]:
    """The outcome record of a claim that could not be measured."""
    return {**claim_header(claim, ctx), "status": NOT_RUN, "reason": one_line(reason, 1000),
            "alternatives_run": []}


def error_outcome(claim: Claim, exc: BaseException, where: str = "") -> dict[str, Any]:
    """The outcome record of a claim whose measurement raised something unexpected."""
    reason = f"{type(exc).__name__}{f' during {where}' if where else ''}: {one_line(exc, 800)}"
    return {**claim.to_dict(), "status": ERROR, "reason": reason, "alternatives_run": []}


def outcome(claim: Claim, ctx: Context, result: Measurement | tuple) -> dict[str, Any]:
    """Judge the primary measurement, evaluate the alternative readings, build the record."""
    parts = _verdict_parts(claim, result)
    status = status_of(parts["judgement"]["passed"], claim.known_divergence)
    alts = []
    for alt in claim.alternatives:
        try:
            alt_parts = _verdict_parts(claim, measurer(claim, ctx, alt)())
            alts.append({"label": alt.label, "overrides": alt.overrides,
                         "reproduced": alt_parts["reproduced"],
                         "passed": alt_parts["judgement"]["passed"],
                         "explanation": alt_parts["judgement"]["explanation"]})
        except NotRun as exc:
            alts.append({"label": alt.label, "overrides": alt.overrides, "status": NOT_RUN,
                         "reason": one_line(exc, 1000)})
    return {**claim_header(claim, ctx), "status": status, **parts, "alternatives_run": alts}


def evaluate_claim(claim: Claim, ctx: Context) -> dict[str, Any]:
    """Measure and judge one claim without a benchmark fixture (for scripts and tests)."""
    try:
        return outcome(claim, ctx, measurer(claim, ctx)())
    except NotRun as exc:
        return not_run(claim, ctx, str(exc))


def to_json(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, allow_nan=True)
