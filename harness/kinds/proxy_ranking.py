"""Proxy-ranking claims: how a suite's proxies rank against one another on one dataset.

The published claim is an order of proxies by their (absolute) rank correlation with accuracy,
e.g. Abdelfattah et al.'s Table 1. Two published values closer than the correlation margin
(``gap``, the 0.05 the correlation claims use) do not claim an order: the between-batch spread
of one proxy's coefficient is that large. Only the **decided pairs** — published values more
than ``gap`` apart — are judged; each is

* *shown in order* when the measured difference of the two coefficients lies above 0 beyond
  its one-sided 95% bound (``d − 1.645·se > 0``),
* *shown reversed* when it lies below 0 beyond the Bonferroni bound over the decided pairs
  (``d + z·se < 0``, ``z`` the one-sided ``0.05 / pairs`` quantile), or exactly tied on exact
  values,
* *undecided* otherwise.

The value is 1 when every decided pair is shown in order (an intersection–union test: valid at
5% without a multiplicity correction), 0 when some pair is shown reversed (corrected over the
pairs, since any one suffices), else 0.5; the claim's rule is ``ordered`` (published 1),
which makes these reproduced, not reproduced and inconclusive (then ``details["decide"]`` names
the undecided pairs with their differences and standard errors). Over
complete tables the coefficients are exact over cells; over incomplete ones every judged
proxy is measured on the same cells, their tables' common uniform sample, so the two
coefficients of a pair are correlated and the se of their difference is that of the **paired
difference**: the same bootstrap resamples of the common cells for every proxy, the standard
deviation of the per-resample differences (:func:`paired_difference_se`), with the
finite-population correction. Each proxy's scoring-noise error (independent realisations per
proxy) adds in quadrature. ``also`` names further proxies measured and ranked beside them
(recorded, not judged; a missing table is recorded as missing).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import norm

from harness.context import Context, NotRun
from harness.details import Details
from harness.kinds import Measurement, register_kind
from harness.kinds._samples import common_cells
from harness.kinds.correlation import (
    CorrelationProtocol,
    coefficient_on,
    correlation_on,
    measure_correlation,
    usable,
)
from harness.registry import ClaimError, known_fields, number_in, proxy_names
from harness.stats import correlation
from harness.verdicts import Estimate
from tfnas.errors import TfnasError, one_line, shown

ALPHA = 0.05
"""One-sided level of each pair's decision (the claims' alpha)."""
IN_ORDER, REVERSED, UNDECIDED = "in order", "reversed", "undecided"


@dataclass(frozen=True)
class ProxyRankingProtocol:
    """The correlation protocol every proxy is measured with (``proxy`` left out), the
    published value of each judged proxy, the ``gap`` that decides a pair, and ``also``."""

    values: tuple[tuple[str, float], ...]
    """(proxy, published value), as written."""
    gap: float
    base: CorrelationProtocol
    """The correlation protocol of the first judged proxy; the others replace ``proxy``."""
    also: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, cid: str, where: str, proto: Mapping[str, Any]) -> ProxyRankingProtocol:
        corr_fields = {"dataset", "metric", "coefficient", "score_dataset", "absolute"}
        known_fields(cid, where, proto, corr_fields | {"values", "gap", "also"})
        values = proto.get("values")
        if not isinstance(values, dict) or len(values) < 2:
            raise ClaimError(f"claim {cid!r}: field '{where}.values' must be a table of at "
                             "least two {proxy = published value}")
        known = proxy_names()
        for name, v in values.items():
            if name not in known:
                raise ClaimError(f"claim {cid!r}: field '{where}.values' names {shown(name)}, "
                                 f"expected proxies among {known}")
            number_in(cid, f"{where}.values.{name}", v, -1, 1, "a correlation coefficient")
        gap = number_in(cid, f"{where}.gap", proto.get("gap"), 0, 2,
                        "the correlation margin: closer published values claim no order")
        also = proto.get("also", [])
        if not isinstance(also, list) or not all(isinstance(a, str) and a in known for a in also):
            raise ClaimError(f"claim {cid!r}: field '{where}.also' must be an array of proxy "
                             f"names among {known}, got {shown(also)}")
        pairs = [(name, float(v)) for name, v in values.items()]
        if not decided_pairs(pairs, float(gap)):
            raise ClaimError(f"claim {cid!r}: no two published values in '{where}.values' are "
                             f"more than gap = {gap} apart: the claim would judge no pair")
        first = {k: proto[k] for k in corr_fields if k in proto}
        base = CorrelationProtocol.from_dict(cid, where, {**first, "proxy": pairs[0][0]})
        return cls(tuple(pairs), float(gap), base, tuple(a for a in also if a not in values))


def decided_pairs(values: list[tuple[str, float]] | tuple[tuple[str, float], ...],
                  gap: float) -> list[tuple[str, str]]:
    """The pairs (higher, lower) whose published values differ by more than ``gap``."""
    return [(p, q) for p, vp in values for q, vq in values if vp - vq > gap]


def pair_status(d: float, se: float, pairs: int, alpha: float = ALPHA) -> str:
    """The decision on one pair from the measured difference ``d`` (published-higher minus
    published-lower) and its standard error (module doc)."""
    if se == 0:
        return IN_ORDER if d > 0 else REVERSED
    if d - norm.ppf(1 - alpha) * se > 0:
        return IN_ORDER
    if d + norm.ppf(1 - alpha / max(pairs, 1)) * se < 0:
        return REVERSED
    return UNDECIDED


def ranking_value(statuses: list[str]) -> float:
    """1 when every decided pair is in order, 0 when one is reversed, else 0.5."""
    if any(s == REVERSED for s in statuses):
        return 0.0
    return 1.0 if all(s == IN_ORDER for s in statuses) else 0.5


def paired_difference_se(a: np.ndarray, b: np.ndarray) -> float:
    """The standard error of the difference of two statistics from their paired draws (the same
    resamples or realisations): the sample sd of the per-draw differences a − b. It carries
    their correlation — below sd(a) + sd(b) unless they are perfectly anti-correlated — which
    adding the two errors ignores."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or a.size < 2:
        raise ValueError(f"paired draws need two 1-D arrays of equal length >= 2, got shapes "
                         f"{a.shape} and {b.shape}")
    return float(np.std(a - b, ddof=1))


def judge_order(measured: Mapping[str, tuple[float, float]], values: tuple[tuple[str, float], ...],
                gap: float, pair_se: Mapping[tuple[str, str], float] | None = None
                ) -> tuple[float, list[dict[str, Any]]]:
    """(value, per-pair records) from measured ``{proxy: (value, se)}``; ``pair_se`` gives the
    standard error of each pair's difference (the paired one), else the two errors combined as
    independent (sqrt of the sum of squares)."""
    pairs = decided_pairs(values, gap)
    rows = []
    for p, q in pairs:
        d = measured[p][0] - measured[q][0]
        se = (pair_se[(p, q)] if pair_se is not None and (p, q) in pair_se
              else float(np.hypot(measured[p][1], measured[q][1])))
        rows.append({"higher": p, "lower": q, "difference": d, "se": se,
                     "status": pair_status(d, se, len(pairs))})
    return ranking_value([r["status"] for r in rows]), rows


def _paired_ses(proto: ProxyRankingProtocol, ctx: Context,
                protos: Mapping[str, CorrelationProtocol], used: Mapping[str, list[Any]],
                cell_set: Any, noise_se: Mapping[str, float]) -> dict[tuple[str, str], float]:
    """The standard error of each decided pair's difference of coefficients: over a sample of
    cells, the paired bootstrap (the same ``ctx.bootstrap`` resamples of the cells both use, for
    both proxies) with the finite-population correction; each proxy's scoring-noise error adds
    in quadrature (independent realisations)."""
    out: dict[tuple[str, str], float] = {}
    for p, q in decided_pairs(proto.values, proto.gap):
        sampling = 0.0
        if cell_set.sampled:
            both = set(used[q])
            cells = [c for c in used[p] if c in both]
            _, xp, y, _ = coefficient_on(protos[p], ctx, cells)
            _, xq, _, _ = coefficient_on(protos[q], ctx, cells)
            rng = np.random.default_rng(ctx.seed_for(proto.base.seed))
            draws = rng.integers(0, len(cells), (max(ctx.bootstrap, 2), len(cells)))
            kind = proto.base.coefficient
            sign = (np.abs if proto.base.absolute else (lambda v: v))
            a = np.array([sign(correlation(xp[i], y[i], kind)) for i in draws])
            b = np.array([sign(correlation(xq[i], y[i], kind)) for i in draws])
            fpc = max(1.0 - len(cells) / cell_set.population, 0.0)
            sampling = paired_difference_se(a, b) * fpc ** 0.5
        out[(p, q)] = float(np.sqrt(sampling ** 2 + noise_se[p] ** 2 + noise_se[q] ** 2))
    return out


@dataclass(frozen=True, eq=False)
class ProxyRankingDetails(Details):
    """A ranking's record; its subject is every proxy of the dataset (``decide`` names the undecided pairs)."""

    @classmethod
    def subject(cls, outcome: Any) -> tuple[str, ...] | None:
        return ()


@register_kind("proxy_ranking", protocol=ProxyRankingProtocol, details=ProxyRankingDetails)
def measure_proxy_ranking(proto: ProxyRankingProtocol, ctx: Context) -> Measurement:
    """Every judged proxy's coefficient on the same cells, the decided pairs' statuses."""
    protos = {name: dataclasses.replace(proto.base, proxy=name) for name, _ in proto.values}
    cell_set = common_cells(ctx, [(p.proxy, p.scored_on) for p in protos.values()])
    measured: dict[str, tuple[float, float]] = {}
    rows: list[dict[str, Any]] = []
    used: dict[str, list[Any]] = {}
    noise_se: dict[str, float] = {}
    for name, p in protos.items():
        cells, left_out = usable(p, ctx, list(cell_set.cells))
        used[name] = cells
        m = correlation_on(p, ctx, cells, left_out, cell_set)
        measured[name] = (m.estimate.value, float(m.estimate.se or 0.0))
        noise_se[name] = float((m.details.get("scoring_noise") or {}).get("se", 0.0))
        rows.append({"proxy": name, "value": m.estimate.value, "se": measured[name][1],
                     "n_cells": m.details["n_cells"], "judged": True})
    pair_se = _paired_ses(proto, ctx, protos, used, cell_set, noise_se)
    for name in proto.also:
        try:
            m = measure_correlation(dataclasses.replace(proto.base, proxy=name), ctx)
        except (NotRun, TfnasError) as exc:  # recorded beside the judged ones, never deciding
            rows.append({"proxy": name, "judged": False, "missing": one_line(exc, 300)})
            continue
        rows.append({"proxy": name, "value": m.estimate.value,
                     "se": float(m.estimate.se or 0.0), "n_cells": m.details["n_cells"],
                     "judged": False, "cell_set": m.details["cell_set"]})
    value, pairs = judge_order(measured, proto.values, proto.gap, pair_se)
    ranked = sorted((r for r in rows if "value" in r), key=lambda r: -r["value"])
    counts = {s: sum(r["status"] == s for r in pairs) for s in (IN_ORDER, REVERSED, UNDECIDED)}
    details = {"measured": rows, "order": [r["proxy"] for r in ranked],
               "published_order": [n for n, _ in sorted(proto.values, key=lambda t: -t[1])],
               "published": dict(proto.values), "gap": proto.gap, "pairs": pairs,
               "counts": counts, "cell_set": "whole space" if not cell_set.sampled else
               f"uniform random sample of {len(cell_set.cells)} of the {cell_set.population} "
               "cells (incomplete tables)", "space_sample": cell_set.describe(),
               "rule": "1: every decided pair shown in order; 0: one shown reversed; 0.5: "
                       "otherwise (see harness/kinds/proxy_ranking.py)"}
    n = len(cell_set.cells)
    undecided = [r for r in pairs if r["status"] == UNDECIDED]
    if undecided:
        details["decide"] = (
            f"{len(undecided)} of {len(pairs)} decided pairs are undecided on these {n} cells (" +
            "; ".join(f"{r['higher']} over {r['lower']}: difference {r['difference']:+.3f}, "
                      f"se {r['se']:.3f}" for r in undecided) +
            "): more cells (the tables swept further) would decide them")
    return Measurement(Estimate(value, None, n, None, 0.0), details)
