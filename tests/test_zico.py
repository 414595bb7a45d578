"""zico (Li et al., ICLR 2023): the sum over Conv2d/Linear layers of log Σ mean|g|/std(g) of the
weight gradients of two batches, checked against the anchor's recipe re-stated literally (AZ-NAS's
NB201 ``compute_zico_score.py``: ``loss.backward()``, ``weight.grad`` into a dict of numpy arrays,
``np.std``/``np.nonzero``/``np.log``), against the anchor's own float32 numpy arithmetic, on the
properties the definition implies (a ratio ≥ 1 per element, symmetry in the two samples,
invariance to rescaling a conv before BatchNorm, 0 where nothing varies), determinism, the CLI
and one-line errors."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import archs
from torch import nn

from tfnas.cli import main
from tfnas.network import build_network
from tfnas.proxies import get_proxy
from tfnas.proxies.registry import Needs
from tfnas.proxies.zico import (
    ZICO_BATCH,
    ZICO_MAX_BATCH,
    layer_term,
    split_batch,
    zico,
    zico_gradients,
    zico_terms,
)
from tfnas.scoring import score

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


def _network(arch, num_classes: int, seed: int) -> nn.Module:
    return build_network(arch, num_classes, torch.Generator().manual_seed(seed)).train()


def _batch(resolution: int, seed: int, n: int = 8, num_classes: int = 10
           ) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(n, 3, resolution, resolution, generator=g)
    return images, torch.randint(0, num_classes, (n,), generator=g)


# --- the anchor's recipe, literally -------------------------------------------------------------


def getgrad(model: nn.Module, grad_dict: dict, step_iter: int = 0) -> dict:
    """The anchor's ``getgrad``: the flattened ``weight.grad`` of every Conv2d/Linear that has one."""
    for name, mod in model.named_modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)) and mod.weight.grad is not None:
            flat = mod.weight.grad.data.cpu().reshape(-1).numpy().copy()
            if step_iter == 0:
                grad_dict[name] = [flat]
            else:
                grad_dict[name].append(flat)
    return grad_dict


def caculate_zico(grad_dict: dict, dtype=np.float64) -> float:
    """The anchor's ``caculate_zico``: per layer np.std (ddof=0) over the samples, the nonzero-std
    elements, the sum of mean|g|/std over them, its log unless that sum is 0; summed over layers.
    ``dtype=np.float32`` is the anchor's own arithmetic (numpy on the float32 gradients)."""
    total = 0.0
    for modname in grad_dict:
        arr = np.array(grad_dict[modname]).astype(dtype)
        nsr_std = np.std(arr, axis=0)
        nonzero_idx = np.nonzero(nsr_std)[0]
        nsr_mean_abs = np.mean(np.abs(arr), axis=0)
        tmpsum = np.sum(nsr_mean_abs[nonzero_idx] / nsr_std[nonzero_idx])
        if tmpsum == 0:
            pass
        else:
            total += float(np.log(tmpsum))
    return total


def literal_zico(network: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                 dtype=np.float64) -> float:
    """The anchor's ``compute_nas_score`` with ``batch_iter=2`` on a deep copy, its "trainloader"
    being the two halves of the batch (the first ceil(N/2) images, then the rest)."""
    network = copy.deepcopy(network)
    cut = (images.shape[0] + 1) // 2
    trainloader = [(images[:cut], labels[:cut]), (images[cut:], labels[cut:])]
    grad_dict: dict = {}
    network.train()
    lossfunc = nn.CrossEntropyLoss()
    for i, batch in enumerate(trainloader):
        if i == 2:
            break
        network.zero_grad(set_to_none=True)
        data, label = batch[0], batch[1]
        _, logits = network(data)
        loss = lossfunc(logits, label)
        loss.backward()
        grad_dict = getgrad(network, grad_dict, i)
    return caculate_zico(grad_dict, dtype)


# --- the proxy against it -----------------------------------------------------------------------


@settings(max_examples=4, deadline=None)
@given(archs, st.sampled_from([(10, 32), (120, 16)]), st.integers(0, 2**31), st.integers(2, 9))
def test_the_proxy_is_the_literal_definition(arch, classes_resolution, seed, n):
    num_classes, resolution = classes_resolution
    net = _network(arch, num_classes, seed)
    images, labels = _batch(resolution, seed, n, num_classes)
    value = zico(net, images, labels)
    assert value == pytest.approx(literal_zico(net, images, labels), rel=1e-12, abs=1e-9)
    # the anchor's float32 numpy statistics on the same gradients: an element whose two gradients
    # nearly agree has its |a - b| rounded relative to |a|, which its large ratio amplifies
    assert value == pytest.approx(literal_zico(net, images, labels, np.float32), rel=1e-4, abs=1e-4)


def test_the_gradients_are_the_anchors_weight_grads_bit_for_bit():
    net = _network(ARCH, 10, 1)
    images, labels = _batch(32, 2, 10)
    ours = zico_gradients(net, images, labels)
    ref = copy.deepcopy(net)
    for (x, y), grads in zip(split_batch(images, labels), ours, strict=True):
        ref.zero_grad(set_to_none=True)
        nn.CrossEntropyLoss()(ref(x)[1], y).backward()
        theirs = [m.weight.grad for m in ref.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        assert len(theirs) == len(grads)
        assert all(torch.equal(a, b) for a, b in zip(grads, theirs, strict=True))


def test_an_odd_batch_splits_first_half_larger():
    images, labels = _batch(16, 0, 7)
    (a, ya), (b, yb) = split_batch(images, labels)
    assert a.shape[0] == ya.shape[0] == 4 and b.shape[0] == yb.shape[0] == 3
    assert torch.equal(torch.cat([a, b]), images) and torch.equal(torch.cat([ya, yb]), labels)
    net = _network(ARCH, 10, 0)
    assert zico(net, images, labels) == pytest.approx(literal_zico(net, images, labels),
                                                      rel=1e-12, abs=1e-9)


# --- the per-layer term -------------------------------------------------------------------------

_samples = st.tuples(st.integers(1, 40), st.integers(0, 2**31))


@settings(max_examples=60, deadline=None)
@given(_samples, st.floats(-6.0, 6.0))
def test_a_term_is_invariant_to_scaling_and_sign(shape, log_scale):
    p, seed = shape
    g = torch.randn(2, p, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    scale = math.exp(log_scale)
    assert layer_term(g * scale) == pytest.approx(layer_term(g), rel=1e-12, abs=1e-12)
    assert layer_term(-g) == layer_term(g)
    assert layer_term(g.flip(0)) == layer_term(g)  # the two samples in either order


@settings(max_examples=60, deadline=None)
@given(_samples, st.integers(0, 40))
def test_two_samples_give_a_ratio_of_at_least_one_per_differing_element(shape, tied):
    """With two samples mean|g|/std = (|a| + |b|) / |a − b| ≥ 1; tied elements are left out."""
    p, seed = shape
    g = torch.randn(2, p, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    g[1, : min(tied, p)] = g[0, : min(tied, p)]
    a, b = g[0], g[1]
    varying = a != b
    expected = ((a.abs() + b.abs())[varying] / (a - b).abs()[varying]).sum()
    term = layer_term(g)
    if int(varying.sum()) == 0:
        assert term == 0.0
    else:
        assert term == pytest.approx(math.log(float(expected)), rel=1e-12)
        assert term >= math.log(int(varying.sum())) - 1e-12


def test_a_term_without_variation_is_zero_and_nan_propagates():
    assert layer_term(torch.zeros(2, 9)) == 0.0  # all-zero gradients: no log 0
    rng = torch.Generator().manual_seed(0)
    same = torch.randn(1, 9, generator=rng).expand(2, 9)
    assert layer_term(same) == 0.0  # equal in both samples: every element left out
    bad = torch.randn(2, 9, generator=rng)
    bad[0, 3] = math.nan
    assert math.isnan(layer_term(bad))
    bad[0, 3] = math.inf
    assert math.isnan(layer_term(bad))


def test_more_samples_use_ddof_0():
    g = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    # element 0: mean|g| = 2/3, std (ddof=0) = sqrt(2/3); element 1: std 0, left out
    assert layer_term(g) == pytest.approx(math.log((2 / 3) / math.sqrt(2 / 3)), rel=1e-14)
    assert zico_terms([[g[0]], [g[1]], [g[2]]]) == [layer_term(g)]


# --- properties of the network score ------------------------------------------------------------


@settings(max_examples=3, deadline=None)
@given(archs, st.integers(0, 2**31))
def test_swapping_the_halves_gives_the_same_bits_and_scores_are_nonnegative(arch, seed):
    net = _network(arch, 10, seed)
    images, labels = _batch(16, seed, 8)
    value = zico(net, images, labels)
    swapped = zico(net, torch.cat([images[4:], images[:4]]), torch.cat([labels[4:], labels[:4]]))
    assert value == swapped
    assert value >= 0.0


@settings(max_examples=4, deadline=None)
@given(archs, st.integers(0, 2**31), st.floats(0.25, 4.0), st.data())
def test_rescaling_a_conv_before_batchnorm_changes_nothing(arch, seed, scale, data):
    """Train-mode BatchNorm (eps ≈ 0) makes the loss invariant to W → cW for the conv before it:
    that layer's gradients scale by 1/c in both halves, its ratios do not move, nor does any other
    layer's gradient. float64, so only rounding (amplified by the near-tied elements) remains."""
    net = _network(arch, 10, seed).double()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eps = 1e-300
    images, labels = _batch(16, seed, 8)
    images = images.double()
    convs = [seq[i] for seq in net.modules() if isinstance(seq, nn.Sequential)
             for i in range(len(seq) - 1)
             if isinstance(seq[i], nn.Conv2d) and isinstance(seq[i + 1], nn.BatchNorm2d)]
    conv = data.draw(st.sampled_from(convs))
    before = zico(net, images, labels)
    with torch.no_grad():
        conv.weight.mul_(scale)
    assert zico(net, images, labels) == pytest.approx(before, rel=1e-8, abs=1e-8)


def test_identical_halves_score_zero():
    net = _network(ARCH, 10, 0)
    images, labels = _batch(32, 0, 4)
    twice, labels2 = torch.cat([images, images]), torch.cat([labels, labels])
    assert all(t == 0.0 for t in zico_terms(zico_gradients(net, twice, labels2)))
    assert zico(net, twice, labels2) == 0.0


def test_the_all_none_cell_scores_zero():
    """Every cell outputs x·0, so every weight's gradient is exactly 0 (the stem's and the cells'
    through the zero path, the classifier's on zero features): no layer adds anything."""
    net = _network(NONE, 10, 0)
    images, labels = _batch(32, 0, 8)
    grads = zico_gradients(net, images, labels)
    assert all(not bool(g.any()) for sample in grads for g in sample)
    assert zico(net, images, labels) == 0.0 == literal_zico(net, images, labels)
    assert score(NONE, "zico", "cifar10", batch_size=16) == 0.0


def test_a_conv_cut_off_by_none_edges_adds_nothing():
    """Node 1 (after a conv) reaches the output only through ``none`` edges: that conv's weight
    gradients are exactly 0 and its layer adds no term; the other conv edges do."""
    arch = "|nor_conv_3x3~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|"
    net = _network(arch, 10, 3)
    images, labels = _batch(32, 3, 8)
    terms = zico_terms(zico_gradients(net, images, labels))
    names = [n for n, m in net.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    dead = {n for n in names if n.startswith("cells.") and ".layers.0." in n}
    assert dead
    for name, term in zip(names, terms, strict=True):
        assert (term == 0.0) == (name in dead), name


def test_non_finite_weights_give_nan_and_scoring_ranks_it_last():
    net = _network(ARCH, 10, 0)
    with torch.no_grad():
        net.classifier.weight[0, 0] = math.nan
    images, labels = _batch(32, 0, 8)
    assert math.isnan(zico(net, images, labels))
    from tfnas.scoring import ranked

    assert ranked(zico(net, images, labels)) == -math.inf


def test_the_network_is_left_as_it_was():
    net = _network(ARCH, 10, 0)
    net.eval()  # a caller's mode is restored; the proxy scores in train mode
    net.classifier.weight.requires_grad_(False)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    rng = torch.get_rng_state()
    images, labels = _batch(32, 1, 8)
    first = zico(net, images, labels)
    assert torch.equal(torch.get_rng_state(), rng)  # no global random numbers
    assert not net.training and all(not m.training for m in net.modules())
    assert not net.classifier.weight.requires_grad
    assert all(p.grad is None for p in net.parameters())
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights and BN buffers
    assert zico(net, images, labels) == first  # deterministic: the same bits


def test_registration():
    spec = get_proxy("zico")
    assert spec.needs == Needs(data=True, labels=True)
    assert spec.batch_size == ZICO_BATCH == 128 and spec.max_batch_size == ZICO_MAX_BATCH
    assert spec.table and spec.structure is None and not spec.uses
    assert "SLDGroup/ZiCo" in spec.reference and "AZ-NAS" in spec.reference
    assert spec.variant and "Non-finite" in spec.variant and "halves" in spec.variant
    assert spec.help.startswith("Sum over Conv2d/Linear layers")


def test_the_same_seed_gives_the_same_bits_and_another_seed_another_batch():
    a = score(ARCH, "zico", "ImageNet16-120", seed=0, batch_size=16)
    assert a == score(ARCH, "zico", "ImageNet16-120", seed=0, batch_size=16)
    assert a != score(ARCH, "zico", "ImageNet16-120", seed=1, batch_size=16)


def test_cli_scores_zico(capsys):
    assert main(["score", "--proxy", "zico", "--dataset", "ImageNet16-120", "--arch", ARCH,
                 "--batch-size", "16", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["score"] == score(ARCH, "zico", "ImageNet16-120", batch_size=16)
    assert 0 < out["score"] < 2000


def test_bad_inputs_are_refused_in_one_line():
    from tfnas.checks import ArgumentError, ArgumentTypeError

    net = _network(ARCH, 10, 0)
    images, labels = _batch(32, 0, 4)
    proxy = get_proxy("zico")
    with pytest.raises(ArgumentTypeError):
        zico("not a network", images, labels)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError):
        zico(net, images[0], labels)
    with pytest.raises(ArgumentError):
        zico(net, images.to(torch.int64), labels)
    with pytest.raises(ArgumentError) as one:
        zico(net, images[:1], labels[:1])
    assert "\n" not in str(one.value) and "at least 2 images" in str(one.value)
    with pytest.raises(ValueError, match="needs the batch's labels"):
        proxy(net, images)
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\)"):
        proxy(net, images, labels=labels[:3])
    with pytest.raises(ValueError, match="must be <= 320"):
        score(ARCH, "zico", "cifar10", batch_size=ZICO_MAX_BATCH + 1)
