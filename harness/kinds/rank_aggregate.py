"""Rank-aggregate claims: an ensemble proxy's population scores (AZ-NAS) against accuracy.

An ensemble proxy (registered with ``members=``, e.g. ``az_nas``) scores a *population* of
cells from its members' scores over that population (AZ-NAS: Σ_members log(rank / N) with ranks
within the population). The claim aggregates the member tables over the claim's cells — the
whole space, or the incomplete tables' common uniform sample (:mod:`harness.kinds._samples`) —
and measures either

* ``quantity = "correlation"``: the ``coefficient`` (Kendall τ, Spearman ρ) of the aggregate
  with accuracy; over a sample of n cells it carries the sampling error of a coefficient over n
  cells drawn without replacement (as the correlation kind). On a sample the ranks are ranks
  within the sample, i.e. estimates of the cells' population quantiles, so the aggregate over
  the sample estimates the population aggregate's order on those cells; or
* ``quantity = "selected"``: the accuracy of the cell the aggregate puts first (ties: the lowest
  official index). It needs every cell: on a sample the top cell is the best of n cells, a
  different quantity, so a sample is refused as not comparable (not run), not estimated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.context import Context, NotRun
from harness.details import Details, proxy_subject
from harness.kinds import Measurement, Null, register_kind
from harness.kinds._samples import common_cells
from harness.kinds.correlation import MIN_PAIRS, sampling_se, zero_correlation
from harness.registry import DATASETS, METRICS, ClaimError, choice, known_fields, proxy_names
from harness.stats import COEFFICIENTS, correlation, ranked_last
from harness.verdicts import Estimate
from tfnas.errors import shown

QUANTITIES = ("correlation", "selected")
TOP = 5
"""Cells recorded at the top of the aggregate."""


@dataclass(frozen=True)
class RankAggregateProtocol:
    """The ensemble ``proxy`` over its members' tables (of ``score_dataset``, default
    ``dataset``), against ``metric`` accuracy of ``dataset``: a ``coefficient`` or the
    ``selected`` cell's accuracy."""

    proxy: str
    dataset: str
    metric: str
    quantity: str
    coefficient: str | None = None
    score_dataset: str | None = None

    @property
    def scored_on(self) -> str:
        return self.score_dataset or self.dataset

    @classmethod
    def from_dict(cls, cid: str, where: str, proto: Mapping[str, Any]) -> RankAggregateProtocol:
        known_fields(cid, where, proto, cls)
        choice(cid, where, proto, "proxy", proxy_names())
        from tfnas.proxies import get_proxy

        if not get_proxy(proto["proxy"]).ensemble:
            raise ClaimError(f"claim {cid!r}: field '{where}.proxy' is {shown(proto['proxy'])}, "
                             "expected an ensemble proxy (one registered with members=)")
        choice(cid, where, proto, "dataset", DATASETS)
        choice(cid, where, proto, "score_dataset", DATASETS, required=False)
        choice(cid, where, proto, "metric", METRICS)
        choice(cid, where, proto, "quantity", QUANTITIES)
        choice(cid, where, proto, "coefficient", COEFFICIENTS,
                required=proto["quantity"] == "correlation")
        if proto["quantity"] == "selected" and "coefficient" in proto:
            raise ClaimError(f"claim {cid!r}: field '{where}.coefficient' belongs to quantity "
                             "'correlation'; the selected cell's accuracy has none")
        return cls(proto["proxy"], proto["dataset"], proto["metric"], proto["quantity"],
                   proto.get("coefficient"), proto.get("score_dataset"))


def aggregate(proxy: str, ctx: Context, cells: tuple[Any, ...], scored_on: str) -> np.ndarray:
    """The ensemble's scores of ``cells`` (the population) from its members' tables."""
    from tfnas.proxies import get_proxy

    found = get_proxy(proxy)
    member_scores = {}
    for m in found.members:
        table = ctx.table(m, scored_on)
        member_scores[m] = np.array([table.scores[c] for c in cells], dtype=float)
    out = np.asarray(found.function(member_scores), dtype=float)
    if out.shape != (len(cells),):
        raise NotRun(f"ensemble {proxy!r} returned shape {out.shape} for {len(cells)} cells")
    return out


@dataclass(frozen=True, eq=False)
class RankAggregateDetails(Details):
    """An aggregate's record; its subject is the aggregate proxy."""

    @classmethod
    def subject(cls, outcome: Any) -> tuple[str, ...] | None:
        return proxy_subject(outcome)


def aggregate_null(proto: RankAggregateProtocol, ctx: Context) -> Null:
    """Zero correlation for a coefficient; for the selected cell, a random cell (the space's
    mean accuracy, with the spread of one cell)."""
    from tfnas.spaces import get_space

    size = get_space("tss").size
    if proto.quantity != "selected":
        assert proto.coefficient is not None
        return Null("zero correlation", result=zero_correlation(proto.coefficient, size, size))
    acc = ctx.accuracy_column(proto.dataset, proto.metric)
    acc = acc[np.isfinite(acc)]
    return Null("a random cell", result=Measurement(
        Estimate(float(acc.mean()), float(acc.std(ddof=1)), None, None, float(acc.std(ddof=1))),
        {"method": f"null: one uniformly random cell of {acc.size}"}))


@register_kind("rank_aggregate", protocol=RankAggregateProtocol, side=True,
               details=RankAggregateDetails, null=aggregate_null)
def measure_rank_aggregate(proto: RankAggregateProtocol, ctx: Context) -> Measurement:
    """The ensemble's coefficient with accuracy, or its selected cell's accuracy (module doc)."""
    from tfnas.proxies import get_proxy

    members = get_proxy(proto.proxy).members
    cell_set = common_cells(ctx, [(m, proto.scored_on) for m in members])
    if proto.quantity == "selected" and cell_set.sampled:
        raise NotRun(f"not comparable on a sample: the selected cell is the top of all "
                     f"{cell_set.population} cells, and over the {len(cell_set.cells)}-cell "
                     "sample the incomplete tables hold the top cell is the best of that many "
                     "cells, a different quantity; finish the sweeps of "
                     f"{', '.join(members)}")
    scores = aggregate(proto.proxy, ctx, cell_set.cells, proto.scored_on)
    acc_all = ctx.accuracy_column(proto.dataset, proto.metric)
    acc = acc_all[[c.index for c in cell_set.cells]]
    details: dict[str, Any] = {"members": list(members), "population": len(cell_set.cells),
                               "space_sample": cell_set.describe(),
                               "cell_set": "whole space" if not cell_set.sampled else
                               f"uniform random sample of {len(cell_set.cells)} of the "
                               f"{cell_set.population} cells (incomplete tables)"}
    order = np.argsort(-np.where(np.isfinite(scores), scores, -np.inf), kind="stable")
    details["top_cells"] = [{"cell": str(cell_set.cells[i]), "index": cell_set.cells[i].index,
                             "score": float(scores[i]), "accuracy": float(acc[i])}
                            for i in order[:TOP]]
    if proto.quantity == "selected":
        best = int(order[0])
        if not np.isfinite(scores[best]):
            raise NotRun(f"no cell has a finite {proto.proxy} score")
        ties = int((scores == scores[best]).sum())
        details.update({"selected": details["top_cells"][0], "tied_at_top": ties,
                        "tie_rule": "the lowest official index among the tied"})
        if not np.isfinite(acc[best]):
            raise NotRun(f"the selected cell has no finite {proto.metric} accuracy")
        return Measurement(Estimate(float(acc[best]), None, 1, None, 0.0), details)
    keep = np.isfinite(acc)
    x, last = ranked_last(scores[keep])
    y = acc[keep]
    if x.size - last < MIN_PAIRS:
        raise NotRun(f"only {x.size - last} cells have a finite {proto.proxy} score; a "
                     f"correlation needs {MIN_PAIRS}")
    assert proto.coefficient is not None
    r = correlation(x, y, proto.coefficient)
    se = (sampling_se(r, proto.coefficient, int(x.size), cell_set.population)
          if cell_set.sampled else 0.0)
    details.update({"n_cells": int(x.size), "ranked_last": last,
                    "left_out": [{"cells": int((~keep).sum()),
                                  "why": f"no finite {proto.metric} accuracy"}]
                    if (~keep).any() else []})
    return Measurement(Estimate(r, None, int(x.size), None, se), details)
