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

Two settings make the readings issue #24 asks for: ``variant`` reads the member tables of a
named tables variant (``benchmarks/scores/variants/<name>/``, e.g. ``float32``: the AZ-NAS
components in the anchor's float32 arithmetic; the default tables hold them in float64, the
same on every host), and ``non_finite`` says what a cell with a non-finite member score
(-inf: a float32 spectrum's rounding, an identity block's trainability) becomes: ``last``
(the anchor's rule: -inf, ranked below every finite score of that member), ``drop`` (the cell
leaves the population) or ``median`` (that member's score is the median of its finite scores
over the population).
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
from harness.kinds.correlation import (
    MIN_NOISE_CELLS,
    MIN_PAIRS,
    in_subset,
    sampling_se,
    zero_correlation,
)
from harness.registry import DATASETS, METRICS, ClaimError, choice, known_fields, proxy_names
from harness.stats import COEFFICIENTS, correlation, ranked_last
from harness.verdicts import Estimate
from tfnas.errors import shown
from tfnas.space import CELL_SUBSETS

QUANTITIES = ("correlation", "selected")
NON_FINITE = ("last", "drop", "median")
"""What a non-finite member score becomes (module doc): ranked last, the cell dropped, or the
member's median over the population."""
NON_FINITE_WHAT = {"last": "ranked below every finite score of their member (the anchor's rule)",
                   "drop": "left out of the population",
                   "median": "their member's median over the population"}
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
    variant: str | None = None
    non_finite: str = "last"
    cells: str = "all"
    """The subset of the space the population is drawn from (``tfnas.space.CELL_SUBSETS``: ``all``,
    or e.g. ``without_dead_ops``, the 9,445 cells VKDNW's Table 1 aggregates over); ranks are
    within that population, as the anchors rank within the cells they score."""

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
        choice(cid, where, proto, "non_finite", NON_FINITE, required=False)
        choice(cid, where, proto, "cells", tuple(CELL_SUBSETS), required=False)
        variant = proto.get("variant")
        if variant is not None:
            from tfnas.errors import TfnasError
            from tfnas.tables import variant_root

            try:
                variant_root(variant)
            except TfnasError as exc:
                raise ClaimError(f"claim {cid!r}: field '{where}.variant' is {shown(variant)}, "
                                 "expected the plain name of a tables variant (a folder of "
                                 "benchmarks/scores/variants/, e.g. 'float32')") from exc
        return cls(proto["proxy"], proto["dataset"], proto["metric"], proto["quantity"],
                   proto.get("coefficient"), proto.get("score_dataset"), variant,
                   proto.get("non_finite", "last"), proto.get("cells", "all"))


def member_scores(proxy: str, ctx: Context, cells: tuple[Any, ...], scored_on: str,
                  variant: str | None = None) -> dict[str, np.ndarray]:
    """Each member's scores of ``cells`` from its table (of the tables variant ``variant``)."""
    from tfnas.proxies import get_proxy

    out = {}
    for m in get_proxy(proxy).members:
        table = ctx.table(m, scored_on, variant)
        out[m] = np.array([table.scores[c] for c in cells], dtype=float)
    return out


def non_finite_cells(members: Mapping[str, np.ndarray]) -> np.ndarray:
    """The mask of the population's cells with a non-finite score of any member."""
    return np.logical_or.reduce([~np.isfinite(x) for x in members.values()])


def apply_non_finite(members: Mapping[str, np.ndarray], rule: str
                     ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The member scores under the non-finite ``rule`` (:data:`NON_FINITE`), and the mask of the
    population's cells kept (all of them but under ``drop``)."""
    bad = non_finite_cells(members)
    if rule == "last":
        return dict(members), np.ones_like(bad)
    if rule == "drop":
        return {m: x[~bad] for m, x in members.items()}, ~bad
    if rule != "median":
        raise ValueError(f"non_finite must be one of {NON_FINITE}, got {shown(rule)}")
    out = {}
    for m, x in members.items():
        finite = np.isfinite(x)
        out[m] = np.where(finite, x, np.median(x[finite])) if finite.any() else x
    return out, np.ones_like(bad)


def combine(proxy: str, members: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """The ensemble ``proxy``'s scores of a population of ``n`` cells from its members' scores."""
    from tfnas.proxies import get_proxy

    out = np.asarray(get_proxy(proxy).function(dict(members)), dtype=float)
    if out.shape != (n,):
        raise NotRun(f"ensemble {proxy!r} returned shape {out.shape} for {n} cells")
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


def aggregate_noise_se(proto: RankAggregateProtocol, ctx: Context, cells: tuple[Any, ...],
                       n_cells: int) -> tuple[float, dict[str, Any]]:
    """The standard error the members' scoring noise adds to the aggregate's coefficient over
    ``n_cells`` cells, and what was used (``details.scoring_noise``), as the correlation kind
    carries a single table's (:func:`harness.kinds.correlation.scoring_noise_se`).

    Every seed-dependent member has further realisations on a uniform sample of re-scored cells
    (:mod:`harness.noise`); on the cells all of them hold that the claim also reads, the aggregate
    (ranks within those cells, the claim's non-finite rule) is correlated with accuracy under each
    realisation seed they share; the standard deviation between realisations, scaled by
    ``sqrt(m / n_cells)``, joins the claim's error. Seed-free members (the FLOPs) keep their one
    value."""
    from harness.noise import seed_free
    from tfnas.proxies import get_proxy

    if not ctx.scoring_noise:
        return 0.0, {"note": "scoring noise off (--no-scoring-noise)"}
    members = get_proxy(proto.proxy).members
    noises = {m: ctx.noise(m, proto.scored_on, proto.variant)
              for m in members if not seed_free(m)}
    lacking = [m for m, n in noises.items() if n is None or len(n.realisations) < 2]
    if lacking:
        return 0.0, {"note": f"one scoring realisation of {', '.join(lacking)} (no re-scored "
                             "uniform cells of its table under its scoring settings): scoring "
                             "noise not carried"}
    wanted = {c.index for c in cells}
    common = sorted(wanted.intersection(*(set(n.uniform.tolist()) for n in noises.values())))
    seeds = sorted(set.intersection(*(set(n.seeds) for n in noises.values())))
    if len(common) < MIN_NOISE_CELLS or len(seeds) < 2:
        return 0.0, {"note": f"{len(common)} re-scored cells common to the members and the "
                             f"claim, {len(seeds)} shared realisations: scoring noise not carried"}
    at = np.array(common)
    by_index = {c.index: c for c in cells}
    fixed = {m: np.array([ctx.table(m, proto.scored_on, proto.variant).scores[by_index[i]]
                          for i in common], dtype=float)
             for m in members if m not in noises}
    acc = ctx.accuracy_column(proto.dataset, proto.metric)[at]
    values = []
    for seed in seeds:
        drawn = {m: next(r.scores for r in n.realisations if r.seed == seed)[at]
                 for m, n in noises.items()}
        ruled, kept = apply_non_finite({m: (drawn | fixed)[m] for m in members}, proto.non_finite)
        x, _ = ranked_last(combine(proto.proxy, ruled, int(kept.sum())))
        y = acc[kept]
        ok = np.isfinite(y)
        values.append(correlation(x[ok], y[ok], proto.coefficient or "spearman"))
    sd = float(np.std(values, ddof=1))
    se = sd * (len(common) / max(n_cells, 1)) ** 0.5
    return se, {"seeds": seeds, "members": sorted(noises), "uniform_cells": len(common),
                "values": [float(v) for v in values], "sd_over_uniform_cells": sd, "se": se,
                "note": (f"the aggregate's coefficient on the {len(common)} re-scored uniform "
                         f"cells under each of {len(values)} realisations of its members; their "
                         f"sd scaled by sqrt({len(common)}/{n_cells}) is carried in se")}


@register_kind("rank_aggregate", protocol=RankAggregateProtocol, side=True,
               details=RankAggregateDetails, null=aggregate_null)
def measure_rank_aggregate(proto: RankAggregateProtocol, ctx: Context) -> Measurement:
    """The ensemble's coefficient with accuracy, or its selected cell's accuracy (module doc)."""
    from tfnas.proxies import get_proxy

    members = get_proxy(proto.proxy).members
    cell_set = in_subset(proto, common_cells(ctx, [(m, proto.scored_on) for m in members],
                                             proto.variant))
    if proto.quantity == "selected" and cell_set.sampled:
        raise NotRun(f"not comparable on a sample: the selected cell is the top of all "
                     f"{cell_set.population} cells, and over the {len(cell_set.cells)}-cell "
                     "sample the incomplete tables hold the top cell is the best of that many "
                     "cells, a different quantity; finish the sweeps of "
                     f"{', '.join(members)}")
    raw = member_scores(proto.proxy, ctx, cell_set.cells, proto.scored_on, proto.variant)
    ruled, kept = apply_non_finite(raw, proto.non_finite)
    cells = tuple(c for c, k in zip(cell_set.cells, kept, strict=True) if k)
    if not cells:
        raise NotRun(f"every cell has a non-finite {' or '.join(members)} score")
    scores = combine(proto.proxy, ruled, len(cells))
    acc_all = ctx.accuracy_column(proto.dataset, proto.metric)
    acc = acc_all[[c.index for c in cells]]
    whole = "whole space" if proto.cells == "all" else f"subset {proto.cells}"
    member_tables = {m: {"variant": proto.variant or "default",
                         "precision": ctx.table(m, proto.scored_on, proto.variant).precision,
                         "non_finite_cells": int((~np.isfinite(x)).sum())}
                     for m, x in raw.items()}
    details: dict[str, Any] = {"members": list(members), "population": len(cells),
                               "member_tables": member_tables,
                               "non_finite": {"rule": proto.non_finite,
                                              "cells": int(non_finite_cells(raw).sum()),
                                              "what": NON_FINITE_WHAT[proto.non_finite]},
                               "space_sample": cell_set.describe(),
                               "cell_set": whole if not cell_set.sampled else
                               f"uniform random sample of {len(cell_set.cells)} of the "
                               f"{cell_set.population} cells of the {whole} "
                               "(incomplete tables)"}
    order = np.argsort(-np.where(np.isfinite(scores), scores, -np.inf), kind="stable")
    details["top_cells"] = [{"cell": str(cells[i]), "index": cells[i].index,
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
    own = (sampling_se(r, proto.coefficient, int(x.size), cell_set.population)
           if cell_set.sampled else 0.0)
    noise_se, details["scoring_noise"] = aggregate_noise_se(proto, ctx, cells, int(x.size))
    se = float(np.hypot(own, noise_se))
    left_out = [{"cells": int((~keep).sum()), "why": f"no finite {proto.metric} accuracy"}]
    if not kept.all():
        left_out.append({"cells": int((~kept).sum()),
                         "why": f"a non-finite {' or '.join(members)} score (non_finite = drop)"})
    details.update({"n_cells": int(x.size), "ranked_last": last,
                    "left_out": [e for e in left_out if e["cells"]]})
    return Measurement(Estimate(r, None, int(x.size), None, se), details)
