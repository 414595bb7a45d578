"""Correlation claims: a proxy's scores against accuracy, over the space or a recorded sample."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.context import Context, NotRun
from harness.kinds import Measurement, register_kind
from harness.registry import (
    DATASETS,
    METRICS,
    ClaimError,
    _choice,
    _known_fields,
    _proxy_names,
)
from harness.stats import COEFFICIENTS, bootstrap_correlation_ci, correlation
from harness.verdicts import Estimate

SCATTER_POINTS = 1500
"""Pairs recorded for the report's scatter plot."""
MIN_PAIRS = 3
"""Fewest finite (score, accuracy) pairs a correlation is computed from."""


@dataclass(frozen=True)
class CorrelationProtocol:
    """``proxy`` scores (of ``score_dataset``, default ``dataset``) against ``metric`` accuracy,
    or against another proxy's scores on the same data (``against``, e.g. "params");
    ``sample`` cells drawn with ``seed`` (0 = the whole space)."""

    proxy: str
    dataset: str
    metric: str | None
    coefficient: str
    score_dataset: str | None = None
    sample: int = 0
    seed: int = 0
    against: str | None = None

    @property
    def scored_on(self) -> str:
        return self.score_dataset or self.dataset

    @classmethod
    def from_dict(cls, cid: str, where: str, proto: Mapping[str, Any]) -> CorrelationProtocol:
        _known_fields(cid, where, proto, cls)
        _choice(cid, where, proto, "proxy", _proxy_names())
        _choice(cid, where, proto, "dataset", DATASETS)
        _choice(cid, where, proto, "score_dataset", DATASETS, required=False)
        _choice(cid, where, proto, "against", _proxy_names(), required=False)
        _choice(cid, where, proto, "metric", METRICS, required="against" not in proto)
        if "against" in proto and "metric" in proto:
            raise ClaimError(f"claim {cid!r}: field '{where}.against' replaces the accuracy: "
                             "give 'metric' or 'against', not both")
        _choice(cid, where, proto, "coefficient", COEFFICIENTS)
        sample = proto.get("sample", 0)
        if not isinstance(sample, int) or isinstance(sample, bool) or sample < 0:
            raise ClaimError(f"claim {cid!r}: field '{where}.sample' must be an integer >= 0 "
                             "(0 = the whole space)")
        seed = proto.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ClaimError(f"claim {cid!r}: field '{where}.seed' must be an integer")
        return cls(proto["proxy"], proto["dataset"], proto.get("metric"), proto["coefficient"],
                   proto.get("score_dataset"), sample, seed, proto.get("against"))

    @property
    def target(self) -> str:
        """What the scores are correlated with: ``<metric> accuracy`` or ``<proxy> scores``."""
        return f"{self.against} scores" if self.against else f"{self.metric} accuracy"


def _target(proto: CorrelationProtocol, ctx: Context) -> np.ndarray:
    """The values correlated with the scores, by official index (accuracy or another proxy)."""
    if proto.against is None:
        return ctx.accuracy_column(proto.dataset, proto.metric)
    from tfnas.space import SPACE_SIZE

    other = ctx.table(proto.against, proto.scored_on)
    column = np.full(SPACE_SIZE, np.nan)
    for arch, value in other.scores.items():
        column[arch.index] = value
    return column


RANKED = ("spearman", "kendall")
"""Rank coefficients: a cell whose score is not finite (-inf: a singular NASWOT kernel; NaN) is
ranked last, tied with the others like it, as the source papers rank zero/-inf scores; Pearson
needs finite values and leaves such cells out, saying so."""


def _cells(proto: CorrelationProtocol, ctx: Context) -> list[Any]:
    from tfnas.space import SPACE_SIZE, all_cells, sample_distinct

    seed = ctx.seed_for(proto.seed) if hasattr(ctx, "seed_for") else proto.seed
    return (all_cells() if proto.sample == 0
            else sample_distinct(random.Random(seed), min(proto.sample, SPACE_SIZE)))


def usable(proto: CorrelationProtocol, ctx: Context, cells: list[Any]) -> tuple[list[Any], list[dict]]:
    """The cells the correlation can use and, for those left out, how many and why."""
    from tfnas.space import SPACE_SIZE

    table = ctx.table(proto.proxy, proto.scored_on)
    acc = _target(proto, ctx)
    missing = [c for c in cells if c not in table.scores]
    if missing:
        raise NotRun(f"score table {proto.proxy}/{table.dataset} lacks {len(missing)} of the "
                     f"{len(cells)} cells this correlation needs (table has {len(table.scores)} "
                     f"of {SPACE_SIZE}); finish the sweep")
    no_acc = [c for c in cells if not np.isfinite(acc[c.index])]
    keep = [c for c in cells if np.isfinite(acc[c.index])]
    left_out = []
    if no_acc:
        left_out.append({"cells": len(no_acc), "why": f"no finite {proto.target}"})
    if proto.coefficient not in RANKED:
        bad = [c for c in keep if not np.isfinite(table.scores[c])]
        if bad:
            keep = [c for c in keep if np.isfinite(table.scores[c])]
            left_out.append({"cells": len(bad), "why": f"non-finite {proto.proxy} score: "
                             f"{proto.coefficient} needs finite values (rank coefficients rank "
                             "such cells last instead)"})
    return keep, left_out


def correlation_on(proto: CorrelationProtocol, ctx: Context, cells: list[Any],
                   left_out: list[dict]) -> Measurement:
    """The coefficient over exactly ``cells`` (non-finite scores ranked last for rank
    coefficients). Over the whole space the coefficient has no sampling error over cells, so
    the estimate is exact (``se = 0``); over a sample it carries a bootstrap interval."""
    table = ctx.table(proto.proxy, proto.scored_on)
    acc = _target(proto, ctx)
    x = np.array([table.scores[c] for c in cells], dtype=float)
    y = np.array([acc[c.index] for c in cells], dtype=float)
    ranked_last = int((~np.isfinite(x)).sum())
    if ranked_last:
        finite = x[np.isfinite(x)]
        floor = (finite.min() if finite.size else 0.0) - 1.0
        x = np.where(np.isfinite(x), x, floor)  # below every finite score, tied with each other
    if x.size < MIN_PAIRS:
        raise NotRun(f"only {x.size} cells have a usable score and accuracy for "
                     f"{proto.proxy}/{table.dataset}; a correlation needs {MIN_PAIRS}")
    r = correlation(x, y, proto.coefficient)
    seed = ctx.seed_for(proto.seed) if hasattr(ctx, "seed_for") else proto.seed
    pick = np.random.default_rng(seed).choice(x.size, size=min(SCATTER_POINTS, x.size),
                                              replace=False)
    details = {"n_cells": int(x.size), "cells": "whole space" if proto.sample == 0
               else f"{proto.sample} random cells (seed {seed})",
               "left_out": left_out, "ranked_last": ranked_last,
               "dropped_nonfinite": sum(d["cells"] for d in left_out), "seed": seed,
               "scatter": {"score": [float(v) for v in x[pick]],
                           "accuracy": [float(v) for v in y[pick]]}}
    if proto.sample == 0:
        return Measurement(Estimate(r, None, int(x.size), None, 0.0), details)
    rng = np.random.default_rng(seed)
    lo, hi = bootstrap_correlation_ci(x, y, proto.coefficient, rng, n_resamples=ctx.bootstrap)
    details["bootstrap_resamples"] = ctx.bootstrap
    return Measurement(Estimate(r, None, int(x.size), (lo, hi)), details)


@register_kind("correlation", protocol=CorrelationProtocol, side=True)
def measure_correlation(proto: CorrelationProtocol, ctx: Context) -> Measurement:
    """Correlation of a proxy's scores with accuracy, over the space or a recorded sample."""
    cells, left_out = usable(proto, ctx, _cells(proto, ctx))
    return correlation_on(proto, ctx, cells, left_out)
