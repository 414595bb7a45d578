"""Tolerance rules and the verdict a claim gets from them.

A rule compares a reproduced :class:`Estimate` with a reference one (the published value, or
for a comparative claim the other side of the comparison). Rules are fixed in the registry
before any result is seen; this module only applies them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from tfnas.errors import shown

RULES = ("welch", "equivalence", "ratio", "at_most", "greater", "noninferior", "holds")
MATCH_RULES = ("welch", "equivalence", "ratio", "at_most")
"""Rules that compare a reproduced value with a published one (the others compare two sides)."""

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
KNOWN_DIVERGENCE = "known divergence"
UNEXPECTED_PASS = "unexpectedly reproduced"
NOT_RUN = "not run"
ERROR = "error"
"""A claim whose measurement raised something unexpected (a bug, not an input problem)."""
STATUSES = (REPRODUCED, NOT_REPRODUCED, KNOWN_DIVERGENCE, UNEXPECTED_PASS, NOT_RUN, ERROR)


@dataclass(frozen=True)
class Estimate:
    """A value with what is known of its uncertainty (std and n over repetitions, or a CI)."""

    value: float
    std: float | None = None
    n: int | None = None
    ci: tuple[float, float] | None = None

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> Estimate:
        ci = d.get("ci")
        return cls(d["value"], d.get("std"), d.get("n"), tuple(ci) if ci is not None else None)


@dataclass(frozen=True)
class Tolerance:
    """A tolerance rule and its parameters, as written in the registry."""

    rule: str
    alpha: float | None = None
    margin: float | None = None
    factor: float | None = None
    justification: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.rule, str) or self.rule not in RULES:
            raise ValueError(f"unknown tolerance rule {shown(self.rule)}; expected one of {RULES}")
        needs = {"welch": "alpha", "greater": "alpha", "equivalence": "margin",
                 "noninferior": "margin", "ratio": "factor"}.get(self.rule)
        if needs is not None and getattr(self, needs) is None:
            raise ValueError(f"tolerance rule {self.rule!r} needs {needs!r}")
        for name in ("alpha", "margin", "factor"):
            value = getattr(self, name)
            if value is not None and not _is_finite_number(value):
                raise ValueError(f"{name} must be a finite number, got {shown(value)}")
        if not isinstance(self.justification, str):
            raise ValueError(f"justification must be a string, got {shown(self.justification)}")
        if self.alpha is not None and not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if self.margin is not None and self.margin < 0:
            raise ValueError(f"margin must be >= 0, got {self.margin}")
        if self.factor is not None and self.factor < 1:
            raise ValueError(f"factor must be >= 1, got {self.factor}")


def _is_finite_number(value: object) -> bool:
    """A real number (not a bool) within the float range and finite: NaN and inf are nonsense."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


@dataclass(frozen=True)
class Judgement:
    """Outcome of one rule: pass/fail, the distance from the reference and the allowed one."""

    passed: bool
    difference: float
    allowed: float
    statistic: dict = field(default_factory=dict)
    explanation: str = ""


def _half_width(e: Estimate) -> float:
    if e.ci is None:
        return 0.0
    lo, hi = e.ci
    return max(e.value - lo, hi - e.value, 0.0)


def judge(tol: Tolerance, reproduced: Estimate, reference: Estimate) -> Judgement:
    """Apply ``tol`` to a reproduced estimate and its reference."""
    from harness.stats import welch  # scipy, imported only when a rule needs it

    r, p = reproduced, reference
    diff = r.value - p.value
    if tol.rule == "welch":
        for side, e in (("reproduced", r), ("reference", p)):
            if e.std is None or e.n is None:
                raise ValueError(f"the welch rule needs std and n on the {side} side, got {e}")
        w = welch(r.value, r.std, r.n, p.value, p.std, p.n)
        crit = w.se * _t_crit(tol.alpha, w.df)
        passed = w.p_two_sided >= tol.alpha
        return Judgement(passed, diff, crit, {"t": w.t, "df": w.df, "p": w.p_two_sided},
                         f"Welch t={w.t:.3g}, p={w.p_two_sided:.3g} vs alpha={tol.alpha}")
    if tol.rule == "equivalence":
        allowed = tol.margin + max(_half_width(r), _half_width(p))
        return Judgement(abs(diff) <= allowed, diff, allowed, {},
                         f"|diff|={abs(diff):.4g} vs margin {tol.margin} + CI half-width")
    if tol.rule == "ratio":
        if r.value <= 0 or p.value <= 0:
            raise ValueError(f"the ratio rule needs positive values, got {r.value}, {p.value}")
        ratio = max(r.value / p.value, p.value / r.value)
        return Judgement(ratio <= tol.factor, diff, tol.factor, {"ratio": ratio},
                         f"ratio {ratio:.3g} vs allowed factor {tol.factor}")
    if tol.rule == "at_most":
        limit = p.value + (tol.margin or 0.0)
        return Judgement(r.value <= limit, diff, tol.margin or 0.0, {},
                         f"{r.value:.4g} vs limit {limit:.4g}")
    if tol.rule == "greater":
        if r.std is None or r.n is None or p.std is None or p.n is None:
            raise ValueError("the greater rule needs std and n on both sides")
        w = welch(r.value, r.std, r.n, p.value, p.std, p.n)
        p_one = w.p_two_sided / 2 if w.t > 0 else 1 - w.p_two_sided / 2
        return Judgement(p_one < tol.alpha, diff, 0.0, {"t": w.t, "p_one_sided": p_one},
                         f"one-sided Welch t={w.t:.3g}, p={p_one:.3g} vs alpha={tol.alpha}")
    if tol.rule == "noninferior":
        allowed = tol.margin + max(_half_width(r), _half_width(p))
        return Judgement(diff >= -allowed, diff, allowed, {},
                         f"A - B = {diff:.4g}, allowed shortfall {allowed:.4g}")
    # holds: a yes/no fact encoded as 1.0 / 0.0
    return Judgement(r.value == p.value, diff, 0.0, {}, f"observed {r.value} vs claimed {p.value}")


def _t_crit(alpha: float, df: float) -> float:
    from scipy import stats as sps

    return float(sps.t.isf(alpha / 2, df)) if math.isfinite(df) else float(sps.norm.isf(alpha / 2))


def status_of(passed: bool, known_divergence: str | None) -> str:
    """Map a pass/fail to a status, with strict-xfail semantics for a recorded divergence."""
    if known_divergence:
        return UNEXPECTED_PASS if passed else KNOWN_DIVERGENCE
    return REPRODUCED if passed else NOT_REPRODUCED
