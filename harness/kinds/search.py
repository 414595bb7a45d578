"""Search claims: repeated runs of a registered search algorithm, reduced to one quantity.

The protocol has the fields every search shares (algorithm, proxy, dataset, score_dataset,
metric, selection, quantity, repetitions, seed) and the parameters the algorithm declares with
:func:`tfnas.search.registry.register_search` (random: ``n``; rea: ``population``, ``sample``,
``cycles``), validated by the algorithm's own ``prepare``. Claims take an algorithm's integer
parameters (its sizes and evaluation budgets) and refuse the others: a time budget
(``time_budget``) would make a claim's runs depend on the speed of the machine.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness import schema
from harness.context import MAX_REPETITIONS, Context, NotRun
from harness.details import Canvas, Details, recorded
from harness.kinds import Measurement, Null, register_kind
from harness.markdown import estimate_text, fmt, md_text
from harness.measurement_model import MeasurementModel
from harness.measurement_model import checked as model_record
from harness.registry import (
    DATASETS,
    METRICS,
    QUANTITIES,
    SELECTIONS,
    ClaimError,
    choice,
    integer,
    positive_int,
    proxy_names,
)
from harness.stats import summarise
from harness.verdicts import Estimate
from tfnas.errors import one_line, shown

ORACLE = "oracle"
"""The proxy name of a search whose fitness is the claim metric's accuracy itself."""
SEED_FREE_QUANTITIES = ("accuracy", "score")
"""Quantities computed seed-free from the score tables (time is always measured live)."""

COMMON = ("algorithm", "proxy", "dataset", "score_dataset", "metric", "selection", "quantity",
          "repetitions", "seed")
"""The fields of every search protocol; the algorithm's parameters come on top."""

def search_protocols(node: Any) -> list[SearchProtocol]:
    """Every search protocol inside a claim's typed protocol (itself, a comparison's sides, a
    scaling claim's points ...), found by walking dataclass fields, mappings and sequences."""
    if isinstance(node, SearchProtocol):
        return [node]
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        node = [getattr(node, f.name) for f in dataclasses.fields(node)]
    elif isinstance(node, Mapping):
        node = list(node.values())
    if isinstance(node, list | tuple):
        return [p for child in node for p in search_protocols(child)]
    return []


def claim_params(algorithm: Any) -> tuple[Any, ...]:
    """The parameters of a registered algorithm a claim may set: its integer ones."""
    return tuple(p for p in algorithm.params if p.type is int)


@dataclass(frozen=True)
class SearchProtocol:
    """A search protocol; the algorithm's parameters are in ``params`` and read as attributes
    (``protocol.population``)."""

    algorithm: str
    proxy: str
    dataset: str
    metric: str
    selection: str
    quantity: str
    repetitions: int
    seed: int
    score_dataset: str | None = None
    params: Mapping[str, int] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        state = object.__getattribute__(self, "__dict__")  # empty while copy/pickle rebuild it
        params = state.get("params") or {}
        if name in params:
            return params[name]
        raise AttributeError(f"{type(self).__name__} of {state.get('algorithm')!r} has no "
                             f"parameter {name!r}")

    @property
    def scored_on(self) -> str:
        return self.score_dataset or self.dataset

    def check_work(self, repetitions: int) -> None:
        """Refuse ``repetitions`` runs whose evaluations together exceed the library's bound
        (``tfnas.search.limits.MAX_TOTAL_EVALUATIONS``), as ``tfnas search`` does, before any run;
        an ``ArgumentError`` says the product and the bound."""
        from tfnas.search.repeat import check_repeats

        runs = [v for k, v in self.params.items() if k in ("n", "cycles")]
        check_repeats(repetitions, max(runs) if runs else None)

    def label(self) -> str:
        """A short name of the method (algorithm, its parameters, proxy) for the report."""
        from tfnas.search.registry import get_algorithm

        return f"{get_algorithm(self.algorithm).describe(self.params)} + {self.proxy}"

    @classmethod
    def from_dict(cls, cid: str, where: str, proto: Mapping[str, Any]) -> SearchProtocol:
        from tfnas.checks import ArgumentError
        from tfnas.search.registry import algorithm_names, get_algorithm

        choice(cid, where, proto, "algorithm", algorithm_names())
        choice(cid, where, proto, "proxy", (*proxy_names(), ORACLE))
        choice(cid, where, proto, "dataset", DATASETS)
        choice(cid, where, proto, "score_dataset", DATASETS, required=False)
        choice(cid, where, proto, "metric", METRICS)
        choice(cid, where, proto, "selection", SELECTIONS)
        choice(cid, where, proto, "quantity", QUANTITIES)
        positive_int(cid, where, proto, "repetitions", MAX_REPETITIONS)
        integer(cid, where, proto, "seed")
        algorithm = get_algorithm(proto["algorithm"])
        names = [p.name for p in claim_params(algorithm)]
        refused = set(algorithm.param_names()) - set(names)
        unknown = set(proto) - set(COMMON) - set(names)
        if unknown & refused:
            key = sorted(unknown & refused)[0]
            raise ClaimError(f"claim {cid!r}: field '{where}.{key}' is not a claim protocol "
                             "field: a claim's runs must not depend on the machine's speed")
        if unknown:
            raise ClaimError(f"claim {cid!r}: unknown field(s) {shown(sorted(map(str, unknown)))} "
                             f"in '{where}'; expected some of {[*COMMON, *names]}")
        for name in names:
            positive_int(cid, where, proto, name)
        params = {name: proto[name] for name in names}
        try:
            algorithm.prepare(**params)
        except ArgumentError as exc:
            word = str(exc).split(" ", 1)[0]
            at = f"{where}.{word}" if word in names else where
            raise ClaimError(f"claim {cid!r}: field '{at}': {one_line(exc, 300)}") from exc
        protocol = cls(proto["algorithm"], proto["proxy"], proto["dataset"], proto["metric"],
                       proto["selection"], proto["quantity"], proto["repetitions"], proto["seed"],
                       proto.get("score_dataset"), params)
        try:
            protocol.check_work(protocol.repetitions)
        except ArgumentError as exc:
            raise ClaimError(f"claim {cid!r}: field '{where}.repetitions': "
                             f"{one_line(exc, 300)}") from exc
        if proto["selection"] == "population" and "population" not in params:
            takers = [a for a in algorithm_names()
                      if "population" in (p.name for p in claim_params(get_algorithm(a)))]
            raise ClaimError(f"claim {cid!r}: field '{where}.selection' 'population' needs "
                             f"algorithm {' or '.join(takers)}")
        if proto["selection"] == "unselected" and params.get("n", 2) < 2:
            raise ClaimError(f"claim {cid!r}: field '{where}.selection' 'unselected' needs "
                             "n >= 2 (with n = 1 the one drawn cell is the selected one)")
        return protocol


def _scorer(proto: SearchProtocol, ctx: Context, live: bool) -> Any:
    """The protocol's scorer; ``proxy = "oracle"`` scores a cell by the claim metric's accuracy."""
    if proto.proxy == ORACLE:
        from tfnas.search import TableScorer
        from tfnas.spaces import get_space

        col = ctx.accuracy_column(proto.scored_on, proto.metric)
        return TableScorer({a: float(col[i]) for i, a in enumerate(get_space("tss").all_cells())},
                           f"oracle:{proto.metric}/{proto.scored_on}")
    return ctx.scorer(proto.proxy, proto.scored_on, live=live)


def method_tables(cid: str, where: str, proto: Mapping[str, Any]) -> list[tuple[str, dict]]:
    """``(field path, table)`` of each entry of a protocol's non-empty ``methods`` array (search
    protocols that kinds comparing several methods run), refusing anything else."""
    methods = proto.get("methods")
    if not isinstance(methods, list) or not methods:
        raise ClaimError(f"claim {cid!r}: field '{where}.methods' must be a non-empty array")
    for j, m in enumerate(methods):
        if not isinstance(m, dict):
            raise ClaimError(f"claim {cid!r}: field '{where}.methods[{j}]' must be a table")
    return [(f"{where}.methods[{j}]", m) for j, m in enumerate(methods)]


def search_traces(proto: SearchProtocol, ctx: Context, reuse: bool = False) -> list[Any]:
    """Run the search protocol's repetitions; timed runs are kept on ``ctx``.

    ``reuse`` serves a timed protocol that already ran in this session from those kept runs, so a
    scaling claim reads the very runs its time claims measured instead of scoring them again.
    """
    from tfnas.search import MissingScoreError, repeat
    from tfnas.search.registry import get_algorithm

    timing = proto.quantity == "time"
    reps = proto.repetitions if ctx.repetitions is None or timing else ctx.repetitions
    seed = ctx.seed_for(proto.seed)
    # what decides a run (and so its wall time); metric, selection and quantity only read it
    key = json.dumps({"algorithm": proto.algorithm, "proxy": proto.proxy,
                      "dataset": proto.dataset, "score_dataset": proto.score_dataset,
                      "seed": seed, "repetitions": reps, **proto.params}, sort_keys=True)

    def run() -> list[Any]:
        scorer = _scorer(proto, ctx, live=timing)
        try:
            return repeat(get_algorithm(proto.algorithm).run, reps, seed, progress=False,
                          scorer=scorer, **proto.params)
        except MissingScoreError as exc:
            raise NotRun(f"the score table lacks a cell the search needs ({exc}); the table is "
                         "partial — finish the sweep or use --score-source live") from exc

    if not timing:
        return run()
    return ctx.memo("search-traces", key, run, fresh=not reuse)


def _selected(proto: SearchProtocol, trace: Any) -> list[Any]:
    """The evaluations of one run that the protocol's selection reports (with the best as
    ``(arch, score)`` for ``best``); ``unselected``: one non-kept evaluation, drawn from
    ``random.Random(run seed)``."""
    if proto.selection == "best":
        return [(trace.best, trace.best_score)]
    evals = trace.evaluations
    if proto.selection == "population":
        evals = evals[-proto.population:]
    elif proto.selection == "unselected":
        keep = _kept_index(trace)
        others = [e for i, e in enumerate(evals) if i != keep]
        evals = [random.Random(trace.seed).choice(others)] if others else []
    return [(e.arch, e.score) for e in evals]


def _kept_index(trace: Any) -> int:
    """The position of the kept evaluation: the first maximum of the ranked scores."""
    from tfnas.search.random_search import rank_key

    keys = [rank_key(e.score) for e in trace.evaluations]
    return keys.index(max(keys))


def _search_values(proto: SearchProtocol, traces: list[Any], ctx: Context) -> list[float]:
    from tfnas.spaces import get_space

    if proto.quantity == "time":
        return [t.wall_seconds for t in traces]
    acc = (ctx.accuracy_column(proto.dataset, proto.metric) if proto.quantity == "accuracy"
           else None)

    def value(arch: Any, score: float) -> float:
        if acc is None:
            return score
        return float(acc[get_space("tss").index_of(arch)])

    return [value(a, s) for t in traces for a, s in _selected(proto, t)]


def _from_runs(proto: SearchProtocol, traces: list[Any], ctx: Context) -> Measurement:
    """Reduce actual runs (live scoring, time) to the claimed quantity, as measured."""
    values = _search_values(proto, traces, ctx)
    finite = [v for v in values if np.isfinite(v)]
    if not finite:
        raise NotRun("every measured value is non-finite (NaN/inf scores)")
    s = summarise(finite)
    details = {
        "run_seeds": [t.seed for t in traces], "master_seed": ctx.seed_for(proto.seed),
        "repetitions": len(traces), "values": [round(v, 6) for v in values[:2000]],
        "n_values": len(values), "dropped_nonfinite": len(values) - len(finite),
        "max": max(finite), "scorer": traces[0].scorer,
        "evaluations": [len(t.evaluations) for t in traces],
        "distinct_scored": [t.distinct for t in traces], "memoised": traces[0].memoised,
        "method": f"measured: {len(traces)} runs",
    }
    return Measurement(Estimate(s.mean, s.std, s.n), SearchDetails.of(details))


# ---------------------------------------------------------------- the result record


MAX_BOXES = 200
"""Most claims drawn in one selected-accuracy plot (the registry has about 25 per dataset)."""
MAX_ROWS = 60
"""Most claims drawn in one sampling-distribution plot."""
MAX_TABLE_PLOTS = 16
"""Most sampling-distribution plots (one per paper table)."""
MAX_PANELS = 6
"""Most score tables drawn in the score-vs-accuracy-near-the-top plot."""


def _predicted(v: Any, p: str) -> dict:
    """The predicted sampling distribution of the published statistic (a claim-repetitions run's
    ``mean`` and ``std``) and the number of repetitions it is for."""
    return schema.fields(v, p, {}, {"mean": schema.sampling, "std": schema.sampling,
                                    "repetitions": schema.optional(schema.count)})


def _realisations(v: Any, p: str) -> list[dict] | int:
    """The value per scoring realisation (``[{seed, value}]``), or only how many there were."""
    if isinstance(v, int) and not isinstance(v, bool):
        return schema.count(v, p)
    if not isinstance(v, list):
        raise schema.Invalid(p, "an array of {seed, value} or a count", v)
    return schema.list_of(lambda x, q: schema.fields(
        x, q, {"seed": schema.count, "value": schema.number}, {}))(v, p)


def _top_cell(v: Any, p: str) -> dict:
    return schema.fields(v, p, {"score": schema.number, "accuracy": schema.number},
                         {"cell": schema.string, "score_sd": schema.optional(schema.nonnegative),
                          "wins": schema.optional(schema.probability)})


def _cell_counts(v: Any, p: str) -> dict:
    return schema.fields(v, p, {}, {"used": schema.count, "left_out": schema.count,
                                    "why": schema.string})


def _sampling_text(s: dict[str, Any]) -> str:
    text = f"{fmt(s.get('mean'))} ± {fmt(s.get('sd'), 3)}"
    if all(s.get(q) is not None for q in schema.QUANTILES):
        text += f" (5/50/95%: {', '.join(fmt(s[q]) for q in schema.QUANTILES)})"
    return text


@dataclass(frozen=True, eq=False)
class SearchDetails(Details):
    """What a search claim records: the values (measured runs), or the seed-free estimate with
    the predicted sampling distribution of the published statistic, the value per scoring
    realisation, the cells near the top and the cells used."""

    values: list[float] | None = recorded(schema.list_of(schema.number))
    expected: float | None = recorded(schema.optional(schema.number))
    method: str | None = recorded(schema.string)
    predicted: dict[str, Any] | None = recorded(_predicted)
    realisations: list[dict] | int | None = recorded(_realisations)
    top_cells: list[dict] | None = recorded(schema.list_of(_top_cell))
    cells: dict[str, Any] | None = recorded(_cell_counts)
    model: dict[str, Any] | None = recorded(schema.optional(model_record))
    se_df: float | None = recorded(schema.optional(schema.number))
    mc_se: float | None = recorded(schema.optional(schema.number))
    spread_mc: float | None = recorded(schema.optional(schema.number))

    def lines(self, outcome: Any) -> list[str]:
        """The seed-free estimate, the predicted sampling distribution of the published
        statistic, the value per scoring realisation and the cells used."""
        out = []
        if self.expected is not None or self.method:
            out.append(f"- seed-free estimate: expected value {fmt(self.expected)} "
                       f"({md_text(self.method or 'method not recorded')})")
        pred = self.predicted or {}
        if pred.get("mean") or pred.get("std"):
            reps = pred.get("repetitions")
            parts = [f"{name} {_sampling_text(pred[name])}" for name in ("mean", "std")
                     if pred.get(name)]
            out.append(f"- predicted sampling distribution of the published statistic"
                       f"{f' ({fmt(reps)} repetitions)' if reps is not None else ''}: "
                       + "; ".join(parts) + f"; published {estimate_text(outcome.published)}")
        real = self.realisations or []
        if isinstance(real, int):  # only their number recorded
            out.append(f"- scoring realisations: {fmt(real)}")
            real = []
        if real:
            se = outcome.reproduced.se if outcome.reproduced is not None else None
            out.append(f"- scoring realisations ({len(real)}): "
                       + ", ".join(f"seed {fmt(x['seed'])}: {fmt(x['value'])}" for x in real[:10])
                       + (" …" if len(real) > 10 else "")
                       + (f"; standard error carried {fmt(se, 3)}" if se is not None else ""))
        if self.model:
            reps = outcome.published.n if outcome.published is not None else None
            out.append("- measurement model of this reading: "
                       + md_text(MeasurementModel.from_dict(self.model).describe(reps)))
        if self.cells:
            c = self.cells
            out.append(f"- cells: {fmt(c.get('used'))} used, {fmt(c.get('left_out'))} left out "
                       f"({md_text(c.get('why') or 'none')})")
        return out

    @classmethod
    def plots(cls, outcomes: Sequence[Any], canvas: Canvas) -> list[str]:
        """The score-vs-accuracy plot near the top, one sampling-distribution plot per table
        and one selected-accuracy plot per dataset."""
        names = [n for n in [_plot_top(outcomes, canvas)] if n]
        return names + _plot_sampling(outcomes, canvas) + _plot_distributions(outcomes, canvas)


def _measured(outcomes: Sequence[Any]) -> list[Any]:
    return sorted((r for r in outcomes if r.measured and isinstance(r.details, SearchDetails)),
                  key=lambda r: r.id)


def _distribution_rows(outcomes: Sequence[Any], d: str) -> list[tuple[str, list[float], Any]]:
    rows = []
    for r in _measured(outcomes):
        proto = r.protocol
        values = [v for v in r.details.values or [] if math.isfinite(v)]
        if (proto.get("dataset") == d and proto.get("quantity") == "accuracy"
                and proto.get("selection") == "best" and values):
            label = f"{r.id.replace(f'-{d}', '')} ({proto.get('metric', '?')})"
            rows.append((label, values, r.published.value if r.published is not None else None))
    return rows[:MAX_BOXES]


def _plot_distributions(outcomes: Sequence[Any], canvas: Canvas) -> list[str]:
    import matplotlib.pyplot as plt

    from tfnas.datasets import TARGET_DATASETS

    names = []
    for d in TARGET_DATASETS:
        rows = _distribution_rows(outcomes, d)
        if not rows:
            continue
        fig, ax = plt.subplots(figsize=(min(40, max(6, 0.8 * len(rows))), 4))
        ax.boxplot([values for _, values, _ in rows])
        ax.set_xticks(range(1, len(rows) + 1), [label[:60] for label, _, _ in rows],
                      rotation=60, ha="right", fontsize=7)
        for i, (_, _, pub) in enumerate(rows, start=1):
            if pub is not None and math.isfinite(pub):
                ax.plot(i, pub, "r_", markersize=18)
        ax.set_ylabel("accuracy of the selected cell (%)")
        ax.set_title(f"{d}: selected-cell accuracy per method (red: published mean)")
        fig.tight_layout()
        names.append(canvas.save(fig, f"accuracy_{d}.png"))
        plt.close(fig)
    return names


def _sampling_rows(outcomes: Sequence[Any]
                   ) -> list[tuple[str, list[float], float | None, list[float]]]:
    """Per claim with a predicted sampling distribution: label, the mean's 5/50/95% quantiles
    minus the published value in units of the margin, and the std's quantiles over the
    published std with the factor (both None/empty when not recorded)."""
    rows = []
    for r in _measured(outcomes):
        pred = r.details.predicted or {}
        mean, std, pub = pred.get("mean") or {}, pred.get("std") or {}, r.published
        margin = r.tolerance.margin
        if pub is None or not math.isfinite(pub.value) or not margin or margin <= 0:
            continue
        qs = [mean.get(q) for q in schema.QUANTILES]
        if any(q is None or not math.isfinite(q) for q in qs):
            continue
        spread: list[float] = []
        sq = [std.get(q) for q in schema.QUANTILES]
        if pub.std and pub.std > 0 and all(q is not None and q > 0 and math.isfinite(q)
                                           for q in sq):
            spread = [q / pub.std for q in sq]
        rows.append((r.id, [(q - pub.value) / margin for q in qs], r.tolerance.factor, spread))
    return rows[:MAX_ROWS]


def _plot_sampling(outcomes: Sequence[Any], canvas: Canvas) -> list[str]:
    """Per table: the predicted sampling distribution of each row's published statistic (a
    claim-repetitions mean, 5–95%) against the published value, in units of the row's margin
    (the equivalence region is ±1), and of its std over the published std."""
    import matplotlib.pyplot as plt

    tables: dict[str, list[Any]] = {}
    for r in outcomes:  # in the order the results file lists them
        tables.setdefault(r.table or "Other", []).append(r)
    names: list[str] = []
    for table, recs in tables.items():
        rows = _sampling_rows(recs)
        if not rows or len(names) == MAX_TABLE_PLOTS:
            continue
        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 1.2 + 0.3 * len(rows)), sharey=True)
        ys = list(range(len(rows)))
        for y, (_, q, factor, spread) in zip(ys, rows, strict=True):
            left.plot([q[0], q[2]], [y, y], color="tab:blue", lw=2)
            left.plot(q[1], y, "o", color="tab:blue")
            if spread:
                right.plot([spread[0], spread[2]], [y, y], color="tab:green", lw=2)
                right.plot(spread[1], y, "o", color="tab:green")
            if factor:
                right.plot([1 / factor, factor], [y, y], color="0.8", lw=8, zorder=0)
        left.axvspan(-1, 1, color="0.9", zorder=0)
        left.axvline(0, color="red")
        left.set_yticks(ys, [label[:60] for label, _, _, _ in rows], fontsize=7)
        left.set_xlabel("predicted mean − published, in margins (grey: equivalence region)")
        right.axvline(1, color="red")  # linear: log-axis tick labels need mathtext, disabled here
        right.set_xlabel("predicted std / published std (grey: 1/factor..factor)")
        fig.suptitle(f"{table[:60]}: sampling distribution of the published statistic (5–95%)")
        fig.tight_layout()
        names.append(canvas.save(fig, f"sampling_{len(names)}.png"))
        plt.close(fig)
    return names


def _near_top(outcomes: Sequence[Any]) -> list[tuple[str, list[float], list[float], list[float]]]:
    """Per score table (proxy, dataset, metric; the first claim by id recording them): score,
    accuracy and score sd of the cells near the top."""
    panels: dict[tuple, tuple] = {}
    for r in _measured(outcomes):
        proto = r.protocol
        key = tuple(str(proto.get(k, "")) for k in ("proxy", "dataset", "metric"))
        top = r.details.top_cells or []
        if top and key not in panels:
            cells = [c for c in top if math.isfinite(c["score"]) and math.isfinite(c["accuracy"])]
            label = " ".join(k for k in key if k) or r.id
            panels[key] = (f"{label} ({r.id})", [c["score"] for c in cells],
                           [c["accuracy"] for c in cells], [c.get("score_sd") or 0.0 for c in cells])
    with_sd = [p for p in panels.values() if any(p[3])]  # the measured scoring noise first
    return (with_sd + [p for p in panels.values() if not any(p[3])])[:MAX_PANELS]


def _plot_top(outcomes: Sequence[Any], canvas: Canvas) -> str | None:
    import matplotlib.pyplot as plt

    panels = [p for p in _near_top(outcomes) if p[1]]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4.3 * len(panels), 4), squeeze=False)
    for ax, (label, x, y, sd) in zip(axes[0], panels, strict=True):
        ax.errorbar(x, y, xerr=sd if any(sd) else None, fmt="o", ms=3, alpha=0.6, capsize=2)
        ax.set_title(label[:60], fontsize=8)
        ax.locator_params(axis="x", nbins=4)
        ax.set_xlabel("score (bars: sd between scoring realisations)" if any(sd) else "score")
        ax.set_ylabel("accuracy (%)")
    fig.suptitle("score vs accuracy near the top")
    fig.tight_layout()
    name = canvas.save(fig, "top_cells.png")
    plt.close(fig)
    return name


LOOKUP = "a table look-up: checks the data, not a method"
"""The null label of an oracle search (the best accuracy among N cells): it reads the table."""


def search_null(proto: SearchProtocol, ctx: Context) -> Null | None:
    """The null of a search: the same protocol when its score carries no information.

    Accuracy (any algorithm): the cell a search keeps by an uninformative score is a uniformly
    random cell (exactly for random search, near enough for REA, whose mutations walk the
    space), so the null is random search with ``n = 1`` ("a random cell"), or as many random
    cells as the protocol reports (``all``, ``population``). Score of random search: a random
    cell's score. Score of another algorithm (REA): random search with the same evaluation
    budget and proxy (the algorithm carries no information). The oracle (the best accuracy of
    N cells) is a table look-up. Time has no null. Every null on the tables is exact
    (:mod:`harness.kinds._seed_free`)."""
    from tfnas.search.registry import get_algorithm

    if proto.proxy == ORACLE:
        return Null(LOOKUP, lookup=True)
    if proto.quantity not in SEED_FREE_QUANTITIES:
        return None
    # accuracy: drawn without any score (the oracle ranks n = 1 cell, or keeps all n)
    scored = ({"proxy": ORACLE, "score_dataset": None} if proto.quantity == "accuracy"
              else {})
    if proto.quantity == "score" and ctx.score_source != "tables":
        raise NotRun("a score null is computed from the score tables (--score-source tables)")
    if proto.selection in ("all", "population"):
        cells = proto.params.get("n") if proto.selection == "all" else proto.population
        return Null(f"{cells} random cells", dataclasses.replace(
            proto, algorithm="random", selection="all", params={"n": int(cells)}, **scored))
    one = dataclasses.replace(proto, algorithm="random", selection="best", params={"n": 1},
                              **scored)
    if proto.quantity == "accuracy" or proto.algorithm == "random":
        return Null("a random cell", one)
    budget = get_algorithm(proto.algorithm).evaluations(proto.params)
    if budget is None:
        return None
    return Null(f"random search with the same budget (N={budget}, {proto.proxy})",
                dataclasses.replace(one, params={"n": int(budget)}))


@register_kind("search", protocol=SearchProtocol, side=True, details=SearchDetails,
               null=search_null)
def measure_search(proto: SearchProtocol, ctx: Context, reuse: bool = False) -> Measurement:
    """Reduce the search protocol to the claimed quantity: seed-free from the tables (exact for
    random search, Monte-Carlo otherwise; see :mod:`harness.kinds._seed_free`), else by
    running its repetitions (live scoring, time)."""
    if ctx.score_source == "tables" and proto.quantity in SEED_FREE_QUANTITIES:
        from harness.kinds._seed_free import seed_free

        return seed_free(proto, ctx, SearchDetails.of, ORACLE)
    return _from_runs(proto, search_traces(proto, ctx, reuse), ctx)


def on_dataset(proto: SearchProtocol, dataset: str) -> SearchProtocol:
    """The same protocol on another dataset."""
    return dataclasses.replace(proto, dataset=dataset)

