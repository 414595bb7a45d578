"""Speed of the network's channels-last pooling against ``nn.AvgPool2d`` on the NCHW batch.

    pytest benchmarks/test_pooling_speed.py --benchmark-only

``tfnas.network.Pooling`` pools an NCHW batch in channels-last memory on CPU (the same bits, as
``tests/test_network.py`` proves to second order). Here each seeded random cell with at least one
``avg_pool_3x3`` edge (CIFAR-10 networks, batch 64, 2 torch threads) runs grasp's pass (forward,
gradient, H·g: :func:`tfnas.proxies.passes.gradient_pass` with ``weight_hvp``) and a plain
forward+backward, with the fast pool and with the literal one, interleaved cell by cell (the
order alternating). The ratio is the median over cells of fast/literal time; each must be < 1.
``TFNAS_BENCH_CELLS`` (default 30) and ``TFNAS_BENCH_THREADS`` as in ``test_proxy_speed.py``.
"""

from __future__ import annotations

import os
import random
import statistics
import time

import pytest
import torch
import torch.nn.functional as F

from tfnas.network import Pooling, build_network
from tfnas.proxies.passes import gradient_pass
from tfnas.space import sample_distinct

pytestmark = pytest.mark.perf

THREADS = int(os.environ.get("TFNAS_BENCH_THREADS", "2"))
CLASSES, BATCH, SAMPLE_SEED, ROUNDS = 10, 64, 15, 5


def _cells():
    wanted = int(os.environ.get("TFNAS_BENCH_CELLS", "30"))
    pooled = [a for a in sample_distinct(random.Random(SAMPLE_SEED), 20 * wanted)
              if "avg_pool_3x3" in a.ops]
    return pooled[:wanted]


def _literal(self: Pooling, x: torch.Tensor) -> torch.Tensor:
    return self.op(x)


def _grasp_pass(net, images, labels) -> None:
    gradient_pass(net, images, labels, uses={"weight_hvp"})


def _forward_backward(net, images, labels) -> None:
    net.zero_grad(set_to_none=True)
    F.cross_entropy(net(images)[1], labels).backward()
    net.zero_grad(set_to_none=True)


def _timed(run, literal: bool) -> float:
    with pytest.MonkeyPatch.context() as patch:
        if literal:
            patch.setattr(Pooling, "forward", _literal)
        start = time.perf_counter()
        run()
        return time.perf_counter() - start


@pytest.mark.parametrize("work", [_grasp_pass, _forward_backward], ids=["grasp_pass", "forward_backward"])
def test_channels_last_pooling_against_nn_avgpool(benchmark, two_threads, work) -> None:
    g = torch.Generator().manual_seed(SAMPLE_SEED)
    images = torch.randn(BATCH, 3, 32, 32, generator=g)
    labels = torch.randint(0, CLASSES, (BATCH,), generator=g)
    nets = [build_network(a, CLASSES, torch.Generator().manual_seed(i)).train()
            for i, a in enumerate(_cells())]
    fast, literal = [], []
    for i, net in enumerate(nets):
        order = (False, True) if i % 2 == 0 else (True, False)
        for is_literal in order:
            (literal if is_literal else fast).append(
                _timed(lambda net=net: work(net, images, labels), is_literal))
    state = {"i": 0}

    def next_cell() -> None:
        work(nets[state["i"] % len(nets)], images, labels)
        state["i"] += 1

    benchmark.pedantic(next_cell, rounds=min(ROUNDS, len(nets)), iterations=1)
    ratio = statistics.median(f / r for f, r in zip(fast, literal, strict=True))
    benchmark.extra_info.update({
        "cells": len(nets), "batch": BATCH, "threads": THREADS,
        "fast_median_s": statistics.median(fast), "literal_median_s": statistics.median(literal),
        "ratio_median": ratio})
    print(f"\n[pooling-speed] {work.__name__}: " + ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in benchmark.extra_info.items()))
    assert ratio < 1.0, (
        f"{work.__name__}: the channels-last pool takes {ratio:.2f}x nn.AvgPool2d's time "
        f"(median over {len(nets)} cells); it exists only to be faster")
