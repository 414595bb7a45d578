"""REA by cell index (:mod:`tfnas.search.rea_table`) against REA with a TableScorer, the
algorithm it re-states (issue 22: the seed-free Monte-Carlo estimates run it thousands of times).

    pytest benchmarks/test_speed_rea_table.py -m perf --benchmark-only

Both run the paper's protocol (P=64, S=20, C=1000) on one seeded score table, the same run seeds,
interleaved run by run so that machine load hits both alike (``TFNAS_BENCH_CELLS`` runs, 30 by
default). ``extra_info`` records the medians, their ratio and the load. The evaluated cells and
the kept cell must be the same; the index version must not be slower.
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np
import pytest

from tfnas.search import TableScorer, rea
from tfnas.search.rea_table import rea_table
from tfnas.space import SPACE_SIZE, all_cells, index_of

pytestmark = pytest.mark.perf


@pytest.mark.benchmark(group="search")
def test_rea_by_index_vs_rea_with_a_table_scorer(benchmark) -> None:
    scores = np.random.default_rng(22).normal(size=SPACE_SIZE)
    scorer = TableScorer(dict(zip(all_cells(), scores.tolist(), strict=True)), "bench")
    runs = int(os.environ.get("TFNAS_BENCH_CELLS", "30"))
    ref_s, fast_s, bad = [], [], []

    def run() -> None:
        ref_s.clear(), fast_s.clear(), bad.clear()
        for seed in range(runs):
            start = time.perf_counter()
            trace = rea(scorer=scorer, population=64, sample=20, cycles=1000, seed=seed)
            mid = time.perf_counter()
            fast = rea_table(scores, 64, 20, 1000, seed)
            ref_s.append(mid - start), fast_s.append(time.perf_counter() - mid)
            if (fast.cells.tolist() != [index_of(e.arch) for e in trace.evaluations]
                    or fast.best != index_of(trace.best)):
                bad.append(seed)

    benchmark.pedantic(run, rounds=1, iterations=1)
    ratio = statistics.median(fast_s) / statistics.median(ref_s)
    benchmark.extra_info.update(runs=runs, reference_median_s=statistics.median(ref_s),
                                fast_median_s=statistics.median(fast_s), ratio=ratio,
                                load_average_1min=os.getloadavg()[0], cpus=os.cpu_count())
    assert not bad, bad[:3]
    assert ratio <= 1.0, f"REA by index took {ratio:.2f}x REA with a table scorer"
