"""gradsign's batched per-sample gradients against the literal re-statement of the anchor's loop
(``anchor_grad_conflict`` in ``tests/test_gradsign.py``: one forward and backward per sample, numpy
signs).

    pytest benchmarks/test_speed_gradsign.py -m perf --benchmark-only

Both score the same seeded random cells (30 by default; ``TFNAS_BENCH_CELLS`` shrinks the sample)
at the registered batch (128 images, 32x32, random labels), interleaved cell by cell so that
machine load hits both alike, on ``TFNAS_BENCH_THREADS`` threads (default 1: scoring runs on one
thread). ``extra_info`` records the medians and their ratio. The values must agree to float32
rounding (each path flips the signs of a few near-zero gradient elements differently; in float64
they are identical, ``tests/test_gradsign.py``). ``TFNAS_BENCH_SMOKE=1`` (CI's reduced form) uses
16 images and only asserts that the batched path is not slower than the loop.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_gradsign import anchor_grad_conflict  # noqa: E402

from tfnas.network import build_network  # noqa: E402
from tfnas.proxies.gradsign import GRADSIGN_BATCH, gradsign  # noqa: E402
from tfnas.space import sample_distinct  # noqa: E402

pytestmark = pytest.mark.perf

THREADS = int(os.environ.get("TFNAS_BENCH_THREADS", "1"))
SAMPLE_SEED = 22
SMOKE = os.environ.get("TFNAS_BENCH_SMOKE") == "1"


def _num_cells() -> int:
    return int(os.environ.get("TFNAS_BENCH_CELLS", "30"))


def _timed(function, *args) -> tuple[float, float]:
    start = time.perf_counter()
    value = function(*args)
    return value, time.perf_counter() - start


@pytest.mark.benchmark(group="gradsign")
def test_gradsign_vs_the_anchors_loop(benchmark, two_threads) -> None:
    cells = sample_distinct(random.Random(SAMPLE_SEED), _num_cells())
    nets = [build_network(a, 10, torch.Generator().manual_seed(i)) for i, a in enumerate(cells)]
    batch = 16 if SMOKE else GRADSIGN_BATCH
    g = torch.Generator().manual_seed(SAMPLE_SEED)
    images = torch.randn(batch, 3, 32, 32, generator=g)
    labels = torch.randint(0, 10, (batch,), generator=g)
    ref_s, fast_s, rel = [], [], []

    def run() -> None:
        ref_s.clear(), fast_s.clear(), rel.clear()
        for net in nets:
            ref, a = _timed(anchor_grad_conflict, net, images, labels)
            fast, b = _timed(gradsign, net, images, labels)
            ref_s.append(a), fast_s.append(b)
            rel.append(0.0 if fast == ref else abs(fast - ref) / max(abs(ref), 1.0))

    benchmark.pedantic(run, rounds=1, iterations=1)
    ratio = statistics.median(fast_s) / statistics.median(ref_s)
    benchmark.extra_info.update(
        cells=len(nets), threads=THREADS, batch=batch, resolution=32,
        reference_median_s=statistics.median(ref_s), fast_median_s=statistics.median(fast_s),
        ratio=ratio, per_cell_reference_s=ref_s, per_cell_fast_s=fast_s, max_rel_delta=max(rel),
        load_average_1min=os.getloadavg()[0], cpus=os.cpu_count())
    print(f"\ngradsign: batched {statistics.median(fast_s):.2f} s vs loop "
          f"{statistics.median(ref_s):.2f} s per cell (median of {len(nets)}; ratio {ratio:.2f}); "
          f"per cell fast {[round(t, 2) for t in fast_s]} loop {[round(t, 2) for t in ref_s]}; "
          f"max relative difference {max(rel):.1e}")
    assert max(rel) <= 1e-3
    target = 1.0 if SMOKE else 0.75
    assert ratio <= target, f"batched gradsign at {ratio:.2f}x the loop"
