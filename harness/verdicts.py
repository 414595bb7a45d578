"""The verdict records: estimates, tolerances, judgements and the statuses a claim can get
(estimates, judgements and statuses are defined in :mod:`harness.estimates`, re-exported here).

A rule (:mod:`harness.rules`) compares a reproduced :class:`Estimate` with a reference one (the
published value, or for a comparative claim the other side of the comparison). Rules are fixed
in the registry before any result is seen; :func:`judge` only applies them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from harness.estimates import (
    DIAGNOSIS_UNSUPPORTED,
    ERROR,
    INCONCLUSIVE,
    KNOWN_DIVERGENCE,
    NOT_REPRODUCED,
    NOT_RUN,
    PARAMETERS,
    REPRODUCED,
    STATUSES,
    UNEXPECTED_PASS,
    VERDICTS,
    Estimate,
    Judgement,
    standard_error,
)
from harness.rules import UnknownRuleError, get_rule
from tfnas.errors import shown

__all__ = [
    "DIAGNOSIS_UNSUPPORTED", "ERROR", "INCONCLUSIVE", "KNOWN_DIVERGENCE", "LEGACY_RULES",
    "NOT_REPRODUCED", "NOT_RUN", "PARAMETERS", "REPRODUCED", "STATUSES", "UNEXPECTED_PASS",
    "VERDICTS", "Estimate", "Judgement", "Tolerance", "judge", "standard_error",
]

@dataclass(frozen=True)
class Tolerance:
    """A tolerance rule and its parameters, as written in the registry.

    ``alpha`` (optional, default :data:`harness.rules.DEFAULT_ALPHA` = 0.05 where a rule uses
    it): the level of each one-sided test, the interval being at ``1 - 2·alpha``.
    """

    rule: str
    alpha: float | None = None
    margin: float | None = None
    factor: float | None = None
    justification: str = ""

    def __post_init__(self) -> None:
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
        if self.alpha is not None and not 0 < self.alpha < 0.5:
            raise ValueError(f"alpha must be in (0, 0.5) (each one-sided test's level; the "
                             f"interval is at 1 - 2·alpha), got {self.alpha}")
        if self.margin is not None and self.margin < 0:
            raise ValueError(f"margin must be >= 0, got {self.margin}")
        if self.factor is not None and self.factor < 1:
            raise ValueError(f"factor must be >= 1, got {self.factor}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Tolerance:
        """A tolerance from a results record; a removed rule of an old results file is read as
        its nearest current equivalent (:data:`LEGACY_RULES`) so old baselines still load."""
        fields = {k: d[k] for k in ("rule", "alpha", "margin", "factor", "justification")
                  if k in d}
        rule = fields.get("rule")
        legacy = LEGACY_RULES.get(rule) if isinstance(rule, str) else None
        if legacy is not None:
            fields = legacy(fields)
        return cls(**fields)


def _legacy_welch(fields: dict[str, Any]) -> dict[str, Any]:
    """The removed two-sided Welch test at alpha as ``tost`` with margin 0 and alpha / 2: its
    interval excludes 0 (*not reproduced*) exactly when Welch rejected; it never reproduces."""
    alpha = fields.get("alpha")
    return {"rule": "tost", "margin": 0.0,
            "alpha": None if alpha is None else min(float(alpha) / 2, 0.25),
            "justification": "read from an old results file: the removed 'welch' rule as "
                             "'tost' with margin 0 (a difference test) — " +
                             str(fields.get("justification", ""))}


LEGACY_RULES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {"welch": _legacy_welch}
"""Removed rules an old results file may name, and how such a record is read now."""


def _is_finite_number(value: object) -> bool:
    """A real number (not a bool) within the float range and finite: NaN and inf are nonsense."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def judge(tol: Tolerance, reproduced: Estimate, reference: Estimate) -> Judgement:
    """Apply ``tol``'s rule to a reproduced estimate and its reference."""
    return get_rule(tol.rule).judge(tol, reproduced, reference)
