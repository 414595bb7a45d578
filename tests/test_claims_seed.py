"""Several ``--claims-seed`` values give identical verdicts for every non-live shipped claim:
its status, its own verdict, every alternative reading's verdict and its null's verdict.

Table-based search claims are seed-free (exact, or Monte-Carlo to a tenth of the margin) and
the correlations cover the whole space or a sample whose seed the claims seed replaces; so no
verdict may depend on the master seed. Each claim is one test, so a failure names it.

Marked ``slow`` (every claim under four seeds: about half an hour, most of it the REA claims);
CI runs every non-live claim under ``--claims-seed 7`` and compares the statuses with the
baseline, made under the claims' own seeds. The alternatives are compared too because an
alternative's verdict once moved while every status held (issue #22: seed 3 drew a rare REA
miss in one scoring realisation that the others had not).
"""

from __future__ import annotations

import functools

import pytest

from harness.context import Context
from harness.evaluate import evaluate_claim
from harness.outcome import Outcome
from harness.registry import load_registry

SEEDS = (1, 2, 3, 7)
"""Master seeds other than the claims' own (20240601): those of the issue that asked for it."""

CLAIMS = {cid: c for cid, c in load_registry().claims.items() if not c.live}
pytestmark = pytest.mark.slow


@functools.cache
def context(seed: int) -> Context:
    """One context per claims seed, shared by the claims (tables load once)."""
    return Context(claims_seed=seed)


@functools.cache
def outcome(cid: str, seed: int) -> Outcome:
    return evaluate_claim(CLAIMS[cid], context(seed))


def verdict(o: Outcome) -> str:
    """The claim's verdict, or its status when it was not judged (not run, error)."""
    return o.judgement.verdict if o.judgement is not None else o.status


def verdicts(o: Outcome) -> tuple:
    """Status, verdict, each alternative's verdict (or why it did not run), the null's."""
    alternatives = tuple((a.label, a.judgement.verdict if a.judgement is not None else a.reason)
                         for a in o.alternatives_run)
    return o.status, verdict(o), alternatives, None if o.null is None else o.null.verdict


def test_a_claims_seed_is_checked() -> None:
    from harness.context import OptionError

    with pytest.raises(OptionError, match="claims seed"):
        Context(claims_seed=-1)


@pytest.mark.parametrize("cid", sorted(CLAIMS))
def test_the_claims_seeds_give_the_same_verdicts(cid: str) -> None:
    first = outcome(cid, SEEDS[0])
    assert first.status != "error", first.reason
    for seed in SEEDS[1:]:
        assert verdicts(outcome(cid, seed)) == verdicts(first), (
            f"{cid}: {verdicts(first)} under seed {SEEDS[0]}, "
            f"{verdicts(outcome(cid, seed))} under seed {seed}")
