"""One measurement model per reading: what a published repetition is, how many values it pools.

A paper row "mean ± std over n repetitions" of a search is read in several ways (the selected
cell, one unselected cell, all N sampled cells, the final population, all evaluated cells). Each
reading says what one repetition contributes: ``per_repetition`` values (1 for a selected or an
unselected cell, N for all sampled cells), of which the published mean and std pool
``n · per_repetition``. Values of one repetition need not be independent (REA's evaluated cells
are mutations of each other; N distinct cells drawn without replacement are slightly negatively
correlated): ``design_effect`` is ``Var(one repetition's mean) · per_repetition / σ²`` (σ the
spread of one value), 1 for independent values. The published mean's variance is then
``σ² · design_effect / (n · per_repetition)``: the row behaves like a mean of
``effective_n = n · per_repetition / design_effect`` independent values, and that is the ``n``
with which the rules (:mod:`harness.rules`) and the table fit (:mod:`harness.readings`) read the
published row under this reading. The published std is taken with ``effective_n − 1`` degrees
of freedom (exact for independent values; an approximation for correlated ones).

Scoring noise is *fresh* per repetition: each published repetition is a new search with a new
batch and initialisation, so a repetition's value is drawn from the mixture over scoring
realisations; our expected value's standard error is the realisations' spread over
``√realisations`` (the uncertainty of the mixture's mean), never the spread itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from harness.estimates import Estimate
from harness.schema import Invalid

MC_GUARD = 2.0
"""Monte-Carlo standard errors within which an estimate is not taken as decided: the evaluation
refines a verdict whose boundary lies closer (:func:`harness.evaluate.judged`), and the table fit
counts a rejection only when it survives that move (:mod:`harness.readings`)."""
FRESH = "fresh"
"""Scoring noise drawn anew for every repetition (the only noise model the harness uses)."""


class ModelError(ValueError):
    """A measurement model that cannot be: the message says which field and what was expected."""


MIN_DESIGN_FACTOR = 1e-3
"""The smallest factor a design effect is scaled by when moved within its Monte-Carlo error."""


@dataclass(frozen=True)
class MeasurementModel:
    """What one published repetition is under a reading (see the module docstring)."""

    per_repetition: float
    """Values one repetition reports and the published statistics pool."""
    design_effect: float = 1.0
    """``Var(one repetition's mean) · per_repetition / σ²``: 1 for independent values."""
    noise: str = FRESH
    design_mc: float = 0.0
    """The relative Monte-Carlo error of ``design_effect`` (0: exact), estimated from the
    simulated runs; a verdict or a fit is not taken as decided within it."""

    def __post_init__(self) -> None:
        for name in ("per_repetition", "design_effect"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
                raise ModelError(f"measurement model field {name!r} must be a positive finite "
                                 f"number, got {v!r}")
        v = self.design_mc
        if not isinstance(v, int | float) or math.isnan(v) or v < 0:
            raise ModelError(f"measurement model field 'design_mc' must be a number >= 0, "
                             f"got {v!r}")
        if self.noise != FRESH:
            raise ModelError(f"measurement model field 'noise' must be {FRESH!r}, got "
                             f"{self.noise!r}")

    def scaled(self, factor: float) -> MeasurementModel:
        """This model with its design effect multiplied by ``factor`` (> 0): the model moved
        within its Monte-Carlo error."""
        return replace(self, design_effect=self.design_effect * factor)

    def moved(self, by: float) -> MeasurementModel:
        """This model with its design effect scaled by ``1 + by``, ``by`` a relative move within
        its Monte-Carlo error (either sign); the factor is kept at or above
        :data:`MIN_DESIGN_FACTOR`, so a band wider than the effect itself never reaches 0."""
        return self.scaled(max(1.0 + by, MIN_DESIGN_FACTOR))

    def pooled(self, repetitions: int) -> float:
        """The values ``repetitions`` published repetitions pool."""
        return repetitions * self.per_repetition

    def effective_n(self, repetitions: int) -> float:
        """The number of independent values whose mean has the published mean's variance."""
        return self.pooled(repetitions) / self.design_effect

    def mean_se(self, sigma: float, repetitions: int) -> float:
        """The standard error of the published mean when one value spreads by ``sigma``."""
        return sigma / math.sqrt(self.effective_n(repetitions))

    def published(self, row: Estimate) -> Estimate:
        """The published row as this reading reads it: its ``n`` the effective number of
        independent values behind its mean and std (unchanged without a spread or n)."""
        if row.std is None or row.n is None or row.se is not None:
            return row
        return Estimate(row.value, row.std, max(2, round(self.effective_n(row.n))), row.ci)

    def describe(self, repetitions: int | None = None) -> str:
        """One line for the report: what a repetition pools and what the row pools."""
        what = ("one value per repetition" if self.per_repetition == 1 else
                f"{self.per_repetition:.4g} values per repetition")
        text = f"{what}, design effect {self.design_effect:.3g}, scoring noise {self.noise}"
        if repetitions is not None:
            text += (f": the published mean of {repetitions} repetitions pools "
                     f"{self.pooled(repetitions):.5g} values, worth "
                     f"{self.effective_n(repetitions):.5g} independent ones")
        return text

    def to_dict(self) -> dict[str, Any]:
        out = {"per_repetition": self.per_repetition, "design_effect": self.design_effect,
               "noise": self.noise}
        if self.design_mc:
            out["design_mc"] = self.design_mc
        return out

    @classmethod
    def from_dict(cls, d: Any) -> MeasurementModel:
        if not isinstance(d, dict) or "per_repetition" not in d:
            raise ModelError(f"a measurement model must be a table with 'per_repetition', "
                             f"got {d!r}")
        return cls(float(d["per_repetition"]), float(d.get("design_effect", 1.0)),
                   str(d.get("noise", FRESH)), float(d.get("design_mc", 0.0)))


def without_replacement(n: int, population: int) -> MeasurementModel:
    """``n`` distinct cells drawn uniformly from ``population``: the mean of one repetition has
    variance ``σ²/n · (M − n)/(M − 1)`` (σ² the population variance)."""
    if n < 1 or population < n:
        raise ModelError(f"need 1 <= n <= population, got n={n}, population={population}")
    factor = (population - n) / (population - 1) if population > 1 else 0.0
    return MeasurementModel(float(n), max(factor, 1.0 / (n * 1e6)))


def from_runs(moments: Any, per_repetition: float) -> MeasurementModel:
    """The model of a simulated protocol from its runs' moments (rows: a run's mean and mean
    square; rows with NaN left out): the variance V of the runs' means against σ² of one value
    (the mean square over runs less the squared mean), design effect
    ``V · per_repetition / σ²`` (one value per run: 1 by definition). Its relative Monte-Carlo
    error by the delta method over the runs, the independent unit: a run's influence is
    ``((b − μ)² − V)/V − ((a − ā) − 2μ(b − μ))/σ²`` (a, b its mean square and mean), so the
    numerator's and the denominator's errors, correlated when runs differ more than values
    within a run, partly cancel."""
    import numpy as np

    m = np.asarray(moments, dtype=float).reshape(-1, 2)
    m = m[np.isfinite(m).all(axis=1)]
    b, a = m[:, 0], m[:, 1]
    mu = float(b.mean()) if b.size else math.nan
    sigma2 = float(a.mean()) - mu * mu if b.size else math.nan
    if per_repetition <= 1 or b.size < 2 or not sigma2 > 0:
        return MeasurementModel(max(float(per_repetition), 1.0))
    v = float(b.var(ddof=1))
    deff = v * per_repetition / sigma2
    if not v > 0:
        return MeasurementModel(float(per_repetition), max(deff, 1e-6))
    influence = ((b - mu) ** 2 - v) / v - ((a - a.mean()) - 2.0 * mu * (b - mu)) / sigma2
    return MeasurementModel(float(per_repetition), max(deff, 1e-6),
                            design_mc=float(np.sqrt(np.var(influence, ddof=1) / b.size)))


def checked(v: Any, where: str) -> dict[str, Any]:
    """A results-file check (:mod:`harness.schema`): ``v`` read as a model, as its record."""
    try:
        return MeasurementModel.from_dict(v).to_dict()
    except (ModelError, TypeError, ValueError) as exc:
        raise Invalid(where, "a measurement model (per_repetition, design_effect, noise)",
                      v) from exc
