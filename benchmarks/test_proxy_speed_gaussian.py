"""l2_norm, zen, the AZ-NAS components and the vote's pairwise agreement against the literal
re-statements of their anchors' code in ``tests/test_proxies_gaussian.py`` and
``tests/test_ensembles.py`` (issue 14).

    pytest benchmarks/test_proxy_speed_gaussian.py --benchmark-only

Each proxy and its reference score the same seeded random cells (30 by default) with 2 threads,
interleaved cell by cell so that machine load hits both alike; ``extra_info`` records the medians
and their ratio. The AZ-NAS row compares what the sweep pays for the three network components of
a cell (one computation, two cache hits) with three reference computations, and also records one
computation against one reference run. ``TFNAS_BENCH_CELLS`` shrinks the sample for a quick look;
``TFNAS_BENCH_THREADS`` sets the thread count.
None of these is a gradient proxy: the issue's 0.5x target does not apply; the values must agree.
"""

from __future__ import annotations

import math
import os
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_ensembles import notebook_agreement  # noqa: E402
from test_proxies_gaussian import az_reference, l2_norm_reference, zen_reference  # noqa: E402

from tfnas.network import build_network  # noqa: E402
from tfnas.proxies import az_nas as az  # noqa: E402
from tfnas.proxies.l2_norm import l2_norm  # noqa: E402
from tfnas.proxies.vote import pairwise_agreement  # noqa: E402
from tfnas.proxies.zen import ZEN_BATCH, zen  # noqa: E402
from tfnas.space import sample_distinct  # noqa: E402

pytestmark = pytest.mark.perf

THREADS = int(os.environ.get("TFNAS_BENCH_THREADS", "2"))
"""2 as the issue asks; ``TFNAS_BENCH_THREADS=1`` on a shared 2-core machine, where two threads
spin against the other jobs' (tests/conftest.py measured ~30x slower)."""
SAMPLE_SEED = 14


def _num_cells() -> int:
    return int(os.environ.get("TFNAS_BENCH_CELLS", "30"))


def _nets() -> list[torch.nn.Module]:
    cells = sample_distinct(random.Random(SAMPLE_SEED), _num_cells())
    return [build_network(a, 10, torch.Generator().manual_seed(i)) for i, a in enumerate(cells)]


def _timed(function, *args, **kwargs) -> tuple[object, float]:
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - start


def _machine_state() -> dict:
    """How busy the machine was when the figures were taken (pytest-benchmark's machine_info
    already names the CPU): the 1-minute load average against the core count."""
    return {"load_average_1min": os.getloadavg()[0], "cpus": os.cpu_count()}


def _record(benchmark, ref_s: list[float], fast_s: list[float], **extra) -> float:
    ratio = statistics.median(fast_s) / statistics.median(ref_s)
    benchmark.extra_info.update(cells=len(ref_s), threads=THREADS,
                                reference_median_s=statistics.median(ref_s),
                                fast_median_s=statistics.median(fast_s), ratio=ratio,
                                **_machine_state(), **extra)
    return ratio


@pytest.mark.benchmark(group="gaussian")
def test_l2_norm_vs_naslib(benchmark, two_threads) -> None:
    nets = _nets()
    ref_s, fast_s, rel = [], [], []

    def run() -> None:
        ref_s.clear(), fast_s.clear(), rel.clear()
        for net in nets:
            ref, a = _timed(l2_norm_reference, net)
            fast, b = _timed(l2_norm, net)
            ref_s.append(a), fast_s.append(b), rel.append(abs(fast - ref) / abs(ref))

    benchmark.pedantic(run, rounds=1, iterations=1)
    _record(benchmark, ref_s, fast_s, max_rel_delta=max(rel))
    assert max(rel) <= 1e-5


@pytest.mark.benchmark(group="gaussian")
def test_zen_vs_zennas(benchmark, two_threads) -> None:
    nets = _nets()
    ref_s, fast_s, rel = [], [], []

    def run() -> None:
        ref_s.clear(), fast_s.clear(), rel.clear()
        for i, net in enumerate(nets):
            ref, a = _timed(zen_reference, net, 32, ZEN_BATCH, torch.Generator().manual_seed(i))
            fast, b = _timed(zen, net, 32, generator=torch.Generator().manual_seed(i))
            ref_s.append(a), fast_s.append(b)
            rel.append(0.0 if fast == ref else abs(fast - ref) / max(abs(ref), 1e-12))

    benchmark.pedantic(run, rounds=1, iterations=1)
    _record(benchmark, ref_s, fast_s, resolution=32, batch=ZEN_BATCH, max_rel_delta=max(rel))
    assert max(rel) <= 1e-5


@pytest.mark.benchmark(group="gaussian")
def test_az_components_vs_az_nas(benchmark, two_threads) -> None:
    nets = _nets()
    resolution = 16  # ImageNet16-120's: the reference costs ~1 s per run on this machine at 32
    ref_s, fast_s, one_s, bad = [], [], [], []
    names = ("expressivity", "progressivity", "trainability")

    def run() -> None:
        ref_s.clear(), fast_s.clear(), one_s.clear(), bad.clear()
        for i, net in enumerate(nets):
            refs, spent = [], 0.0
            for _ in names:  # the reference computes all three; scored one by one, it runs thrice
                ref, a = _timed(az_reference, net, resolution, az.AZ_BATCH,
                                torch.Generator().manual_seed(i))
                refs.append(ref)
                spent += a
            az.clear_cache()
            start = time.perf_counter()
            ours = [getattr(az.az_components(net, resolution, generator=torch.Generator().manual_seed(i)), n)
                    for n in names]
            total = time.perf_counter() - start
            ref_s.append(spent), fast_s.append(total), one_s.append(spent / len(names))
            for n, value, ref in zip(names, ours, refs, strict=True):
                r = ref[n]
                if not (value == r or (math.isnan(value) and math.isnan(r))
                        or math.isclose(value, r, rel_tol=1e-12, abs_tol=1e-12)):
                    bad.append((i, n, value, r))

    benchmark.pedantic(run, rounds=1, iterations=1)
    ratio = _record(benchmark, ref_s, fast_s, resolution=resolution, batch=az.AZ_BATCH,
                    reference_one_run_median_s=statistics.median(one_s),
                    single_run_ratio=statistics.median(fast_s) / statistics.median(one_s))
    assert not bad, bad[:3]
    target = 1.0 if os.environ.get("TFNAS_BENCH_SMOKE") == "1" else 0.5  # CI's reduced form
    assert ratio <= target, f"three components for {ratio:.2f}x three reference runs"


@pytest.mark.benchmark(group="gaussian")
def test_pairwise_agreement_vs_the_notebook_loop(benchmark) -> None:
    rng = np.random.default_rng(SAMPLE_SEED)
    n = 200
    acc = np.round(rng.normal(size=n), 1)  # rounded: ties in accuracy, as in the benchmark
    members = [acc + rng.normal(size=n) for _ in range(3)]
    fast, fast_s = _timed(pairwise_agreement, {str(k): m for k, m in enumerate(members)}, acc)
    ref, ref_s = _timed(notebook_agreement, members, acc)
    big = 15_625
    big_acc = rng.normal(size=big)
    big_members = {str(k): big_acc + 2 * rng.normal(size=big) for k in range(3)}
    benchmark.pedantic(pairwise_agreement, args=(big_members, big_acc), rounds=1, iterations=1)
    benchmark.extra_info.update(cells=n, reference_s=ref_s, fast_s=fast_s, ratio=fast_s / ref_s,
                                whole_space_cells=big, **_machine_state())
    assert fast == ref
