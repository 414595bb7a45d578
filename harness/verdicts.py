"""The verdict records: estimates, tolerances, judgements and the statuses a claim can get.

A rule (:mod:`harness.rules`) compares a reproduced :class:`Estimate` with a reference one (the
published value, or for a comparative claim the other side of the comparison). Rules are fixed
in the registry before any result is seen; :func:`judge` only applies them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from tfnas.errors import shown

PARAMETERS = ("alpha", "margin", "factor")
"""The tolerance parameters a rule may need (the numeric fields of a ``tolerance`` table)."""

REPRODUCED = "reproduced"
"""Equivalence shown: the whole confidence interval of the difference lies inside the margin."""
NOT_REPRODUCED = "not reproduced"
"""A meaningful difference shown: the whole interval lies beyond the margin."""
INCONCLUSIVE = "inconclusive"
"""Neither: the interval straddles the margin; ``Judgement.decide`` says what would decide it."""
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)
"""The three outcomes of a rule."""
KNOWN_DIVERGENCE = "known divergence"
"""A recorded divergence whose every expectation (verdict, direction, reading) the run confirms."""
DIAGNOSIS_UNSUPPORTED = "diagnosis unsupported"
"""A recorded divergence that the run no longer supports (it reproduces, or an expectation of
its diagnosis fails): an error in the registry, reported loudly."""
UNEXPECTED_PASS = DIAGNOSIS_UNSUPPORTED  # the old name of the status
NOT_RUN = "not run"
ERROR = "error"
"""A claim whose measurement raised something unexpected (a bug, not an input problem)."""
STATUSES = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, KNOWN_DIVERGENCE, DIAGNOSIS_UNSUPPORTED,
            NOT_RUN, ERROR)


@dataclass(frozen=True)
class Estimate:
    """A value with what is known of its uncertainty.

    ``std`` and ``n``: the spread of one repetition and the number of repetitions (a published
    mean ± std over n runs, or ours). ``se``: the standard error of ``value`` itself when it is
    not ``std / sqrt(n)`` — 0 for a value computed exactly (a closed form), the spread between
    scoring realisations for an expectation that depends on one. ``ci``: a 95% interval (e.g. a
    bootstrap over cells) when neither is known. :func:`standard_error` reads them in that order.
    """

    value: float
    std: float | None = None
    n: int | None = None
    ci: tuple[float, float] | None = None
    se: float | None = None

    def to_dict(self) -> dict:
        out = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}
        if out["se"] is None:  # records from before ``se`` existed stay as they were
            del out["se"]
        return out

    @classmethod
    def from_dict(cls, d: dict) -> Estimate:
        ci = d.get("ci")
        return cls(d["value"], d.get("std"), d.get("n"), tuple(ci) if ci is not None else None,
                   d.get("se"))


def standard_error(e: Estimate) -> float:
    """The standard error of ``e.value``: ``se`` if given, else ``std / sqrt(n)``, else the 95%
    interval's half-width / 1.96, else 0 (a value known exactly)."""
    if e.se is not None:
        return float(e.se)
    if e.std is not None and e.n is not None and e.n > 0:
        return float(e.std) / math.sqrt(e.n)
    if e.ci is not None:
        lo, hi = e.ci
        return max(e.value - lo, hi - e.value, 0.0) / 1.959963984540054
    return 0.0


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


@dataclass(frozen=True)
class Judgement:
    """Outcome of one rule.

    ``verdict``: one of :data:`VERDICTS`. ``difference``: reproduced − reference (for a factor
    rule, in the unit it judges: see :attr:`harness.rules.Rule.unit`); ``allowed``: the margin the
    rule compares against; ``interval``: the confidence interval of the difference the decision
    used. ``slack``: distance from the interval to the nearest decision boundary, > 0 when
    decided (how far the verdict is from flipping), <= 0 when inconclusive (how far the interval
    overlaps the margin's edge; 0 exactly on it). ``power``: probability of *reproduced* if there were no true
    difference, at this standard error; ``effect``: the rule's stated meaningful effect (the
    margin; log factor for a factor rule); ``power_effect``: probability of *not reproduced* if
    the true difference lay ``effect`` beyond the margin (2·effect for the symmetric rules). ``decide``: for an
    inconclusive verdict, what would decide it. ``statistic``: the rule's own numbers.
    """

    verdict: str
    difference: float
    allowed: float
    statistic: dict[str, float] = field(default_factory=dict)
    explanation: str = ""
    interval: tuple[float, float] | None = None
    slack: float | None = None
    power: float | None = None
    effect: float | None = None
    power_effect: float | None = None
    decide: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {shown(self.verdict)}")

    @property
    def passed(self) -> bool:
        """True when the verdict is *reproduced*."""
        return self.verdict == REPRODUCED

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "passed": self.passed, "difference": self.difference,
                "allowed": self.allowed, "statistic": dict(self.statistic),
                "explanation": self.explanation,
                "interval": None if self.interval is None else list(self.interval),
                "slack": self.slack, "power": self.power, "effect": self.effect,
                "power_effect": self.power_effect, "decide": self.decide}

    @classmethod
    def from_dict(cls, d: dict) -> Judgement:
        verdict = d.get("verdict") or (REPRODUCED if d.get("passed") else NOT_REPRODUCED)
        interval = d.get("interval")
        return cls(verdict, d["difference"], d["allowed"], dict(d.get("statistic") or {}),
                   d.get("explanation", ""), tuple(interval) if interval is not None else None,
                   d.get("slack"), d.get("power"), d.get("effect"), d.get("power_effect"),
                   d.get("decide", ""))


def judge(tol: Tolerance, reproduced: Estimate, reference: Estimate) -> Judgement:
    """Apply ``tol``'s rule to a reproduced estimate and its reference."""
    from harness.rules import get_rule

    return get_rule(tol.rule).judge(tol, reproduced, reference)
