"""The shared gradient pass and the zero-cost-nas / NASLib gradient proxies.

Each proxy is proven equal to its literal re-statement in ``tests/zero_cost_reference.py`` (the
anchors' own mechanics on a deep copy); the shared pass is proven equal to separate passes; the
properties the definitions imply are checked with hypothesis. Inputs are ImageNet16-120-sized
(16×16), batches of 8, so that the module stays fast.

Tolerances (nothing tuned; each from how the two computations differ):
- ``REL32`` = 1e-5 for grad_norm, snip and fisher: theirs accumulates the per-layer float32 sums
  in a float32 tensor, ours in float64 (``math.fsum``); ≤ ~100 layers × 6e-8 rounding each.
- plain and grasp are signed sums that may cancel: their error is bounded by ``REL32`` times the
  sum of the absolute terms (snip's Σ|W⊙g|, Σ|W⊙Hg|), not by the result.
- jacob_cov: 1e-9 relative; theirs ``eig``, ours ``eigvalsh`` (eigenvalue error ~1e-15·‖C‖,
  amplified by 1/(λ+1e-5) ≤ 1e5 in the score).
- epe_nas: 1e-12 relative (float64 blocks of one corrcoef vs one corrcoef per class).
- nwot: exact (the kernel holds integers, exact in float32 and float64).
"""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import zero_cost_reference as Z
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import archs, seeds
from torch import nn

from tfnas.checks import ArgumentError, ArgumentTypeError
from tfnas.network import build_network
from tfnas.proxies import get_proxy
from tfnas.proxies.epe_nas import epe_nas_score
from tfnas.proxies.jacob_cov import jacob_cov_score
from tfnas.proxies.nwot import nwot_kernel
from tfnas.proxies.passes import PRODUCTS, gradient_pass, sharing
from tfnas.space import Arch

NAMES = ("grad_norm", "snip", "grasp", "fisher", "plain", "jacob_cov", "epe_nas", "nwot")
REL32 = 1e-5
CELL = Arch.parse(
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|nor_conv_1x1~1|skip_connect~2|")
LARGEST = Arch(("nor_conv_3x3",) * 6)
NONE = Arch(("none",) * 6)


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread):
    yield


def net_for(arch: Arch, num_classes: int = 10, seed: int = 0) -> nn.Module:
    return build_network(arch, num_classes, torch.Generator().manual_seed(seed)).train()


def batch(num_classes: int, seed: int = 1, n: int = 8, repeats: bool = True):
    """A Gaussian 16×16 batch and labels; ``repeats``: two classes hold two images each."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 16, 16, generator=g)
    y = torch.randint(0, num_classes, (n,), generator=g)
    if repeats:
        y[:4] = torch.tensor([1, 1, 2, 2])
    return x, y


def call(name: str, net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    proxy = get_proxy(name)
    return proxy(net, x, labels=y if proxy.needs.labels else None)


def abs_scale(name: str, net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Σ of the absolute terms of a signed sum (plain: Σ|W⊙g|, grasp: Σ|W⊙Hg|)."""
    product = "weight_grads" if name == "plain" else "weight_hvp"
    p = gradient_pass(net, x, y, {product})
    return math.fsum(float((w * t).abs().sum())
                     for t, (_, w) in zip(getattr(p, product), p.weights, strict=True))


def assert_matches_reference(name: str, fast: float, ref: float, scale: float) -> None:
    if name == "nwot":
        assert fast == ref
    elif name in ("plain", "grasp"):
        assert abs(fast - ref) <= REL32 * scale, (fast, ref, scale)
    elif name == "jacob_cov":
        assert math.isclose(fast, ref, rel_tol=1e-9), (fast, ref)
    elif name == "epe_nas":
        assert math.isclose(fast, ref, rel_tol=1e-12, abs_tol=1e-12), (fast, ref)
    else:
        assert math.isclose(fast, ref, rel_tol=REL32), (fast, ref)


# ---- faithfulness: each proxy = its literal reference ----------------------------------------


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=4)
@given(arch=archs, num_classes=st.sampled_from([10, 100, 120]), seed=seeds)
def test_each_proxy_equals_its_literal_reference(name: str, arch: Arch, num_classes: int,
                                                 seed: int) -> None:
    net = net_for(arch, num_classes, seed % 2**32)
    x, y = batch(num_classes, seed % 1000)
    fast = call(name, net, x, y)
    ref = Z.REFERENCES[name](net, x, y)
    if math.isnan(ref):
        assert math.isnan(fast)
        return
    scale = abs_scale(name, net, x, y) if name in ("plain", "grasp") else 0.0
    assert_matches_reference(name, fast, ref, scale)


@pytest.mark.parametrize("name", NAMES)
def test_on_the_real_batch_through_the_scoring_rule(name: str) -> None:
    """``tfnas.scoring.score`` with a given batch and labels = the reference on the same net."""
    from tfnas.scoring import cell_seed, score

    x, y = batch(120, seed=5)
    value = score(CELL, name, "ImageNet16-120", seed=3, batch_size=8, batch=x, labels=y)
    net = build_network(CELL, 120, torch.Generator().manual_seed(cell_seed(CELL, 3))).train()
    scale = abs_scale(name, net, x, y) if name in ("plain", "grasp") else 0.0
    assert_matches_reference(name, value, Z.REFERENCES[name](net, x, y), scale)


def test_grasp_hvp_from_one_forward_equals_theirs_from_two() -> None:
    """Per layer, H·g from the first forward's graph = their second-forward H·g (train mode)."""
    net = net_for(CELL, 10)
    x, y = batch(10)
    ours = gradient_pass(net, x, y, {"weight_hvp"}).weight_hvp
    ref = copy.deepcopy(net)
    weights = [m.weight for m in ref.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    g = torch.autograd.grad(F.cross_entropy(ref(x)[1], y), weights)
    g2 = torch.autograd.grad(F.cross_entropy(ref(x)[1], y), weights, create_graph=True)
    theirs = torch.autograd.grad(sum((a.detach() * b).sum() for a, b in zip(g, g2, strict=True)),
                                 weights)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-7)


def test_fisher_reference_hook_is_theirs() -> None:
    """The deprecated ``register_backward_hook`` of zero-cost-nas gives the full hook's values."""
    net = net_for(CELL, 10)
    x, y = batch(10)
    full = Z.fisher_reference(net, x, y)
    original = nn.Module.register_full_backward_hook
    try:
        nn.Module.register_full_backward_hook = nn.Module.register_backward_hook
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the deprecated API warns on every use
            old = Z.fisher_reference(net, x, y)
    finally:
        nn.Module.register_full_backward_hook = original
    assert old == full


# ---- the shared pass -------------------------------------------------------------------------


@settings(max_examples=6)
@given(arch=archs, order=st.permutations(NAMES), seed=seeds)
def test_sharing_equals_separate_passes(arch: Arch, order: list[str], seed: int) -> None:
    net = net_for(arch, 120, seed % 2**32)
    x, y = batch(120, seed % 1000)
    separate = {name: call(name, net, x, y) for name in NAMES}
    union = frozenset().union(*(get_proxy(name).uses for name in NAMES))
    with sharing(union):
        shared = {name: call(name, net, x, y) for name in order}
    for name in NAMES:
        assert shared[name] == separate[name] or (
            math.isnan(shared[name]) and math.isnan(separate[name])), name


def test_sharing_computes_once_and_clears_on_exit(monkeypatch) -> None:
    import tfnas.proxies.passes as P

    net = net_for(CELL, 10)
    x, y = batch(10)
    calls = []
    compute = P._compute
    monkeypatch.setattr(P, "_compute", lambda *a: calls.append(a[3]) or compute(*a))
    with sharing(PRODUCTS):
        first = gradient_pass(net, x, y, {"weight_grads"})
        again = gradient_pass(net, x, None, {"relu_inputs", "input_jacobian"})
        assert again is first
        assert calls == [PRODUCTS]
        assert first.has(PRODUCTS)
        other = gradient_pass(net, x.clone(), y, {"weight_grads"})  # another batch object
        assert other is not first and len(calls) == 2
    assert not P._CACHES
    gradient_pass(net, x, y, {"weight_grads"})
    assert calls[-1] == frozenset({"weight_grads"})  # outside: exactly what is asked


def test_sharing_a_label_free_first_call_completes_later() -> None:
    """nwot (no labels) first: the labelled products come from one more pass, merged."""
    net = net_for(CELL, 10)
    x, y = batch(10)
    with sharing({"relu_inputs", "weight_grads"}):
        codes = gradient_pass(net, x, None, {"relu_inputs"})
        assert codes.weight_grads is None
        both = gradient_pass(net, x, y, {"weight_grads"})
        assert both.relu_inputs is codes.relu_inputs and both.weight_grads is not None
    alone = gradient_pass(net, x, y, {"weight_grads"}).weight_grads
    for a, b in zip(both.weight_grads, alone, strict=True):
        assert torch.equal(a, b)


def test_outside_sharing_only_the_requested_products() -> None:
    net = net_for(CELL, 10)
    x, y = batch(10)
    for product in PRODUCTS:
        p = gradient_pass(net, x, y, {product})
        assert getattr(p, product) is not None
        assert all(getattr(p, other) is None for other in PRODUCTS - {product}), product


def test_the_pass_leaves_the_network_as_it_was() -> None:
    net = net_for(CELL, 10)
    for p in net.classifier.parameters():
        p.requires_grad_(False)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x, y = batch(10)
    gradient_pass(net, x, y, PRODUCTS)
    after = net.state_dict()
    for key, value in before.items():
        if "running" in key or "num_batches" in key:
            continue  # BN statistics of a train-mode forward
        assert torch.equal(value, after[key]), key
    assert not net.classifier.weight.requires_grad and net.stem[0].weight.requires_grad
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())
    assert all(p.grad is None for p in net.parameters())
    assert not x.requires_grad


def test_pass_products_shapes() -> None:
    net = net_for(CELL, 10)
    x, y = batch(10)
    p = gradient_pass(net, x, y, PRODUCTS)
    n_layers = sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in net.modules())
    assert len(p.weights) == len(p.weight_grads) == len(p.weight_hvp) == len(p.layer_fisher) == n_layers
    for (_, w), g, h, f in zip(p.weights, p.weight_grads, p.weight_hvp, p.layer_fisher, strict=True):
        assert g.shape == h.shape == w.shape and f.shape == (w.shape[0],)
    assert p.input_jacobian.shape == x.shape and p.logits.shape == (8, 10)
    relus = [name for name, m in net.named_modules() if isinstance(m, nn.ReLU)]
    assert list(p.relu_names) == [r for r in relus if r in p.relu_names]
    assert all(c.dtype == torch.bool and c.shape[0] == 8 for c in p.relu_inputs)


@pytest.mark.parametrize("uses, labels, message", [
    ({"gradients"}, True, "unknown pass products gradients"),
    ({"weight_grads"}, False, "differentiate the loss"),
    ("weight_grads", True, "uses must be a set"),
])
def test_bad_requests_are_one_line_errors(uses, labels, message) -> None:
    net = net_for(CELL, 10)
    x, y = batch(10)
    with pytest.raises((ArgumentError, ArgumentTypeError), match=message) as info:
        gradient_pass(net, x, y if labels else None, uses)
    assert "\n" not in str(info.value)


def test_bad_inputs_are_one_line_errors() -> None:
    net = net_for(CELL, 10)
    x, y = batch(10)
    with pytest.raises(ArgumentTypeError, match="network must be a torch.nn.Module"):
        gradient_pass("net", x, y, {"logits"})
    with pytest.raises(ArgumentError, match="NCHW float batch"):
        gradient_pass(net, x[0], y, {"logits"})
    with pytest.raises(ArgumentError, match=r"labels must have shape \(8,\)"):
        gradient_pass(net, x, y[:3], {"weight_grads"})


# ---- properties ------------------------------------------------------------------------------


def bn_conv_pairs(net: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """Convs whose output goes straight into a BatchNorm (ReLUConvBN, the stem)."""
    pairs = []
    for name, m in net.named_modules():
        if isinstance(m, nn.Sequential):
            mods = list(m.named_children())
            for (n1, a), (_, b) in zip(mods, mods[1:], strict=False):
                if isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d):
                    pairs.append((f"{name}.{n1}" if name else n1, a))
    return pairs


@settings(max_examples=10)
@given(arch=archs, seed=seeds, scale=st.floats(0.25, 4.0), data=st.data())
def test_snip_and_grad_norm_under_scaling_a_conv_before_batchnorm(arch, seed, scale, data):
    """Train-mode BN (eps ≈ 0) makes the loss invariant to W → cW for the conv before it, so
    ∂L/∂(cW) = ∂L/∂W / c: that layer's ‖g‖ scales by 1/c (grad_norm), W⊙g is unchanged (snip),
    and every other layer's gradient is unchanged. float64, so rounding is ~1e-12."""
    net = net_for(arch, 10, seed % 2**32).double()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eps = 1e-300  # PyTorch refuses 0 in training; negligible next to any variance
    x, y = batch(10, seed % 1000)
    x = x.double()
    name, conv = data.draw(st.sampled_from(bn_conv_pairs(net)))
    before = gradient_pass(net, x, y, {"weight_grads"})
    old = {n: g.clone() for (n, _), g in zip(before.weights, before.weight_grads, strict=True)}
    snip0, norm0 = call("snip", net, x, y), call("grad_norm", net, x, y)
    with torch.no_grad():
        conv.weight.mul_(scale)
    after = gradient_pass(net, x, y, {"weight_grads"})
    for (n, _), g in zip(after.weights, after.weight_grads, strict=True):
        expected = old[n] / scale if n == name else old[n]
        torch.testing.assert_close(g, expected, rtol=1e-8, atol=1e-12)
    assert math.isclose(call("snip", net, x, y), snip0, rel_tol=1e-8)
    layer = float(old[name].norm())
    assert math.isclose(call("grad_norm", net, x, y), norm0 - layer + layer / scale, rel_tol=1e-8)


@settings(max_examples=15)
@given(width=st.integers(2, 6), ignored=st.data(), seed=seeds)
def test_fisher_is_zero_for_a_channel_the_output_ignores(width, ignored, seed) -> None:
    """conv → BN → ReLU → pool → linear, the linear's column j zero: channel j of the conv
    reaches nothing, so ∂L/∂a_j = 0 and its Fisher value is exactly 0 (the others are not)."""
    g = torch.Generator().manual_seed(seed % 2**32)
    net = nn.Sequential(nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                        nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 5))
    with torch.no_grad():
        for p in net.parameters():
            p.uniform_(-1, 1, generator=g)
    j = ignored.draw(st.integers(0, width - 1))
    with torch.no_grad():
        net[5].weight[:, j] = 0
    x = torch.randn(8, 3, 8, 8, generator=g)
    y = torch.randint(0, 5, (8,), generator=g)
    fisher = gradient_pass(net, x, y, {"layer_fisher"}).layer_fisher[0]
    assert fisher[j] == 0
    expected = math.fsum(float(f) for f in fisher.abs()) * 27 + float(
        gradient_pass(net, x, y, {"layer_fisher"}).layer_fisher[1].abs().sum()) * width
    assert math.isclose(get_proxy("fisher")(net, x, labels=y), expected, rel_tol=1e-6)
    assert math.isclose(get_proxy("fisher")(net, x, labels=y), Z.fisher_reference(net, x, y),
                        rel_tol=REL32)


@settings(max_examples=8)
@given(arch=archs, seed=seeds, perm=st.permutations(range(8)))
def test_jacob_cov_is_invariant_to_permuting_the_batch(arch, seed, perm) -> None:
    net = net_for(arch, 10, seed % 2**32)
    x, _ = batch(10, seed % 1000)
    a = get_proxy("jacob_cov")(net, x)
    b = get_proxy("jacob_cov")(net, x[list(perm)])
    assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9)


@settings(max_examples=8)
@given(arch=archs, seed=seeds)
def test_plain_is_the_direct_sum_and_bounded_by_snip(arch, seed) -> None:
    net = net_for(arch, 10, seed % 2**32)
    x, y = batch(10, seed % 1000)
    copy_ = copy.deepcopy(net)
    weights = [m.weight for m in copy_.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    grads = torch.autograd.grad(F.cross_entropy(copy_(x)[1], y), weights)
    weights = [w.detach() for w in weights]
    direct = math.fsum(float((w * g).double().sum()) for w, g in zip(weights, grads, strict=True))
    scale = math.fsum(float((w * g).abs().double().sum()) for w, g in zip(weights, grads, strict=True))
    assert abs(call("plain", net, x, y) - direct) <= 1e-6 * scale
    assert abs(call("plain", net, x, y)) <= call("snip", net, x, y) * (1 + 1e-6)


@settings(max_examples=40)
@given(n=st.integers(1, 12), widths=st.lists(st.integers(1, 40), min_size=1, max_size=4),
       seed=seeds)
def test_nwot_kernel_is_the_two_product_definition(n, widths, seed) -> None:
    rng = np.random.default_rng(seed)
    codes = [torch.from_numpy(rng.random((n, w)) < 0.5) for w in widths]
    literal = np.zeros((n, n))
    for c in codes:
        x = c.float()
        literal = literal + (x @ x.t()).numpy() + ((1.0 - x) @ (1.0 - x.t())).numpy()
    assert np.array_equal(nwot_kernel(codes, n), literal)


@settings(max_examples=60)
@given(n=st.integers(2, 16), n_classes=st.sampled_from([10, 100, 120]), k=st.integers(1, 6),
       constant=st.booleans(), seed=seeds)
def test_epe_nas_score_equals_naslibs_rule(n, n_classes, k, constant, seed) -> None:
    """Both branches, one-image classes, constant rows (NaN) and no kept class (0)."""
    rng = np.random.default_rng(seed)
    jac = rng.standard_normal((n, 7)).astype(np.float32)
    labels = rng.integers(0, k, n)
    if constant:
        jac[rng.integers(0, n)] = 0.5
    ours = epe_nas_score(jac, labels, n_classes)
    with np.errstate(divide="ignore", invalid="ignore"):
        theirs = float(Z.epe_nas_eval_score_perclass(jac, [labels], n_classes))
    assert (math.isnan(ours) and math.isnan(theirs)) or math.isclose(
        ours, theirs, rel_tol=1e-12, abs_tol=1e-12), (ours, theirs)


@settings(max_examples=40)
@given(n=st.integers(2, 16), d=st.integers(2, 30), rank=st.integers(1, 16), seed=seeds)
def test_jacob_cov_score_equals_theirs_with_eig(n, d, rank, seed) -> None:
    """Including rank-deficient correlation matrices (λ ≈ 0, where 1/(λ+k) is largest)."""
    rng = np.random.default_rng(seed)
    jac = (rng.standard_normal((n, min(rank, d))) @ rng.standard_normal((min(rank, d), d)))
    ours = jacob_cov_score(jac.astype(np.float32))
    theirs = complex(Z.jacob_cov_eval_score(jac.astype(np.float32)))
    assert math.isclose(ours, theirs.real, rel_tol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_bits(name: str) -> None:
    from tfnas.scoring import score

    x, y = batch(100, seed=9)
    x32 = F.interpolate(x, size=32)
    first = score(CELL, name, "cifar100", seed=4, batch_size=8, batch=x32, labels=y)
    second = score(CELL, name, "cifar100", seed=4, batch_size=8, batch=x32.clone(), labels=y.clone())
    assert math.isnan(first) and math.isnan(second) or first == second


EXPECTED_DEGENERATE = {"grad_norm": 0.0, "snip": 0.0, "grasp": 0.0, "fisher": 0.0, "plain": 0.0,
                       "jacob_cov": math.nan, "epe_nas": math.nan, "nwot": -math.inf}


@pytest.mark.parametrize("name", NAMES)
def test_non_finite_rule_on_degenerate_networks(name: str) -> None:
    """All-zero weights: zero gradients (0), a constant output (jacob_cov, epe_nas: correlation
    undefined, NaN), every code identical (nwot: singular kernel, −inf). A NaN image: the loss and
    gradients are undefined, NaN; nothing raises."""
    net = net_for(CELL, 10)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
    x, y = batch(10)
    value = call(name, net, x, y)
    expected = EXPECTED_DEGENERATE[name]
    assert (math.isnan(value) and math.isnan(expected)) or value == expected
    bad = x.clone()
    bad[0, 0, 0, 0] = math.nan
    value = call(name, net_for(CELL, 10), bad, y)
    assert isinstance(value, float)
    if name not in ("nwot",):
        assert math.isnan(value)


def test_an_all_none_cell_has_no_input_dependence() -> None:
    """The all-``none`` cell's logits ignore the image: jacob_cov and epe_nas are NaN (their
    correlation is undefined), as zero-cost-nas and NASLib compute it."""
    net = net_for(NONE, 10)
    x, y = batch(10)
    for name in ("jacob_cov", "epe_nas"):
        assert math.isnan(call(name, net, x, y))
        assert math.isnan(Z.REFERENCES[name](net, x, y))


def test_registered_recipes() -> None:
    for name in NAMES:
        proxy = get_proxy(name)
        assert proxy.batch_size == (32 if name in ("epe_nas", "nwot") else 64), name
        assert proxy.needs.data
        assert proxy.needs.labels == (name not in ("jacob_cov", "nwot")), name
        assert proxy.uses and proxy.uses <= PRODUCTS
        assert proxy.reference and proxy.variant and "Non-finite" in proxy.variant, name
        assert proxy.help


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_tfnas_score_runs_on_the_real_data(name: str, data_root) -> None:
    proxy = get_proxy(name)
    result = subprocess.run(
        [sys.executable, "-m", "tfnas", "score", "--proxy", name, "--dataset", "ImageNet16-120",
         "--batch-size", str(proxy.batch_size), "--arch", str(CELL), "--json"],
        capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["proxy"] == name and isinstance(record["score"], float)
