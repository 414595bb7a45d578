"""Recorded divergences checked against the run, and their explanation rendered from it.

A claim's ``known_divergence`` (:class:`~harness.outcome.Divergence`) states in data what it
expects — the primary verdict, the direction of the gap, an alternative reading that reproduces.
:func:`diagnose` checks each expectation against this run's numbers: when all hold, the claim is a
*known divergence* (a strict xfail) with an explanation written from the run; when any fails, the
diagnosis is *unsupported* and the claim fails loudly, naming the expectation that broke, and the
registered words are not printed. Every sentence about numbers is rendered from a check or from
the run's numbers; the registered ``because`` is printed only as a hypothesis in words.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.outcome import AlternativeRun, Check, Diagnosis
from harness.registry import Claim
from harness.verdicts import (
    DIAGNOSIS_UNSUPPORTED,
    INCONCLUSIVE,
    KNOWN_DIVERGENCE,
    NOT_REPRODUCED,
    REPRODUCED,
    Estimate,
    Judgement,
)


def show(e: Estimate | None) -> str:
    """An estimate as a reader wants it: ``75.6 ± 5.47 (30 runs)``, ``0.736``, ``93.1 (exact)``."""
    if e is None:
        return "—"
    text = f"{e.value:.4g}"
    if e.std is not None:
        text += f" ± {e.std:.3g}"
    if e.n is not None and e.std is not None:
        text += f" (n={e.n})"
    if e.se is not None and e.std is not None:
        text += f", se {e.se:.2g}"
    return text


def direction_of(j: Judgement) -> str:
    """``above`` when ours exceeds the published value, ``below`` when it falls short."""
    return "above" if j.difference > 0 else "below" if j.difference < 0 else "equal"


def _interval(j: Judgement) -> str:
    if j.interval is None:
        return f"difference {j.difference:+.4g}"
    lo, hi = j.interval
    return f"difference {j.difference:+.4g}, interval [{lo:+.4g}, {hi:+.4g}] vs ±{j.allowed:.4g}"


def checks(claim: Claim, j: Judgement, alternatives: Sequence[AlternativeRun]) -> list[Check]:
    """Each expectation of the claim's recorded divergence against this run."""
    kd = claim.known_divergence
    assert kd is not None
    out = [Check("verdict", kd.expect, j.verdict, j.verdict == kd.expect)]
    if kd.direction is not None:
        seen = direction_of(j)
        out.append(Check("direction", kd.direction, seen, seen == kd.direction))
    if kd.reading is not None:
        alt = next((a for a in alternatives if a.label == kd.reading), None)
        expected = f"{REPRODUCED} or {INCONCLUSIVE} (not rejected)"
        if alt is None or alt.reason is not None:
            why = "not measured" if alt is None else f"not run: {alt.reason}"
            out.append(Check(f"reading {kd.reading!r}", expected, why, False))
        else:
            out.append(Check(f"reading {kd.reading!r}", expected, str(alt.verdict),
                             alt.verdict in (REPRODUCED, INCONCLUSIVE)))
    if kd.no_reading_fits:
        seen = {claim.reading or "as interpreted": j.verdict}
        seen.update({a.label: (a.verdict if a.reason is None else "not run")
                     for a in alternatives})
        fits = sorted(k for k, v in seen.items() if v != NOT_REPRODUCED)
        out.append(Check("no reading fits", f"every reading {NOT_REPRODUCED}",
                         "all rejected" if not fits else "not rejected: " + ", ".join(fits),
                         not fits))
    return out


def render(claim: Claim, reproduced: Estimate, j: Judgement,
           alternatives: Sequence[AlternativeRun], found: Sequence[Check]) -> str:
    """The explanation, every number from this run: ours against published, the gap and its
    interval, the reading that fits (its numbers and verdict), then the recorded words."""
    kd = claim.known_divergence
    assert kd is not None
    parts = [f"ours {show(reproduced)} vs published {show(claim.published)}: {_interval(j)}, "
             f"{j.verdict} ({direction_of(j)} the published value)"]
    if kd.reading is not None:
        alt = next((a for a in alternatives if a.label == kd.reading), None)
        if alt is not None and alt.reason is None:
            aj = alt.judgement
            gap = f", {_interval(aj)}" if aj is not None else ""
            parts.append(f"under {kd.reading!r}: {show(alt.reproduced)}{gap}, {alt.verdict}")
    if kd.no_reading_fits:
        parts.append("no reading of the row fits: " + ", ".join(
            f"under {a.label!r} {show(a.reproduced)}, {a.verdict}" for a in alternatives
            if a.reason is None))
    broken = [c for c in found if not c.holds]
    if broken:
        parts.append("UNSUPPORTED: " + "; ".join(
            f"{c.check} expected {c.expected}, observed {c.observed}" for c in broken))
        return ". ".join(parts)  # the registered words are not printed beside a broken check
    parts.append(f"Registered hypothesis (words, not checked by this run): {kd.because}")
    return ". ".join(parts)


def diagnose(claim: Claim, reproduced: Estimate, j: Judgement,
             alternatives: Sequence[AlternativeRun]) -> tuple[str, Diagnosis]:
    """(status, diagnosis) of a claim with a recorded divergence."""
    found = checks(claim, j, alternatives)
    status = KNOWN_DIVERGENCE if all(c.holds for c in found) else DIAGNOSIS_UNSUPPORTED
    return status, Diagnosis(render(claim, reproduced, j, alternatives, found), tuple(found))
