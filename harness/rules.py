"""The tolerance rules, registered where they are defined: one small function each.

A rule compares a reproduced :class:`~harness.verdicts.Estimate` with a reference one (the
published value, or for a comparative claim the other side) and returns a
:class:`~harness.verdicts.Judgement` with one of three verdicts (see ``docs/statistics.md``):
the ``1 - 2·alpha`` confidence interval of the difference lies inside the equivalence region
(*reproduced*), wholly outside it (*not reproduced*), or across its edge (*inconclusive*). It
declares, with :func:`register_rule`, the tolerance parameters it needs (``alpha``, ``margin``,
``factor``) — :class:`~harness.verdicts.Tolerance` checks exactly those — what a claim using it
must publish, and its stated meaningful effect (the power check moves the reference by it).
A new rule is one new function. The maths is in :mod:`harness.stats`.

Judgement fields have one meaning each: ``difference`` is reproduced − reference in the unit
the rule judges (:attr:`Rule.unit`: a difference, or the log of the ratio for a factor rule);
``allowed`` is the margin (for a factor rule the factor itself); ``interval`` the interval the
decision used; rule-specific numbers go in ``statistic``.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from harness import stats
from harness.estimates import (
    INCONCLUSIVE,
    NOT_REPRODUCED,
    PARAMETERS,
    REPRODUCED,
    Estimate,
    Judgement,
    standard_error,
)
from tfnas.errors import TfnasError, shown

if TYPE_CHECKING:  # harness.verdicts imports this module: Tolerance is only named here
    from harness.verdicts import Tolerance

JudgeFn = Callable[["Tolerance", Estimate, Estimate], Judgement]
EffectFn = Callable[["Tolerance"], float]
ShiftFn = Callable[["Tolerance", Estimate, Estimate, float], list[Estimate]]
"""(tolerance, reproduced, reference, effect) -> the moved references the power check judges."""

DEFAULT_ALPHA = 0.05
"""The level of each one-sided test (a 90% interval) when a tolerance gives no ``alpha``."""
REMOVED_RULES = {
    "welch": "the tolerance rule 'welch' was removed (not rejecting equal means is not "
             "reproducing them); use 'distribution' (mean and spread, margin and factor) or "
             "'tost' (the mean, margin)",
}
"""Rule names that once existed, with the one-line message that says what to use instead."""
VERDICT_CODES = {REPRODUCED: 1.0, INCONCLUSIVE: 0.0, NOT_REPRODUCED: -1.0}
"""How a part's verdict is written among a judgement's numbers (``statistic['mean_verdict']``)."""
_ORDER = {NOT_REPRODUCED: 0, INCONCLUSIVE: 1, REPRODUCED: 2}


class UnknownRuleError(TfnasError, ValueError):
    """A tolerance rule name that no function registered."""


def margin_effect(tol: Tolerance) -> float:
    """The default stated meaningful effect: the tolerance's margin (0 when it has none)."""
    return float(tol.margin or 0.0)


def log_factor_effect(tol: Tolerance) -> float:
    """The stated meaningful effect of a factor rule: log of its factor."""
    return math.log(tol.factor) if tol.factor else 0.0


def shifted(p: Estimate, value: float) -> Estimate:
    """``p`` with its value moved to ``value``, its uncertainty unchanged (a ``ci`` moves
    with it)."""
    dv = value - p.value
    return replace(p, value=value, ci=None if p.ci is None else (p.ci[0] + dv, p.ci[1] + dv))


def scaled(p: Estimate, k: float) -> Estimate:
    """``p`` multiplied by ``k`` > 0, its relative uncertainty unchanged (std, se and ci scale
    with it)."""
    return replace(p, value=p.value * k, std=None if p.std is None else p.std * k,
                   se=None if p.se is None else p.se * k,
                   ci=None if p.ci is None else (p.ci[0] * k, p.ci[1] * k))


def reference_at(tol: Tolerance, r: Estimate, p: Estimate, difference: float) -> Estimate:
    """The reference moved so that the observed difference, in the rule's unit
    (:attr:`Rule.unit`), is ``difference``: shifted for a difference rule, scaled for a factor
    rule (``difference`` a log ratio); its uncertainty travels with it."""
    if get_rule(tol.rule).unit == "factor":
        if not (r.value > 0 and p.value > 0):
            raise ValueError(f"a factor rule needs positive values, got {r.value}, {p.value}")
        return scaled(p, r.value / p.value * math.exp(-difference))
    return shifted(p, r.value - difference)


def _ways(d: float) -> tuple[float, ...]:
    return (1.0, -1.0) if d == 0 else (math.copysign(1.0, d),)


def _shift_away(tol: Tolerance, r: Estimate, p: Estimate, effect: float) -> list[Estimate]:
    """Move the reference so that the observed difference lies ``effect`` beyond the margin,
    on the side it already lies (both sides at 0)."""
    edge = float(tol.margin or 0.0) + effect
    return [shifted(p, r.value - way * edge) for way in _ways(r.value - p.value)]


def _shift_factor(tol: Tolerance, r: Estimate, p: Estimate, effect: float) -> list[Estimate]:
    """Move a positive reference so that the observed log ratio lies ``effect`` beyond
    log(factor), on the side it already lies; its standard error scales with it."""
    d = math.log(r.value / p.value) if r.value > 0 and p.value > 0 else 0.0
    edge = math.log(float(tol.factor)) + effect
    return [reference_at(tol, r, p, way * edge) for way in _ways(d)]


@dataclass(frozen=True)
class Rule:
    """A registered tolerance rule and what it declares."""

    name: str
    judge: JudgeFn
    needs: tuple[str, ...] = ()
    """Tolerance parameters that must be given (a subset of :data:`PARAMETERS`)."""
    comparative: bool = False
    """True when the reference is the measured other side: a published value is optional."""
    published_spread: bool = False
    """True when the published side must give ``std`` (>= 0) and ``n`` (>= 2)."""
    compares: Literal["value", "max"] = "value"
    """Which number of a measurement is judged: its mean, or its largest value."""
    unit: Literal["difference", "factor"] = "difference"
    """What ``Judgement.difference`` measures: a difference, or the log of the ratio."""
    drift: str | None = None
    """The rule ``harness compare`` judges a change of this claim's value with (None: exact)."""
    effect: EffectFn = margin_effect
    """The stated meaningful effect, in the rule's unit (default: the margin)."""
    shift: ShiftFn = _shift_away
    """How the power check moves the reference: the observed difference put the effect beyond
    the edge of what the rule accepts (default: beyond the margin on the side it lies, both
    sides when it is 0)."""


_RULES: dict[str, Rule] = {}


def register_rule(name: str, *, needs: tuple[str, ...] = (), comparative: bool = False,
                  published_spread: bool = False, compares: Literal["value", "max"] = "value",
                  unit: Literal["difference", "factor"] = "difference",
                  drift: str | None = None, effect: EffectFn | None = None,
                  shift: ShiftFn | None = None) -> Callable[[JudgeFn], JudgeFn]:
    """Decorator: register the decorated function as the tolerance rule ``name``."""
    unknown = set(needs) - set(PARAMETERS)
    if unknown:
        raise ValueError(f"rule {name!r} needs unknown parameter(s) {sorted(unknown)}; "
                         f"expected some of {PARAMETERS}")
    if name in REMOVED_RULES:
        raise ValueError(REMOVED_RULES[name])

    def wrap(fn: JudgeFn) -> JudgeFn:
        known = _RULES.get(name)
        if known is not None and known.judge is not fn:
            raise ValueError(f"a tolerance rule {name!r} is already registered "
                             f"({known.judge.__module__}.{known.judge.__qualname__})")
        _RULES[name] = Rule(name, fn, tuple(needs), comparative, published_spread, compares,
                            unit, drift,
                            effect or (log_factor_effect if unit == "factor" else margin_effect),
                            shift or (_shift_factor if unit == "factor" else _shift_away))
        return fn

    return wrap


def rule_names() -> tuple[str, ...]:
    """Every registered rule, in registration order."""
    return tuple(_RULES)


def get_rule(name: object) -> Rule:
    """The rule registered as ``name``, or an :class:`UnknownRuleError` naming the known ones
    (or, for a removed rule, what to use instead)."""
    if isinstance(name, str) and name in REMOVED_RULES:
        raise UnknownRuleError(REMOVED_RULES[name])
    if not isinstance(name, str) or name not in _RULES:
        raise UnknownRuleError(f"unknown tolerance rule {shown(name)}; expected one of "
                               f"{rule_names()}")
    return _RULES[name]


def power_check(tol: Tolerance, reproduced: Estimate, reference: Estimate) -> Judgement:
    """Judge again with the reference moved so that the observed difference lies the rule's
    stated effect beyond the edge of what it accepts (:attr:`Rule.shift`).

    For a reproduced claim the interval's half-width is below the margin, which is at most the
    effect for the built-in rules, so a rule computing its interval consistently must then say
    *not reproduced* (tests/test_power.py checks it, and that a move by less than the slack
    keeps *reproduced*). Of several moves (both ways when the observed difference is 0) the
    judgement nearest to *reproduced* is returned.
    """
    rule = get_rule(tol.rule)
    moved = rule.shift(tol, reproduced, reference, rule.effect(tol))
    judged = [rule.judge(tol, reproduced, m) for m in moved]
    return max(judged, key=lambda j: _ORDER[j.verdict])


POWER_FLOOR = 1e-3
"""A power at or below this is taken as none: the claim cannot come out *reproduced*."""


def can_reproduce(judgement: Judgement) -> bool:
    """False when the claim cannot come out *reproduced* at its standard errors: its power
    (P(reproduced) if the truth were the reference) is at most :data:`POWER_FLOOR` — e.g. a
    published accuracy whose own spread alone makes the interval wider than the margin. True
    when the power is above it, or unknown (a record from before power was computed)."""
    return judgement.power is None or judgement.power > POWER_FLOOR


# ---------------------------------------------------------------- shared machinery


def _alpha(tol: Tolerance) -> float:
    return DEFAULT_ALPHA if tol.alpha is None else float(tol.alpha)


def _level(alpha: float) -> str:
    return f"{100 * (1 - 2 * alpha):.4g}%"


def _finite(rule: str, *values: float) -> None:
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
        raise ValueError(f"the {rule} rule needs finite values, got {', '.join(map(str, values))}")


@dataclass(frozen=True)
class _Side:
    """One side's contribution to the difference, in the unit the rule judges."""

    var: float
    """The variance of its value (its standard error squared)."""
    df: float
    """Degrees of freedom of that variance: n - 1 from a std over n repetitions, ``se_df`` for
    an estimated ``se``, else inf (known)."""
    std: float | None
    """The spread of one repetition, when more repetitions would shrink the variance."""
    n: int | None


def _side(e: Estimate, scale: float = 1.0) -> _Side:
    """A side's variance and degrees of freedom; ``scale`` divides (relative units)."""
    se = standard_error(e) / scale
    sampled = e.se is None and e.std is not None and e.n is not None and e.n >= 2
    df = (float(e.n - 1) if sampled else
          float(e.se_df) if e.se is not None and e.se_df is not None else math.inf)
    return _Side(se * se, df,
                 float(e.std) / scale if sampled and e.std > 0 else None,
                 e.n if sampled else None)


def _published_floor(alpha: float, ref: _Side) -> float:
    """The half-width the interval tends to when our side's error vanishes: the published
    side's own ``t(1 − alpha, df) · se``."""
    if ref.var <= 0:
        return 0.0
    return stats.upper_quantile(alpha, ref.df) * math.sqrt(ref.var)


def _decide(gap: float, alpha: float, half: float, ours: _Side, ref: _Side, unit: str) -> str:
    """What would decide an inconclusive interval whose estimate sits ``gap`` from the edge it
    must clear (the half-width must fall below it): more repetitions on our side, else on the
    published side, else a finer measurement."""
    if gap <= 0:
        return ("the estimate sits on the margin's edge: no number of repetitions decides it; "
                "only a different estimate would")
    need = f"the interval half-width (now {half:.3g}{unit}) must fall below {gap:.3g}{unit}"
    floor = _published_floor(alpha, ref)
    if floor >= gap:
        # Unlimited repetitions of ours leave the published value's own sampling error.
        said = (f"nothing on our side decides it: with unlimited repetitions of ours the "
                f"interval half-width tends to {floor:.3g}{unit} (the published value's own "
                f"sampling error), not below {gap:.3g}{unit}")
        k = (None if ref.std is None else
             stats.repetitions_to_decide(gap, alpha, ref.std, 0.0, math.inf, now=ref.n))
        if k is not None:
            return f"{said}; about {k} published repetitions (now {ref.n}) would"
        return f"{said}; at this margin no measurement decides it"
    for who, side, other in (("on our side", ours, ref), ("published", ref, ours)):
        if side.std is None:
            continue
        k = stats.repetitions_to_decide(gap, alpha, side.std, other.var, other.df, now=side.n)
        if k is not None:
            where = f"repetitions {who}" if who == "on our side" else "published repetitions"
            return f"about {k} {where} (now {side.n}) would decide it: {need}"
    if ours.std is not None and ref.std is not None:
        k = stats.repetitions_each_to_decide(gap, alpha, ours.std, ref.std,
                                             now=max(ours.n or 0, ref.n or 0))
        if k is not None:
            return (f"about {k} repetitions on each side (now {ours.n} and {ref.n}) would "
                    f"decide it: {need}")
    return f"a finer measurement would decide it: {need}"


_VERDICT_ONLY = contextvars.ContextVar("verdict_only", default=False)


@contextlib.contextmanager
def verdict_only() -> Iterator[None]:
    """Within this block the rules compute the verdict and its interval only: no power and no
    'what would decide it' (a judgement's power is then None). The Monte-Carlo guard
    (:func:`harness.evaluate.judged`) judges dozens of shifted estimates for their verdicts;
    the power integrals were most of a claim's time."""
    token = _VERDICT_ONLY.set(True)
    try:
        yield
    finally:
        _VERDICT_ONLY.reset(token)


def _interval_judgement(rule: str, tol: Tolerance, d: float, ours: _Side, ref: _Side, *,
                        margin: float | None = None, bound: float | None = None,
                        effect: float, allowed: float, unit: str = "",
                        extra: dict[str, float] | None = None) -> Judgement:
    """The judgement of a difference ``d`` with the two sides' variances: against
    ``(-margin, margin)`` (two-sided), or against 'above ``bound``' (one-sided)."""
    alpha = _alpha(tol)
    se = math.sqrt(ours.var + ref.var)
    df = stats.welch_df([(ours.var, ours.df), (ref.var, ref.df)])
    lo, hi = stats.difference_interval(d, se, df, alpha)
    parts = [(ours.var, ours.df), (ref.var, ref.df)]
    full = not _VERDICT_ONLY.get()
    power = power_effect = None
    if margin is not None:
        verdict, slack = stats.three_way(lo, hi, margin)
        if full:
            power = stats.difference_power(parts, alpha, 0.0, margin=margin)[0]
            power_effect = stats.difference_power(parts, alpha, margin + effect,
                                                  margin=margin)[1]
        gap = margin - abs(d) if abs(d) < margin else abs(d) - margin
        region = f"±{margin:.4g}{unit}"
    else:
        assert bound is not None
        verdict, slack = stats.one_sided(lo, hi, bound)
        if full:
            power = stats.difference_power(parts, alpha, bound + effect, bound=bound)[0]
            power_effect = stats.difference_power(parts, alpha, bound - effect, bound=bound)[1]
        gap = abs(d - bound)
        region = f"above {bound:.4g}{unit}"
    half = (hi - lo) / 2
    decide = (_decide(gap, alpha, half, ours, ref, unit)
              if verdict == INCONCLUSIVE and full else "")
    statistic = {"se": se, "df": df, "low": lo, "high": hi, "alpha": alpha, **(extra or {})}
    explanation = (f"{rule}: difference {d:.4g}{unit}, {_level(alpha)} interval "
                   f"[{lo:.4g}, {hi:.4g}] against {region}: {verdict}")
    return Judgement(verdict, d, allowed, statistic, explanation, (lo, hi), slack, power,
                     effect, power_effect, decide)


def _mean_judgement(rule: str, tol: Tolerance, r: Estimate, p: Estimate) -> Judgement:
    _finite(rule, r.value, p.value)
    margin = float(tol.margin or 0.0)
    return _interval_judgement(rule, tol, r.value - p.value, _side(r), _side(p), margin=margin,
                               effect=get_rule(rule).effect(tol), allowed=margin)


# ---------------------------------------------------------------- the built-in rules


@register_rule("tost", needs=("margin",), drift="tost")
def tost_rule(tol: Tolerance, r: Estimate, p: Estimate) -> Judgement:
    """Two one-sided tests: the ``1 - 2·alpha`` interval of reproduced − reference (Welch
    standard error and degrees of freedom) against ``(-margin, margin)``."""
    return _mean_judgement("tost", tol, r, p)


@register_rule("equivalence", needs=("margin",), drift="equivalence")
def equivalence_rule(tol: Tolerance, r: Estimate, p: Estimate) -> Judgement:
    """The same decision as ``tost``, kept for single values (correlations): the interval is
    the decision, no half-width is added to the margin."""
    return _mean_judgement("equivalence", tol, r, p)


def _our_spread_count(r: Estimate) -> int | None:
    """Our repetitions for the spread test (F), or None when our spread is exact
    (``Estimate.spread_exact``, or no count: chi-square on the reference side alone)."""
    return None if r.spread_exact or r.n is None else r.n


def _spread_part(tol: Tolerance, r: Estimate, p: Estimate) -> tuple[str, float, dict, str]:
    """Verdict, slack, numbers and decide text of the ratio of standard deviations."""
    if r.std is None or p.std is None or p.n is None:
        raise ValueError(f"the distribution rule needs std on both sides and n on the "
                         f"reference side, got {r} and {p}")
    alpha, factor = _alpha(tol), float(tol.factor)
    n_ours = _our_spread_count(r)
    exact = n_ours is None
    lo, hi = stats.sd_ratio_interval(float(r.std), n_ours, float(p.std), p.n, alpha)
    log_f = math.log(factor)
    llo, lhi = (math.log(x) if x > 0 else -math.inf for x in (lo, hi))
    verdict, slack = stats.three_way(llo, lhi, log_f)
    full = not _VERDICT_ONLY.get()
    rep = stats.sd_ratio_power(n_ours, p.n, factor, alpha, 1.0)[0] if full else None
    rej = stats.sd_ratio_power(n_ours, p.n, factor, alpha, factor * factor)[1] if full else None
    ratio = (1.0 if r.std == p.std else math.inf if p.std == 0 else r.std / p.std)
    numbers = {"spread_ratio": ratio, "spread_low": lo, "spread_high": hi,
               "spread_slack": slack, "spread_power": rep, "spread_power_effect": rej,
               "spread_verdict": VERDICT_CODES[verdict]}
    decide = ""
    if verdict == INCONCLUSIVE and full:
        lr = math.log(ratio) if 0 < ratio < math.inf else 0.0
        gap = abs(abs(lr) - log_f)
        want = f"the log-ratio half-width (now {(lhi - llo) / 2:.3g}) must fall below {gap:.3g}"
        k_ours = (None if exact else
                  stats.spread_repetitions_to_decide(gap, alpha, p.n, now=r.n))
        k_pub = stats.spread_repetitions_to_decide(gap, alpha, n_ours, now=p.n)
        if k_ours is not None:
            decide = f"spread: about {k_ours} repetitions on our side (now {r.n}): {want}"
        elif k_pub is not None:
            decide = f"spread: about {k_pub} published repetitions (now {p.n}): {want}"
        else:
            decide = f"spread: no count of repetitions decides it: {want}"
    return verdict, slack, numbers, decide


def _distribution_power(tol: Tolerance, r: Estimate, p: Estimate,
                        effect: float) -> tuple[float, float]:
    """(power, power_effect) of the distribution rule: P(both parts reproduced) when the truth
    is the reference (difference 0, σ ratio 1), and P(either part not reproduced) when it lies
    the effect beyond both edges (difference margin + effect, σ ratio factor²). The parts share
    the sample variances, so the joint probability is integrated
    (:func:`harness.stats.distribution_power`), not multiplied."""
    ours, ref = _side(r), _side(p)
    n_ours = _our_spread_count(r)
    spread = stats.SpreadTest(
        n_ours, int(p.n), float(tol.factor),
        # our sample variance is the mean part's own when that part is std / sqrt(n)
        ours_part=0 if n_ours is not None and ours.n is not None else None,
        ref_part=1 if ref.n is not None else None)
    parts = [(ours.var, ours.df), (ref.var, ref.df)]
    alpha, margin = _alpha(tol), float(tol.margin or 0.0)
    factor = float(tol.factor)
    power = stats.distribution_power(parts, spread, alpha, margin, 0.0, 1.0)[0]
    power_effect = stats.distribution_power(parts, spread, alpha, margin, margin + effect,
                                            factor * factor)[1]
    return power, power_effect


@register_rule("distribution", needs=("margin", "factor"), published_spread=True, drift="tost")
def distribution_rule(tol: Tolerance, r: Estimate, p: Estimate) -> Judgement:
    """A mean ± std over repetitions, judged on the mean (``tost`` with the margin) and on the
    spread (the interval of σ_ours/σ_pub against ``(1/factor, factor)``: F for two samples,
    chi-square when our side is exact). Reproduced iff both are, not reproduced iff either is,
    else inconclusive."""
    mean = _mean_judgement("distribution", tol, r, p)
    sv, ss, numbers, sdecide = _spread_part(tol, r, p)
    parts = {"mean": (mean.verdict, mean.slack), "spread": (sv, ss)}
    verdicts = [v for v, _ in parts.values()]
    if NOT_REPRODUCED in verdicts:
        verdict = NOT_REPRODUCED
        slack = max(s for v, s in parts.values() if v == NOT_REPRODUCED)
    elif INCONCLUSIVE in verdicts:
        verdict = INCONCLUSIVE
        slack = min(s for v, s in parts.values() if v == INCONCLUSIVE)
    else:
        verdict, slack = REPRODUCED, min(s for _, s in parts.values())
    power, power_effect = ((None, None) if _VERDICT_ONLY.get() else
                           _distribution_power(tol, r, p, mean.effect))
    statistic = {f"mean_{k}": v for k, v in mean.statistic.items()}
    statistic.update(mean_verdict=VERDICT_CODES[mean.verdict], mean_slack=mean.slack, **numbers)
    decide = ("; ".join(x for x in ((mean.decide and f"mean: {mean.decide}"), sdecide) if x)
              if verdict == INCONCLUSIVE else "")
    explanation = (f"mean: {mean.explanation.split(': ', 1)[1]}; spread: σ ratio "
                   f"{numbers['spread_ratio']:.3g}, {_level(_alpha(tol))} interval "
                   f"[{numbers['spread_low']:.3g}, {numbers['spread_high']:.3g}] against "
                   f"(1/{tol.factor:g}, {tol.factor:g}): {sv}")
    return Judgement(verdict, mean.difference, mean.allowed, statistic, explanation,
                     mean.interval, slack, power, mean.effect, power_effect, decide)


@register_rule("ratio", needs=("factor",), unit="factor", drift="ratio")
def ratio_rule(tol: Tolerance, r: Estimate, p: Estimate) -> Judgement:
    """The interval of log(reproduced / reference) (delta method: relative standard errors)
    against ``(-log factor, log factor)``. Values must be positive."""
    _finite("ratio", r.value, p.value)
    if r.value <= 0 or p.value <= 0:
        raise ValueError(f"the ratio rule needs positive values, got {r.value}, {p.value}")
    lr = math.log(r.value / p.value)
    log_f = math.log(float(tol.factor))
    j = _interval_judgement("ratio (log scale)", tol, lr, _side(r, r.value),
                            _side(p, p.value), margin=log_f, effect=log_factor_effect(tol),
                            allowed=float(tol.factor),
                            extra={"ratio": r.value / p.value, "log_ratio": lr})
    lo, hi = (_exp(x) for x in j.interval)
    return replace(j, statistic={**j.statistic, "ratio_low": lo, "ratio_high": hi},
                   explanation=j.explanation + f" (ratio {r.value / p.value:.3g}, interval "
                   f"×[{lo:.3g}, {hi:.3g}] against ×{tol.factor:g})")


def _exp(x: float) -> float:
    """exp, infinite beyond the float range (a log-ratio interval may be that wide)."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


MIN_RUNS = 3
"""'Always under' needs at least this many runs (their maximum is judged)."""


def _shift_limit(tol: Tolerance, r: Estimate, p: Estimate, effect: float) -> list[Estimate]:
    """Put the limit ``effect`` below our longest run minus the margin (just below when the
    effect is 0): the longest run then exceeds it."""
    margin = float(tol.margin or 0.0)
    limit = r.value - margin - effect
    while not r.value > limit + margin:
        limit = math.nextafter(limit, -math.inf)
    return [replace(p, value=limit)]


@register_rule("at_most", compares="max", drift="tost", shift=_shift_limit)
def at_most_rule(tol: Tolerance, r: Estimate, p: Estimate) -> Judgement:
    """'Always under L': reproduced iff at least :data:`MIN_RUNS` runs (``r.n``) and the
    longest (``r.value``) is at most L + margin; not reproduced iff it exceeds it; inconclusive
    with fewer runs. No sampling model: power (the longest run at the limit) is 1 with enough
    runs, else 0; power_effect is 1 (a run beyond the limit is not reproduced whatever the
    count)."""
    _finite("at_most", r.value, p.value)
    margin = float(tol.margin or 0.0)
    limit = p.value + margin
    runs = r.n or 1
    room = limit - r.value
    if r.value > limit:
        verdict, slack = NOT_REPRODUCED, -room
    elif runs >= MIN_RUNS:
        verdict, slack = REPRODUCED, room
    else:
        verdict, slack = INCONCLUSIVE, -abs(room)
    decide = (f"{MIN_RUNS - runs} more run(s) would decide it (now {runs}): 'always under' "
              f"needs several runs and their maximum" if verdict == INCONCLUSIVE else "")
    able = float(runs >= MIN_RUNS)
    d = r.value - p.value
    return Judgement(verdict, d, margin, {"runs": float(runs), "limit": limit},
                     f"longest of {runs} run(s) {r.value:.4g} vs limit {limit:.4g}: {verdict}",
                     (d, d), slack, able, margin, 1.0, decide)


def _shift_past(bound_of: Callable[[Tolerance], float]) -> ShiftFn:
    """For a one-sided claim: move the reference so that the difference sits the effect past
    the bound on the failing side."""
    def shift(tol: Tolerance, r: Estimate, p: Estimate, effect: float) -> list[Estimate]:
        return [shifted(p, r.value - (bound_of(tol) - effect))]
    return shift


def _greater_bound(tol: Tolerance) -> float:
    return float(tol.margin or 0.0)


def _noninferior_bound(tol: Tolerance) -> float:
    return -float(tol.margin or 0.0)


@register_rule("greater", comparative=True, drift="tost", shift=_shift_past(_greater_bound))
def greater_rule(tol: Tolerance, r: Estimate, p: Estimate) -> Judgement:
    """A − B is above the margin (default 0): reproduced iff the ``1 - 2·alpha`` interval's low
    end is, not reproduced iff its high end is below, else inconclusive."""
    _finite("greater", r.value, p.value)
    return _interval_judgement("greater", tol, r.value - p.value, _side(r), _side(p),
                               bound=_greater_bound(tol), effect=margin_effect(tol),
                               allowed=_greater_bound(tol))


@register_rule("noninferior", needs=("margin",), comparative=True, drift="tost",
               shift=_shift_past(_noninferior_bound))
def noninferior_rule(tol: Tolerance, r: Estimate, p: Estimate) -> Judgement:
    """A falls short of B by less than the margin: reproduced iff the interval's low end is
    above −margin, not reproduced iff its high end is below, else inconclusive."""
    _finite("noninferior", r.value, p.value)
    return _interval_judgement("noninferior", tol, r.value - p.value, _side(r), _side(p),
                               bound=_noninferior_bound(tol), effect=margin_effect(tol),
                               allowed=float(tol.margin))


def _shift_claim(tol: Tolerance, r: Estimate, p: Estimate, effect: float) -> list[Estimate]:
    """The opposite claim: 1 − the claimed value."""
    return [replace(p, value=1.0 - p.value)]


@register_rule("holds", shift=_shift_claim, effect=lambda tol: 1.0)
def holds_rule(tol: Tolerance, r: Estimate, p: Estimate) -> Judgement:
    """A yes/no fact: the reproduced value is the fraction (0..1) of scoring realisations in
    which it holds, the claimed one 1 (holds) or 0 (does not). All agree with the claim:
    reproduced; all disagree: not reproduced; in between: inconclusive."""
    _finite("holds", r.value, p.value)
    if p.value not in (0.0, 1.0) or not 0.0 <= r.value <= 1.0:
        raise ValueError(f"the holds rule needs a claimed 0 or 1 and an observed fraction in "
                         f"[0, 1], got {p.value} and {r.value}")
    d = r.value - p.value
    off = abs(d)
    if off == 0:
        verdict, slack = REPRODUCED, 0.0
    elif off == 1:
        verdict, slack = NOT_REPRODUCED, 0.0
    else:
        verdict, slack = INCONCLUSIVE, -min(off, 1 - off)
    decide = (f"holds in {r.value:.0%} of the scoring realisations: a claim decided by scoring "
              f"noise; only a measurement that separates the near-ties would decide it"
              if verdict == INCONCLUSIVE else "")
    return Judgement(verdict, d, 0.0, {"fraction": r.value}, f"holds in {r.value:.0%} of the "
                     f"realisations vs claimed {p.value:g}: {verdict}", (d, d), slack, 1.0, 1.0,
                     1.0, decide)


@register_rule("ordered", shift=_shift_claim, effect=lambda tol: 1.0)
def ordered_rule(tol: Tolerance, r: Estimate, p: Estimate) -> Judgement:
    """A claimed order of several measured quantities, judged pair by pair on their sampling
    errors (``proxy_ranking``): the reproduced value is 1 when every judged pair is shown in the
    claimed order, 0 when one is shown reversed, 0.5 when neither (some pair undecided on this
    sample); the claimed one is 1. 1: reproduced, 0: not reproduced, 0.5: inconclusive."""
    _finite("ordered", r.value, p.value)
    if p.value != 1.0 or r.value not in (0.0, 0.5, 1.0):
        raise ValueError(f"the ordered rule needs a claimed 1 and an observed 0, 0.5 or 1 (every "
                         f"pair in order, some undecided, one reversed), got {p.value} and {r.value}")
    d = r.value - p.value
    verdict = {1.0: REPRODUCED, 0.5: INCONCLUSIVE, 0.0: NOT_REPRODUCED}[r.value]
    said = {REPRODUCED: "every judged pair shown in the claimed order",
            INCONCLUSIVE: "some judged pair neither shown in order nor shown reversed",
            NOT_REPRODUCED: "a judged pair shown reversed"}[verdict]
    decide = ("the undecided pairs' coefficients are closer than their sampling errors on this "
              "sample of cells: more cells (the tables swept further) would decide them"
              if verdict == INCONCLUSIVE else "")
    # No power: P(every pair shown in order) depends on how far apart the true coefficients
    # are, and an order claim states no such distance (the rule sees only 0, 0.5 or 1).
    return Judgement(verdict, d, 0.0, {"value": r.value}, f"{said}: {verdict}", (d, d),
                     -0.5 if verdict == INCONCLUSIVE else 0.0, None, None, None, decide)
