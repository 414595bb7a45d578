"""The tolerance rules, registered where they are defined: one small function each.

A rule compares a reproduced :class:`~harness.verdicts.Estimate` with a reference one (the
published value, or for a comparative claim the other side) and returns a
:class:`~harness.verdicts.Judgement`. It declares, with :func:`register_rule`, the tolerance
parameters it needs (``alpha``, ``margin``, ``factor``) — :class:`~harness.verdicts.Tolerance`
checks exactly those — and what a claim using it must publish. A new rule is one new function.

Judgement fields have one meaning each: ``difference`` is always reproduced − reference;
``allowed`` is the bound the rule compares against, in the unit :attr:`Rule.unit` names;
rule-specific numbers (t, df, p, the ratio) go in ``statistic``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from harness.verdicts import PARAMETERS, Estimate, Judgement, Tolerance
from tfnas.errors import TfnasError, shown

JudgeFn = Callable[[Tolerance, Estimate, Estimate], Judgement]


class UnknownRuleError(TfnasError, ValueError):
    """A tolerance rule name that no function registered."""


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
    """What ``Judgement.allowed`` measures: a difference, or a factor (``statistic['ratio']``)."""
    drift: str | None = None
    """The rule ``harness compare`` judges a change of this claim's value with (None: exact)."""


_RULES: dict[str, Rule] = {}


def register_rule(name: str, *, needs: tuple[str, ...] = (), comparative: bool = False,
                  published_spread: bool = False, compares: Literal["value", "max"] = "value",
                  unit: Literal["difference", "factor"] = "difference",
                  drift: str | None = None) -> Callable[[JudgeFn], JudgeFn]:
    """Decorator: register the decorated function as the tolerance rule ``name``."""
    unknown = set(needs) - set(PARAMETERS)
    if unknown:
        raise ValueError(f"rule {name!r} needs unknown parameter(s) {sorted(unknown)}; "
                         f"expected some of {PARAMETERS}")

    def wrap(fn: JudgeFn) -> JudgeFn:
        known = _RULES.get(name)
        if known is not None and known.judge is not fn:
            raise ValueError(f"a tolerance rule {name!r} is already registered "
                             f"({known.judge.__module__}.{known.judge.__qualname__})")
        _RULES[name] = Rule(name, fn, tuple(needs), comparative, published_spread, compares,
                            unit, drift)
        return fn

    return wrap


def rule_names() -> tuple[str, ...]:
    """Every registered rule, in registration order."""
    return tuple(_RULES)


def get_rule(name: object) -> Rule:
    """The rule registered as ``name``, or an :class:`UnknownRuleError` naming the known ones."""
    if not isinstance(name, str) or name not in _RULES:
        raise UnknownRuleError(f"unknown tolerance rule {shown(name)}; expected one of "
                               f"{rule_names()}")
    return _RULES[name]


# ---------------------------------------------------------------- the built-in rules


def _half_width(e: Estimate) -> float:
    if e.ci is None:
        return 0.0
    lo, hi = e.ci
    return max(e.value - lo, hi - e.value, 0.0)


def _need_spread(rule: str, r: Estimate, p: Estimate) -> None:
    for side, e in (("reproduced", r), ("reference", p)):
        if e.std is None or e.n is None:
            raise ValueError(f"the {rule} rule needs std and n on the {side} side, got {e}")


def _t_crit(alpha: float, df: float) -> float:
    from scipy import stats as sps

    return float(sps.t.isf(alpha / 2, df)) if math.isfinite(df) else float(sps.norm.isf(alpha / 2))


@register_rule("welch", needs=("alpha",), published_spread=True, drift="welch")
def welch_rule(tol: Tolerance, r: Estimate, p: Estimate) -> Judgement:
    """Two-sided Welch test of equal means: passes when p >= alpha."""
    from harness.stats import welch  # scipy, imported only when a rule needs it

    _need_spread("welch", r, p)
    w = welch(r.value, r.std, r.n, p.value, p.std, p.n)
    crit = w.se * _t_crit(tol.alpha, w.df)
    return Judgement(w.p >= tol.alpha, r.value - p.value, crit,
                      {"t": w.t, "df": w.df, "p": w.p},
                      f"Welch t={w.t:.3g}, p={w.p:.3g} vs alpha={tol.alpha}")


@register_rule("equivalence", needs=("margin",), drift="equivalence")
def equivalence_rule(tol: Tolerance, r: Estimate, p: Estimate) -> Judgement:
    """|difference| within the margin plus the wider CI half-width."""
    diff = r.value - p.value
    allowed = tol.margin + max(_half_width(r), _half_width(p))
    return Judgement(abs(diff) <= allowed, diff, allowed, {},
                      f"|diff|={abs(diff):.4g} vs margin {tol.margin} + CI half-width")


@register_rule("ratio", needs=("factor",), unit="factor", drift="ratio")
def ratio_rule(tol: Tolerance, r: Estimate, p: Estimate) -> Judgement:
    """The larger of the two ratios of positive values is at most the factor."""
    if r.value <= 0 or p.value <= 0:
        raise ValueError(f"the ratio rule needs positive values, got {r.value}, {p.value}")
    ratio = max(r.value / p.value, p.value / r.value)
    return Judgement(ratio <= tol.factor, r.value - p.value, tol.factor, {"ratio": ratio},
                      f"ratio {ratio:.3g} vs allowed factor {tol.factor}")


@register_rule("at_most", compares="max", drift="welch")
def at_most_rule(tol: Tolerance, r: Estimate, p: Estimate) -> Judgement:
    """'Always under': the (longest) reproduced value is at most the reference plus the margin."""
    limit = p.value + (tol.margin or 0.0)
    return Judgement(r.value <= limit, r.value - p.value, tol.margin or 0.0, {},
                      f"{r.value:.4g} vs limit {limit:.4g}")


@register_rule("greater", needs=("alpha",), comparative=True, drift="welch")
def greater_rule(tol: Tolerance, r: Estimate, p: Estimate) -> Judgement:
    """One-sided Welch test of mean(A) > mean(B): passes when p < alpha."""
    from harness.stats import welch

    if r.std is None or r.n is None or p.std is None or p.n is None:
        raise ValueError("the greater rule needs std and n on both sides")
    w = welch(r.value, r.std, r.n, p.value, p.std, p.n, alternative="greater")
    return Judgement(w.p < tol.alpha, r.value - p.value, 0.0, {"t": w.t, "p_one_sided": w.p},
                      f"one-sided Welch t={w.t:.3g}, p={w.p:.3g} vs alpha={tol.alpha}")


@register_rule("noninferior", needs=("margin",), comparative=True, drift="equivalence")
def noninferior_rule(tol: Tolerance, r: Estimate, p: Estimate) -> Judgement:
    """A falls short of B by at most the margin plus the wider CI half-width."""
    diff = r.value - p.value
    allowed = tol.margin + max(_half_width(r), _half_width(p))
    return Judgement(diff >= -allowed, diff, allowed, {},
                      f"A - B = {diff:.4g}, allowed shortfall {allowed:.4g}")


@register_rule("holds")
def holds_rule(tol: Tolerance, r: Estimate, p: Estimate) -> Judgement:
    """A yes/no fact encoded as 1.0 / 0.0: the observed value equals the claimed one."""
    return Judgement(r.value == p.value, r.value - p.value, 0.0, {},
                      f"observed {r.value} vs claimed {p.value}")
