"""One benchmark per claim of the claims files in use (``--claims``; the shipped registry by
default): the plugin parametrises ``claim``, :func:`harness.claim_bench.run_claim` measures,
judges and records it."""

from __future__ import annotations

from harness.claim_bench import run_claim


def test_claim(claim, benchmark, claims_context, pytestconfig):
    run_claim(claim, benchmark, claims_context, pytestconfig)
