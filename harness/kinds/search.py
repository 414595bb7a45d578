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
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.context import MAX_REPETITIONS, Context, NotRun
from harness.kinds import Measurement, register_kind
from harness.registry import (
    DATASETS,
    METRICS,
    QUANTITIES,
    SELECTIONS,
    ClaimError,
    _choice,
    _integer,
    _positive_int,
    _proxy_names,
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

        _choice(cid, where, proto, "algorithm", algorithm_names())
        _choice(cid, where, proto, "proxy", (*_proxy_names(), ORACLE))
        _choice(cid, where, proto, "dataset", DATASETS)
        _choice(cid, where, proto, "score_dataset", DATASETS, required=False)
        _choice(cid, where, proto, "metric", METRICS)
        _choice(cid, where, proto, "selection", SELECTIONS)
        _choice(cid, where, proto, "quantity", QUANTITIES)
        _positive_int(cid, where, proto, "repetitions", MAX_REPETITIONS)
        _integer(cid, where, proto, "seed")
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
            _positive_int(cid, where, proto, name)
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
        from tfnas.space import all_cells

        col = ctx.accuracy_column(proto.scored_on, proto.metric)
        return TableScorer({a: float(col[i]) for i, a in enumerate(all_cells())},
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


def _search_traces(proto: SearchProtocol, ctx: Context, reuse: bool = False) -> list[Any]:
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
    if timing and reuse and key in ctx._timed:
        return ctx._timed[key]
    scorer = _scorer(proto, ctx, live=timing)
    try:
        traces = repeat(get_algorithm(proto.algorithm).run, reps, seed, progress=False, scorer=scorer,
                        **proto.params)
    except MissingScoreError as exc:
        raise NotRun(f"the score table lacks a cell the search needs ({exc}); "
                     "the table is partial — finish the sweep or use --score-source live") from exc
    if timing:
        ctx._timed[key] = traces
    return traces


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
    from tfnas.space import Arch

    if proto.quantity == "time":
        return [t.wall_seconds for t in traces]
    acc = (ctx.accuracy_column(proto.dataset, proto.metric) if proto.quantity == "accuracy"
           else None)

    def value(arch: Arch | str, score: float) -> float:
        if acc is None:
            return score
        a = arch if isinstance(arch, Arch) else Arch.parse(arch)
        return float(acc[a.index])

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
    return Measurement(Estimate(s.mean, s.std, s.n), details)


@register_kind("search", protocol=SearchProtocol, side=True)
def measure_search(proto: SearchProtocol, ctx: Context, reuse: bool = False) -> Measurement:
    """Reduce the search protocol to the claimed quantity: seed-free from the tables (exact for
    random search, Monte-Carlo otherwise; see :mod:`harness.kinds._seed_free`), else by
    running its repetitions (live scoring, time)."""
    if ctx.score_source == "tables" and proto.quantity in SEED_FREE_QUANTITIES:
        from harness.kinds._seed_free import seed_free

        return seed_free(proto, ctx)
    return _from_runs(proto, _search_traces(proto, ctx, reuse), ctx)


def on_dataset(proto: SearchProtocol, dataset: str) -> SearchProtocol:
    """The same protocol on another dataset."""
    return dataclasses.replace(proto, dataset=dataset)
