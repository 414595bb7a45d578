"""NASWOT: the fast path against the hook-based reference, degenerate cells, no side effects."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from torch import nn

from tfnas.datasets import load_batch
from tfnas.network import build_network
from tfnas.proxies.kernel import logdet
from tfnas.proxies.naswot import (
    UnsupportedNetworkError,
    hook_kernel,
    naswot,
    naswot_kernel,
    naswot_reference,
    reference_kernel,
)
from tfnas.space import OPS, Arch, is_connected, sample

SMALL = 32  # images per batch where the test is about structure, not the paper's batch size

EXTREMES = [Arch((op,) * 6) for op in OPS if op != "none"]
LIGHT = Arch.parse("|skip_connect~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|avg_pool_3x3~2|")
MIXED = Arch.parse("|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|")
DEGENERATE = [
    Arch(("none",) * 6),
    Arch.parse("|none~0|+|none~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|skip_connect~2|"),
]


def _random_cells(n: int, seed: int) -> list[Arch]:
    rng = random.Random(seed)
    return [sample(rng) for _ in range(n)]


def _net(arch: Arch, seed: int = 0) -> nn.Module:
    return build_network(arch, 10, torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def images(data_root) -> torch.Tensor:
    return load_batch("cifar10", seed=0, batch_size=128).images


# All-3x3 (the most conv edges, merged per source node) and the conv-free extremes, a mixed
# cell with every op, and random cells; the full sample at batch 128 is in the benchmark.
@pytest.mark.parametrize(
    "arch", [EXTREMES[2], EXTREMES[0], EXTREMES[3], MIXED] + _random_cells(2, seed=20240601), ids=str
)
def test_fast_equals_reference(arch: Arch, images: torch.Tensor) -> None:
    net = _net(arch, seed=1)
    batch = images[:SMALL]
    k_ref = reference_kernel(net, batch)
    # The structural walk with the modules' own NCHW ops reproduces the hooks' K bit for bit:
    # same codes, same multiplicities (so every ReLU is counted, and only those).
    np.testing.assert_array_equal(naswot_kernel(net, batch, channels_last=False), k_ref)
    # The default path may flip activations within rounding of 0: a few units of K at most.
    k_fast = naswot_kernel(net, batch)
    diff = np.abs(k_fast - k_ref)
    assert diff.max() <= 1e-4 * k_ref.max()
    ref, fast = logdet(k_ref), logdet(k_fast)
    assert math.isfinite(ref)
    assert abs(fast - ref) <= 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("arch", _random_cells(2, seed=7), ids=str)
def test_fast_equals_reference_full_batch(arch: Arch, images: torch.Tensor) -> None:
    net = _net(arch, seed=3)
    assert abs(naswot(net, images) - naswot_reference(net, images)) <= 1e-3


def test_official_module_match_counts_relu_conv_bn_twice(images: torch.Tensor) -> None:
    net = _net(LIGHT)
    batch = images[:SMALL]
    k_official = reference_kernel(net, batch, match="official")
    np.testing.assert_array_equal(
        naswot_kernel(net, batch, match="official", channels_last=False), k_official
    )
    # More units, same agreements structure: every entry at least the single-count one.
    k_relu = reference_kernel(net, batch, match="relu")
    assert (k_official >= k_relu).all()
    assert (k_official > k_relu).any()


def test_default_is_the_official_module_selection(images: torch.Tensor) -> None:
    net = _net(LIGHT)
    batch = images[:SMALL]
    np.testing.assert_array_equal(reference_kernel(net, batch), reference_kernel(net, batch, match="official"))
    np.testing.assert_array_equal(naswot_kernel(net, batch), naswot_kernel(net, batch, match="official"))


def test_works_on_xautodl_network(images: torch.Tensor) -> None:
    xmodels = pytest.importorskip("xautodl.models")
    from xautodl.models.cell_searchs.genotypes import Structure

    arch = MIXED
    ours = _net(arch, seed=2)
    theirs = xmodels.get_cell_based_tiny_net(
        {"name": "infer.tiny", "C": 16, "N": 5, "genotype": Structure.str2structure(str(arch)),
         "num_classes": 10}
    )
    theirs.load_state_dict(ours.state_dict())
    batch = images[:SMALL]
    k = naswot_kernel(ours, batch, channels_last=False)
    np.testing.assert_array_equal(naswot_kernel(theirs, batch, channels_last=False), k)
    np.testing.assert_array_equal(reference_kernel(theirs, batch), k)
    assert naswot(theirs, batch) == naswot(ours, batch)


@pytest.mark.parametrize("arch", DEGENERATE, ids=str)
def test_disconnected_cell_gives_minus_inf(arch: Arch, images: torch.Tensor) -> None:
    assert not is_connected(arch)
    net = _net(arch)
    batch = images[:SMALL]
    assert naswot(net, batch) == -math.inf
    assert naswot_reference(net, batch) == -math.inf


def test_duplicated_image_gives_minus_inf(images: torch.Tensor) -> None:
    net = _net(LIGHT)
    batch = images[:SMALL].clone()
    batch[SMALL - 1] = batch[3]
    assert naswot(net, batch) == -math.inf
    assert naswot_reference(net, batch) == -math.inf


def _snapshot(net: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in net.state_dict().items()}


@pytest.mark.parametrize("scorer", [naswot, naswot_reference])
def test_callers_network_is_left_unchanged(scorer, images: torch.Tensor) -> None:
    net = _net(LIGHT)
    net.eval()
    net.cells[3].train()  # a mixed state must come back as it was
    modes = {name: m.training for name, m in net.named_modules()}
    before = _snapshot(net)
    scorer(net, images[:SMALL])
    after = net.state_dict()
    assert before.keys() == after.keys()
    for key, value in before.items():
        assert torch.equal(value, after[key]), key
    assert {name: m.training for name, m in net.named_modules()} == modes
    for m in net.modules():
        assert not m._forward_hooks and not m._backward_hooks and not m._forward_pre_hooks


def test_reference_restores_state_even_when_forward_fails(images: torch.Tensor) -> None:
    net = _net(EXTREMES[0])
    before = _snapshot(net)
    with pytest.raises(RuntimeError):
        naswot_reference(net, images[:SMALL, :2])  # 2 channels: the stem conv refuses
    for key, value in before.items():
        assert torch.equal(value, net.state_dict()[key]), key
    assert all(not m._forward_hooks for m in net.modules())


def test_deterministic(images: torch.Tensor) -> None:
    arch = MIXED
    batch = images[:SMALL]
    first = naswot(_net(arch, seed=4), batch)
    assert naswot(_net(arch, seed=4), batch) == first
    assert naswot_reference(_net(arch, seed=4), batch) == naswot_reference(_net(arch, seed=4), batch)


@pytest.mark.filterwarnings("ignore:Using a non-full backward hook:FutureWarning")
@pytest.mark.parametrize("arch", DEGENERATE + [MIXED], ids=str)
def test_backward_pass_visits_every_relu(arch: Arch, images: torch.Tensor) -> None:
    """The official code counts only ReLUs reached by a backward pass; here that is all of them."""
    net = _net(arch)
    relus = [m for m in net.modules() if "ReLU" in str(type(m))]
    visited: set[int] = set()
    # the official code's module backward hook (register_backward_hook, deprecated in torch 2)
    handles = [m.register_backward_hook(lambda mod, gi, go: visited.add(id(mod))) for m in relus]
    try:
        x = images[:4].clone().requires_grad_(True)
        features, _ = net(x)
        features.backward(torch.ones_like(features))
    finally:
        for h in handles:
            h.remove()
    assert visited == {id(m) for m in relus}


def test_bad_inputs_are_refused(images: torch.Tensor) -> None:
    net = _net(EXTREMES[0])
    for scorer in (naswot, naswot_reference):
        with pytest.raises(TypeError, match="nn.Module"):
            scorer("not a network", images)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="torch.Tensor"):
            scorer(net, images.numpy())  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="4-D"):
            scorer(net, images[0])
        with pytest.raises(ValueError, match="floating point"):
            scorer(net, images[:4].to(torch.uint8))
        bad = images[:4].clone()
        bad[0, 0, 0, 0] = float("nan")
        with pytest.raises(ValueError, match="NaN"):
            scorer(net, bad)
        with pytest.raises(ValueError, match="match"):
            scorer(net, images[:4], match="relu6")


def test_fast_path_refuses_unknown_networks_and_naswot_falls_back_to_hooks(
        images: torch.Tensor) -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.ReLU(inplace=True))
    with pytest.raises(UnsupportedNetworkError, match="TinyNetwork"):
        naswot_kernel(net, images[:8])
    # any other module: the definition by forward hooks, the reference's kernel exactly
    kernel = hook_kernel(net, images[:8])
    assert kernel.dtype == np.int64
    np.testing.assert_array_equal(kernel, reference_kernel(net, images[:8]))
    assert naswot(net, images[:8]) == naswot_reference(net, images[:8])
    assert math.isfinite(naswot(net, images[:8]))
