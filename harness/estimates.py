"""The records a verdict is made of: estimates, judgements and the statuses a claim can get.

:mod:`harness.verdicts` (tolerances, :func:`~harness.verdicts.judge`) re-exports every name;
:mod:`harness.rules` and :mod:`harness.stats` read them here, below the verdicts, so that the
verdicts may look rules up without an import cycle.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

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

    ``se_df``: the degrees of freedom of ``se`` when it is itself estimated (e.g. k - 1 for a
    spread between k scoring realisations; Welch–Satterthwaite when it combines several
    estimated terms); None: ``se`` is known exactly (0, a closed form) or from so many draws that
    its own error is negligible (infinite degrees of freedom). ``spread_exact``: ``std`` is the
    spread of the exact distribution of one repetition (computed, not a sample standard deviation
    over ``n`` repetitions), so a spread test uses no sampling distribution on this side
    (chi-square on the other side alone instead of F).
    """

    value: float
    std: float | None = None
    n: int | None = None
    ci: tuple[float, float] | None = None
    se: float | None = None
    se_df: float | None = None
    spread_exact: bool = False

    def __post_init__(self) -> None:
        if self.se_df is not None and not self.se_df > 0:
            raise ValueError(f"se_df must be > 0 or None (se known exactly), got {self.se_df!r}")

    def to_dict(self) -> dict:
        out = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}
        if out["se"] is None:  # records from before ``se`` existed stay as they were
            del out["se"]
        if out["se_df"] is None:
            del out["se_df"]
        if out["spread_exact"] == (self.se == 0):  # what from_dict reads without it: unchanged
            del out["spread_exact"]
        return out

    @classmethod
    def from_dict(cls, d: dict) -> Estimate:
        """The record :meth:`to_dict` wrote. A record from before ``spread_exact`` existed is
        read as it was judged then: its spread is exact when ``se`` is 0."""
        ci = d.get("ci")
        spread_exact = d["spread_exact"] if "spread_exact" in d else d.get("se") == 0
        return cls(d["value"], d.get("std"), d.get("n"), tuple(ci) if ci is not None else None,
                   d.get("se"), d.get("se_df"), bool(spread_exact))


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
