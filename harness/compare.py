"""Regression check between two results JSONs: verdict changes and drift beyond tolerance.

Every change of status is a regression (:func:`status_change`): a move away from *reproduced*
(to *inconclusive* as much as to *not reproduced*) loses a result, a move away from *known
divergence* means the recorded diagnosis no longer describes the run, and a move to *reproduced*
changes what the baseline says, which only ``harness baseline`` may do deliberately. Drift is
judged with the rule each claim's rule declares for it (:attr:`harness.rules.Rule.drift`), the
old value standing in for the published one: ``tost`` on the mean with the claim's margin
(margin 0, a difference test, for rules without one), the equivalence margin for correlations,
the ratio factor for factor claims. A drift is a regression when that judgement shows a change
(*not reproduced*); an *inconclusive* drift is not (nothing meaningful was shown). A claim that
disappears is a regression too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from harness.outcome import Outcome
from harness.results import load_results, outcomes_by_id
from harness.rules import get_rule
from harness.verdicts import (
    KNOWN_DIVERGENCE,
    NOT_REPRODUCED,
    REPRODUCED,
    Estimate,
    Tolerance,
    judge,
)


@dataclass(frozen=True)
class Difference:
    claim: str
    kind: str  # "verdict", "drift", "missing", "added"
    message: str

    @property
    def regression(self) -> bool:
        return self.kind != "added"


def _drift_rule(tol: Tolerance, old: Estimate, new: Estimate) -> Tolerance | None:
    """The tolerance a change of value is judged with: the claim rule's declared drift rule
    (:attr:`harness.rules.Rule.drift`) with the claim's own numbers, or None (exact comparison)
    where it does not apply. A margin-free drift rule is a difference test (margin 0)."""
    drift = get_rule(tol.rule).drift
    if drift in ("tost", "equivalence"):
        return Tolerance(drift, alpha=tol.alpha, margin=tol.margin or 0.0, justification="drift")
    if drift == "ratio" and tol.factor is not None and old.value > 0 and new.value > 0:
        return Tolerance("ratio", alpha=tol.alpha, factor=tol.factor, justification="drift")
    return None  # exact comparison


def _same(a: object, b: object) -> bool:
    """Equal, counting two NaNs (or two missing values) as the same: nothing changed."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def unchanged(old: Estimate, new: Estimate) -> bool:
    """True when two estimates are the same in every field (NaN equal to NaN)."""
    return all(_same(getattr(old, f), getattr(new, f))
               for f in ("value", "std", "n", "ci", "se"))


def _drift(tol: Tolerance, oe: Estimate, ne: Estimate) -> tuple[bool, str]:
    """Whether ``ne`` stays within the drift tolerance of ``oe``, and why."""
    if unchanged(oe, ne):
        return True, "unchanged"
    if not all(math.isfinite(x) for e in (oe, ne) for x in (e.value, e.std or 0.0)):
        return False, "a non-finite value changed"
    rule = _drift_rule(tol, oe, ne)
    if rule is None:
        return oe.value == ne.value, "exact comparison"
    j = judge(rule, ne, oe)
    return j.verdict != NOT_REPRODUCED, j.explanation


def status_change(old: str, new: str) -> str | None:
    """Why a change of status from ``old`` to ``new`` is a regression, or None when it is none
    (the same status). Every change is one; the reason says what was lost."""
    if old == new:
        return None
    if old == REPRODUCED:
        return "a reproduced claim is no longer reproduced"
    if old == KNOWN_DIVERGENCE:
        return "the recorded divergence no longer describes the run"
    if new == REPRODUCED:
        return "newly reproduced: replace the baseline deliberately (harness baseline)"
    return "the verdict changed"


def compare_outcomes(old: dict[str, Outcome], new: dict[str, Outcome]) -> list[Difference]:
    """Every difference between two sets of claim outcomes, keyed by claim id."""
    diffs: list[Difference] = []
    for cid in sorted(old):
        o = old[cid]
        if cid not in new:
            diffs.append(Difference(cid, "missing", f"{cid}: in the old results, absent now"))
            continue
        n = new[cid]
        why = status_change(str(o.status), str(n.status))
        if why is not None:
            diffs.append(Difference(cid, "verdict", f"{cid}: {o.status} -> {n.status} ({why})"))
            continue
        if o.reproduced is None or n.reproduced is None:
            continue
        oe, ne = o.reproduced, n.reproduced
        ok, why = _drift(o.tolerance, oe, ne)
        if not ok:
            diffs.append(Difference(cid, "drift",
                                    f"{cid}: {oe.value:.6g} -> {ne.value:.6g} ({why})"))
    for cid in sorted(set(new) - set(old)):
        diffs.append(Difference(cid, "added", f"{cid}: new claim ({new[cid].status})"))
    return diffs


def compare_files(old: str | Path, new: str | Path) -> list[Difference]:
    """Differences between two results files, each validated on load."""
    return compare_outcomes(outcomes_by_id(load_results(old)), outcomes_by_id(load_results(new)))
