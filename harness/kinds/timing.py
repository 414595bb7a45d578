"""Timing claims: search times judged by hardware-independent quantities measured in one run.

An absolute search time is bound to its hardware (the paper's GPU, our shared CPU cores), so it
is *reported*, with the machine, and never judged. What is judged is a ratio measured in this
run: the time of the claim's search over the time of a reference search (time at N=1000 over
N=10; CIFAR-10 over ImageNet16-120 at the same N). With ``judged = "paper-seconds"`` that ratio
is scaled by the paper's own time of the reference row, giving the seconds our run predicts for
the claimed row *on the paper's machine*, in the claim's unit; with ``judged = "ratio"`` the
ratio itself is compared with a published ratio. Times are CPU seconds of this process
(``time.process_time``), shown beside wall seconds, so a process loading the machine moves the
judged number far less than the wall clock.

Two live protocols (``--live-protocol``):

- ``reduced`` (the default): the per-cell scoring cost is measured on a fixed uniform sample of
  ``cells`` cells of the space (the same cells on every dataset, so cross-dataset ratios are
  paired), ``rounds`` times, interleaved across datasets, on one torch thread (several threads
  spin-wait under load and inflate CPU time). The number of distinct cells each search scores is
  counted by running the search on the committed score table (a search memoises, so its live
  cost is distinct cells × cost per cell; random search's cells do not depend on scores, REA's
  follow the table's scores). Search time = distinct cells × mean cost per cell.
- ``full``: the searches as the paper ran them, scored live, timed whole (CPU and wall).

Claims that share a measurement share it in the run: the cost sample of a (proxy, dataset) and
the distinct-cell counts and live runs of a search are measured once per session.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness import schema
from harness.context import Context, NotRun
from harness.details import Details, recorded
from harness.kinds import Measurement, register_kind
from harness.kinds.search import SearchProtocol, search_traces
from harness.registry import MAX_MAGNITUDE, ClaimError, check_published, known_fields, number_in
from harness.verdicts import Estimate, standard_error
from tfnas.errors import shown

JUDGED = ("paper-seconds", "ratio")
"""What a timing claim judges: our in-run ratio times the paper's reference time, or the ratio."""
LIVE_PROTOCOLS = ("reduced", "full")
DEFAULT_CELLS = 16
DEFAULT_ROUNDS = 2
MAX_CELLS = 1000
MAX_ROUNDS = 20
BOOTSTRAP = 2000
"""Resamples of the cost sample (over cells, paired across datasets) for the ratio's error."""
FIELDS = ("judged", "search", "reference", "reference_published", "cells", "rounds")
_FILLED = {"metric": "valid12", "selection": "best", "quantity": "time"}
"""A timed search times the whole search: these search fields do not apply and are filled."""


@dataclass(frozen=True)
class TimingProtocol:
    """The timed search, the reference search it is divided by, and the reduced protocol's size.

    ``reference_published``: the paper's time of the reference row (``judged = "paper-seconds"``
    only). ``cells`` and ``rounds``: the reduced protocol's cost sample and its repetitions.
    """

    judged: str
    search: SearchProtocol
    reference: SearchProtocol
    reference_published: Estimate | None = None
    cells: int = DEFAULT_CELLS
    rounds: int = DEFAULT_ROUNDS

    @classmethod
    def from_dict(cls, cid: str, where: str, proto: Mapping[str, Any]) -> TimingProtocol:
        known_fields(cid, where, proto, set(FIELDS))
        judged = proto.get("judged")
        if judged not in JUDGED:
            raise ClaimError(f"claim {cid!r}: field '{where}.judged' is {shown(judged)}, "
                             f"expected one of {JUDGED}")
        search = _search(cid, f"{where}.search", proto.get("search"))
        reference = _search(cid, f"{where}.reference", proto.get("reference"))
        pub = proto.get("reference_published")
        if judged == "paper-seconds":
            published = _published(cid, f"{where}.reference_published", pub)
        elif pub is not None:
            raise ClaimError(f"claim {cid!r}: field '{where}.reference_published' applies only "
                             "to judged = 'paper-seconds' (a 'ratio' claim publishes the ratio)")
        else:
            published = None
        cells = _count(cid, where, proto, "cells", DEFAULT_CELLS, MAX_CELLS, 2)
        rounds = _count(cid, where, proto, "rounds", DEFAULT_ROUNDS, MAX_ROUNDS, 1)
        return cls(judged, search, reference, published, cells, rounds)


def _search(cid: str, where: str, spec: object) -> SearchProtocol:
    """A search protocol without metric/selection/quantity (a timed search has none)."""
    if not isinstance(spec, dict):
        raise ClaimError(f"claim {cid!r}: field '{where}' must be a table (a search: "
                         "algorithm, proxy, dataset, its sizes, repetitions, seed)")
    extra = sorted(set(spec) & set(_FILLED))
    if extra:
        raise ClaimError(f"claim {cid!r}: field '{where}.{extra[0]}' does not apply to a timed "
                         "search (the whole search is timed)")
    return SearchProtocol.from_dict(cid, where, {**spec, **_FILLED})


def _published(cid: str, where: str, pub: object) -> Estimate:
    if not isinstance(pub, dict):
        raise ClaimError(f"claim {cid!r}: field '{where}' must be a table "
                         "{ value, std, n } (the paper's time of the reference row)")
    unknown = set(pub) - {"value", "std", "n"}
    if unknown:
        raise ClaimError(f"claim {cid!r}: unknown field(s) {shown(sorted(map(str, unknown)))} "
                         f"in '{where}'; expected value, std, n")
    value, std, n = pub.get("value"), pub.get("std"), pub.get("n")
    number_in(cid, f"{where}.value", value, 0, MAX_MAGNITUDE, "seconds", open_low=True)
    check_published(cid, where, value, std, n)
    if (std is None) != (n is None):
        raise ClaimError(f"claim {cid!r}: field '{where}' needs both std and n, or neither")
    return Estimate(float(value), None if std is None else float(std), n)


def _count(cid: str, where: str, proto: Mapping[str, Any], key: str, default: int,
           limit: int, low: int) -> int:
    value = proto.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= limit:
        raise ClaimError(f"claim {cid!r}: field '{where}.{key}' must be an integer in "
                         f"{low}..{limit}, got {shown(value)}")
    return value


# ---------------------------------------------------------------- shared measurements


@dataclass(frozen=True)
class CellCosts:
    """The reduced protocol's cost sample on one dataset: seconds per cell, rounds × cells."""

    proxy: str
    dataset: str
    cells: tuple[str, ...]
    cpu: np.ndarray
    wall: np.ndarray
    threads: int

    def per_cell(self, clock: str) -> np.ndarray:
        """Mean seconds of each cell over the rounds (``clock``: ``cpu`` or ``wall``)."""
        return (self.cpu if clock == "cpu" else self.wall).mean(axis=0)


def sample_cells(space: Any, k: int, seed: int) -> list[Any]:
    """A fixed uniform sample of ``k`` distinct cells of ``space`` (from ``seed``)."""
    cells = space.all_cells()
    idx = np.random.default_rng(seed).choice(len(cells), size=k, replace=False)
    return [cells[int(i)] for i in idx]


def measure_costs(scorers: Mapping[str, Any], cells: Sequence[Any], rounds: int,
                  threads: int | None = 1) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """CPU and wall seconds of scoring each cell with each scorer, ``rounds`` times, interleaved
    (round → cell → scorer) so a change of machine load falls on every scorer alike. Each scorer
    first scores a cell outside the sample (warm-up, not counted). ``threads``: torch threads
    while measuring (restored after), None to leave them."""
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        sample = set(map(str, cells))
        for scorer in scorers.values():
            warm = next(c for c in scorer.space.all_cells() if str(c) not in sample)
            scorer(warm)
        cpu = {d: np.zeros((rounds, len(cells))) for d in scorers}
        wall = {d: np.zeros((rounds, len(cells))) for d in scorers}
        for r in range(rounds):
            for k, cell in enumerate(cells):
                for d, scorer in scorers.items():
                    w0, c0 = time.perf_counter(), time.process_time()
                    scorer(cell)
                    cpu[d][r, k] = time.process_time() - c0
                    wall[d][r, k] = time.perf_counter() - w0
    finally:
        torch.set_num_threads(before)
    return {d: (cpu[d], wall[d]) for d in scorers}


def _costs(ctx: Context, proxy: str, datasets: Sequence[str], space: Any, k: int, rounds: int,
           seed: int) -> dict[str, CellCosts]:
    """The cost samples of ``datasets``, measured once per session: when one is missing, every
    target dataset not yet measured is measured with it, interleaved, so that the cross-dataset
    ratios of all timing claims come from one pass over the same machine state."""
    from tfnas.datasets import TARGET_DATASETS
    from tfnas.search import ProxyScorer

    def key(d: str) -> str:
        return cost_key(proxy, d, space.name, k, rounds, seed)

    missing = [d for d in dict.fromkeys(datasets) if not ctx.has_memo("costs", key(d))]
    if missing:
        missing += [d for d in TARGET_DATASETS
                    if d not in missing and not ctx.has_memo("costs", key(d))]
    if missing:
        cells = sample_cells(space, k, seed)
        scorers = {d: ProxyScorer(proxy, d, space=space) for d in missing}  # no memo: rescored
        measured = measure_costs(scorers, cells, rounds)
        for d, (cpu, wall) in measured.items():
            costs = CellCosts(proxy, d, tuple(map(str, cells)), cpu, wall, 1)
            ctx.memo("costs", key(d), lambda c=costs: c, fresh=True)
    return {d: ctx.memo("costs", key(d), _unreachable) for d in datasets}


def _unreachable() -> Any:
    raise AssertionError("every dataset's cost sample was measured above")


def cost_key(proxy: str, dataset: str, space: str, k: int, rounds: int, seed: int) -> str:
    """The session key of a cost sample: what decides it."""
    return f"timing:costs:{proxy}:{dataset}:{space}:{k}:{rounds}:{seed}"


def _spec_key(spec: SearchProtocol) -> str:
    return json.dumps({"algorithm": spec.algorithm, "proxy": spec.proxy, "dataset":
                       spec.dataset, "score_dataset": spec.score_dataset, "seed": spec.seed,
                       "repetitions": spec.repetitions, **spec.params}, sort_keys=True)


def distinct_counts(spec: SearchProtocol, ctx: Context) -> list[int]:
    """Distinct cells each repetition of ``spec`` scores, counted on the committed score table
    (counted once per session)."""
    from tfnas.search import TableScorer, repeat
    from tfnas.search.registry import get_algorithm

    seed = ctx.seed_for(spec.seed)  # --claims-seed moves the searches, not the cost sample
    key = f"timing:distinct:{seed}:" + _spec_key(spec)

    def count() -> list[int]:
        table = ctx.table(spec.proxy, spec.scored_on)
        scorer = TableScorer(table.scores, f"table:{spec.proxy}/{spec.scored_on}")
        traces = repeat(get_algorithm(spec.algorithm).run, spec.repetitions, seed, progress=False,
                        scorer=scorer, **spec.params)
        return [t.distinct for t in traces]

    return list(ctx.memo("distinct", key, count))


# ---------------------------------------------------------------- the estimate


@dataclass(frozen=True)
class Times:
    """Per-run seconds of one search in both clocks, and what they were computed from."""

    cpu: np.ndarray
    wall: np.ndarray
    distinct: list[int]


def _reduced(proto: TimingProtocol, ctx: Context) -> tuple[Times, Times, dict[str, Any]]:
    from tfnas.spaces import get_space

    s, r = proto.search, proto.reference
    if s.proxy != r.proxy:
        raise NotRun("the reduced protocol compares searches of one proxy; use "
                     "--live-protocol full")
    space = get_space(None)
    costs = _costs(ctx, s.proxy, [s.scored_on, r.scored_on], space, proto.cells, proto.rounds,
                   s.seed)
    ds, dr = distinct_counts(s, ctx), distinct_counts(r, ctx)

    def times(d: list[int], c: CellCosts) -> Times:
        return Times(np.asarray(d) * c.per_cell("cpu").mean(),
                     np.asarray(d) * c.per_cell("wall").mean(), d)

    ts, tr = times(ds, costs[s.scored_on]), times(dr, costs[r.scored_on])
    # error of the ratio: bootstrap over the sampled cells, paired across the two datasets
    rng = np.random.default_rng(s.seed)
    a, b = costs[s.scored_on].per_cell("cpu"), costs[r.scored_on].per_cell("cpu")
    idx = rng.integers(0, len(a), size=(BOOTSTRAP, len(a)))
    logs = np.log(a[idx].mean(axis=1) / b[idx].mean(axis=1))
    log_se = float(logs.std(ddof=1)) if s.scored_on != r.scored_on else 0.0
    info = {"log_se_ratio": log_se, "per_cell_cpu_s": {}, "per_cell_wall_s": {},
            "cells": list(costs[s.scored_on].cells), "rounds": proto.rounds,
            "torch_threads": costs[s.scored_on].threads,
            "shared": [cost_key(s.proxy, d, space.name, proto.cells, proto.rounds, s.seed)
                       for d in dict.fromkeys([s.scored_on, r.scored_on])]
            + [f"timing:distinct:{ctx.seed_for(x.seed)}:" + _spec_key(x) for x in (s, r)]}
    for d, c in costs.items():
        info["per_cell_cpu_s"][d] = float(c.per_cell("cpu").mean())
        info["per_cell_wall_s"][d] = float(c.per_cell("wall").mean())
    return ts, tr, info


def _full(proto: TimingProtocol, ctx: Context) -> tuple[Times, Times, dict[str, Any]]:
    def times(spec: SearchProtocol) -> Times:
        traces = search_traces(spec, ctx, reuse=True)
        if any(t.cpu_seconds is None for t in traces):
            raise NotRun("a live run recorded no CPU time")
        return Times(np.array([t.cpu_seconds for t in traces]),
                     np.array([t.wall_seconds for t in traces]), [t.distinct for t in traces])

    ts, tr = times(proto.search), times(proto.reference)
    rel = [float(np.std(t.cpu, ddof=1) / math.sqrt(len(t.cpu)) / t.cpu.mean())
           if len(t.cpu) > 1 and t.cpu.mean() > 0 else 0.0 for t in (ts, tr)]
    from tfnas.scoring import SCORING_THREADS

    # proxies score on SCORING_THREADS whatever this process's count (tfnas.scoring)
    return ts, tr, {"log_se_ratio": math.hypot(*rel), "torch_threads": SCORING_THREADS,
                    "shared": ["search:" + _spec_key(x) for x in (proto.search, proto.reference)]}


def machine() -> dict[str, Any]:
    """The hardware an absolute time was measured on."""
    return {"machine": platform.machine(), "processor": platform.processor() or None,
            "system": platform.system(), "cpu_count": os.cpu_count(),
            "python": platform.python_version()}


@dataclass(frozen=True, eq=False)
class TimingDetails(Details):
    """The run times (seconds, or times the reference) and the cost sample's cells."""

    values: list[float] | None = recorded(schema.list_of(schema.number))
    cells: list[str] | None = recorded(schema.list_of(schema.string))

    def lines(self, outcome: Any) -> list[str]:
        return [] if self.cells is None else [f"- cells: a sample of {len(self.cells)}"]


@register_kind("timing", protocol=TimingProtocol, details=TimingDetails)
def measure_timing(proto: TimingProtocol, ctx: Context) -> Measurement:
    """The claimed search's time over the reference search's, measured in this run (CPU time),
    times the paper's reference time for ``paper-seconds``; absolute times are in the details."""
    mode = getattr(ctx, "live_protocol", "reduced")
    if mode not in LIVE_PROTOCOLS:
        raise NotRun(f"live protocol {shown(mode)} unknown; expected one of {LIVE_PROTOCOLS}")
    ts, tr, info = (_reduced if mode == "reduced" else _full)(proto, ctx)
    if not (tr.cpu.mean() > 0 and ts.cpu.mean() > 0):
        raise NotRun("a measured search time is zero; a ratio needs positive times")
    pub = proto.reference_published
    scale = 1.0 if pub is None else pub.value
    rel_pub = 0.0 if pub is None else standard_error(pub) / pub.value
    runs = scale * ts.cpu / tr.cpu.mean()
    value = scale * ts.cpu.mean() / tr.cpu.mean()
    se = value * math.hypot(info.pop("log_se_ratio"), rel_pub)
    std = float(np.std(runs, ddof=1)) if len(runs) > 1 else None
    details = {
        "live_protocol": mode, "judged": proto.judged, "clock": "cpu",
        "value_cpu": value, "value_wall": scale * ts.wall.mean() / tr.wall.mean(),
        "values": [round(float(v), 6) for v in runs], "n_values": len(runs),
        "max": float(runs.max()), "reference_published": None if pub is None else pub.value,
        "distinct_search": ts.distinct, "distinct_reference": tr.distinct,
        "ours": {"search_cpu_s": float(ts.cpu.mean()), "search_wall_s": float(ts.wall.mean()),
                 "search_max_cpu_s": float(ts.cpu.max()),
                 "search_max_wall_s": float(ts.wall.max()),
                 "reference_cpu_s": float(tr.cpu.mean()),
                 "reference_wall_s": float(tr.wall.mean()), "machine": machine()},
        **info,
    }
    return Measurement(Estimate(value, std, len(runs), se=se), TimingDetails.of(details))

