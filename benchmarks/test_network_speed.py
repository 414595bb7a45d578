"""Speed of building networks and of the data-free proxies (one cell per round).

pytest benchmarks/test_network_speed.py --benchmark-only
"""

from __future__ import annotations

import random

import pytest
import torch

from tfnas.network import build_network
from tfnas.proxies.counts import flops
from tfnas.proxies.synflow import synflow, synflow_reference
from tfnas.space import Arch, sample

pytestmark = pytest.mark.perf

LARGEST = Arch(("nor_conv_3x3",) * 6)
SAMPLE = [sample(random.Random(i)) for i in range(20)]


def _cycle(cells):
    state = {"i": 0}

    def next_cell():
        cell = cells[state["i"] % len(cells)]
        state["i"] += 1
        return cell

    return next_cell


def test_build_network_random_cells(benchmark) -> None:
    next_cell = _cycle(SAMPLE)
    benchmark(lambda: build_network(next_cell(), 10, torch.Generator().manual_seed(0)))


@pytest.mark.parametrize("function", [synflow, synflow_reference], ids=["fast", "reference"])
def test_synflow_random_cells_cifar(benchmark, function) -> None:
    nets = [build_network(a, 100) for a in SAMPLE]
    next_net = _cycle(nets)
    value = benchmark(lambda: function(next_net(), 32))
    assert value == value  # not NaN


@pytest.mark.parametrize("function", [synflow, synflow_reference], ids=["fast", "reference"])
def test_synflow_largest_cell_cifar(benchmark, function) -> None:
    net = build_network(LARGEST, 120)
    benchmark(function, net, 32)


def test_flops_random_cells_cifar(benchmark) -> None:
    nets = [build_network(a, 10) for a in SAMPLE]
    next_net = _cycle(nets)
    benchmark(lambda: flops(next_net(), 32))


@pytest.mark.parametrize("proxy", ["synflow", "naswot"])
def test_score_random_cells_cifar10(benchmark, proxy: str) -> None:
    """End to end per cell: build + init + (cached) batch + proxy, as a sweep worker runs it."""
    from tfnas.scoring import score

    next_cell = _cycle(SAMPLE)
    score(SAMPLE[0], proxy, "cifar10")  # warm the batch cache
    benchmark(lambda: score(next_cell(), proxy, "cifar10"))
