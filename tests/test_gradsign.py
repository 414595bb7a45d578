"""gradsign (Zhang & Jia, ICLR 2022): Σ over weight elements of |Σ over samples of sign(∂ℓ_i/∂W)|,
checked against the anchor's loop re-stated literally (one forward and backward per sample, numpy
sign, sum, abs, nansum), its batched and looped paths against each other, the properties the
definition implies (per-sample independence, bounds, dead cells, NaN codes), determinism, the CLI
and the one-line errors."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import archs
from torch import nn

from tfnas.cli import main
from tfnas.network import build_network
from tfnas.proxies import get_proxy
from tfnas.proxies.gradsign import (
    GRADSIGN_BATCH,
    gradsign,
    gradsign_of_codes,
    sign_codes,
    sign_codes_batched,
    sign_codes_loop,
)
from tfnas.proxies.registry import Needs
from tfnas.scoring import score

ARCH = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"
DEAD = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|none~0|none~1|none~2|"
"""Convolutions in the cell, but node 3 sums only ``none`` edges: no path reaches the output."""


def _network(arch, num_classes: int, seed: int, dtype=torch.float64) -> nn.Module:
    return build_network(arch, num_classes, torch.Generator().manual_seed(seed)).to(dtype)


def _batch(n: int, resolution: int, num_classes: int, seed: int, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(n, 3, resolution, resolution, generator=g).to(dtype)
    return images, torch.randint(0, num_classes, (n,), generator=g)


def _anchor_layers(net: nn.Module) -> list[nn.Module]:
    return [layer for layer in net.modules() if isinstance(layer, (nn.Conv2d, nn.Linear))]


def anchor_grad_conflict(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
                         exact_sum: bool = True) -> float:
    """The anchor, re-stated: cmu-catalyst/GradSign zero-cost-nas-code/foresight/pruners/measures/
    grad_conflict.py ``get_grad_conflict`` on zero-cost-nas's train-mode copy of the network.

    Per sample: ``zero_grad``, forward of ``inputs[[i]]``, cross-entropy against ``targets[[i]]``,
    ``backward``; every Conv2d/Linear weight's ``.grad`` (zeros where None) flattened and
    concatenated; then ``np.sign`` of the stack, sum over samples, ``abs``, ``np.nansum``.
    ``exact_sum=False`` keeps numpy's own accumulation in the gradients' dtype (the anchor's
    float32 sum); True sums in float64 (exact for these integers).
    """
    net = copy.deepcopy(net)  # get_prunable_copy: a copy in train mode
    net.train()
    n = inputs.shape[0]
    batch_grad = []
    for i in range(n):
        net.zero_grad()
        outputs = net.forward(inputs[[i]])
        outputs = outputs[-1] if isinstance(outputs, tuple) else outputs  # xautodl: (features, logits)
        loss = F.cross_entropy(outputs, targets[[i]])
        loss.backward()
        flattened = []
        for layer in _anchor_layers(net):
            grad = layer.weight.grad
            value = (grad.data.cpu().numpy() if grad is not None
                     else torch.zeros_like(layer.weight).detach().cpu().numpy())
            flattened.append(value.flatten())
        batch_grad.append(np.concatenate(flattened))
    batch_grad = np.stack(batch_grad)
    direction_code = np.sign(batch_grad)
    direction_code = abs(direction_code.sum(axis=0))
    if exact_sum:
        return float(np.nansum(direction_code.astype(np.float64)))
    return float(np.nansum(direction_code))


def _weight_count(net: nn.Module) -> int:
    return sum(layer.weight.numel() for layer in _anchor_layers(net))


# --- the anchor ---------------------------------------------------------------------------------


@settings(max_examples=3, deadline=None)
@given(archs, st.sampled_from([(10, 32), (120, 16)]), st.integers(0, 2**31))
def test_the_proxy_is_the_anchors_loop_in_float64(arch, classes_resolution, seed):
    """In float64 the batched path, the per-sample loop and the literal anchor count the same
    signs: identical integers."""
    num_classes, resolution = classes_resolution
    net = _network(arch, num_classes, seed)
    images, labels = _batch(4, resolution, num_classes, seed)
    literal = anchor_grad_conflict(net, images, labels)
    assert gradsign(net, images, labels) == literal
    assert gradsign_of_codes(sign_codes_loop(net, images, labels)) == literal


def test_float32_agrees_with_the_anchor_up_to_float32_rounding():
    """In float32 each computation's rounding flips the signs of a few near-zero gradient
    elements (the paths round differently): the counts agree to about 1e-4."""
    net = _network(ARCH, 10, 1, torch.float32)
    images, labels = _batch(8, 32, 10, 2, torch.float32)
    literal = anchor_grad_conflict(net, images, labels)
    assert gradsign(net, images, labels) == pytest.approx(literal, rel=1e-3)
    assert anchor_grad_conflict(net, images, labels, exact_sum=False) == pytest.approx(literal, rel=1e-6)


def test_chunks_do_not_matter_and_the_paths_agree_element_by_element():
    """Every sample is its own train-mode batch: how the batch is cut into passes changes no code."""
    net = _network(ARCH, 120, 3)
    images, labels = _batch(5, 16, 120, 4)
    loop = sign_codes_loop(net, images, labels)
    for chunk in (1, 2, 5):
        batched = sign_codes_batched(net, images, labels, chunk=chunk)
        assert all(torch.equal(a, b) for a, b in zip(loop, batched, strict=True))
    assert all(c.dtype == torch.float32 and float(c.abs().max()) <= 5 for c in loop)


class _Grouped(nn.Module):
    """A network the batched path does not cover (a grouped convolution, and a convolution whose
    output a ReLU overwrites in place): the per-sample loop scores it."""

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.grouped = nn.Conv2d(8, 8, 3, padding=1, groups=2, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 5)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)

    def forward(self, x):
        x = self.bn(self.grouped(self.relu(self.conv(x))))
        return self.fc(F.relu(x).mean((2, 3)))


class _InPlace(_Grouped):
    def __init__(self) -> None:
        super().__init__()
        self.grouped = nn.Conv2d(8, 8, 3, padding=1, bias=False)  # batchable, but the in-place ReLU


@pytest.mark.parametrize("make", [_Grouped, _InPlace])
def test_networks_the_batched_path_does_not_cover_use_the_loop(make):
    net = make().double()
    images, labels = _batch(4, 8, 5, 5)
    value = gradsign(net, images, labels)
    assert value == anchor_grad_conflict(net, images, labels) > 0


# --- what the definition implies ----------------------------------------------------------------


def test_one_sample_counts_its_nonzero_gradient_elements():
    net = _network(ARCH, 10, 6)
    images, labels = _batch(1, 32, 10, 7)
    loss = F.cross_entropy(net.train()(images)[-1], labels)
    grads = torch.autograd.grad(loss, [m.weight for m in _anchor_layers(net)])
    assert gradsign(net, images, labels) == sum(int(torch.count_nonzero(g)) for g in grads) > 0


def test_samples_are_independent_repeating_the_batch_doubles_and_order_is_irrelevant():
    net = _network(ARCH, 10, 8)
    images, labels = _batch(4, 32, 10, 9)
    value = gradsign(net, images, labels)
    assert gradsign(net, torch.cat([images, images]), torch.cat([labels, labels])) == 2 * value
    order = torch.tensor([2, 0, 3, 1])
    assert gradsign(net, images[order], labels[order]) == value


@settings(max_examples=3, deadline=None)
@given(archs, st.integers(0, 2**31))
def test_the_score_is_an_integer_between_0_and_n_times_the_weights(arch, seed):
    net = _network(arch, 10, seed, torch.float32)
    images, labels = _batch(3, 16, 10, seed, torch.float32)
    value = gradsign(net, images, labels)
    assert value == int(value) and 0 <= value <= 3 * _weight_count(net)


@pytest.mark.parametrize("arch", ["|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", DEAD])
def test_a_cell_whose_output_no_path_reaches_scores_0(arch):
    """Node 3 is x·0: the features are 0, so no weight (the classifier's included) gets a gradient."""
    net = _network(arch, 10, 0, torch.float32)
    images, labels = _batch(4, 32, 10, 0, torch.float32)
    assert gradsign(net, images, labels) == 0.0 == anchor_grad_conflict(net, images, labels)


def test_nan_codes_are_dropped_as_nansum_drops_them():
    assert gradsign_of_codes([torch.tensor([3.0, float("nan"), -2.0]), torch.tensor([[-1.0]])]) == 6.0
    net = _network(ARCH, 10, 0)
    images, labels = _batch(3, 32, 10, 1)
    with torch.no_grad():
        net.classifier.bias[0] = float("nan")  # every logit vector, every loss, every gradient NaN
    codes = sign_codes(net, images, labels)
    assert all(bool(torch.isnan(c).all()) for c in codes)
    assert gradsign(net, images, labels) == 0.0 == anchor_grad_conflict(net, images, labels)


def test_the_network_is_untouched_and_its_modes_restored():
    net = _network(ARCH, 10, 0, torch.float32)
    net.eval()
    net.stem[0].weight.requires_grad_(False)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    rng = torch.get_rng_state()
    images, labels = _batch(3, 32, 10, 1, torch.float32)
    gradsign(net, images, labels)
    sign_codes_loop(net, images, labels)
    assert torch.equal(torch.get_rng_state(), rng)  # no global random numbers
    assert all(not m.training for m in net.modules())
    assert not net.stem[0].weight.requires_grad and net.classifier.weight.requires_grad
    assert all(p.grad is None for p in net.parameters())
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


# --- registry, scoring, CLI ---------------------------------------------------------------------


def test_registration():
    spec = get_proxy("gradsign")
    assert spec.needs == Needs(data=True, labels=True)
    assert spec.batch_size == GRADSIGN_BATCH == 128 and spec.table and spec.structure is None
    assert "cmu-catalyst/GradSign" in spec.reference and "grad_conflict.py" in spec.reference
    assert spec.variant and spec.help.startswith("Σ over Conv2d/Linear weight elements")


def test_the_same_seed_gives_the_same_bits_and_another_seed_another_batch():
    a = score(ARCH, "gradsign", "ImageNet16-120", seed=0, batch_size=8)
    assert a == score(ARCH, "gradsign", "ImageNet16-120", seed=0, batch_size=8)
    assert a != score(ARCH, "gradsign", "ImageNet16-120", seed=1, batch_size=8)


def test_cli_scores_gradsign(capsys):
    args = ["score", "--proxy", "gradsign", "--dataset", "ImageNet16-120", "--arch", ARCH,
            "--batch-size", "8", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["score"] == score(ARCH, "gradsign", "ImageNet16-120", batch_size=8)
    assert 0 < out["score"] <= 8 * _weight_count(_network(ARCH, 120, 0))


def test_bad_inputs_are_refused_in_one_line():
    from tfnas.checks import ArgumentError, ArgumentTypeError

    net = _network(ARCH, 10, 0, torch.float32)
    images, labels = _batch(2, 32, 10, 0, torch.float32)
    cases = [
        (ArgumentTypeError, ("not a network", images, labels)),
        (ArgumentError, (net, torch.zeros(3, 32, 32), labels)),
        (ArgumentError, (net, torch.zeros(2, 3, 32, 32, dtype=torch.int64), labels)),
        (ArgumentError, (net, images.new_full(images.shape, float("nan")), labels)),
        (ArgumentTypeError, (net, images, labels.float())),
        (ArgumentError, (net, images, labels[:1])),
    ]
    for error, args in cases:
        with pytest.raises(error) as info:
            gradsign(*args)
        assert "\n" not in str(info.value)
    with pytest.raises(ArgumentError, match="needs the batch's labels"):
        get_proxy("gradsign")(net, images=images)
