"""Power, checked in both directions, on shipped claims and on synthetic estimates.

* A reproduced claim stays *reproduced* when its reference moves by less than the slack (a
  fraction of it, either way): the slack is what the rule says separates the interval from the
  margin's edge, so a wrong slack or an interval that depends on the reference fails here.
* It leaves *reproduced* — to *not reproduced* — when the reference moves so that the observed
  difference lies the rule's stated effect beyond the margin (:func:`harness.rules.power_check`):
  a rule whose interval were wider than it says, or that accepted a difference beyond its margin,
  fails here.
* The reported power is the simulated frequency of *reproduced* (and power_effect that of *not
  reproduced*) on synthetic estimates (:mod:`power_sim`).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from power_sim import PUBLISHED, SIDES, check_against_simulation, tolerances

from harness.evaluate import Context, evaluate_claim
from harness.registry import load_registry
from harness.rules import get_rule, power_check, reference_at
from harness.verdicts import NOT_REPRODUCED, REPRODUCED, Estimate, Tolerance, judge

ROOT = Path(__file__).resolve().parents[1]
FRACTIONS = (0.1, 0.5, 0.9)
"""Moves inside the slack, as fractions of it."""


def moved_inside(tol: Tolerance, r: Estimate, p: Estimate, slack: float) -> list[str]:
    """What goes wrong when the reference moves by a fraction of the slack (either way)."""
    d = judge(tol, r, p).difference
    wrong = []
    for frac in FRACTIONS:
        for way in (1.0, -1.0):
            j = judge(tol, r, reference_at(tol, r, p, d + way * frac * slack))
            if j.verdict != REPRODUCED:
                wrong.append(f"moved by {way * frac:+g} of the slack {slack:.4g}: {j.verdict} "
                             f"({j.explanation})")
    return wrong


INTERVAL_RULES = ("tost", "equivalence", "greater", "noninferior")
"""Rules decided by one interval against the margin: moved the effect beyond it, an interval
narrower than the effect lies wholly beyond and must say *not reproduced*."""


def moved_beyond(tol: Tolerance, r: Estimate, p: Estimate) -> list[str]:
    """What goes wrong when the difference is put the stated effect beyond the margin: it must
    leave *reproduced*; and where its interval is narrower than the effect (the estimate is
    precise enough to see it), an interval rule must say *not reproduced*, not *inconclusive*
    (a wide interval may straddle the bound: inconclusive is then the right answer)."""
    rule = get_rule(tol.rule)
    j = power_check(tol, r, p)
    if j.verdict == REPRODUCED:
        return [f"moved the effect beyond the margin: still reproduced ({j.explanation})"]
    effect = rule.effect(tol)
    precise = j.interval is not None and (j.interval[1] - j.interval[0]) / 2 < effect
    if rule.name in INTERVAL_RULES and precise and j.verdict != NOT_REPRODUCED:
        return [f"moved the effect beyond the margin: {j.verdict} though its interval is "
                f"narrower than the effect ({j.explanation})"]
    return []


# ---------------------------------------------------------------- synthetic estimates


@st.composite
def reproduced_pairs(draw):
    """A tolerance and a (reproduced, reference) pair it is likely to call reproduced."""
    tol = draw(tolerances())
    n = draw(st.integers(30, 2000))
    sigma = draw(st.floats(0.1, 2))
    ref = Estimate(10.0, sigma, n)
    near = draw(st.floats(-0.5, 0.5))
    ratio = draw(st.floats(0.9, 1.1))
    how = draw(st.sampled_from(["sample", "exact", "noisy"]))
    if tol.rule == "ratio":
        ref = Estimate(10.0, se=10.0 * sigma / math.sqrt(n))
        value = 10.0 * math.exp(near * math.log(tol.factor))
        ours = Estimate(value, se=value * sigma / math.sqrt(n), se_df=draw(st.floats(2, 50)))
        return tol, ours, ref
    bound = {"greater": float(tol.margin or 0.0), "noninferior": -float(tol.margin or 0.0)}
    centre = bound[tol.rule] + 2 * float(tol.margin or 1.0) if tol.rule in bound else 0.0
    value = 10.0 + centre + near * float(tol.margin or 1.0)
    ours = {"sample": Estimate(value, sigma * ratio, n),
            "exact": Estimate(value, sigma * ratio, n, se=0.0, spread_exact=True),
            "noisy": Estimate(value, sigma * ratio, n, se=sigma / math.sqrt(n),
                              se_df=draw(st.floats(2, 50)), spread_exact=True)}[how]
    return tol, ours, ref


@settings(max_examples=60)
@given(reproduced_pairs())
def test_synthetic_reproduced_claims_hold_inside_the_slack_and_fail_beyond_the_margin(case):
    tol, r, p = case
    j = judge(tol, r, p)
    assume(j.verdict == REPRODUCED)
    assert not moved_inside(tol, r, p, j.slack)
    assert not moved_beyond(tol, r, p)


@settings(max_examples=10)
@given(tolerances(), SIDES, PUBLISHED, st.integers(0, 2**32))
def test_reported_power_is_the_simulated_frequency_of_reproduced(tol, ours, ref, seed):
    check_against_simulation(tol, ours, ref, seed, sims=1500)


# ---------------------------------------------------------------- the shipped claims


@pytest.fixture(scope="module")
def outcomes(data_root):
    ctx = Context(bootstrap=50)
    claims = [c for c in load_registry().claims.values() if c.fast and not c.live]
    return [(c, evaluate_claim(c, ctx)) for c in claims]


@pytest.mark.data  # evaluates every fast shipped claim against the committed score tables
@pytest.mark.skipif(not (ROOT / "benchmarks" / "scores").is_dir(),
                    reason="benchmarks/scores/ missing")
def test_shipped_reproduced_claims_hold_inside_the_slack_and_fail_beyond_the_margin(outcomes):
    checked, wrong = 0, []
    for claim, o in outcomes:
        if o.status != REPRODUCED or o.judgement is None:
            continue
        reference = o.reference if o.reference is not None else claim.published
        tol = claim.tolerance
        if get_rule(tol.rule).name in ("at_most", "holds", "ordered"):
            continue  # no interval: the slack is not a distance a reference can move by
        checked += 1
        wrong += [f"{claim.id}: {w}" for w in moved_inside(tol, o.reproduced, reference,
                                                           o.judgement.slack)]
        wrong += [f"{claim.id}: {w}" for w in moved_beyond(tol, o.reproduced, reference)]
    assert checked, "the fast subset has no reproduced claim with an interval to check"
    assert not wrong, "; ".join(wrong)
