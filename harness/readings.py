"""A paper table is one question: which reading of its protocol do all its rows support?

Each row of a table (a claim) is measured under its own interpretation and under every
alternative reading; :func:`fit_table` collects, per reading name, how the table's rows fare —
verdict counts and, where the rows publish a mean ± std over n repetitions, the log-likelihood of
every published mean and std under the reading's predicted distribution — and names the reading
the data supports. Recorded divergences that explain a row by another reading are conflicts: no
two rows of one table may be judged under contradictory readings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from scipy import stats as sps

from harness.outcome import Outcome
from harness.registry import DEFAULT_READING
from harness.verdicts import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, Estimate, Judgement


@dataclass(frozen=True)
class ReadingFit:
    """How one reading fares over the rows of a table."""

    reading: str
    rows: tuple[str, ...]
    reproduced: int = 0
    not_reproduced: int = 0
    inconclusive: int = 0
    log_likelihood: float | None = None
    """Sum over the rows of log p(published mean, std | reading); None when a row has no spread."""

    def to_dict(self) -> dict[str, Any]:
        return {"reading": self.reading, "rows": len(self.rows), "row_ids": list(self.rows),
                "reproduced": self.reproduced,
                "not_reproduced": self.not_reproduced, "inconclusive": self.inconclusive,
                "log_likelihood": self.log_likelihood}


@dataclass(frozen=True)
class TableFit:
    """The readings of one paper table, the one its rows support, and any conflicting diagnosis."""

    table: str
    rows: tuple[str, ...]
    readings: tuple[ReadingFit, ...]
    best_reading: str | None
    basis: str
    """``likelihood`` (every row publishes a spread: ties broken by likelihood) or ``verdicts``."""
    conflicts: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "rows": list(self.rows),
                "readings": [r.to_dict() for r in self.readings],
                "best_reading": self.best_reading, "basis": self.basis,
                "conflicts": list(self.conflicts)}


def log_likelihood(published: Estimate, predicted: Estimate) -> float | None:
    """log p(published mean and std | predicted distribution of one repetition).

    The published mean of n repetitions is taken as normal around the predicted expectation
    with variance std²/n + se² (se: the uncertainty of the prediction itself); the published
    std through (n − 1)·s²/σ² ~ χ²(n − 1) (normal repetitions: an approximation for skewed
    best-of-N accuracies). None when either side lacks a spread.
    """
    if published.std is None or published.n is None or published.n < 2 or predicted.std is None:
        return None
    n = published.n
    scale = max(abs(predicted.value), 1.0)
    sigma = max(predicted.std, 1e-6 * scale)  # a zero spread predicts no spread: very unlikely
    se_mean = math.sqrt(sigma * sigma / n + (predicted.se or 0.0) ** 2)
    mean_term = float(sps.norm.logpdf(published.value, predicted.value, se_mean))
    s = max(published.std, 1e-12)
    q = (n - 1) * s * s / (sigma * sigma)
    spread_term = float(sps.chi2.logpdf(q, n - 1)) + math.log(2 * (n - 1) * s / (sigma * sigma))
    return mean_term + spread_term


def _readings_of(o: Outcome) -> dict[str, tuple[Estimate | None, Judgement | None]]:
    out = {o.reading: (o.reproduced, o.judgement)}
    for a in o.alternatives_run:
        if a.reason is None:
            out[a.label] = (a.reproduced, a.judgement)
    return out


def fit_table(table: str, outcomes: Sequence[Outcome]) -> TableFit:
    """The readings of ``table`` over its measured rows that name their reading and have
    alternatives (a row with one reading, e.g. a timing row, asks another question)."""
    rows = [o for o in outcomes if o.table == table and o.judgement is not None
            and o.reproduced is not None and o.alternatives_run
            and o.reading not in ("", DEFAULT_READING)]
    names: dict[str, None] = {}
    for o in rows:
        names.update(dict.fromkeys(_readings_of(o)))
    fits = []
    for name in names:
        counts = {REPRODUCED: 0, NOT_REPRODUCED: 0, INCONCLUSIVE: 0}
        used, total, complete = [], 0.0, True
        for o in rows:
            got = _readings_of(o).get(name)
            if got is None or got[1] is None:
                continue
            estimate, j = got
            used.append(o.id)
            counts[j.verdict] += 1
            ll = None if o.published is None or estimate is None else log_likelihood(
                o.published, estimate)
            if ll is None:
                complete = False
            else:
                total += ll
        fits.append(ReadingFit(name, tuple(used), counts[REPRODUCED], counts[NOT_REPRODUCED],
                               counts[INCONCLUSIVE], total if complete and used else None))
    widest = max((len(f.rows) for f in fits), default=0)
    covering = [f for f in fits if len(f.rows) == widest]
    by_likelihood = bool(covering) and all(f.log_likelihood is not None for f in covering)

    def support(f: ReadingFit) -> tuple[float, ...]:
        # rows the reading does not reject, then rows it reproduces, then the likelihood
        ll = f.log_likelihood if by_likelihood else 0.0
        return (len(f.rows) - f.not_reproduced, f.reproduced, ll)

    best = max(covering, key=support, default=None)
    conflicts = []
    for o in rows:
        named = o.known_divergence.reading if o.known_divergence is not None else None
        if named and best is not None and named != best.reading:
            conflicts.append(f"{o.id} explains its divergence by {named!r}, but the table's rows "
                             f"support {best.reading!r}")
    return TableFit(table, tuple(o.id for o in rows), tuple(fits),
                    None if best is None else best.reading,
                    "likelihood" if by_likelihood else "verdicts", tuple(conflicts))


def fit_tables(outcomes: Sequence[Outcome]) -> list[TableFit]:
    """:func:`fit_table` for every table that has a row naming its reading, with alternatives."""
    tables: dict[str, None] = {}
    for o in outcomes:
        if o.table and o.alternatives_run and o.reading not in ("", DEFAULT_READING):
            tables.setdefault(o.table)
    return [fit_table(t, outcomes) for t in tables]
