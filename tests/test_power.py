"""Every claim the harness calls *reproduced* has power: moving its published value by the rule's
stated meaningful effect (away from what we measured) makes the verdict leave *reproduced*.

Runs every fast, non-live shipped claim against the committed score tables (the CI subset) and
re-judges each reproduced one with :func:`harness.rules.power_check`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.evaluate import Context, evaluate_claim
from harness.registry import load_registry
from harness.rules import power_check
from harness.verdicts import REPRODUCED

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [
    pytest.mark.data,  # evaluates every fast shipped claim against the committed score tables
    pytest.mark.skipif(not (ROOT / "benchmarks" / "scores").is_dir(),
                       reason="benchmarks/scores/ missing"),
]


@pytest.fixture(scope="module")
def outcomes(data_root):
    ctx = Context(bootstrap=50)
    claims = [c for c in load_registry().claims.values() if c.fast and not c.live]
    return [(c, evaluate_claim(c, ctx)) for c in claims]


def test_the_subset_has_reproduced_claims_to_check(outcomes):
    assert any(o.status == REPRODUCED for _, o in outcomes)


def test_every_reproduced_claim_leaves_reproduced_when_moved_by_the_effect(outcomes):
    weak = []
    for claim, o in outcomes:
        if o.status != REPRODUCED:
            continue
        reference = o.reference if o.reference is not None else claim.published
        moved = power_check(claim.tolerance, o.reproduced, reference)
        if moved.verdict == REPRODUCED:
            weak.append(f"{claim.id}: still reproduced with the reference moved by "
                        f"{moved.effect} ({moved.explanation})")
    assert not weak, "; ".join(weak)
