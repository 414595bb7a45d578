"""Correlation claims: a proxy's scores against accuracy, over the space or a recorded sample."""

from __future__ import annotations

import dataclasses
import functools
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness import schema
from harness.context import Context, NotRun
from harness.details import Canvas, Details, proxy_subject, recorded
from harness.kinds import Measurement, Null, register_kind
from harness.kinds._samples import CellSet, common_cells
from harness.markdown import fmt, md_text
from harness.registry import (
    DATASETS,
    METRICS,
    ClaimError,
    choice,
    int_in,
    known_fields,
    proxy_names,
)
from harness.stats import COEFFICIENTS, bootstrap_correlation_ci, correlation, ranked_last
from harness.verdicts import Estimate
from tfnas.checks import MAX_SEED, WHY_SEED
from tfnas.space import CELL_SUBSETS, cell_subset
from tfnas.spaces import get_space

SCATTER_POINTS = 1500
"""Pairs recorded for the report's scatter plot."""
MIN_PAIRS = 3
"""Fewest finite (score, accuracy) pairs a correlation is computed from."""
MIN_NOISE_CELLS = 10
"""Re-scored uniform cells below which a realisation's coefficient is too rough to carry."""


@dataclass(frozen=True)
class CorrelationProtocol:
    """``proxy`` scores (of ``score_dataset``, default ``dataset``) against ``metric`` accuracy,
    or against another proxy's scores on the same data (``against``, e.g. "params");
    ``sample`` cells drawn with ``seed`` (0 = the whole space); ``absolute``: the claim is on
    |coefficient| (Abdelfattah et al. report |Spearman rho|); ``cells``: the subset of the space
    the coefficient is over (``tfnas.space.CELL_SUBSETS``: ``all``, or e.g. ``without_dead_ops``,
    the 9,445 cells VKDNW's Table 1 evaluates)."""

    proxy: str
    dataset: str
    metric: str | None
    coefficient: str
    score_dataset: str | None = None
    sample: int = 0
    seed: int = 0
    against: str | None = None
    absolute: bool = False
    cells: str = "all"

    @property
    def scored_on(self) -> str:
        return self.score_dataset or self.dataset

    @classmethod
    def from_dict(cls, cid: str, where: str, proto: Mapping[str, Any]) -> CorrelationProtocol:
        known_fields(cid, where, proto, cls)
        choice(cid, where, proto, "proxy", proxy_names())
        choice(cid, where, proto, "dataset", DATASETS)
        choice(cid, where, proto, "score_dataset", DATASETS, required=False)
        choice(cid, where, proto, "against", proxy_names(), required=False)
        choice(cid, where, proto, "metric", METRICS, required="against" not in proto)
        if "against" in proto and "metric" in proto:
            raise ClaimError(f"claim {cid!r}: field '{where}.against' replaces the accuracy: "
                             "give 'metric' or 'against', not both")
        choice(cid, where, proto, "coefficient", COEFFICIENTS)
        sample = int_in(cid, f"{where}.sample", proto.get("sample", 0), 0, get_space("tss").size,
                        "cells drawn from the space; 0 = the whole space")
        seed = int_in(cid, f"{where}.seed", proto.get("seed", 0), 0, MAX_SEED, WHY_SEED)
        absolute = proto.get("absolute", False)
        if not isinstance(absolute, bool):
            raise ClaimError(f"claim {cid!r}: field '{where}.absolute' must be true or false "
                             "(true: the claim is on the coefficient's absolute value)")
        choice(cid, where, proto, "cells", tuple(CELL_SUBSETS), required=False)
        cells = proto.get("cells", "all")
        if cells != "all" and sample:
            raise ClaimError(f"claim {cid!r}: field '{where}.cells' is {cells!r} and "
                             f"'{where}.sample' is {sample}: a sample of k cells is drawn from the "
                             "whole space; give one or the other")
        return cls(proto["proxy"], proto["dataset"], proto.get("metric"), proto["coefficient"],
                   proto.get("score_dataset"), sample, seed, proto.get("against"), absolute, cells)

    @property
    def target(self) -> str:
        """What the scores are correlated with: ``<metric> accuracy`` or ``<proxy> scores``."""
        return f"{self.against} scores" if self.against else f"{self.metric} accuracy"


@functools.cache
def subset_size(name: str) -> int:
    """How many cells of the space the named subset holds."""
    contains = cell_subset(name).contains
    return sum(1 for arch in get_space("tss").all_cells() if contains(arch))


def in_subset(proto: CorrelationProtocol, cell_set: CellSet) -> CellSet:
    """``cell_set`` restricted to the protocol's subset of the space (``cells``): a uniform sample
    of the space restricted to a subset is a uniform sample of the subset, whose size is then
    the population."""
    if proto.cells == "all":
        return cell_set
    contains = cell_subset(proto.cells).contains
    return dataclasses.replace(cell_set, cells=tuple(c for c in cell_set.cells if contains(c)),
                               population=subset_size(proto.cells))


def _target(proto: CorrelationProtocol, ctx: Context) -> np.ndarray:
    """The values correlated with the scores, by official index (accuracy or another proxy)."""
    if proto.against is None:
        return ctx.accuracy_column(proto.dataset, proto.metric)

    other = ctx.table(proto.against, proto.scored_on)
    column = np.full(get_space("tss").size, np.nan)
    for arch, value in other.scores.items():
        column[arch.index] = value
    return column


RANKED = ("spearman", "kendall")
"""Rank coefficients: a cell whose score is not finite (-inf: a singular NASWOT kernel; NaN) is
ranked last, tied with the others like it, as the source papers rank zero/-inf scores; Pearson
needs finite values and leaves such cells out, saying so."""


def usable(proto: CorrelationProtocol, ctx: Context, cells: list[Any]) -> tuple[list[Any], list[dict]]:
    """The cells the correlation can use and, for those left out, how many and why."""

    table = ctx.table(proto.proxy, proto.scored_on)
    acc = _target(proto, ctx)
    missing = [c for c in cells if c not in table.scores]
    if missing:
        raise NotRun(f"score table {proto.proxy}/{table.dataset} lacks {len(missing)} of the "
                     f"{len(cells)} cells this correlation needs (table has {len(table.scores)} "
                     f"of {get_space('tss').size}); finish the sweep")
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


Z_VARIANCE = {"pearson": lambda r: 1.0, "spearman": lambda r: 1.0 + r * r / 2.0,
              "kendall": lambda r: 0.437}
"""Variance x (n - c) of Fisher's z of each coefficient over n cells (c = 3; 4 for Kendall):
Fisher (Pearson), Bonett & Wright 2000 (Spearman), Fieller, Hartley & Pearson 1957 (Kendall)."""


def sampling_se(r: float, kind: str, n: int, population: int) -> float:
    """Standard error of a coefficient computed on ``n`` cells drawn without replacement from
    ``population``, around the population value ``r`` (delta method through Fisher's z, with
    the finite-population correction)."""
    c = 4 if kind == "kendall" else 3
    if n <= c or n >= population:
        return 0.0
    z_se = (Z_VARIANCE[kind](r) / (n - c)) ** 0.5
    return float((1.0 - r * r) * z_se * ((population - n) / (population - 1)) ** 0.5)


def coefficient_on(proto: CorrelationProtocol, ctx: Context, cells: list[Any]
                 ) -> tuple[float, np.ndarray, np.ndarray, int]:
    """(coefficient, scores, targets, cells ranked last) over exactly ``cells``."""
    table = ctx.table(proto.proxy, proto.scored_on)
    acc = _target(proto, ctx)
    x = np.array([table.scores[c] for c in cells], dtype=float)
    y = np.array([acc[c.index] for c in cells], dtype=float)
    x, last = ranked_last(x)  # below every finite score, tied with each other
    if x.size - last < MIN_PAIRS:
        raise NotRun(f"only {x.size - last} of the {x.size} cells have a finite "
                     f"{proto.proxy} score on {table.dataset}; a correlation needs {MIN_PAIRS}")
    if x.size < MIN_PAIRS:
        raise NotRun(f"only {x.size} cells have a usable score and accuracy for "
                     f"{proto.proxy}/{table.dataset}; a correlation needs {MIN_PAIRS}")
    return correlation(x, y, proto.coefficient), x, y, last


def scoring_noise_se(proto: CorrelationProtocol, ctx: Context, n_cells: int
                     ) -> tuple[float, dict[str, Any]]:
    """The standard error the scoring noise adds to the coefficient over ``n_cells`` cells, and
    what was used (``details.scoring_noise``).

    The table is one scoring realisation; :mod:`harness.noise` holds further ones on a uniform
    sample of ``m`` re-scored cells. The coefficient is computed on those ``m`` cells under every
    realisation; its standard deviation between realisations, scaled by ``sqrt(m / n_cells)``
    (each cell's score noise is independent, so the coefficient's realisation variance falls as
    1/n), is the scoring-noise part of the whole coefficient's error. Without realisations the
    table's own realisation is all there is, and the details say so.
    """
    if not ctx.scoring_noise:
        return 0.0, {"note": "scoring noise off (--no-scoring-noise)"}
    from harness.noise import seed_free

    if seed_free(proto.proxy):
        return 0.0, {"note": f"{proto.proxy} does not depend on the score seed: no scoring noise"}
    noise = ctx.noise(proto.proxy, proto.scored_on)
    if noise is None or len(noise.realisations) < 2 or noise.uniform.size < MIN_NOISE_CELLS:
        return 0.0, {"note": "one scoring realisation (no re-scored uniform cells of this "
                             "table under its scoring settings): scoring noise not carried"}
    y = _target(proto, ctx)[noise.uniform]
    values = []
    for realisation in noise.realisations:
        x, _ = ranked_last(realisation.scores[noise.uniform])
        flat = bool(np.all(x == x[0]))  # a constant realisation has no coefficient
        values.append(math.nan if flat else _signed(proto, correlation(x, y, proto.coefficient)))
    if not np.all(np.isfinite(values)):
        return 0.0, {**noise.describe(), "note": "the coefficient is undefined under some "
                     "realisation on the re-scored cells (a constant score): scoring noise not "
                     "carried"}
    sd = float(np.std(values, ddof=1))
    se = sd * (noise.uniform.size / max(n_cells, 1)) ** 0.5
    return se, {**noise.describe(), "uniform_cells": int(noise.uniform.size),
                "values": [float(v) for v in values], "sd_over_uniform_cells": sd, "se": se,
                "note": (f"the coefficient on the {noise.uniform.size} re-scored uniform cells "
                         f"under each of {len(values)} realisations; their sd scaled by "
                         f"sqrt({noise.uniform.size}/{n_cells}) is carried in se")}


def _tables(proto: CorrelationProtocol) -> list[tuple[str, str]]:
    """The score tables a correlation reads: the proxy's, and the ``against`` proxy's."""
    out = [(proto.proxy, proto.scored_on)]
    if proto.against is not None:
        out.append((proto.against, proto.scored_on))
    return out


def _signed(proto: CorrelationProtocol, r: float) -> float:
    return abs(r) if proto.absolute else r


def correlation_on(proto: CorrelationProtocol, ctx: Context, cells: list[Any],
                   left_out: list[dict], cell_set: CellSet | None = None) -> Measurement:
    """The coefficient over ``cells`` (non-finite scores ranked last for rank coefficients).

    Seed-free. Over complete tables the value is the coefficient over the usable cells of the
    whole space, which has no sampling error over cells (``se = 0``). A claim on a ``sample``
    of k cells (the published value came from such a sample) carries the sampling error of a
    coefficient over k cells in ``se`` instead of depending on which cells one seed draws; the
    seeded sample's own coefficient and bootstrap interval are recorded beside it, not judged.

    Over an incomplete table (``cell_set.sampled``: its uniform sample of n cells) the value is
    the coefficient over the sample, an estimate of the whole-space value with the standard
    error of a coefficient over n cells drawn without replacement (:func:`sampling_se`, with
    the finite-population correction); a claim on k sampled cells adds the k-cell sampling
    error of the published value (independent draws: the variances add), and its seeded
    k cells are drawn from the sample's cells. ``absolute``: the value is |coefficient|, with
    the same standard error.
    """
    if cell_set is None:
        cell_set = in_subset(proto, common_cells(ctx, _tables(proto)))
    r, x, y, last = coefficient_on(proto, ctx, cells)
    seed = ctx.seed_for(proto.seed)
    pick = np.random.default_rng(seed).choice(x.size, size=min(SCATTER_POINTS, x.size),
                                              replace=False)
    details = {"n_cells": int(x.size), "left_out": left_out, "ranked_last": last,
               "dropped_nonfinite": sum(d["cells"] for d in left_out), "seed": seed,
               "cell_set": "whole space" if proto.cells == "all"
               else cell_subset(proto.cells).description,
               "scatter": {"score": [float(v) for v in x[pick]],
                           "accuracy": [float(v) for v in y[pick]]}}
    if proto.absolute:
        details["signed_value"] = r
    n_cells = int(x.size)
    if cell_set.sampled:
        details["cell_set"] = (f"uniform random sample of {n_cells} of the "
                               f"{cell_set.population} cells (incomplete table)"
                               + ("" if proto.cells == "all" else
                                  f" of {cell_subset(proto.cells).description}"))
        details["space_sample"] = cell_set.describe()
        own_se = sampling_se(r, proto.coefficient, n_cells, cell_set.population)
    else:
        own_se = 0.0
    noise_se, details["scoring_noise"] = scoring_noise_se(proto, ctx, n_cells)
    own_se = float(np.hypot(own_se, noise_se))
    if proto.sample == 0:
        return Measurement(Estimate(_signed(proto, r), None, n_cells, None, own_se),
                           CorrelationDetails.of(details))

    n = min(proto.sample, n_cells)
    if cell_set.sampled:
        chosen = set(random.Random(seed).sample(sorted(cells, key=lambda c: c.index), n))
        where = f"the {n_cells}-cell sample"
    else:
        chosen = set(get_space("tss").sample_distinct(random.Random(seed), n))
        where = "whole space"
    sub = [c for c in cells if c in chosen]
    r_sample, xs, ys, _ = coefficient_on(proto, ctx, sub)
    lo, hi = bootstrap_correlation_ci(xs, ys, proto.coefficient, np.random.default_rng(seed),
                                      n_resamples=ctx.bootstrap)
    details.update({"cell_set": f"{where}; the claim's statistic is over {n} random cells",
                    "sample": {"cells": len(sub), "seed": seed, "value": r_sample,
                               "bootstrap_ci": [lo, hi], "bootstrap_resamples": ctx.bootstrap}})
    population = cell_set.population if cell_set.sampled else n_cells
    claim_se = sampling_se(r, proto.coefficient, proto.sample, population)
    se = float(np.hypot(claim_se, own_se))
    return Measurement(Estimate(_signed(proto, r), None, proto.sample if cell_set.sampled else n,
                                None, se), CorrelationDetails.of(details))


# ---------------------------------------------------------------- the result record


MAX_SCATTER_FIGURES = 3
"""Most score-vs-accuracy figures (one per proxy, target and coefficient; a panel per dataset)."""
MAX_POINTS = 5000
"""Most points drawn in one scatter panel (a claim records 1,500)."""


def _scatter(v: Any, p: str) -> dict:
    d = schema.fields(v, p, {"score": schema.list_of(schema.number),
                             "accuracy": schema.list_of(schema.number)}, {})
    if len(d["score"]) != len(d["accuracy"]):
        raise schema.Invalid(f"{p}.accuracy", f"as long as {p}.score ({len(d['score'])})",
                             d["accuracy"])
    return d


@dataclass(frozen=True, eq=False)
class CorrelationDetails(Details):
    """What a correlation claim records: the cells it used and a seeded sample of its points."""

    n_cells: int | None = recorded(schema.count)
    cell_set: str | None = recorded(schema.string)
    scatter: dict[str, list[float]] | None = recorded(_scatter)

    def lines(self, outcome: Any) -> list[str]:
        if self.n_cells is None:
            return []
        return [f"- cells: {fmt(self.n_cells)} ({md_text(self.cell_set or 'cell set not recorded')})"]

    @classmethod
    def subject(cls, outcome: Any) -> tuple[str, ...] | None:
        return proxy_subject(outcome)

    @classmethod
    def describe(cls, outcome: Any) -> str:
        p = outcome.protocol
        target = p.get("against") or p.get("metric")
        words = [v for v in (p.get("coefficient"), target) if isinstance(v, str)]
        subset = p.get("cells")
        return (" ".join(md_text(v) for v in words)
                + (" absolute" if p.get("absolute") is True else "")
                + (f" on {md_text(subset)}" if isinstance(subset, str) and subset != "all" else ""))

    @classmethod
    def plots(cls, outcomes: Sequence[Any], canvas: Canvas) -> list[str]:
        """Score against accuracy per dataset, one figure per (proxy, target, coefficient), the
        groups with the most datasets first; each panel the first claim by id."""
        import matplotlib.pyplot as plt

        groups: dict[tuple[str, ...], dict[str, Any]] = {}
        for r in sorted(outcomes, key=lambda r: r.id):
            if not (r.measured and isinstance(r.details, CorrelationDetails) and r.details.scatter):
                continue
            p = r.protocol
            key = tuple(str(p.get(k) or "") for k in ("proxy", "metric", "coefficient"))
            groups.setdefault(key, {}).setdefault(str(p.get("dataset") or ""), r)
        chosen = sorted(groups.items(), key=lambda kv: -len(kv[1]))[:MAX_SCATTER_FIGURES]
        names = []
        for (proxy, metric, coefficient), by_dataset in chosen:
            fig, axes = plt.subplots(1, len(by_dataset), figsize=(4.3 * len(by_dataset), 4),
                                     squeeze=False)
            for ax, (dataset, r) in zip(axes[0], by_dataset.items(), strict=True):
                x, y = _finite_pairs(r.details.scatter["score"], r.details.scatter["accuracy"])
                ax.set_title(f"{dataset[:30]} ({r.id[:40]})", fontsize=8)
                ax.scatter(x, y, s=3, alpha=0.4)
                value = r.reproduced.value if r.reproduced is not None else None
                published = r.published.value if r.published is not None else None
                ax.set_xlabel(f"{proxy[:30]} score")
                ax.set_ylabel(f"{metric[:30]} accuracy (%)")
                ax.text(0.03, 0.95, f"{coefficient[:12]} = {fmt(value, 3)} (published "
                        f"{fmt(published)})", transform=ax.transAxes, va="top")
            fig.tight_layout()
            names.append(canvas.save(fig, f"scatter_{len(names)}.png"))
            plt.close(fig)
        return names


def _finite_pairs(xs: list, ys: list) -> tuple[list[float], list[float]]:
    pairs = [(x, y) for x, y in zip(xs, ys, strict=False) if math.isfinite(x) and math.isfinite(y)]
    pairs = pairs[:MAX_POINTS]
    return [x for x, _ in pairs], [y for _, y in pairs]


def claim_cells(proto: CorrelationProtocol, ctx: Context) -> list[Any]:
    """The cells the claim is judged on: every cell of the space when its tables are complete
    (a sampled claim is judged on the population value, above), else the tables' uniform sample
    (:func:`harness.kinds._samples.common_cells`; refused when a table is no sample), restricted
    to the protocol's subset (``cells``)."""
    return list(in_subset(proto, common_cells(ctx, _tables(proto))).cells)


def zero_correlation(coefficient: str, cells: int, population: int) -> Measurement:
    """A coefficient of 0 over ``cells`` of ``population`` cells, with the sampling error of a
    coefficient over that many cells drawn without replacement (0 over the whole space)."""
    se = sampling_se(0.0, coefficient, cells, population)
    return Measurement(Estimate(0.0, None, cells, None, se),
                       {"method": f"null: a {coefficient} coefficient of 0 over {cells} cells"})


def correlation_null(proto: CorrelationProtocol, ctx: Context) -> Null:
    """Zero correlation (a score that carries no information about the target), over as many
    cells as the claim's statistic (|0| = 0 for an ``absolute`` claim), in the claim's subset."""
    size = subset_size(proto.cells)
    cells = proto.sample or size
    return Null("zero correlation", result=zero_correlation(proto.coefficient, cells, size))


@register_kind("correlation", protocol=CorrelationProtocol, side=True,
               details=CorrelationDetails, null=correlation_null)
def measure_correlation(proto: CorrelationProtocol, ctx: Context) -> Measurement:
    """Correlation of a proxy's scores with accuracy, over the space or a recorded sample."""
    cell_set = in_subset(proto, common_cells(ctx, _tables(proto)))
    cells, left_out = usable(proto, ctx, list(cell_set.cells))
    return correlation_on(proto, ctx, cells, left_out, cell_set)
