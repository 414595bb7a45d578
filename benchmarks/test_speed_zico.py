"""zico against the literal re-statement of its anchor's recipe in ``tests/test_zico.py``.

    pytest benchmarks/test_speed_zico.py -m perf --benchmark-only

The registered proxy and ``literal_zico`` (AZ-NAS's NB201 ``compute_zico_score.py`` re-stated:
a deep copy, ``zero_grad(set_to_none=True)``, ``loss.backward()`` per half, ``weight.grad`` into
numpy, ``np.std``/``np.nonzero``/``np.log``) score the same seeded random cells (30 by default;
ImageNet16-120 networks on the real seed-0 batch at zico's reference batch of 128, two halves of
64) with 2 threads, interleaved cell by cell (the order alternating) so that machine load hits
both alike; ``extra_info`` records the per-cell times, their medians and the median ratio.
The values must agree (the same gradients bit for bit; float64 statistics on both sides).
zico needs the two forward and backward passes its reference runs, so the issue's 0.5x target
for gradient proxies scored alone does not apply (see benchmarks/test_proxy_speed.py); the fast
path skips only the deep copy, the BatchNorm and bias gradients and numpy's copies. Its cost is
the reference's, within the noise of a shared machine (median ratios 0.67 and 1.21 on 3 and 5 cells
beside other jobs, 2026-12-07), so no speed is asserted: the ratio is recorded for
``pytest-benchmark compare`` across runs, and the values must agree.
``TFNAS_BENCH_CELLS`` shrinks the sample; ``TFNAS_BENCH_THREADS`` sets the thread count.
"""

from __future__ import annotations

import math
import os
import random
import statistics
import sys
import time
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_zico import literal_zico  # noqa: E402

from tfnas.datasets import load_batch  # noqa: E402
from tfnas.network import build_network  # noqa: E402
from tfnas.proxies.zico import ZICO_BATCH, zico  # noqa: E402
from tfnas.space import sample_distinct  # noqa: E402

pytestmark = pytest.mark.perf

THREADS = int(os.environ.get("TFNAS_BENCH_THREADS", "2"))
"""2 as the issue asks; ``TFNAS_BENCH_THREADS=1`` on a shared 2-core machine."""
SMOKE = os.environ.get("TFNAS_BENCH_SMOKE") == "1"
"""CI's reduced form (few cells): the same checks."""
DATASET, CLASSES = "ImageNet16-120", 120
SAMPLE_SEED = 14


def _num_cells() -> int:
    return int(os.environ.get("TFNAS_BENCH_CELLS", "30"))


def _nets() -> list[torch.nn.Module]:
    cells = sample_distinct(random.Random(SAMPLE_SEED), _num_cells())
    return [build_network(a, CLASSES, torch.Generator().manual_seed(1000 + i)).train()
            for i, a in enumerate(cells)]


def _timed(function, *args) -> tuple[float, float]:
    start = time.perf_counter()
    value = function(*args)
    return value, time.perf_counter() - start


def _machine_state() -> dict:
    """How busy the machine was (the 1-minute load average against the core count)."""
    return {"load_average_1min": os.getloadavg()[0], "cpus": os.cpu_count()}


@pytest.mark.benchmark(group="zico")
def test_zico_vs_the_anchors_recipe(benchmark, two_threads) -> None:
    nets = _nets()
    loaded = load_batch(DATASET, 0, ZICO_BATCH)
    images, labels = loaded.images, loaded.labels
    ref_s, fast_s, bad = [], [], []

    def run() -> None:
        ref_s.clear(), fast_s.clear(), bad.clear()
        for i, net in enumerate(nets):
            order = ("fast", "ref") if i % 2 == 0 else ("ref", "fast")
            values = {}
            for kind in order:
                function = zico if kind == "fast" else literal_zico
                values[kind], spent = _timed(function, net, images, labels)
                (fast_s if kind == "fast" else ref_s).append(spent)
            fast, ref = values["fast"], values["ref"]
            if not (fast == ref or math.isclose(fast, ref, rel_tol=1e-12, abs_tol=1e-9)):
                bad.append((i, fast, ref))

    benchmark.pedantic(run, rounds=1, iterations=1)
    ratio = statistics.median(fast_s) / statistics.median(ref_s)
    benchmark.extra_info.update(
        cells=len(nets), threads=THREADS, batch=ZICO_BATCH, dataset=DATASET,
        reference_median_s=statistics.median(ref_s), fast_median_s=statistics.median(fast_s),
        ratio=ratio, reference_s=list(ref_s), fast_s=list(fast_s), smoke=SMOKE,
        **_machine_state())
    print("\n[zico-speed] " + ", ".join(
        f"cell {i}: fast {f:.2f} s, literal {r:.2f} s" for i, (f, r) in
        enumerate(zip(fast_s, ref_s, strict=True))) + f"; median ratio {ratio:.2f}", flush=True)
    assert not bad, bad[:3]
