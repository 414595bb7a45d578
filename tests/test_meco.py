"""meco (Jiang et al., NeurIPS 2023): the sum over every module's output of the minimum eigenvalue of
its channel correlation matrix, checked against the definition re-stated literally (numpy, one
module at a time), against the anchor's own float32 torch arithmetic, and on the properties a
correlation spectrum has (scale invariance, [0, 1]), determinism and the CLI."""

from __future__ import annotations

import copy
import json
import math
import warnings

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
from tfnas.proxies.meco import MECO_BATCH, meco, meco_terms, min_eig_corr
from tfnas.proxies.registry import Needs
from tfnas.scoring import score

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def _network(arch, num_classes: int, seed: int) -> nn.Module:
    return build_network(arch, num_classes, torch.Generator().manual_seed(seed)).train()


def _image(resolution: int, seed: int, batch: int = 1) -> torch.Tensor:
    return torch.randn(batch, 3, resolution, resolution, generator=torch.Generator().manual_seed(seed))


def _first_samples(network: nn.Module, images: torch.Tensor) -> list[torch.Tensor]:
    """``output[0]`` of every module call of one forward, as the anchor's hook takes it."""
    maps: list[torch.Tensor] = []

    def hook(module, inputs, output):
        if isinstance(output, torch.Tensor) and output.dim() >= 2:
            maps.append(output[0].detach().clone())

    handles = [m.register_forward_hook(hook) for _, m in network.named_modules()]
    try:
        with torch.no_grad():
            network(images)
    finally:
        for h in handles:
            h.remove()
    return maps


def literal_meco(network: nn.Module, images: torch.Tensor) -> float:
    """The definition, written plainly: per module output, numpy's corrcoef of the C x (H·W) map,
    NaN/inf entries set to 0, the smallest real part of its eigenvalues (general eig, as the
    anchor's torch.linalg.eig); the sum over modules."""
    total = 0.0
    for fea in _first_samples(network, images):
        x = fea.numpy().astype(np.float64).reshape(fea.shape[0], -1)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            corr = np.atleast_2d(np.corrcoef(x))
        for i in range(corr.shape[0]):
            for j in range(corr.shape[1]):
                if not np.isfinite(corr[i, j]):
                    corr[i, j] = 0.0
        term = float(np.min(np.real(np.linalg.eigvals(corr))))
        if np.isfinite(term):
            total += term
    return total


def anchor_float32(network: nn.Module, images: torch.Tensor) -> float:
    """The anchor's own arithmetic: float32 torch.corrcoef, zeroing, torch.linalg.eig, float32 sum."""
    results = []
    for fea in _first_samples(network, images):
        fea = fea.reshape(fea.shape[0], -1)
        corr = torch.corrcoef(fea) if fea.shape[1] > 1 else torch.full((fea.shape[0],) * 2, float("nan"))
        corr[torch.isnan(corr)] = 0
        corr[torch.isinf(corr)] = 0
        results.append(torch.min(torch.real(torch.linalg.eig(corr)[0])))
    values = torch.stack(results)
    return float(values[torch.isfinite(values)].sum())


@settings(max_examples=4, deadline=None)
@given(archs, st.sampled_from([(10, 32), (120, 16)]), st.integers(0, 2**31))
def test_the_proxy_is_the_literal_definition(arch, classes_resolution, seed):
    num_classes, resolution = classes_resolution
    net = _network(arch, num_classes, seed)
    images = _image(resolution, seed)
    value = meco(net, images)
    assert value == pytest.approx(literal_meco(net, images), rel=1e-10, abs=1e-9)
    # the anchor's float32 arithmetic: its singular maps' eigenvalues are float32 rounding
    # (about -1e-6 each at 16x16) instead of ~0
    assert value == pytest.approx(anchor_float32(net, images), rel=1e-5, abs=5e-4)


def test_with_a_batch_each_term_reads_the_first_sample():
    net = _network(ARCH, 10, 3)
    images = _image(32, 4, batch=3)
    assert meco(net, images) == pytest.approx(literal_meco(net, images), rel=1e-10, abs=1e-9)


class _AnchorTree(nn.Module):
    """The module tree of the anchor's NAS-Bench-201 model (zero-cost-nas ``NAS201Model``,
    ``correlation/foresight/models/nasbench2.py``), re-stated around a tfnas network's own modules:
    a ``stem`` wrapper around the stem Sequential, the cells of each stage in a ``stack_cell``
    Sequential, the residual blocks as they are, a ``top`` (lastact, global pooling, flatten) and
    the classifier, returning the logits alone."""

    class _Wrap(nn.Module):
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.net = inner

        def forward(self, x):
            return self.net(x)

    class _Top(nn.Module):
        def __init__(self, lastact: nn.Module, pool: nn.Module) -> None:
            super().__init__()
            self.lastact, self.global_pooling = lastact, pool

        def forward(self, x):
            return self.global_pooling(self.lastact(x)).flatten(1)

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        cells = list(net.cells)
        self.stem = self._Wrap(net.stem)
        self.stack_cell1 = nn.Sequential(*cells[0:5])
        self.reduction1 = cells[5]
        self.stack_cell2 = nn.Sequential(*cells[6:11])
        self.reduction2 = cells[11]
        self.stack_cell3 = nn.Sequential(*cells[12:17])
        self.top = self._Top(net.lastact, net.global_pooling)
        self.classifier = net.classifier

    def forward(self, x):
        x = self.reduction1(self.stack_cell1(self.stem(x)))
        x = self.reduction2(self.stack_cell2(x))
        return self.classifier(self.top(self.stack_cell3(x)))


def _anchor_cells(net: nn.Module, generator: torch.Generator) -> None:
    """The anchor's cell edges, in place: convolutions with a bias (PyTorch's default range),
    BatchNorms without affine parameters or running statistics."""
    from tfnas.network import InferCell, ReLUConvBN

    for cell in net.cells:
        if not isinstance(cell, InferCell):
            continue
        for edge in cell.modules():
            if isinstance(edge, ReLUConvBN):
                conv, bn = edge.op[1], edge.op[2]
                bound = 1 / math.sqrt(conv.weight[0].numel())
                conv.bias = nn.Parameter(
                    (torch.rand(conv.out_channels, generator=generator) * 2 - 1) * bound)
                edge.op[2] = nn.BatchNorm2d(bn.num_features, affine=False,
                                            track_running_stats=False)


@settings(max_examples=3, deadline=None)
@given(archs, st.integers(0, 2**31))
def test_the_anchors_model_adds_four_duplicate_terms_and_its_cells_change_nothing(arch, seed):
    """What the variant says of the anchor's own NAS-Bench-201 model: its conv biases and
    affine-free BatchNorms leave every term as it was (at init, in train mode), and its module tree
    counts the stem's output and the last cell of each stage once more than tfnas's does."""
    net = _network(arch, 10, seed)
    images = _image(32, seed)
    value = meco(net, images)
    # the outputs the anchor's tree counts once more: the stem's and each stage's last cell's
    twice = [net.stem, net.cells[4], net.cells[10], net.cells[16]]
    again: list[torch.Tensor] = []

    def keep(module, inputs, output):
        again.append(output[0].clone())

    handles = [m.register_forward_hook(keep) for m in twice]
    with torch.no_grad():
        net(images)
    for h in handles:
        h.remove()
    assert len(again) == 4
    duplicates = sum(min_eig_corr(f) for f in again)
    anchor = copy.deepcopy(net)
    _anchor_cells(anchor, torch.Generator().manual_seed(seed))
    tree = _AnchorTree(anchor).train()
    assert literal_meco(tree, images) == pytest.approx(value + duplicates, rel=1e-5, abs=1e-4)


_maps = st.tuples(st.integers(1, 12), st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**31))


@settings(max_examples=60, deadline=None)
@given(_maps, st.floats(-3.0, 3.0))
def test_a_term_is_invariant_to_positive_per_channel_scaling_and_shift(shape, spread):
    c, h, w, seed = shape
    g = torch.Generator().manual_seed(seed)
    fea = torch.randn(c, h, w, generator=g, dtype=torch.float64)
    scale = torch.exp(spread * torch.randn(c, 1, 1, generator=g, dtype=torch.float64))
    shift = torch.randn(c, 1, 1, generator=g, dtype=torch.float64)
    assert min_eig_corr(fea * scale + shift) == pytest.approx(min_eig_corr(fea), abs=1e-9)


@settings(max_examples=80, deadline=None)
@given(_maps, st.integers(0, 12))
def test_a_term_lies_in_0_1(shape, constant):
    c, h, w, seed = shape
    fea = torch.randn(c, h, w, generator=torch.Generator().manual_seed(seed))
    fea[: min(constant, c)] = 0.0  # dead (constant) channels: NaN rows, zeroed
    term = min_eig_corr(fea)
    assert -1e-12 <= term <= 1 + 1e-12
    if constant or h * w == 1:
        assert abs(term) <= 1e-12  # a zeroed row makes the matrix singular


def test_one_position_or_one_channel():
    assert min_eig_corr(torch.randn(7, 1, 1)) == 0.0  # corrcoef all NaN, zeroed
    assert min_eig_corr(torch.randn(5)) == 0.0  # a (K,) output: K x 1
    assert min_eig_corr(torch.randn(1, 4, 4)) == pytest.approx(1.0)  # [[1]]


@settings(max_examples=3, deadline=None)
@given(archs)
def test_network_terms_lie_in_0_1_and_the_network_is_untouched(arch):
    net = _network(arch, 10, 0)
    net.eval()  # a caller's mode is restored; the proxy scores in train mode
    before = {k: v.clone() for k, v in net.state_dict().items()}
    rng = torch.get_rng_state()
    terms = meco_terms(net, _image(32, 1))
    assert terms and all(-1e-9 <= t <= 1 + 1e-9 for t in terms)
    assert torch.equal(torch.get_rng_state(), rng)  # no global random numbers
    assert not net.training and all(not m.training for m in net.modules())
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert meco(net, _image(32, 1)) == pytest.approx(sum(terms), rel=1e-12, abs=1e-12)


def test_the_all_none_cell_scores_only_its_stem_and_reductions():
    """A cell of ``none`` edges outputs x·0: every term after its first cell is over constant
    maps (0), except the residual blocks' shortcut, which sees a zero input too: all zeros."""
    arch = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    net = _network(arch, 10, 0)
    terms = meco_terms(net, _image(32, 0))
    stem_terms = terms[:3]  # stem conv, stem BN, the stem Sequential (= BN output)
    assert all(t > 0 for t in stem_terms)
    assert all(abs(t) <= 1e-12 for t in terms[3:])
    assert meco(net, _image(32, 0)) == pytest.approx(sum(stem_terms))


def test_registration():
    spec = get_proxy("meco")
    assert spec.needs == Needs(data=True)
    assert spec.batch_size == MECO_BATCH == 1 and spec.table and spec.structure is None
    assert "HamsterMimi/MeCo" in spec.reference and "NAS_Bench_201.py" in spec.reference
    assert spec.variant and spec.help.startswith("Sum over every module")


def test_the_same_seed_gives_the_same_bits_and_another_seed_another_image():
    a = score(ARCH, "meco", "cifar10", seed=0)
    assert a == score(ARCH, "meco", "cifar10", seed=0)
    assert a != score(ARCH, "meco", "cifar10", seed=1)


def test_cli_scores_meco(capsys):
    assert main(["score", "--proxy", "meco", "--dataset", "cifar10", "--arch", ARCH, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["score"] == score(ARCH, "meco", "cifar10")
    assert 0 < out["score"] < 1000


def test_bad_inputs_are_refused_in_one_line():
    from tfnas.checks import ArgumentError, ArgumentTypeError

    net = _network(ARCH, 10, 0)
    with pytest.raises(ArgumentTypeError):
        meco("not a network", _image(32, 0))  # type: ignore[arg-type]
    with pytest.raises(ArgumentError):
        meco(net, torch.zeros(3, 32, 32))
    with pytest.raises(ArgumentError):
        meco(net, torch.zeros(1, 3, 32, 32, dtype=torch.int64))
