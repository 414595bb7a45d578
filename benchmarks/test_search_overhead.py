"""Search overhead with a table scorer (no proxy cost): what REA and random search add per run."""

from __future__ import annotations

import random

import pytest

from tfnas.search import TableScorer, random_search, rea, repeat
from tfnas.space import all_cells


@pytest.fixture(scope="module")
def table() -> TableScorer:
    rng = random.Random(0)
    return TableScorer({a: rng.random() for a in all_cells()}, "synthetic")


def test_rea_1000_cycles_p64_s20(benchmark, table: TableScorer) -> None:
    trace = benchmark(rea, table, 64, 20, 1000, 0)
    assert len(trace.evaluations) == 1000


def test_random_search_30_runs_n1000(benchmark, table: TableScorer) -> None:
    traces = benchmark(repeat, random_search, 30, 0, scorer=table, n=1000)
    assert len(traces) == 30 and all(len(t.evaluations) == 1000 for t in traces)
