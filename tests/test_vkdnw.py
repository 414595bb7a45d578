"""vkdnw (Tybl & Neumann, CVPR 2025): the entropy of the deciles of an empirical Fisher spectrum,
checked against the anchor's recipe re-stated literally (its ``vmap``/``jacrev`` Jacobian with
respect to entry 0 of the first 128 parameter tensors, its float16-constant "Cholesky" factor
written as loops, numpy's SVD and quantiles), plus the properties the definition implies,
vkdnw_single's exact order encoding, determinism, the CLI and the one-line errors."""

from __future__ import annotations

import copy
import json
import math
import struct

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import archs
from torch import nn
from torch.func import functional_call, jacrev, vmap

from tfnas.cli import main
from tfnas.network import Pooling, UnsupportedNetworkError, build_network
from tfnas.proxies import get_proxy
from tfnas.proxies import vkdnw as vk
from tfnas.proxies.layers import layers
from tfnas.proxies.registry import Needs
from tfnas.scoring import score

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
RES = 8  # small inputs and batches keep the literal vmap/jacrev reference fast
BATCH = 6


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread):
    """One torch thread: on the shared 2-core machine two threads spin against each other."""


# --- the anchor's recipe, re-stated ------------------------------------------------------------


def _kaiming_normal_fanin_init(generator: torch.Generator):
    """The anchor's ``kaiming_normal_fanin_init`` for ``model.apply``, drawing from ``generator``."""

    def init(m: nn.Module) -> None:
        with torch.no_grad():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                draw = torch.empty(m.weight.shape)
                nn.init.kaiming_normal_(draw, mode="fan_in", nonlinearity="relu", generator=generator)
                m.weight.copy_(draw)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.affine:
                m.weight.fill_(1.0)
                m.bias.zero_()

    return init


def _plain_pools(module: nn.Module) -> None:
    """Each tfnas ``Pooling`` replaced by its ``nn.AvgPool2d`` (the same values; its channels-last
    relayout is an autograd.Function that ``vmap`` cannot run)."""
    for name, child in module.named_children():
        if isinstance(child, Pooling):
            setattr(module, name, child.op)
        else:
            _plain_pools(child)


def anchor_jacobian(model: nn.Module, x: torch.Tensor, params_grad_len: int = 128) -> torch.Tensor:
    """``get_jacobian_index(model, x, p=1, params_grad_len)``: per sample (``vmap``), ``jacrev`` of
    the single-sample logits with respect to entry ``linspace(0, n - 1, 1) = [0]`` of each of the
    first ``params_grad_len`` tensors of ``named_parameters()``; ``N x K x P``."""
    indices = [torch.linspace(0, v.numel() - 1, steps=1).long().tolist()
               for _, v in model.named_parameters()]
    params = {k: v.detach() for k, v in model.named_parameters()}
    params_grad = {k: v.flatten()[i].detach() for i, (k, v) in zip(indices, params.items(), strict=True)}
    params_grad = dict(list(params_grad.items())[0:params_grad_len])
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def jacobian_sample(sample):
        def compute_prediction(params_grad_tmp):
            full = dict(params)
            for idx, (k, v) in zip(indices, params_grad_tmp.items(), strict=False):  # the first 128
                assert idx == [0]  # p = 1: the first entry (out of place: param[idx] = v)
                full[k] = torch.cat([v, full[k].flatten()[1:]]).reshape(params[k].shape)
            out = functional_call(model, (full, buffers), (sample.unsqueeze(0),))
            return (out[1] if isinstance(out, tuple) else out).squeeze(0)

        return jacrev(compute_prediction)(params_grad)

    jac = vmap(jacobian_sample)(x)
    return torch.cat([torch.flatten(v, start_dim=2) for v in jac.values()], dim=2).detach()


def anchor_cholesky(logits: np.ndarray) -> np.ndarray:
    """``cholesky_covariance``, element by element in float64 with the float16 constants."""
    n, k = logits.shape
    alpha = np.float16(0.05)
    keep = float(np.float16(1) - alpha)
    floor = float(alpha / np.float16(k))
    out = np.zeros((n, k, k))
    for s in range(n):
        z = logits[s] - logits[s].max()
        prob = np.exp(z) / np.exp(z).sum() * keep + floor
        q = 1.0 - np.cumsum(prob)
        q[-1] = 0.0
        q_shift = np.roll(q, 1)
        q_shift[0] = 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.sqrt(prob * q / q_shift)
        for i in range(k):
            for j in range(k):
                if i == j:
                    value = 1.0
                elif j > i:
                    value = 0.0
                else:
                    value = -prob[i] / q[j] if q[j] != 0 else 0.0
                out[s, i, j] = value * d[j]
    return out


def anchor_entropy(fisher: np.ndarray) -> float:
    """SVD (zeros(2) if it fails), ``quantile`` at ``arange(0.1, 1., 0.1)``, L1 normalisation and
    ``-Σ t log(t + 1e-10)``."""
    try:
        if not np.isfinite(fisher).all():
            raise np.linalg.LinAlgError("non-finite")
        lambdas = np.linalg.svd(fisher, compute_uv=False)
    except np.linalg.LinAlgError:
        lambdas = np.zeros(2)
    levels = torch.arange(0.1, 1., 0.1).numpy().astype(np.float64)
    quantiles = np.quantile(lambdas, levels, method="linear")
    temp = quantiles / (np.linalg.norm(quantiles, ord=1) + 1e-10)
    return float(-(temp * np.log(temp + 1e-10)).sum())


def anchor_vkdnw(network: nn.Module, resolution: int, generator: torch.Generator,
                 batch_size: int = 64, params_grad_len: int = 128) -> tuple[float, np.ndarray]:
    """``compute_nas_score`` (p=1): init, Gaussian input, eval mode, J, L, F, entropy; and ``F``."""
    model = copy.deepcopy(network)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
    model.apply(_kaiming_normal_fanin_init(generator))
    dtype = next(model.parameters()).dtype
    x = torch.randn(batch_size, 3, resolution, resolution, generator=generator).to(dtype)
    _plain_pools(model)
    model.eval()
    jacobian = anchor_jacobian(model, x, params_grad_len).double().numpy()
    with torch.no_grad():
        out = model(x)
        logits = (out[1] if isinstance(out, tuple) else out).double().numpy()
    chol = anchor_cholesky(logits)
    scaled = np.matmul(chol, jacobian)
    fisher = np.mean(np.matmul(np.transpose(scaled, (0, 2, 1)), scaled), axis=0)
    return anchor_entropy(fisher), fisher


def _network(arch, num_classes: int = 10, seed: int = 0, dtype=torch.float32) -> nn.Module:
    return build_network(arch, num_classes, torch.Generator().manual_seed(seed)).to(dtype).train()


# --- the registered proxy is the anchor's recipe -----------------------------------------------


@settings(max_examples=3, deadline=None)
@given(archs, st.sampled_from([5, 10]), st.integers(0, 2**31))
def test_the_proxy_is_the_literal_recipe_in_float64(arch, num_classes, seed):
    net = _network(arch, num_classes, seed, torch.float64)
    vk.clear_cache()
    value = vk.vkdnw(net, RES, generator=torch.Generator().manual_seed(seed), batch_size=BATCH)
    ref, _ = anchor_vkdnw(net, RES, torch.Generator().manual_seed(seed), BATCH)
    assert value == pytest.approx(ref, rel=1e-9, abs=1e-9)


def test_float32_is_close_to_the_recipe_and_fewer_than_128_tensors_are_all_taken():
    arch = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"
    net = _network(arch, 10, 3)
    assert layers(net) == 21 + 45 * 2 < vk.MAX_TENSORS  # every tensor enters
    value = vk.vkdnw(net, RES, generator=torch.Generator().manual_seed(3), batch_size=BATCH)
    ref, fisher = anchor_vkdnw(net, RES, torch.Generator().manual_seed(3), BATCH)
    assert fisher.shape == (111, 111)
    assert value == pytest.approx(ref, rel=1e-4, abs=1e-4)  # float32 Jacobians, two algorithms


def test_the_jacobian_rows_and_the_fisher_matrix_are_the_anchors():
    net = _network(ARCH, 7, 1, torch.float64)
    g = torch.Generator().manual_seed(9)
    copy_ = vk.prepared_copy(net, g)
    x = vk.randn((BATCH, 3, RES, RES), g, torch.float64)
    jacobian, logits = vk.entry_jacobian(copy_, x, vk.selected_entries(copy_))
    assert jacobian.shape == (BATCH, 6, 128)  # K - 1 rows; the first 128 of 156 tensors
    model = copy.deepcopy(copy_)
    _plain_pools(model)
    full = anchor_jacobian(model, x).numpy()
    assert np.allclose(jacobian.numpy(), full[:, :-1], rtol=1e-10, atol=1e-12)
    chol = anchor_cholesky(logits.numpy())
    assert np.all(chol[:, :, -1] == 0)  # the last logit's row never enters
    scaled = chol @ full
    expect = np.mean(np.transpose(scaled, (0, 2, 1)) @ scaled, axis=0)
    assert np.allclose(vk.fisher_matrix(jacobian, logits).numpy(), expect, rtol=1e-10, atol=1e-12)


def test_the_factor_is_the_anchors_and_passes_its_back_test():
    logits = torch.randn(5, 12, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3
    factor = vk.cholesky_factor(logits).numpy()
    assert np.allclose(factor, anchor_cholesky(logits.numpy()), rtol=1e-12, atol=1e-14)
    keep, floor = vk.smoothing(12)
    prob = torch.softmax(logits, 1).numpy() * keep + floor
    cov = np.stack([np.diag(p) - np.outer(p, p) for p in prob])
    # the anchor's own back-test (it prints a warning above 1e-3): Σp = 1.0002, not 1
    assert np.abs(factor @ np.transpose(factor, (0, 2, 1)) - cov).max() < 1e-3
    for k in (10, 100, 120):
        keep, floor = vk.smoothing(k)
        assert keep == 0.9501953125 and floor == float(np.float16(0.05) / np.float16(k))


# --- properties --------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.floats(1e-2, 1e6), st.integers(0, 2**31))
def test_the_entropy_ignores_the_scale_of_f_and_lies_in_0_log9(p, scale, seed):
    """Up to the 1e-10 guards, which matter only for a spectrum of about that size."""
    a = torch.randn(p, p + 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    fisher = a @ a.T
    value = vk.decile_entropy(fisher)
    assert -1e-9 <= value <= math.log(9) + 1e-12
    assert vk.decile_entropy(fisher * scale) == pytest.approx(value, abs=1e-6)
    assert value == pytest.approx(anchor_entropy(fisher.numpy()), rel=1e-12, abs=1e-12)


def test_flat_spectrum_one_tensor_and_the_non_finite_fallback():
    assert vk.decile_entropy(torch.eye(20, dtype=torch.float64)) == pytest.approx(math.log(9))
    assert vk.decile_entropy(torch.full((1, 1), 3.0)) == pytest.approx(math.log(9))
    bad = torch.eye(4, dtype=torch.float64)
    bad[0, 1] = math.nan
    assert vk.decile_entropy(bad) == 0.0 == anchor_entropy(bad.numpy())
    assert vk.decile_entropy(torch.zeros(5, 5)) == 0.0  # all deciles 0


def test_the_caller_network_is_untouched_and_the_same_seed_gives_the_same_bits():
    net = _network(ARCH, 10, 0)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    rng = torch.get_rng_state()
    vk.clear_cache()
    a = vk.vkdnw(net, RES, generator=torch.Generator().manual_seed(4), batch_size=BATCH)
    vk.clear_cache()
    b = vk.vkdnw(net, RES, generator=torch.Generator().manual_seed(4), batch_size=BATCH)
    assert a == b
    assert a != vk.vkdnw(net, RES, generator=torch.Generator().manual_seed(5), batch_size=BATCH)
    assert torch.equal(torch.get_rng_state(), rng)  # no global random numbers
    assert net.training and all(m.training for m in net.modules())
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert all(p.requires_grad for p in net.parameters())


def test_a_cache_hit_is_indistinguishable_from_a_computation():
    net = _network(ARCH, 10, 0)
    vk.clear_cache()
    g1 = torch.Generator().manual_seed(8)
    first = vk.vkdnw_parts(net, RES, generator=g1, batch_size=BATCH)
    g2 = torch.Generator().manual_seed(8)
    again = vk.vkdnw_parts(net, RES, generator=g2, batch_size=BATCH)  # a hit
    assert again == first and torch.equal(g1.get_state(), g2.get_state())
    other = copy.deepcopy(net)  # another object: computed, the same value
    assert vk.vkdnw_parts(other, RES, generator=torch.Generator().manual_seed(8),
                          batch_size=BATCH) == first
    assert first[0] == layers(net)


def test_only_the_first_128_tensors_enter():
    """The anchor's ``list(...)[0:128]``: a 156-tensor network's last 28 tensors (the last
    cells, lastact and the classifier) hold no selected entry."""
    net = _network(ARCH, 10, 0)
    entries = vk.selected_entries(net)
    names = [name for name, _ in net.named_parameters()]
    assert [e.name for e in entries] == names[:128] and len(names) == 156
    assert all(len(e.owners) == 1 for e in entries)


class _Tiny(nn.Module):
    """A general model: a biased conv, a LayerNorm (the forward-mode tangent path), a Linear
    called twice, a weight tied between two Linears, and an unused Linear."""

    def __init__(self, classes: int = 3, tie_head: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=True)
        self.bn = nn.BatchNorm2d(4)
        self.norm = nn.LayerNorm(4)
        self.mix = nn.Linear(4, 4)
        self.tied = nn.Linear(4, 4, bias=False)
        self.tied_again = nn.Linear(4, 4, bias=False)
        self.tied_again.weight = self.tied.weight
        self.head = nn.Linear(4, classes)
        self.unused = nn.Linear(2, 2)
        self.side = nn.Linear(4, classes)  # tie_head: the head's weight also enters before it
        if tie_head:
            self.side.weight = self.head.weight
        self.tie_head = tie_head

    def forward(self, x):
        h = torch.relu(self.bn(self.conv(x))).mean(dim=(2, 3))
        h = self.mix(torch.tanh(self.mix(self.norm(h))))
        if self.tie_head:
            h = h + torch.tanh(self.side(h)).sum(dim=1, keepdim=True)
        return self.head(self.tied_again(torch.tanh(self.tied(h))))


def test_a_general_model_shared_and_unused_parameters():
    net = _Tiny().double()
    entries = vk.selected_entries(net)
    assert [len(e.owners) for e in entries if e.name == "tied.weight"] == [2]
    vk.clear_cache()
    value = vk.vkdnw(net, RES, generator=torch.Generator().manual_seed(2), batch_size=BATCH)
    ref, fisher = anchor_vkdnw(net, RES, torch.Generator().manual_seed(2), BATCH)
    assert value == pytest.approx(ref, rel=1e-9, abs=1e-9)
    assert np.all(fisher[-4:-2] == 0)  # the unused Linear's entries: zero Jacobian columns


class _Spy:
    """Records what :func:`vk.linear_head` returned (or forces it to find no head)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, force_none: bool = False) -> None:
        self.found: list[bool] = []
        real = vk.linear_head

        def spy(*args, **kwargs):
            got = None if force_none else real(*args, **kwargs)
            self.found.append(got is not None)
            return got

        monkeypatch.setattr(vk, "linear_head", spy)


@settings(max_examples=3, deadline=None)
@given(archs, st.sampled_from([66, 100, 120]), st.integers(0, 2**31))
def test_the_head_path_is_the_per_logit_path_and_the_anchors(arch, num_classes, seed):
    """More classes than pooled features (NATS-Bench's 64; CIFAR-100's 100, ImageNet16-120's
    120): the rows come from the classifier's input, the same Jacobian as one backward pass per
    logit and as the anchor's vmap/jacrev, to float64 rounding."""
    with pytest.MonkeyPatch.context() as mp:
        net = _network(arch, num_classes, seed, torch.float64)
        g = torch.Generator().manual_seed(seed)
        model = vk.prepared_copy(net, g)
        x = vk.randn((BATCH, 3, RES, RES), g, torch.float64)
        entries = vk.selected_entries(model)
        spy = _Spy(mp)
        fast, logits = vk.entry_jacobian(model, x, entries)
        assert spy.found == [True]  # the head path was taken
        slow_spy = _Spy(mp, force_none=True)
        slow, logits_slow = vk.entry_jacobian(model, x, entries)
        assert slow_spy.found == [False] and torch.equal(logits, logits_slow)
    assert fast.shape == slow.shape == (BATCH, num_classes - 1, len(entries))
    assert torch.allclose(fast, slow, rtol=1e-10, atol=1e-12)
    anchor = copy.deepcopy(model)
    _plain_pools(anchor)
    full = anchor_jacobian(anchor, x).numpy()
    assert np.allclose(fast.numpy(), full[:, :-1], rtol=1e-10, atol=1e-12)


def test_the_head_path_scores_the_recipe_and_float32_stays_close():
    arch = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"
    for dtype, tol in ((torch.float64, 1e-9), (torch.float32, 1e-4)):
        net = _network(arch, 120, 5, dtype)
        vk.clear_cache()
        value = vk.vkdnw(net, RES, generator=torch.Generator().manual_seed(5), batch_size=BATCH)
        ref, _ = anchor_vkdnw(net, RES, torch.Generator().manual_seed(5), BATCH)
        assert value == pytest.approx(ref, rel=tol, abs=tol)


@pytest.mark.parametrize("tie_head, expect_head", [(False, True), (True, False)])
def test_a_general_model_with_more_classes_than_features(monkeypatch, tie_head, expect_head):
    """The head path on a general model (tied and unused tensors before the head), and its
    refusal when the head's weight also enters before the head (then every logit is
    back-propagated): the anchor's value either way."""
    net = _Tiny(classes=9, tie_head=tie_head).double()
    spy = _Spy(monkeypatch)
    vk.clear_cache()
    value = vk.vkdnw(net, RES, generator=torch.Generator().manual_seed(4), batch_size=BATCH)
    ref, _ = anchor_vkdnw(net, RES, torch.Generator().manual_seed(4), BATCH)
    assert spy.found == [expect_head]
    assert value == pytest.approx(ref, rel=1e-9, abs=1e-9)


# --- VKDNW_single -----------------------------------------------------------------------------


def _f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


_entropies = st.one_of(st.floats(-1e-9, math.log(9)), st.sampled_from([0.0, -0.0, 1e-30, -1e-30]))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**20 - 1), _entropies, st.integers(0, 2**20 - 1), _entropies)
def test_the_single_score_orders_exactly_as_layers_then_float32_entropy(la, ea, lb, eb):
    a, b = vk.single_score(la, ea), vk.single_score(lb, eb)
    key_a, key_b = (la, _f32(ea)), (lb, _f32(eb))
    assert (a < b) == (key_a < key_b) and (a == b) == (key_a == key_b)
    assert la <= a < la + 1
    if (la, ea) < (lb, eb):  # the float64 order is never inverted, only float32 ties merge
        assert a <= b


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([21, 66, 111, 156]), _entropies), max_size=30))
def test_the_single_rank_is_the_log_dense_rank_of_the_tuples(rows):
    layer_counts = np.array([r[0] for r in rows], dtype=float)
    entropy = np.array([r[1] for r in rows], dtype=float)
    got = vk.vkdnw_single_rank(layer_counts, entropy)
    distinct = sorted(set((r[0], r[1] + 0.0) for r in rows))
    expect = [math.log(distinct.index((r[0], r[1] + 0.0)) + 1) for r in rows]
    assert np.array_equal(got, np.array(expect, dtype=float))
    singles = np.array([vk.single_score(*r) for r in rows])
    f32_rows = sorted(set((r[0], _f32(r[1])) for r in rows))
    dense_single = [sorted(set(singles.tolist())).index(s) for s in singles]
    assert dense_single == [f32_rows.index((r[0], _f32(r[1]))) for r in rows]


def test_vkdnw_single_scores_layers_plus_the_entropy_code():
    net = _network(ARCH, 10, 0)
    vk.clear_cache()
    g = torch.Generator().manual_seed(3)
    single = vk.vkdnw_single(net, RES, generator=g, batch_size=BATCH)
    entropy = vk.vkdnw(net, RES, generator=torch.Generator().manual_seed(3), batch_size=BATCH)
    assert single == vk.single_score(layers(net), entropy) and math.floor(single) == layers(net) == 156


# --- registration, scoring rule, CLI, errors ---------------------------------------------------


def test_registration():
    for name in ("vkdnw", "vkdnw_single"):
        spec = get_proxy(name)
        assert spec.needs == Needs(resolution=True, random=True)
        assert spec.batch_size == vk.VKDNW_BATCH == 64 and spec.draws_batch
        assert "ondratybl/VKDNW" in spec.reference and spec.variant and spec.structure is None
    assert "compute_vkdnw_score.py" in get_proxy("vkdnw").reference


def test_scoring_is_deterministic_and_cli_scores_vkdnw(capsys):
    a = score(ARCH, "vkdnw", "cifar10", seed=0, batch_size=4)
    assert a == score(ARCH, "vkdnw", "cifar10", seed=0, batch_size=4)
    assert a != score(ARCH, "vkdnw", "cifar10", seed=1, batch_size=4)
    assert main(["score", "--proxy", "vkdnw", "--dataset", "cifar10", "--arch", ARCH,
                 "--batch-size", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["score"] == a and 0 < a <= math.log(9)


def test_bad_inputs_are_refused_in_one_line():
    from tfnas.checks import ArgumentError, ArgumentTypeError

    g = torch.Generator().manual_seed(0)
    net = _network(ARCH, 10, 0)
    with pytest.raises(ArgumentTypeError):
        vk.vkdnw("not a network", RES, generator=g)  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError):
        vk.vkdnw(net, RES, generator=None)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError):
        vk.vkdnw(net, 0, generator=g)
    with pytest.raises(ArgumentError):
        vk.vkdnw(net, RES, generator=g, batch_size=0)
    with pytest.raises(ArgumentTypeError):
        get_proxy("vkdnw")(net, resolution=RES)  # no generator
    with pytest.raises(UnsupportedNetworkError, match="no parameters"):
        vk.vkdnw(nn.Sequential(nn.Flatten()), RES, generator=g)
    untracked = nn.Sequential(nn.Conv2d(3, 2, 3), nn.BatchNorm2d(2, track_running_stats=False),
                              nn.Flatten(), nn.LazyLinear(3))
    with pytest.raises(UnsupportedNetworkError, match="track_running_stats"):
        vk.vkdnw(untracked, RES, generator=g)
    for exc in (ArgumentError, UnsupportedNetworkError):
        with pytest.raises(exc) as info:
            if exc is ArgumentError:
                vk.vkdnw_single_rank(np.zeros(2), np.zeros(3))
            else:
                vk.single_score(2.0**20, 0.0)
        assert "\n" not in str(info.value)
