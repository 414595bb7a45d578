"""meco against the literal re-statement of its definition in ``tests/test_meco.py`` (issue 26).

    pytest benchmarks/test_speed_meco.py -m perf --benchmark-only

Both score the same seeded random cells (30 by default; ``TFNAS_BENCH_CELLS`` shrinks the sample)
on one seeded image at 32x32 (CIFAR) and 16x16 (ImageNet16-120), interleaved cell by cell so that
machine load hits both alike. ``extra_info`` records the medians, their ratio and the load. The
values must agree (the literal version: numpy ``corrcoef`` and general ``eigvals`` per module, in
float64); the fast path must not be slower than the literal one.
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

from test_meco import literal_meco  # noqa: E402

from tfnas.network import build_network  # noqa: E402
from tfnas.proxies.meco import meco  # noqa: E402
from tfnas.space import sample_distinct  # noqa: E402

pytestmark = pytest.mark.perf

THREADS = int(os.environ.get("TFNAS_BENCH_THREADS", "2"))
SAMPLE_SEED = 26


@pytest.mark.benchmark(group="newer-proxies")
@pytest.mark.parametrize(("num_classes", "resolution"), [(10, 32), (120, 16)])
def test_meco_vs_its_literal_definition(benchmark, two_threads, num_classes: int,
                                        resolution: int) -> None:
    cells = sample_distinct(random.Random(SAMPLE_SEED), int(os.environ.get("TFNAS_BENCH_CELLS", "30")))
    nets = [build_network(a, num_classes, torch.Generator().manual_seed(i)).train()
            for i, a in enumerate(cells)]
    image = torch.randn(1, 3, resolution, resolution, generator=torch.Generator().manual_seed(SAMPLE_SEED))
    ref_s, fast_s, bad = [], [], []

    def run() -> None:
        ref_s.clear(), fast_s.clear(), bad.clear()
        for i, net in enumerate(nets):
            start = time.perf_counter()
            ref = literal_meco(net, image)
            mid = time.perf_counter()
            fast = meco(net, image)
            ref_s.append(mid - start), fast_s.append(time.perf_counter() - mid)
            if fast != pytest.approx(ref, rel=1e-10, abs=1e-9):
                bad.append((i, fast, ref))

    benchmark.pedantic(run, rounds=1, iterations=1)
    ratio = statistics.median(fast_s) / statistics.median(ref_s)
    benchmark.extra_info.update(cells=len(nets), threads=THREADS, resolution=resolution,
                                reference_median_s=statistics.median(ref_s),
                                fast_median_s=statistics.median(fast_s), ratio=ratio,
                                load_average_1min=os.getloadavg()[0], cpus=os.cpu_count())
    assert not bad, bad[:3]
    assert ratio <= 1.0, f"meco took {ratio:.2f}x its literal definition"
