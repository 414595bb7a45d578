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
    """``proxy`` scores (of ``score_dataset``, default ``dataset``) against ``metric`` accuracy;
    ``sample`` cells drawn with ``seed`` (0 = the whole space)."""

    proxy: str
    dataset: str
    metric: str
    coefficient: str
    score_dataset: str | None = None
    sample: int = 0
    seed: int = 0

    @property
    def scored_on(self) -> str:
        return self.score_dataset or self.dataset

    @classmethod
    def from_dict(cls, cid: str, where: str, proto: Mapping[str, Any]) -> CorrelationProtocol:
        _known_fields(cid, where, proto, cls)
        _choice(cid, where, proto, "proxy", _proxy_names())
        _choice(cid, where, proto, "dataset", DATASETS)
        _choice(cid, where, proto, "score_dataset", DATASETS, required=False)
        _choice(cid, where, proto, "metric", METRICS)
        _choice(cid, where, proto, "coefficient", COEFFICIENTS)
        sample = proto.get("sample", 0)
        if not isinstance(sample, int) or isinstance(sample, bool) or sample < 0:
            raise ClaimError(f"claim {cid!r}: field '{where}.sample' must be an integer >= 0 "
                             "(0 = the whole space)")
        seed = proto.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ClaimError(f"claim {cid!r}: field '{where}.seed' must be an integer")
        return cls(proto["proxy"], proto["dataset"], proto["metric"], proto["coefficient"],
                   proto.get("score_dataset"), sample, seed)


@register_kind("correlation", protocol=CorrelationProtocol, side=True)
def measure_correlation(proto: CorrelationProtocol, ctx: Context) -> Measurement:
    """Correlation of a proxy's scores with accuracy, over the space or a recorded sample."""
    from tfnas.space import SPACE_SIZE, all_cells, sample_distinct

    table = ctx.table(proto.proxy, proto.scored_on)
    acc = ctx.accuracy_column(proto.dataset, proto.metric)
    cells = (all_cells() if proto.sample == 0
             else sample_distinct(random.Random(proto.seed), min(proto.sample, SPACE_SIZE)))
    missing = [c for c in cells if c not in table.scores]
    if missing:
        raise NotRun(f"score table {proto.proxy}/{table.dataset} lacks {len(missing)} of the "
                     f"{len(cells)} cells this correlation needs (table has {len(table.scores)} "
                     f"of {SPACE_SIZE}); finish the sweep")
    x = np.array([table.scores[c] for c in cells], dtype=float)
    y = np.array([acc[c.index] for c in cells], dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < MIN_PAIRS:
        raise NotRun(f"only {x.size} of the {len(cells)} cells have a finite score and accuracy "
                     f"for {proto.proxy}/{table.dataset}; a correlation needs {MIN_PAIRS}")
    r = correlation(x, y, proto.coefficient)
    rng = np.random.default_rng(proto.seed)
    lo, hi = bootstrap_correlation_ci(x, y, proto.coefficient, rng, n_resamples=ctx.bootstrap)
    pick = np.random.default_rng(proto.seed).choice(x.size, size=min(SCATTER_POINTS, x.size),
                                                    replace=False)
    details = {"n_cells": int(x.size), "dropped_nonfinite": int((~ok).sum()), "seed": proto.seed,
               "bootstrap_resamples": ctx.bootstrap,
               "scatter": {"score": [float(v) for v in x[pick]],
                           "accuracy": [float(v) for v in y[pick]]}}
    return Measurement(Estimate(r, None, int(x.size), (lo, hi)), details)
