"""A paper table is one question: which readings of its protocol are its rows consistent with?

Each row of a table (a claim) is measured under its own interpretation and under every
alternative reading. Under a reading, the published row is read with that reading's measurement
model (:mod:`harness.measurement_model`: how many values a repetition pools, their design
effect), and tested for fit: is the published mean a plausible draw from the predicted
distribution of a mean of that many values (normal, variance σ²/n_eff + se²), and the published
std from the predicted spread ((n_eff − 1)·s²/σ² ~ χ²(n_eff − 1))? The two parts are combined by
Bonferroni (p = 2·min), and the tests of one table — every row under every reading — are one
family, corrected by Holm at :data:`ALPHA`.

A row that every reading is rejected on is *unexplained*: it is reported and takes no part in
choosing. A reading is *consistent* with the table when no informative row rejects it. One
consistent reading is the table's reading; several mean the table does not decide between them;
none means no one reading explains every informative row. A likelihood never picks a winner
(a reading that only adds variance is not thereby better); the summed log-likelihood over the
informative rows is reported, not used. A recorded divergence that explains a row by a reading
the table does not single out is a conflict: no diagnosis may name a mechanism the table's
numbers do not support.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from scipy import stats as sps

from harness.estimates import standard_error
from harness.measurement_model import MC_GUARD, MeasurementModel
from harness.outcome import Outcome
from harness.registry import DEFAULT_READING
from harness.verdicts import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, Estimate, Judgement

ALPHA = 0.05
"""The family-wise level of a table's fit tests (Holm over rows × readings)."""


@dataclass(frozen=True)
class RowFit:
    """One row under one reading: the fit test's p-value and whether Holm rejects it."""

    row: str
    reading: str
    p_value: float
    rejected: bool = False
    log_likelihood: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "reading": self.reading, "p_value": self.p_value,
                "rejected": self.rejected, "log_likelihood": self.log_likelihood}


@dataclass(frozen=True)
class ReadingFit:
    """How one reading fares over the rows of a table."""

    reading: str
    rows: tuple[str, ...]
    reproduced: int = 0
    not_reproduced: int = 0
    inconclusive: int = 0
    log_likelihood: float | None = None
    """Sum over the informative rows of log p(published mean, std | reading); None when a row
    has no spread. Reported, never used to choose."""
    rejected_by: tuple[str, ...] = ()
    """The informative rows whose fit test rejects this reading."""
    consistent: bool = False
    """Measured on every informative row and rejected by none."""

    def to_dict(self) -> dict[str, Any]:
        return {"reading": self.reading, "rows": len(self.rows), "row_ids": list(self.rows),
                "reproduced": self.reproduced,
                "not_reproduced": self.not_reproduced, "inconclusive": self.inconclusive,
                "log_likelihood": self.log_likelihood, "rejected_by": list(self.rejected_by),
                "consistent": self.consistent}


@dataclass(frozen=True)
class TableFit:
    """The readings of one paper table, those its informative rows are consistent with, the
    rows no reading explains, and any diagnosis that names a reading the table does not single
    out."""

    table: str
    rows: tuple[str, ...]
    readings: tuple[ReadingFit, ...]
    best_reading: str | None
    """The one consistent reading; None when none or several are."""
    basis: str
    """``one consistent``, ``undecided`` (several consistent), ``none consistent`` or
    ``no rows``."""
    conflicts: tuple[str, ...] = field(default_factory=tuple)
    consistent: tuple[str, ...] = ()
    unexplained: tuple[str, ...] = ()
    """Rows every reading is rejected on: reported, not used to choose."""
    tests: tuple[RowFit, ...] = ()
    alpha: float = ALPHA

    def undecided(self) -> str:
        """Why no reading is named, in one line ('' when one is): no row measured, several
        readings consistent with the informative rows, or none consistent with all of them."""
        if self.best_reading is not None:
            return ""
        if not self.rows:
            return f"NOT RUN {self.table}: no row of the table was measured"
        if self.consistent:
            names = ", ".join(repr(c) for c in self.consistent)
            return (f"UNDECIDED {self.table}: its informative rows are consistent with "
                    f"{len(self.consistent)} readings ({names}); the table does not decide "
                    f"between them")
        return (f"NO READING FITS {self.table}: every reading is rejected on some informative "
                f"row of its {len(self.rows)}")

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "rows": list(self.rows),
                "readings": [r.to_dict() for r in self.readings],
                "best_reading": self.best_reading, "basis": self.basis,
                "conflicts": list(self.conflicts), "consistent": list(self.consistent),
                "unexplained": list(self.unexplained), "alpha": self.alpha,
                "family": len(self.tests), "tests": [t.to_dict() for t in self.tests]}


def _moments(published: Estimate, predicted: Estimate) -> tuple[float, float, float, int] | None:
    """(predicted σ, the mean's predicted sd, the published std, n) or None without spreads."""
    if published.std is None or published.n is None or published.n < 2 or predicted.std is None:
        return None
    n = published.n
    scale = max(abs(predicted.value), 1.0)
    sigma = max(predicted.std, 1e-6 * scale)  # a zero spread predicts no spread: very unlikely
    return sigma, math.sqrt(sigma * sigma / n + (predicted.se or 0.0) ** 2), published.std, n


def log_likelihood(published: Estimate, predicted: Estimate) -> float | None:
    """log p(published mean and std | predicted distribution of one value).

    ``published.n`` is the number of independent values the row's mean is worth under the
    reading (:meth:`harness.measurement_model.MeasurementModel.published`). The published mean
    is normal around the predicted expectation with variance σ²/n + se² (se: the prediction's
    own uncertainty); the published std through (n − 1)·s²/σ² ~ χ²(n − 1). None when either
    side lacks a spread.
    """
    m = _moments(published, predicted)
    if m is None:
        return None
    sigma, se_mean, std, n = m
    mean_term = float(sps.norm.logpdf(published.value, predicted.value, se_mean))
    s = max(std, 1e-12)
    q = (n - 1) * s * s / (sigma * sigma)
    spread_term = float(sps.chi2.logpdf(q, n - 1)) + math.log(2 * (n - 1) * s / (sigma * sigma))
    return mean_term + spread_term


def fit_p_value(published: Estimate, predicted: Estimate) -> float | None:
    """The fit test of a published row under a predicted distribution: two-sided p of the mean
    (normal) and of the std (χ²), combined by Bonferroni; the mean alone when the published row
    has no spread but the prediction has a standard error; None when nothing can be tested."""
    m = _moments(published, predicted)
    if m is None:
        se = standard_error(predicted) if published.std is None else math.nan
        if not se > 0:
            return None
        return float(2 * sps.norm.sf(abs(published.value - predicted.value) / se))
    sigma, se_mean, std, n = m
    p_mean = float(2 * sps.norm.sf(abs(published.value - predicted.value) / se_mean))
    q = (n - 1) * std * std / (sigma * sigma)
    p_std = float(2 * min(sps.chi2.cdf(q, n - 1), sps.chi2.sf(q, n - 1)))
    return min(1.0, 2 * min(p_mean, p_std))


def holm(p_values: Sequence[float], alpha: float) -> list[bool]:
    """Holm's step-down rejections of a family of tests at family-wise level ``alpha``."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    rejected = [False] * len(p_values)
    m = len(p_values)
    for rank, i in enumerate(order):
        if p_values[i] > alpha / (m - rank):
            break
        rejected[i] = True
    return rejected


@dataclass(frozen=True)
class Predicted:
    """One reading's prediction of a row, with the Monte-Carlo errors it is not decided within."""

    estimate: Estimate | None
    judgement: Judgement | None
    model: MeasurementModel | None
    mc_se: float = 0.0
    """The Monte-Carlo error of the predicted mean."""
    spread_mc: float = 0.0
    """The relative Monte-Carlo error of the predicted spread."""


def _readings_of(o: Outcome) -> dict[str, Predicted]:
    d = o.details
    model = d.get("model") if d is not None else None
    out = {o.reading: Predicted(
        o.reproduced, o.judgement, None if model is None else MeasurementModel.from_dict(model),
        float((d.get("mc_se") if d is not None else None) or 0.0),
        float((d.get("spread_mc") if d is not None else None) or 0.0))}
    for a in o.alternatives_run:
        if a.reason is None:
            out[a.label] = Predicted(a.reproduced, a.judgement, a.model, a.mc_se, a.spread_mc)
    return out


SPREAD_GRID = 9
"""Predicted spreads tried across their Monte-Carlo band by :func:`robust_p_value`."""


def robust_p_value(published: Estimate, predicted: Estimate, mc_se: float,
                   spread_mc: float = 0.0, model: MeasurementModel | None = None
                   ) -> float | None:
    """The largest fit-test p-value over the predictions within :data:`MC_GUARD` Monte-Carlo
    errors: the mean moved toward the published value by up to ``MC_GUARD · mc_se``, the
    spread scaled anywhere in ``1 ± MC_GUARD · spread_mc``, and the published row read with
    the model's design effect anywhere in ``1 ± MC_GUARD · design_mc``. A reading is rejected
    only when every prediction within its Monte-Carlo error is, so no rejection hangs on the
    master seed."""
    shift = min(MC_GUARD * mc_se, abs(published.value - predicted.value))
    moved = dataclasses.replace(
        predicted, value=predicted.value + math.copysign(shift, published.value - predicted.value))
    spreads: list[float | None] = [predicted.std]
    if predicted.std is not None and spread_mc > 0:
        band = min(MC_GUARD * spread_mc, 0.999)
        lo, hi = predicted.std * (1 - band), predicted.std * (1 + band)
        spreads += [lo + (hi - lo) * k / (SPREAD_GRID - 1) for k in range(SPREAD_GRID)]
        if published.std is not None:
            spreads.append(min(max(published.std, lo), hi))
    design = 0.0 if model is None else MC_GUARD * model.design_mc
    models = [model] if not design else [model, model.moved(-design), model.moved(design)]
    best: float | None = None
    for m in models:
        pub = read_as(published, m)
        for sd in spreads:
            p = fit_p_value(pub, dataclasses.replace(moved, std=sd))
            if p is not None and (best is None or p > best):
                best = p
    return best


def read_as(published: Estimate, model: MeasurementModel | None) -> Estimate:
    """The published row as a reading with ``model`` reads it."""
    return published if model is None else model.published(published)


def fit_table(table: str, outcomes: Sequence[Outcome], alpha: float = ALPHA) -> TableFit:
    """The readings of ``table`` over its measured rows that name their reading and have
    alternatives (a row with one reading, e.g. a timing row, asks another question)."""
    rows = [o for o in outcomes if o.table == table and o.judgement is not None
            and o.reproduced is not None and o.alternatives_run
            and o.reading not in ("", DEFAULT_READING)]
    names: dict[str, None] = {}
    for o in rows:
        names.update(dict.fromkeys(_readings_of(o)))
    raw: list[RowFit] = []
    for o in rows:
        if o.published is None:
            continue
        for name, pred in _readings_of(o).items():
            if pred.estimate is None:
                continue
            p = robust_p_value(o.published, pred.estimate, pred.mc_se, pred.spread_mc, pred.model)
            if p is not None:
                pub = read_as(o.published, pred.model)
                raw.append(RowFit(o.id, name, p,
                                  log_likelihood=log_likelihood(pub, pred.estimate)))
    rejected = holm([t.p_value for t in raw], alpha)
    tests = tuple(dataclasses.replace(t, rejected=r) for t, r in zip(raw, rejected, strict=True))
    by_row: dict[str, list[RowFit]] = {}
    for t in tests:
        by_row.setdefault(t.row, []).append(t)
    unexplained = tuple(r for r, ts in by_row.items() if all(t.rejected for t in ts))
    informative = [o for o in rows if o.id not in unexplained]
    fits = []
    for name in names:
        counts = {REPRODUCED: 0, NOT_REPRODUCED: 0, INCONCLUSIVE: 0}
        used, total, complete = [], 0.0, True
        for o in rows:
            got = _readings_of(o).get(name)
            if got is None or got.judgement is None:
                continue
            used.append(o.id)
            counts[got.judgement.verdict] += 1
        mine = {t.row: t for t in tests if t.reading == name}
        for o in informative:
            t = mine.get(o.id)
            if t is None or t.log_likelihood is None:
                complete = False
            else:
                total += t.log_likelihood
        against = tuple(o.id for o in informative if o.id in mine and mine[o.id].rejected)
        covers = all(o.id in mine for o in informative) and bool(informative)
        fits.append(ReadingFit(name, tuple(used), counts[REPRODUCED], counts[NOT_REPRODUCED],
                               counts[INCONCLUSIVE], total if complete and informative else None,
                               against, covers and not against))
    consistent = tuple(f.reading for f in fits if f.consistent)
    best = consistent[0] if len(consistent) == 1 else None
    basis = ("no rows" if not informative and not unexplained else
             "one consistent" if best is not None else
             "undecided" if consistent else "none consistent")
    conflicts = []
    for o in rows:
        named = o.known_divergence.reading if o.known_divergence is not None else None
        if not named or (best is not None and named == best):
            continue
        if consistent and named in consistent:
            conflicts.append(f"{o.id} explains its divergence by {named!r}, but the table does not "
                             f"decide between {_names(consistent)}")
        elif consistent:
            conflicts.append(f"{o.id} explains its divergence by {named!r}, but the table's "
                             f"informative rows are consistent with {_names(consistent)} only")
        else:
            conflicts.append(f"{o.id} explains its divergence by {named!r}, but no reading is "
                             "consistent with every informative row of the table")
    return TableFit(table, tuple(o.id for o in rows), tuple(fits), best, basis, tuple(conflicts),
                    consistent, unexplained, tests, alpha)


def _names(names: Sequence[str]) -> str:
    quoted = [repr(n) for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]

def fit_tables(outcomes: Sequence[Outcome]) -> list[TableFit]:
    """:func:`fit_table` for every table that has a row naming its reading, with alternatives."""
    tables: dict[str, None] = {}
    for o in outcomes:
        if o.table and o.alternatives_run and o.reading not in ("", DEFAULT_READING):
            tables.setdefault(o.table)
    return [fit_table(t, outcomes) for t in tables]
