"""Measure a claim with tfnas: run its protocol (and each alternative reading) and judge it.

The measured step (its kind's measure function, :mod:`harness.kinds`) is a plain callable so the
benchmark fixture can time it. Anything the measurement needs that is not there raises
:class:`~harness.context.NotRun` with the reason; nothing is skipped silently. So does any
:class:`~tfnas.errors.TfnasError` raised while reading the inputs (a corrupt or nonsensical
table or accuracy file): the claim is *not run*, with the one-line reason. The records built
here are :class:`~harness.outcome.Outcome` objects.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from harness.context import (
    MAX_BOOTSTRAP,
    MAX_REPETITIONS,
    SCORE_SOURCES,
    Context,
    NotRun,
    OptionError,
)
from harness.kinds import Comparison, Measurement, measure, null_of
from harness.measurement_model import MC_GUARD
from harness.outcome import AlternativeRun, NullRun, Outcome, RunSettings
from harness.registry import Alternative, Claim
from harness.rules import get_rule, verdict_only
from harness.verdicts import ERROR, INCONCLUSIVE, NOT_RUN, Estimate, Judgement, judge
from tfnas.errors import TfnasError, one_line

__all__ = ["MAX_BOOTSTRAP", "MAX_REPETITIONS", "SCORE_SOURCES", "Comparison", "Context",
           "Measurement", "NotRun", "OptionError", "error_outcome", "evaluate_claim",
           "measurer", "not_run", "null_run", "outcome"]


def measurer(claim: Claim, ctx: Context,
             alternative: Alternative | None = None) -> Callable[[], Measurement | Comparison]:
    """The measured step of a claim under its interpretation (or an alternative) as a callable.

    An input error (:class:`~tfnas.errors.TfnasError`) raised while measuring becomes
    :class:`NotRun` with its one-line message: bad data is a reason not to run, not a crash.
    """
    proto = claim.protocol_for(alternative)

    def guarded() -> Measurement | Comparison:
        try:
            return measure(proto, ctx)
        except TfnasError as exc:
            raise NotRun(f"input refused: {one_line(exc, 400)}") from exc

    return guarded


def _verdict(claim: Claim, result: Measurement | Comparison
             ) -> tuple[Estimate, Estimate | None, Judgement, dict[str, Any]]:
    """(reproduced, reference side or None, judgement, details) of one measurement."""
    if isinstance(result, Comparison):
        a, b = result.a, result.b
        return (a.estimate, b.estimate, judge(claim.tolerance, a.estimate, b.estimate),
                result.details)
    estimate = result.estimate
    if get_rule(claim.tolerance.rule).compares == "max":  # 'always under': the longest run
        estimate = Estimate(result.details["max"], estimate.std, estimate.n)
    published = claim.published
    if result.model is not None and published is not None:
        published = result.model.published(published)  # the row as this reading reads it
    judgement = judge(claim.tolerance, estimate, published)
    decide = result.details.get("decide")
    if judgement.verdict == INCONCLUSIVE and isinstance(decide, str) and decide:
        # The kind knows from its run what is undecided (e.g. which pairs of a ranking).
        judgement = dataclasses.replace(judgement, decide=decide)
    return estimate, None, judgement, result.details


MC_SHARE = 0.3
"""An inconclusive verdict is refined while the Monte-Carlo error is more than this share of our
side's standard error (a tenth of its variance): more runs would narrow the interval."""


def _shifted(result: Measurement | Comparison, by: float, spread: float = 0.0,
             design: float = 0.0, width: float = 0.0) -> Measurement | Comparison:
    """The result with its (side A's) estimate moved by ``by``, its spread scaled by
    ``1 + spread``, its model's design effect by ``1 + design`` and its standard error by
    ``1 + width`` (all within the Monte-Carlo error)."""
    if isinstance(result, Comparison):
        return Comparison(_shifted(result.a, by, spread, design, width), result.b)
    e = result.estimate
    std = None if e.std is None else e.std * (1.0 + spread)
    se = None if e.se is None else e.se * max(0.0, 1.0 + width)
    model = result.model
    if model is not None and design:
        model = model.moved(design)
    return dataclasses.replace(result, model=model, estimate=dataclasses.replace(
        e, value=e.value + by, std=std, se=se))


def mc_error(result: Measurement | Comparison) -> float:
    """The Monte-Carlo standard error of the judged quantity (of A − B for a comparison)."""
    if isinstance(result, Comparison):
        return math.hypot(result.a.mc_se, result.b.mc_se)
    return result.mc_se


def _total_error(result: Measurement | Comparison) -> float:
    """Our side's standard error (of A − B for a comparison), Monte-Carlo part included."""
    def se(e: Estimate) -> float:
        return float(e.se) if e.se is not None else 0.0

    if isinstance(result, Comparison):
        return math.hypot(se(result.a.estimate), se(result.b.estimate))
    return se(result.estimate)


def _finer(result: Measurement | Comparison) -> Measurement | Comparison | None:
    if isinstance(result, Comparison):
        if result.a.refine is None and result.b.refine is None:
            return None
        return Comparison(result.a.refine() if result.a.refine else result.a,
                          result.b.refine() if result.b.refine else result.b)
    return None if result.refine is None else result.refine()


def judged(claim: Claim, result: Measurement | Comparison
           ) -> tuple[Measurement | Comparison,
                      tuple[Estimate, Estimate | None, Judgement, dict[str, Any]]]:
    """The result and its verdict, refined while a shift of :data:`MC_GUARD` Monte-Carlo
    errors either way, or of the spread, the standard error or the model's design effect by
    :data:`MC_GUARD` of its relative Monte-Carlo error (``Measurement.spread_mc``,
    ``Measurement.se_mc``, ``MeasurementModel.design_mc``), would change the verdict (a
    boundary within the estimate's error), or while it is
    inconclusive with a Monte-Carlo error above :data:`MC_SHARE` of its standard error (more
    runs would narrow the interval), up to the kind's cap."""
    while True:
        parts = _verdict(claim, result)
        err = mc_error(result)
        rel, design, width = _relative_errors(result)
        if err <= 0 and rel <= 0 and design <= 0 and width <= 0:
            return result, parts
        with verdict_only():
            verdicts = {_verdict(claim, _shifted(result, s * MC_GUARD * err, t * MC_GUARD * rel,
                                                 d * MC_GUARD * design, u * MC_GUARD * width)
                                 )[2].verdict
                        for s in (-1, 1) for t in _moves(rel) for d in _moves(design)
                        for u in _moves(width)}
        undecided = parts[2].verdict == INCONCLUSIVE and err > MC_SHARE * _total_error(result)
        if verdicts == {parts[2].verdict} and not undecided:
            return result, parts
        finer = _finer(result)
        if finer is None:
            return result, parts
        result = finer


def _moves(error: float) -> tuple[int, ...]:
    """The directions a quantity is moved in by the guard: none when its error is 0."""
    return (-1, 0, 1) if error > 0 else (0,)


def _relative_errors(result: Measurement | Comparison) -> tuple[float, float, float]:
    """(the spread's, the design effect's, the standard error's) relative Monte-Carlo errors
    (of side A for a comparison, whose rules read no spread or design effect)."""
    if isinstance(result, Comparison):
        return 0.0, 0.0, result.a.se_mc
    model = result.model
    return result.spread_mc, 0.0 if model is None else model.design_mc, result.se_mc


def _claim_outcome(claim: Claim, status: str, run: RunSettings | None, **parts: Any) -> Outcome:
    return Outcome(
        id=claim.id, status=status, tolerance=claim.tolerance, title=claim.title,
        source=claim.source, kind=claim.kind, table=claim.table, protocol=claim.raw_protocol,
        published=claim.published, interpretation=claim.interpretation,
        alternatives=[{"label": a.label, **a.overrides} for a in claim.alternatives],
        known_divergence=claim.known_divergence,
        notes=claim.notes, reading=claim.reading, measurement=claim.measurement,
        derived_from=claim.derived_from, run=run,
        lineage=None if claim.lineage is None else claim.lineage.to_dict(), **parts)


def run_settings(claim: Claim, ctx: Context) -> RunSettings:
    """The settings an outcome records: the score source (always live for timing claims)."""
    return RunSettings("live" if claim.live else ctx.score_source, ctx.repetitions)


def not_run(claim: Claim, ctx: Context, reason: str) -> Outcome:
    """The outcome of a claim that could not be measured."""
    return _claim_outcome(claim, NOT_RUN, run_settings(claim, ctx),
                          reason=one_line(reason, 1000))


def error_outcome(claim: Claim, exc: BaseException, where: str = "") -> Outcome:
    """The outcome of a claim whose measurement raised something unexpected."""
    reason = f"{type(exc).__name__}{f' during {where}' if where else ''}: {one_line(exc, 800)}"
    return _claim_outcome(claim, ERROR, None, reason=reason)


def _alternative(claim: Claim, ctx: Context, alt: Alternative) -> AlternativeRun:
    try:
        result, (reproduced, _, j, _) = judged(claim, measurer(claim, ctx, alt)())
    except NotRun as exc:
        return AlternativeRun(alt.label, alt.overrides, reason=one_line(exc, 1000))
    return AlternativeRun(alt.label, alt.overrides, reproduced, j.passed, j.explanation,
                          judgement=j, model=getattr(result, "model", None),
                          mc_se=getattr(result, "mc_se", 0.0),
                          spread_mc=getattr(result, "spread_mc", 0.0))


def null_run(claim: Claim, ctx: Context) -> NullRun | None:
    """The claim's null (its kind's hook, :func:`harness.kinds.null_of`) measured and judged by
    the claim's own rule against the same reference; None when its kind states no null. A
    null that cannot be measured is recorded with the reason, never dropped silently."""
    try:
        null = null_of(claim.protocol_for(None), ctx)
    except (NotRun, TfnasError) as exc:
        return NullRun("the null", reason=one_line(exc, 1000))
    if null is None:
        return None
    if null.lookup:
        return NullRun(null.label, lookup=True)
    try:
        result = null.result if null.result is not None else measure(null.protocol, ctx)
        _, (estimate, reference, j, _) = judged(claim, result)
    except (NotRun, TfnasError) as exc:
        return NullRun(null.label, reason=one_line(exc, 1000))
    return NullRun(null.label, estimate, j, reference)


def outcome(claim: Claim, ctx: Context, result: Measurement | Comparison) -> Outcome:
    """Judge the primary measurement, evaluate the alternative readings and the claim's null,
    check a recorded divergence against them (:mod:`harness.diagnosis`), build the outcome."""
    from harness.diagnosis import diagnose

    result, (reproduced, reference, j, details) = judged(claim, result)
    alternatives = tuple(_alternative(claim, ctx, alt) for alt in claim.alternatives)
    status, diagnosis = j.verdict, None
    if claim.known_divergence is not None:
        status, diagnosis = diagnose(claim, reproduced, j, alternatives)
    return _claim_outcome(
        claim, status, run_settings(claim, ctx), reproduced=reproduced, reference=reference,
        judgement=j, details=details, alternatives_run=alternatives, diagnosis=diagnosis,
        null=null_run(claim, ctx))


def evaluate_claim(claim: Claim, ctx: Context) -> Outcome:
    """Measure and judge one claim without a benchmark fixture (for scripts and tests)."""
    try:
        return outcome(claim, ctx, measurer(claim, ctx)())
    except NotRun as exc:
        return not_run(claim, ctx, str(exc))
