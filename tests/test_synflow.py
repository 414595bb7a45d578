"""synflow: fast path = literal recipe, and the properties the definition implies."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import archs, seeds
from torch import nn
from xautodl.models import get_cell_based_tiny_net
from xautodl.models.cell_searchs.genotypes import Structure

from tfnas.network import build_network
from tfnas.proxies.synflow import (
    synflow,
    synflow_layers,
    synflow_layers_reference,
    synflow_reference,
)
from tfnas.space import Arch

LARGEST = Arch(("nor_conv_3x3",) * 6)
CELL = Arch.parse(
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|nor_conv_1x1~1|skip_connect~2|"
)
REL = 1e-12  # float64 sums taken in a different order; 1e4 ulps of slack, nothing tuned


def net_for(arch: Arch, num_classes: int = 10, seed: int = 0) -> nn.Module:
    return build_network(arch, num_classes, torch.Generator().manual_seed(seed))


def close_layers(a: dict[str, float], b: dict[str, float], rel: float = REL) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert math.isclose(a[name], b[name], rel_tol=rel), name


def linearised_output(net: nn.Module, resolution: int) -> float:
    """R: sum of the logits of the BN-free |θ| float64 network on an all-ones input, computed
    independently of tfnas (BatchNorm replaced in a copy, then a plain forward pass)."""
    net = copy.deepcopy(net)
    for module in list(net.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.BatchNorm2d):
                setattr(module, child_name, nn.Identity())
    net = net.double()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
        out = net(torch.ones(1, 3, resolution, resolution, dtype=torch.float64))
    out = out[-1] if isinstance(out, tuple) else out
    return out.sum().item()


@settings(max_examples=6)
@given(archs, st.sampled_from([10, 100, 120]), st.sampled_from([8, 16, 32]), seeds)
def test_fast_path_equals_the_literal_recipe(
    arch: Arch, num_classes: int, resolution: int, seed: int
) -> None:
    net = net_for(arch, num_classes, seed)
    close_layers(synflow_layers(net, resolution), synflow_layers_reference(net, resolution))
    fast, ref = synflow(net, resolution), synflow_reference(net, resolution)
    assert fast == ref or math.isclose(fast, ref, rel_tol=REL)


def test_same_score_on_xautodls_network_with_the_same_weights() -> None:
    ours = net_for(CELL, 100, seed=3)
    config = {"name": "infer.tiny", "C": 16, "N": 5, "num_classes": 100}
    config["genotype"] = Structure.str2structure(str(CELL))
    with torch.random.fork_rng(devices=[]):
        theirs = get_cell_based_tiny_net(config)
    theirs.load_state_dict(ours.state_dict())
    close_layers(synflow_layers(theirs, 32), synflow_layers(ours, 32))  # generic vs fast path


@settings(max_examples=8)
@given(archs, seeds, st.data())
def test_invariant_to_flipping_signs_of_any_weights(arch: Arch, seed: int, data) -> None:
    net = net_for(arch, 10, seed)
    flipped = copy.deepcopy(net)
    names = [name for name, _ in flipped.named_parameters()]
    chosen = data.draw(st.sets(st.sampled_from(names), min_size=1))
    with torch.no_grad():
        for name, p in flipped.named_parameters():
            if name in chosen:
                p.neg_()
    assert synflow_layers(flipped, 8) == synflow_layers(net, 8)


def chain(widths: list[int], seed: int) -> nn.Sequential:
    """A plain chain of bias-free convolutions (with ReLUs) and a bias-free linear head."""
    layers: list[nn.Module] = []
    c_in = 3
    for c_out in widths:
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.ReLU()]
        c_in = c_out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, 5, bias=False)]
    net = nn.Sequential(*layers).double()  # so that scaling a layer by α rounds at 1e-16 only
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.uniform_(-1.0, 1.0, generator=g)
    return net


widths = st.lists(st.integers(1, 6), min_size=0, max_size=4)


@settings(max_examples=25)
@given(widths, seeds)
def test_euler_homogeneity_of_a_plain_chain(widths: list[int], seed: int) -> None:
    """Every path crosses every layer once, so each layer contributes R and the total is L·R."""
    net = chain(widths, seed)
    r = linearised_output(net, 8)
    layers = synflow_layers(net, 8)
    assert len(layers) == len(widths) + 1
    for value in layers.values():
        assert math.isclose(value, r, rel_tol=REL)
    assert math.isclose(synflow(net, 8), math.log(len(layers) * r), rel_tol=REL)


@settings(max_examples=25)
@given(widths, seeds, st.data(), st.floats(1e-3, 1e3))
def test_scaling_one_layer_scales_every_contribution(widths, seed, data, alpha: float) -> None:
    net = chain(widths, seed)
    before = synflow_layers(net, 8)
    layer = data.draw(st.sampled_from([m for m in net if isinstance(m, (nn.Conv2d, nn.Linear))]))
    with torch.no_grad():
        layer.weight.mul_(alpha)
    after = synflow_layers(net, 8)
    for name in before:
        assert math.isclose(after[name], alpha * before[name], rel_tol=REL)


@pytest.mark.parametrize("arch", [CELL, LARGEST], ids=str)
def test_tiny_network_homogeneity_in_stem_and_classifier(arch: Arch) -> None:
    """Every path except the classifier bias crosses the stem and the classifier weight once,
    so each of those layers contributes R − Σ|b|; scaling the stem by α scales every layer."""
    net = net_for(arch, 10, seed=1).double()
    r = linearised_output(net, 16)
    bias = net.classifier.bias.detach().double().abs().sum().item()
    layers = synflow_layers(net, 16)
    assert math.isclose(layers["stem.0"], r - bias, rel_tol=REL)
    assert math.isclose(layers["classifier"], r - bias, rel_tol=REL)
    alpha = 3.7
    with torch.no_grad():
        net.stem[0].weight.mul_(alpha)
    scaled = synflow_layers(net, 16)
    for name, value in layers.items():
        assert math.isclose(scaled[name], alpha * value, rel_tol=REL), name
    assert math.isclose(synflow(net, 16), math.log(math.fsum(layers.values())) + math.log(alpha))


def test_no_overflow_on_the_largest_cell() -> None:
    net = net_for(LARGEST, 120)
    value = synflow(net, 32)
    assert math.isfinite(value)
    assert all(math.isfinite(v) and v > 0 for v in synflow_layers(net, 32).values())
    assert value > math.log(torch.finfo(torch.float32).max)  # why the recipe needs float64


@pytest.mark.parametrize("function", [synflow, synflow_reference])
def test_callers_network_is_unchanged_and_no_prior_forward_matters(function) -> None:
    net = net_for(CELL, 10, seed=2)
    before = copy.deepcopy(net.state_dict())
    first = function(net, 32)
    assert net.training
    assert all(p.grad is None for p in net.parameters())
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key]) and value.dtype == before[key].dtype, key
    net(torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(0)))  # moves BN stats
    assert not torch.equal(net.stem[1].running_mean, before["stem.1.running_mean"])
    assert function(net, 32) == first
    net.eval()
    assert function(net, 32) == first


def test_zero_flow_gives_minus_infinity() -> None:
    net = chain([2, 2], seed=0)
    with torch.no_grad():
        net[2].weight.zero_()
    assert synflow(net, 4) == -math.inf
    # a cell of only `none` edges zeroes every activation: only the classifier bias reaches R
    all_none = net_for(Arch(("none",) * 6), 10)
    assert synflow(all_none, 16) == synflow_reference(all_none, 16) == -math.inf


@pytest.mark.parametrize("resolution", [0, -1, (8, 0)])
def test_rejects_bad_resolutions(resolution) -> None:
    with pytest.raises(ValueError, match="positive ints"):
        synflow(net_for(CELL), resolution)


@pytest.mark.parametrize("resolution", ["32", 32.0, True, None])
def test_rejects_non_int_resolutions(resolution) -> None:
    with pytest.raises(TypeError, match="resolution must be"):
        synflow(net_for(CELL), resolution)


def test_rejects_non_modules() -> None:
    with pytest.raises(TypeError, match="torch.nn.Module"):
        synflow("net", 32)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="torch.nn.Module"):
        synflow_reference(None, 32)  # type: ignore[arg-type]
