"""TE-NAS (Chen et al., ICLR 2021) as AZ-NAS's NB201 port computes it: the NTK condition number
(te_nas_ntk), the number of linear regions (te_nas_regions) and their rank sum (te_nas), checked
against the port's code re-stated literally (``.backward`` per sample into ``.grad``, numpy's
``eigh``; ReLU hooks, ``sign`` and the reciprocal-multiplicity count; the notebook's rank sum), on
the properties the definitions imply, determinism, the CLI and bad input.

The NTK costs one full backward pass per sample (train-mode BatchNorm couples the batch), so the
tests run at 8x8 on batches of 4 to 6; the registered batch (64) is the benchmark's business."""

from __future__ import annotations

import copy
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.stats
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import archs
from torch import nn

from tfnas.checks import ArgumentError, ArgumentTypeError
from tfnas.cli import main
from tfnas.network import build_network
from tfnas.proxies import get_proxy
from tfnas.proxies.draws import randn
from tfnas.proxies.registry import Needs
from tfnas.proxies.te_nas import (
    COMPONENTS,
    NAN_CONDITION,
    TE_NAS_BATCH,
    activation_patterns,
    condition_number,
    count_distinct,
    linear_regions,
    ntk_condition,
    per_sample_gradients,
    te_nas,
    te_nas_ntk,
    te_nas_regions,
)
from tfnas.scoring import score
from tfnas.space import Arch

CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|skip_connect~2|"
NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
RES = 8  # the NTK's tests run small: N backward passes of the whole batch
BATCH = 5


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread):
    """One torch thread: on the shared 2-core machine two threads spin against each other."""


def net_for(arch, seed: int = 0, num_classes: int = 10) -> nn.Module:
    return build_network(arch, num_classes, torch.Generator().manual_seed(seed)).train()


def images(seed: int, batch: int = BATCH, res: int = RES) -> torch.Tensor:
    return torch.randn(batch, 3, res, res, generator=torch.Generator().manual_seed(seed))


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# -- the anchor, re-stated -----------------------------------------------------------------------

def anchor_gradients(network: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """``get_ntk_n``'s loop (AZ-NAS NB201/ZeroShotProxy/compute_te_nas_score.py): train mode, one
    forward, per sample ``logit[i:i+1].backward(ones, retain_graph=True)``, the ``.grad`` of every
    parameter named ``*weight*`` that has one, concatenated; ``zero_grad`` between samples."""
    network.train()
    network.zero_grad()
    logit = network(inputs.clone())
    if isinstance(logit, tuple):
        logit = logit[1]  # 201 networks: return features and logits
    grads = []
    for _idx in range(len(inputs)):
        logit[_idx:_idx + 1].backward(torch.ones_like(logit[_idx:_idx + 1]), retain_graph=True)
        grad = []
        for name, W in network.named_parameters():
            if "weight" in name and W.grad is not None:
                grad.append(W.grad.view(-1).detach().clone())
        grads.append(torch.cat(grad, -1))
        network.zero_grad()
    return torch.stack(grads, 0)


def anchor_ntk_score(network: nn.Module, inputs: torch.Tensor) -> float:
    """``compute_NTK_score``: ``-nan_to_num(λ_max/λ_min, nan=1e5)`` of ``einsum('nc,mc->nm')``, here
    with numpy's float64 ``eigh`` (ascending, as ``symeig`` and ``linalg.eigh``)."""
    grads = anchor_gradients(copy.deepcopy(network), inputs).numpy().astype(np.float64)
    ntk = np.einsum("nc,mc->nm", grads, grads)
    eigenvalues, _ = np.linalg.eigh(ntk)
    with np.errstate(divide="ignore", invalid="ignore"):
        cond = np.nan_to_num(eigenvalues[-1] / eigenvalues[0], copy=True, nan=100000.0)
    return -1 * float(cond)


def anchor_ntk_score_float32(network: nn.Module, inputs: torch.Tensor) -> float:
    """The anchor's own arithmetic: float32 ``einsum`` and float32 ``torch.linalg.eigh``."""
    grads = anchor_gradients(copy.deepcopy(network), inputs)
    ntk = torch.einsum("nc,mc->nm", [grads, grads])
    eigenvalues, _ = torch.linalg.eigh(ntk)
    return -float(np.nan_to_num((eigenvalues[-1] / eigenvalues[0]).item(), copy=True, nan=100000.0))


def anchor_regions(network: nn.Module, inputs: torch.Tensor) -> float:
    """``Linear_Region_Collector`` with one batch: hooks on every ``nn.ReLU`` keep the output when
    the input is 4-D; ``sign`` of the concatenated outputs; ``calc_LR``'s count (float32 here where
    the anchor uses float16 on a GPU: counts are exact in both up to their overflow, and only
    their sign is read)."""
    features: list[torch.Tensor] = []

    def hook_in_forward(module, input, output):
        if isinstance(input, tuple) and len(input[0].size()) == 4:
            features.append(output.detach().clone())

    net = copy.deepcopy(network)
    handles = [m.register_forward_hook(hook_in_forward) for m in net.modules() if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        net.train()
        net.forward(inputs)
    for h in handles:
        h.remove()
    activations = torch.sign(torch.cat([f.view(inputs.size(0), -1) for f in features], 1))
    res = torch.matmul(activations, (1 - activations).T)
    res += res.clone().T
    res = 1 - torch.sign(res)
    res = res.sum(1)
    res = 1.0 / res.float()
    return res.sum().item()


def notebook_te_nas(results: dict[str, list[float]]) -> np.ndarray:
    """tss_general.ipynb's te_nas branch: the sum over the result keys of ``stats.rankdata``."""
    rank_agg = None
    for k in results.keys():
        if rank_agg is None:
            rank_agg = scipy.stats.rankdata(results[k])
        else:
            rank_agg = rank_agg + scipy.stats.rankdata(results[k])
    return rank_agg


# -- NTK ------------------------------------------------------------------------------------------

@settings(max_examples=4, deadline=None)
@given(archs, st.integers(0, 2**31))
def test_te_nas_ntk_is_the_anchors_loop(arch, seed):
    net = net_for(arch, seed)
    x = images(seed)
    ours = te_nas_ntk(net, x)
    assert ours == pytest.approx(anchor_ntk_score(net, x), rel=1e-8)
    if -1e4 < ours < 0:  # moderate kappa: the anchor's float32 eigh keeps ~7 - log10(kappa) digits
        assert ours == pytest.approx(anchor_ntk_score_float32(net, x), rel=1e-2)


def test_the_per_sample_gradients_are_the_anchors_rows_and_the_network_is_untouched():
    net = net_for(CELL, 3)
    net.eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    rng = torch.get_rng_state()
    rows = per_sample_gradients(net, images(4))
    assert torch.equal(torch.get_rng_state(), rng)
    assert not net.training and all(not m.training for m in net.modules())
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert all(p.grad is None for p in net.parameters())
    expected = anchor_gradients(copy.deepcopy(net), images(4))
    # every weight reaches the logits in this cell: the same columns, the same numbers
    assert rows.shape == expected.shape
    assert torch.allclose(rows, expected, rtol=1e-5, atol=1e-7)


def test_eigvalsh_is_what_symeig_returned():
    """``torch.symeig`` (removed) returned the ascending eigenvalues of a symmetric matrix; so do
    ``torch.linalg.eigvalsh`` and ``numpy.linalg.eigh``: checked on Gram matrices, and against
    ``symeig`` itself where the installed torch still runs it."""
    g = torch.Generator().manual_seed(0)
    for n, p in ((1, 3), (4, 50), (16, 8), (9, 9)):
        j = torch.randn(n, p, generator=g, dtype=torch.float64)
        gram = j @ j.T
        ours = torch.linalg.eigvalsh(gram)
        theirs = np.linalg.eigh(gram.numpy())[0]
        assert np.allclose(ours.numpy(), theirs, rtol=1e-10, atol=1e-10 * float(theirs[-1]))
        assert bool((ours[1:] >= ours[:-1]).all())
        try:
            old = torch.symeig(gram)[0]  # type: ignore[attr-defined]
        except (AttributeError, RuntimeError):
            continue  # removed in this torch: numpy's eigh stands in for it
        assert torch.allclose(old, ours)


def test_the_condition_number_rule():
    assert condition_number(torch.diag(torch.tensor([2.0, 5.0, 10.0]))) == pytest.approx(5.0)
    assert condition_number(torch.zeros(3, 3)) == NAN_CONDITION  # 0/0: nan -> 1e5
    assert condition_number(torch.diag(torch.tensor([0.0, 1.0]))) == np.finfo(np.float64).max
    assert condition_number(torch.ones(1, 1)) == 1.0
    # a negative smallest eigenvalue (rounding of a singular G in the anchor) gives kappa < 0
    assert condition_number(torch.diag(torch.tensor([-1e-9, 1.0]))) == pytest.approx(-1e9)


def test_the_ntk_is_invariant_to_the_order_of_the_batch():
    net = net_for(CELL, 1)
    x = images(2)
    perm = torch.tensor([3, 0, 4, 1, 2])
    assert ntk_condition(net, x[perm]) == pytest.approx(ntk_condition(net, x), rel=1e-6)


def test_a_none_cell_has_a_zero_ntk_and_one_region():
    net = net_for(NONE)
    assert torch.count_nonzero(per_sample_gradients(net, images(0))) == 0
    assert te_nas_ntk(net, images(0)) == -NAN_CONDITION
    assert te_nas_regions(net, RES, generator=gen(0), batch_size=BATCH) == 1.0


def test_a_network_that_returns_logits_and_frozen_weights():
    """A general model's output is the logits; a weight that does not require grad is left out
    (the anchor never gets a ``.grad`` for it)."""
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 6 * 6, 3))
    torch.nn.init.normal_(model[4].weight, generator=gen(1))
    x = images(5)
    assert te_nas_ntk(model, x) == pytest.approx(anchor_ntk_score(model, x), rel=1e-8)
    model[0].weight.requires_grad_(False)
    assert per_sample_gradients(model, x).shape[1] == 4 + 3 * 4 * 6 * 6  # BN gamma + linear
    assert te_nas_ntk(model, x) == pytest.approx(anchor_ntk_score(model, x), rel=1e-8)


def test_on_xautodls_network_the_ntk_and_regions_are_the_same():
    from xautodl.models import get_cell_based_tiny_net
    from xautodl.models.cell_searchs.genotypes import Structure

    net = net_for(CELL, 5)
    theirs = get_cell_based_tiny_net(SimpleNamespace(
        name="infer.tiny", C=16, N=5, genotype=Structure.str2structure(CELL), num_classes=10))
    theirs.load_state_dict(net.state_dict())
    theirs.train()
    x = images(6)
    assert te_nas_ntk(theirs, x) == pytest.approx(te_nas_ntk(net, x), rel=1e-6)
    assert (te_nas_regions(theirs, RES, generator=gen(7), batch_size=BATCH)
            == te_nas_regions(net, RES, generator=gen(7), batch_size=BATCH))


# -- linear regions -------------------------------------------------------------------------------

@settings(max_examples=5, deadline=None)
@given(archs, st.integers(0, 2**31), st.sampled_from([(8, 6), (16, 16)]))
def test_te_nas_regions_is_the_anchors_count(arch, seed, res_batch):
    res, batch = res_batch
    net = net_for(arch, seed)
    ours = te_nas_regions(net, res, generator=gen(seed), batch_size=batch)
    x = randn((batch, 3, res, res), gen(seed))  # the same draw: float32 from the generator
    assert ours == pytest.approx(anchor_regions(net, x), abs=1e-4)
    assert ours == int(ours) and 1 <= ours <= batch


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.integers(0, 20), st.integers(0, 2**31))
def test_count_distinct_counts_distinct_rows(rows, width, seed):
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, size=(rows, width)).astype(bool)
    bits = bits[rng.integers(0, rows, size=rows)]  # repeats
    packed = np.packbits(bits, axis=1) if width else np.zeros((rows, 0), dtype=np.uint8)
    assert count_distinct(packed) == len({tuple(r) for r in bits.tolist()})


def test_patterns_are_every_relu_output_and_permute_with_the_batch():
    net = net_for(CELL, 2)
    x = images(8, batch=6)
    patterns = activation_patterns(net, x)
    relus = sum(1 for m in net.modules() if isinstance(m, nn.ReLU))
    assert relus > 0 and patterns.shape[0] == 6
    perm = [5, 2, 0, 1, 4, 3]
    assert np.array_equal(activation_patterns(net, x[perm]), patterns[perm])
    # duplicated inputs give duplicated patterns: half as many regions
    assert count_distinct(activation_patterns(net, torch.cat([x[:3], x[:3]]))) == 3


def test_a_network_without_relu_modules_has_one_region():
    model = nn.Sequential(nn.Conv2d(3, 2, 3), nn.Flatten(), nn.Linear(2 * 6 * 6, 3))
    assert te_nas_regions(model, RES, generator=gen(0), batch_size=4) == 1.0


def test_regions_draw_only_from_the_generator_and_leave_the_network_alone():
    net = net_for(CELL)
    net.eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    rng = torch.get_rng_state()
    g1, g2 = gen(11), gen(11)
    a = te_nas_regions(net, 16, generator=g1, batch_size=8)
    b = te_nas_regions(net, 16, generator=g2, batch_size=8)
    assert a == b == 8.0
    assert torch.equal(g1.get_state(), g2.get_state())
    assert torch.equal(torch.get_rng_state(), rng)
    assert not net.training and all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert linear_regions(net, (16, 16), generator=gen(11), batch_size=8) == 8


# -- the rank sum ---------------------------------------------------------------------------------

populations = st.integers(1, 12).flatmap(lambda n: st.fixed_dictionaries({
    m: st.lists(st.sampled_from([-1e5, -3.5, -2.0, -2.0, 1.0, 8.0, 64.0]), min_size=n, max_size=n)
    for m in COMPONENTS}))


@settings(max_examples=60, deadline=None)
@given(populations)
def test_te_nas_is_the_notebooks_rank_sum(population):
    ours = te_nas({k: np.array(v) for k, v in population.items()})
    results = {"ntk": population["te_nas_ntk"], "linear_region": population["te_nas_regions"]}
    assert np.array_equal(ours, notebook_te_nas(results))


@settings(max_examples=40, deadline=None)
@given(populations, st.data())
def test_te_nas_permutes_with_the_population(population, data):
    n = len(population["te_nas_ntk"])
    perm = np.array(data.draw(st.permutations(range(n))))
    scores = {k: np.array(v) for k, v in population.items()}
    permuted = {k: v[perm] for k, v in scores.items()}
    assert np.array_equal(te_nas(permuted), te_nas(scores)[perm])


def test_te_nas_counts_nan_as_minus_inf_and_checks_its_input():
    base = {"te_nas_ntk": np.array([-3.0, np.nan, -5.0]), "te_nas_regions": np.array([64.0, 1.0, 64.0])}
    with_inf = dict(base, te_nas_ntk=np.array([-3.0, -np.inf, -5.0]))
    assert np.array_equal(te_nas(base), te_nas(with_inf))
    assert te_nas(base).tolist() == [3.0 + 2.5, 1.0 + 1.0, 2.0 + 2.5]
    assert te_nas({k: np.zeros(0) for k in COMPONENTS}).shape == (0,)
    with pytest.raises(ArgumentError):
        te_nas({"te_nas_ntk": np.ones(3)})
    with pytest.raises(ArgumentError):
        te_nas(dict(base, te_nas_regions=np.ones(4)))


# -- registration, scoring rule, CLI, errors ------------------------------------------------------

def test_registration():
    ntk, regions, combined = (get_proxy(n) for n in ("te_nas_ntk", "te_nas_regions", "te_nas"))
    assert ntk.needs == Needs(data=True) and ntk.batch_size == TE_NAS_BATCH == 64
    assert ntk.max_batch_size is not None and ntk.max_batch_size >= TE_NAS_BATCH
    assert regions.needs == Needs(resolution=True, random=True) and regions.batch_size == 64
    assert regions.draws_batch and ntk.structure is None and regions.structure is None
    assert combined.ensemble and combined.members == COMPONENTS == ("te_nas_ntk", "te_nas_regions")
    for spec in (ntk, regions, combined):
        assert "AZ-NAS" in spec.reference and "compute_te_nas_score.py" in spec.reference
        assert spec.variant and spec.help


def test_the_same_seed_gives_the_same_bits_and_another_seed_another_draw():
    a = score(CELL, "te_nas_ntk", "ImageNet16-120", seed=0, batch_size=4)
    assert a == score(CELL, "te_nas_ntk", "ImageNet16-120", seed=0, batch_size=4)
    assert a != score(CELL, "te_nas_ntk", "ImageNet16-120", seed=1, batch_size=4)
    assert a < 0
    r = score(CELL, "te_nas_regions", "ImageNet16-120", seed=0)
    assert r == score(CELL, "te_nas_regions", "ImageNet16-120", seed=0) == 64.0


def test_cli_scores_the_components_and_the_rank_sum(capsys):
    args = ["score", "--dataset", "ImageNet16-120", "--batch-size", "4", "--json"]
    assert main([*args, "--proxy", "te_nas_ntk", "--arch", CELL]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["score"] == score(CELL, "te_nas_ntk", "ImageNet16-120", batch_size=4)
    assert main([*args, "--proxy", "te_nas", "--arch", CELL, "--arch", NONE]) == 0
    cells = json.loads(capsys.readouterr().out)["cells"]
    assert [c["members"]["te_nas_ntk"] for c in cells][1] == -NAN_CONDITION
    assert [c["score"] for c in cells] == [4.0, 2.0]  # the none cell ranks last on both


def test_bad_inputs_are_refused_in_one_line():
    net = net_for(CELL)
    with pytest.raises(ArgumentTypeError):
        te_nas_ntk("not a network", images(0))  # type: ignore[arg-type]
    with pytest.raises(ArgumentError):
        te_nas_ntk(net, torch.zeros(3, RES, RES))
    with pytest.raises(ArgumentError):
        te_nas_ntk(net, torch.zeros(2, 3, RES, RES, dtype=torch.int64))
    with pytest.raises(ArgumentTypeError):
        te_nas_regions(net, RES, generator=0)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError):
        te_nas_regions(net, 0, generator=gen(0))
    with pytest.raises(ArgumentError):
        te_nas_regions(net, RES, generator=gen(0), batch_size=0)
    with pytest.raises(ArgumentError):
        score(CELL, "te_nas_ntk", "ImageNet16-120", batch_size=get_proxy("te_nas_ntk").max_batch_size + 1)


def test_math_of_the_anchor_float32_agrees_on_a_well_conditioned_cell():
    net = net_for(Arch.parse(CELL), 9)
    x = images(10)
    kappa = -te_nas_ntk(net, x)
    assert math.isfinite(kappa) and kappa >= 1
    assert -kappa == pytest.approx(anchor_ntk_score_float32(net, x), rel=1e-3)
