"""te_nas_ntk and te_nas_regions against the literal re-statements of AZ-NAS's NB201 port in
``tests/test_te_nas.py`` (the per-sample ``.backward`` loop into ``.grad`` with numpy's ``eigh``;
the ReLU hooks with ``sign`` and the reciprocal-multiplicity count).

    pytest benchmarks/test_speed_te_nas.py -m perf --benchmark-only

Each proxy and its reference score the same seeded random cells (10 by default,
``TFNAS_BENCH_CELLS``) on ``TFNAS_BENCH_THREADS`` threads (default 1: the scoring rule's count),
interleaved cell by cell so that machine load hits both alike; ``extra_info`` records the medians
and their ratio. The NTK runs at 16x16 on the registered batch of 64 (``TFNAS_BENCH_SMOKE=1``:
a batch of 16, since its cost is N full backward passes, quadratic in the batch). The regions run
at 32x32 on 64 Gaussian inputs. The NTK has no faster path than one backward per sample (the
batch is coupled by train-mode BatchNorm; a vmap over the samples was measured no faster on the
CPU); the values must agree, and the registered loop must not be slower than the literal one.
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

from test_te_nas import anchor_ntk_score, anchor_regions  # noqa: E402

from tfnas.network import build_network  # noqa: E402
from tfnas.proxies.draws import randn  # noqa: E402
from tfnas.proxies.te_nas import TE_NAS_BATCH, te_nas_ntk, te_nas_regions  # noqa: E402
from tfnas.space import sample_distinct  # noqa: E402

pytestmark = pytest.mark.perf

THREADS = int(os.environ.get("TFNAS_BENCH_THREADS", "1"))
SAMPLE_SEED = 21
SMOKE = os.environ.get("TFNAS_BENCH_SMOKE") == "1"
NTK_RESOLUTION = 16
NTK_BATCH = 16 if SMOKE else TE_NAS_BATCH


def _num_cells() -> int:
    return int(os.environ.get("TFNAS_BENCH_CELLS", "10"))


def _nets() -> list[torch.nn.Module]:
    cells = sample_distinct(random.Random(SAMPLE_SEED), _num_cells())
    return [build_network(a, 10, torch.Generator().manual_seed(i)).train() for i, a in enumerate(cells)]


def _timed(function, *args, **kwargs) -> tuple[object, float]:
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - start


def _record(benchmark, ref_s: list[float], fast_s: list[float], **extra) -> float:
    ratio = statistics.median(fast_s) / statistics.median(ref_s)
    benchmark.extra_info.update(cells=len(ref_s), threads=THREADS,
                                reference_median_s=statistics.median(ref_s),
                                fast_median_s=statistics.median(fast_s), ratio=ratio,
                                reference_s=ref_s, fast_s=fast_s,
                                load_average_1min=os.getloadavg()[0], cpus=os.cpu_count(), **extra)
    return ratio


@pytest.mark.benchmark(group="te_nas")
def test_te_nas_ntk_vs_the_anchors_loop(benchmark, two_threads) -> None:
    nets = _nets()
    ref_s, fast_s, rel = [], [], []

    def run() -> None:
        ref_s.clear(), fast_s.clear(), rel.clear()
        for i, net in enumerate(nets):
            x = torch.randn(NTK_BATCH, 3, NTK_RESOLUTION, NTK_RESOLUTION,
                            generator=torch.Generator().manual_seed(i))
            ref, a = _timed(anchor_ntk_score, net, x)
            fast, b = _timed(te_nas_ntk, net, x)
            ref_s.append(a), fast_s.append(b)
            rel.append(0.0 if fast == ref else abs(fast - ref) / abs(ref))

    benchmark.pedantic(run, rounds=1, iterations=1)
    ratio = _record(benchmark, ref_s, fast_s, resolution=NTK_RESOLUTION, batch=NTK_BATCH,
                    max_rel_delta=max(rel))
    assert max(rel) <= 1e-8
    assert ratio <= 1.25, f"te_nas_ntk took {ratio:.2f}x the literal loop"


@pytest.mark.benchmark(group="te_nas")
def test_te_nas_regions_vs_the_anchors_count(benchmark, two_threads) -> None:
    nets = _nets()
    ref_s, fast_s, bad = [], [], []
    resolution = 32

    def run() -> None:
        ref_s.clear(), fast_s.clear(), bad.clear()
        for i, net in enumerate(nets):
            x = randn((TE_NAS_BATCH, 3, resolution, resolution), torch.Generator().manual_seed(i))
            ref, a = _timed(anchor_regions, net, x)
            fast, b = _timed(te_nas_regions, net, resolution,
                             generator=torch.Generator().manual_seed(i))
            ref_s.append(a), fast_s.append(b)
            if abs(fast - ref) > 1e-4:
                bad.append((i, fast, ref))

    benchmark.pedantic(run, rounds=1, iterations=1)
    _record(benchmark, ref_s, fast_s, resolution=resolution, batch=TE_NAS_BATCH)
    assert not bad, bad[:3]
