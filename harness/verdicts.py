"""The verdict records: estimates, tolerances, judgements and the statuses a claim can get.

A rule (:mod:`harness.rules`) compares a reproduced :class:`Estimate` with a reference one (the
published value, or for a comparative claim the other side of the comparison). Rules are fixed
in the registry before any result is seen; :func:`judge` only applies them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from tfnas.errors import shown

PARAMETERS = ("alpha", "margin", "factor")
"""The tolerance parameters a rule may need (the numeric fields of a ``tolerance`` table)."""

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
        from harness.rules import UnknownRuleError, get_rule  # the rules register on import

        try:
            rule = get_rule(self.rule)
        except UnknownRuleError as exc:
            raise ValueError(str(exc)) from None
        for needs in rule.needs:
            if getattr(self, needs) is None:
                raise ValueError(f"tolerance rule {self.rule!r} needs {needs!r}")
        for name in PARAMETERS:
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

    def to_dict(self) -> dict:
        return asdict(self)


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
    """Outcome of one rule: pass/fail, reproduced − reference, the bound the rule allows (in the
    unit of :attr:`harness.rules.Rule.unit`) and the rule's own numbers (``statistic``)."""

    passed: bool
    difference: float
    allowed: float
    statistic: dict[str, float] = field(default_factory=dict)
    explanation: str = ""

    def to_dict(self) -> dict:
        return {"passed": self.passed, "difference": self.difference, "allowed": self.allowed,
                "statistic": dict(self.statistic), "explanation": self.explanation}

    @classmethod
    def from_dict(cls, d: dict) -> Judgement:
        return cls(d["passed"], d["difference"], d["allowed"], dict(d.get("statistic") or {}),
                   d.get("explanation", ""))


def judge(tol: Tolerance, reproduced: Estimate, reference: Estimate) -> Judgement:
    """Apply ``tol``'s rule to a reproduced estimate and its reference."""
    from harness.rules import get_rule

    return get_rule(tol.rule).judge(tol, reproduced, reference)


def status_of(passed: bool, known_divergence: str | None) -> str:
    """Map a pass/fail to a status, with strict-xfail semantics for a recorded divergence."""
    if known_divergence:
        return UNEXPECTED_PASS if passed else KNOWN_DIVERGENCE
    return REPRODUCED if passed else NOT_REPRODUCED
