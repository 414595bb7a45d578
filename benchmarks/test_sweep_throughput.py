"""Sweep throughput with 1 and 2 local workers (fresh store each round, so every cell is scored).

``extra_info`` records cells per wall second (including worker start-up) and cells per second of
scoring time per worker; compare ``workers=1`` and ``workers=2`` rows for the parallel speed-up.
NASWOT runs only a few cells (about 1 s each on one core).
"""

from __future__ import annotations

import itertools

import pytest

from tfnas.sweep import run_sweep

CASES = [("params", 60), ("flops", 40), ("synflow", 60), ("naswot", 8)]


@pytest.mark.perf
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("proxy, cells", CASES)
def test_sweep_throughput(benchmark, tmp_path, proxy, cells, workers) -> None:
    counter = itertools.count()

    def fresh_store():
        return (tmp_path / f"round{next(counter)}.sqlite",), {}

    def sweep(path):
        return run_sweep(path, [proxy], ["cifar10"], indices=range(cells), workers=workers,
                         chunk_size=max(1, cells // (2 * workers)), progress=False)

    report = benchmark.pedantic(sweep, setup=fresh_store, rounds=2, iterations=1)
    assert report.computed == cells and report.remaining == 0
    benchmark.extra_info.update(
        proxy=proxy, dataset="cifar10", workers=workers, cells=cells,
        cells_per_wall_second=cells / report.wall_seconds,
        cells_per_cpu_second_per_worker=report.jobs[0].cells_per_second,
    )
