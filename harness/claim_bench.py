"""The body of a claim benchmark: measure, judge, record, and turn the verdict into pytest's.

The verdict maps to pytest's outcome: *reproduced* passes; *not reproduced* fails;
*inconclusive* is skipped with the reason ``INCONCLUSIVE <id>: …`` and what would decide it (no
test can pass or fail on a question the data cannot answer, and the skip is listed, never
hidden); a recorded divergence whose every expectation the run confirms is an xfail; one the run
no longer supports (it reproduces, or its direction or reading no longer holds) fails loudly,
naming what broke. A claim whose data is missing is skipped as NOT RUN with the reason. Every
outcome is recorded in the JSON's ``claims`` summary. A test module that runs claims needs only::

    from harness.claim_bench import run_claim

    def test_claim(claim, benchmark, claims_context, pytestconfig):
        run_claim(claim, benchmark, claims_context, pytestconfig)

(the plugin parametrises ``claim`` with the claims that ``--claims`` chose).
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.evaluate import Context, NotRun, measurer, not_run, outcome
from harness.plugin import REGISTRY, outcomes, record, record_table, registry
from harness.registry import Claim
from harness.verdicts import DIAGNOSIS_UNSUPPORTED, INCONCLUSIVE, KNOWN_DIVERGENCE, NOT_REPRODUCED


def _file_of(config: pytest.Config, claim: Claim) -> str:
    reg = config.stash.get(REGISTRY, None)
    path = reg.file_of(claim.id) if reg is not None else None
    return path or "its claims file"


def run_claim(claim: Claim, benchmark: Any, claims_context: Context,
              config: pytest.Config) -> None:
    """Measure ``claim`` under pytest-benchmark (one round), record its outcome, and pass, fail,
    skip (inconclusive) or xfail (a confirmed divergence) as its verdict says."""
    benchmark.group = claim.table or claim.kind
    try:
        result = benchmark.pedantic(measurer(claim, claims_context), rounds=1, iterations=1)
    except NotRun as exc:
        record(config, not_run(claim, claims_context, str(exc)))
        pytest.skip(f"NOT RUN {claim.id}: {exc}")
    rec = outcome(claim, claims_context, result)
    benchmark.extra_info.update(rec.to_dict())
    record(config, rec)
    j = rec.judgement
    verdict = f"{claim.id}: {rec.status} — reproduced {rec.reproduced.value:.4g}, {j.explanation}"
    if rec.status == NOT_REPRODUCED:
        pytest.fail(verdict, pytrace=False)
    if rec.status == INCONCLUSIVE:
        pytest.skip(f"INCONCLUSIVE {verdict}; {j.decide or 'a finer measurement would decide it'}")
    if rec.status == DIAGNOSIS_UNSUPPORTED:
        pytest.fail(f"{claim.id}: the recorded divergence is no longer supported by the run — "
                    f"{rec.diagnosis.text}; fix known_divergence in "
                    f"{_file_of(config, claim)}", pytrace=False)
    if rec.status == KNOWN_DIVERGENCE:
        pytest.xfail(f"{claim.id}: known divergence — {rec.diagnosis.text}")


def run_table(table: str, claims_context: Context, config: pytest.Config) -> None:
    """Fit every reading of a paper table over its rows (:func:`harness.readings.fit_table`),
    record the fit, and fail when a recorded divergence explains a row by a reading the table's
    rows do not support. Rows the claim tests already measured are read from their outcomes;
    the others (deselected with ``-k``) are measured here, except live ones."""
    from harness.evaluate import evaluate_claim
    from harness.readings import fit_table
    from harness.registry import DEFAULT_READING

    seen = {o.id: o for o in outcomes(config)}
    rows = []
    for claim in registry(config).claims.values():
        if claim.table != table or not claim.alternatives or claim.reading == DEFAULT_READING:
            continue
        if claim.id in seen:
            rows.append(seen[claim.id])
        elif not claim.live:
            rows.append(evaluate_claim(claim, claims_context))
    fit = fit_table(table, rows)
    record_table(config, fit)
    if fit.conflicts:
        pytest.fail(f"{table}: " + "; ".join(fit.conflicts), pytrace=False)
    if fit.best_reading is None:
        pytest.skip(fit.undecided())
