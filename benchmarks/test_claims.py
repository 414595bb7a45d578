"""One benchmark per claim of the registry: measure, judge, record in ``extra_info``.

A claim that does not reproduce fails; one recorded as a known divergence is a strict xfail
(an error once it reproduces); one whose data is missing is skipped as NOT RUN with the reason
and still recorded in the JSON's ``claims`` summary.
"""

from __future__ import annotations

import pytest

from harness.evaluate import NotRun, measurer, not_run, outcome
from harness.plugin import record
from harness.registry import load_claims
from harness.verdicts import KNOWN_DIVERGENCE, NOT_REPRODUCED, UNEXPECTED_PASS

CLAIMS = load_claims()


def _param(claim):
    marks = [pytest.mark.fast] if claim.fast else []
    if claim.live:
        marks.append(pytest.mark.live)
    return pytest.param(claim, id=claim.id, marks=marks)


@pytest.mark.parametrize("claim", [_param(c) for c in CLAIMS.values()])
def test_claim(claim, benchmark, claims_context, pytestconfig):
    benchmark.group = claim.table or claim.kind
    try:
        result = benchmark.pedantic(measurer(claim, claims_context), rounds=1, iterations=1)
    except NotRun as exc:
        record(pytestconfig, not_run(claim, claims_context, str(exc)))
        pytest.skip(f"NOT RUN {claim.id}: {exc}")
    rec = outcome(claim, claims_context, result)
    benchmark.extra_info.update(rec.to_dict())
    record(pytestconfig, rec)
    verdict = (f"{claim.id}: {rec.status} — reproduced {rec.reproduced.value:.4g}, "
               f"{rec.judgement.explanation}")
    if rec.status == NOT_REPRODUCED:
        pytest.fail(verdict, pytrace=False)
    if rec.status == UNEXPECTED_PASS:
        pytest.fail(f"{verdict}; it is recorded as a known divergence but now reproduces: "
                    "remove known_divergence from claims.toml", pytrace=False)
    if rec.status == KNOWN_DIVERGENCE:
        pytest.xfail(f"{verdict}; known divergence: {claim.known_divergence}")
