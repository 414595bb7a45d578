"""One test per paper table: which reading of the protocol its rows support (harness.readings)."""

from harness.claim_bench import run_table


def test_paper_table(paper_table, claims_context, pytestconfig):
    run_table(paper_table, claims_context, pytestconfig)
