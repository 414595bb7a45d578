"""The body of a claim benchmark: measure, judge, record, and turn the verdict into pytest's.

A claim that does not reproduce fails; one recorded as a known divergence is a strict xfail (an
error once it reproduces); one whose data is missing is skipped as NOT RUN with the reason and
still recorded in the JSON's ``claims`` summary. A test module that runs claims needs only::

    from harness.claim_bench import run_claim

    def test_claim(claim, benchmark, claims_context, pytestconfig):
        run_claim(claim, benchmark, claims_context, pytestconfig)

(the plugin parametrises ``claim`` with the claims that ``--claims`` chose).
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.evaluate import Context, NotRun, measurer, not_run, outcome
from harness.plugin import REGISTRY, record
from harness.registry import Claim
from harness.verdicts import KNOWN_DIVERGENCE, NOT_REPRODUCED, UNEXPECTED_PASS


def _file_of(config: pytest.Config, claim: Claim) -> str:
    reg = config.stash.get(REGISTRY, None)
    path = reg.file_of(claim.id) if reg is not None else None
    return path or "its claims file"


def run_claim(claim: Claim, benchmark: Any, claims_context: Context,
              config: pytest.Config) -> None:
    """Measure ``claim`` under pytest-benchmark (one round), record its outcome, and pass, fail,
    xfail or skip as its verdict says."""
    benchmark.group = claim.table or claim.kind
    try:
        result = benchmark.pedantic(measurer(claim, claims_context), rounds=1, iterations=1)
    except NotRun as exc:
        record(config, not_run(claim, claims_context, str(exc)))
        pytest.skip(f"NOT RUN {claim.id}: {exc}")
    rec = outcome(claim, claims_context, result)
    benchmark.extra_info.update(rec.to_dict())
    record(config, rec)
    verdict = (f"{claim.id}: {rec.status} — reproduced {rec.reproduced.value:.4g}, "
               f"{rec.judgement.explanation}")
    if rec.status == NOT_REPRODUCED:
        pytest.fail(verdict, pytrace=False)
    if rec.status == UNEXPECTED_PASS:
        pytest.fail(f"{verdict}; it is recorded as a known divergence but now reproduces: "
                    f"remove known_divergence from {_file_of(config, claim)}", pytrace=False)
    if rec.status == KNOWN_DIVERGENCE:
        pytest.xfail(f"{verdict}; known divergence: {claim.known_divergence}")
