"""params and FLOPs: NATS-Bench's counting rule, checked against the official archive."""

from __future__ import annotations

import copy
from pathlib import Path

import nats_bench
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from tfnas.network import build_network
from tfnas.proxies.counts import flops, params
from tfnas.space import Arch

DATASETS = (("cifar10", 10, 32), ("cifar10-valid", 10, 32), ("cifar100", 100, 32))
DATASETS += (("ImageNet16-120", 120, 16),)


@pytest.mark.parametrize("index", [0, 11, 284])
def test_params_and_flops_match_the_official_archive(fake_archive: Path, index: int) -> None:
    api = nats_bench.create(str(fake_archive), "tss", fast_mode=True, verbose=False)
    for dataset, num_classes, resolution in DATASETS:
        info = api.get_cost_info(index, dataset)  # millions; params 6, flops 5 decimals
        net = build_network(api.arch(index), num_classes)
        assert params(net) / 1e6 == pytest.approx(info["params"], abs=5e-7), dataset
        assert flops(net, resolution) / 1e6 == pytest.approx(info["flops"], abs=5e-6), dataset


def out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


@settings(max_examples=40)
@given(
    st.integers(1, 6),  # in channels
    st.integers(1, 6),  # out channels
    st.sampled_from([1, 3, 5]),  # kernel
    st.integers(1, 2),  # stride
    st.integers(0, 2),  # padding
    st.booleans(),  # conv bias
    st.integers(1, 9),  # linear out
    st.booleans(),  # linear bias
    st.integers(5, 12),  # resolution
)
def test_flops_follow_the_mac_rule(c_in, c_out, k, stride, pad, cb, n_out, lb, res) -> None:
    net = nn.Sequential(
        nn.Conv2d(c_in, c_out, k, stride=stride, padding=pad, bias=cb),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
        nn.AvgPool2d(2, ceil_mode=True),  # pooling, BN and ReLU are not counted
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(c_out, n_out, bias=lb),
    )
    positions = out_size(res, k, stride, pad) ** 2
    expected = k * k * c_in * c_out * positions + (c_out * positions if cb else 0)
    expected += c_out * n_out + (n_out if lb else 0)
    assert flops(net, res, channels=c_in) == expected
    assert params(net) == sum(p.numel() for p in net.parameters())
    expected_params = k * k * c_in * c_out + (c_out if cb else 0) + 2 * c_out
    assert params(net) == expected_params + c_out * n_out + (n_out if lb else 0)


def test_flops_scale_with_the_input_area_except_the_head() -> None:
    net = build_network(Arch(("nor_conv_3x3",) * 6), 10)
    head = 64 * 10 + 10
    assert flops(net, 32) - head == 4 * (flops(net, 16) - head)
    assert flops(net, (32, 16)) - head == 2 * (flops(net, 16) - head)


def test_flops_leave_the_callers_network_alone() -> None:
    net = build_network(Arch(("nor_conv_1x1",) * 6), 10).train()
    before = copy.deepcopy(net.state_dict())
    flops(net, 32)
    assert net.training
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_errors() -> None:
    net = build_network(Arch(("skip_connect",) * 6), 10)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        params([1, 2])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="torch.nn.Module"):
        flops("net", 32)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive ints"):
        flops(net, 0)
    with pytest.raises(TypeError, match="resolution must be"):
        flops(net, "32")  # type: ignore[arg-type]
