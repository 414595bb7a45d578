"""l2_norm, zen and the AZ-NAS components: the fast paths equal literal re-statements of the
anchors' code (written here, loop by loop), plus the properties the definitions imply."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import scipy.stats
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import archs, seeds
from torch import nn
from xautodl.models import get_cell_based_tiny_net
from xautodl.models.cell_searchs.genotypes import Structure

from tfnas.network import build_network
from tfnas.proxies import az_nas as az
from tfnas.proxies import get_proxy
from tfnas.proxies.counts import flops
from tfnas.proxies.l2_norm import l2_norm
from tfnas.proxies.zen import _sum_logs, zen
from tfnas.space import Arch

CELL = Arch.parse(
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|nor_conv_1x1~1|skip_connect~2|"
)
IDENTITY = Arch.parse("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")  # node 3 = node 0
RES = 16  # ImageNet16-120's resolution: the fast tests' input size
BATCH = 4


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread):
    """One torch thread: on the shared 2-core machine two threads spin against each other."""


def net_for(arch: Arch, num_classes: int = 10, seed: int = 0) -> nn.Module:
    return build_network(arch, num_classes, torch.Generator().manual_seed(seed))


def xautodl_net(arch: Arch, num_classes: int = 10) -> nn.Module:
    """xautodl's own TinyNetwork for the cell (the network the anchors' NB201 code runs)."""
    config = {"name": "infer.tiny", "C": 16, "N": 5, "genotype": Structure.str2structure(str(arch)),
              "num_classes": num_classes}
    from types import SimpleNamespace

    return get_cell_based_tiny_net(SimpleNamespace(**config)).train()


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def same(a: float, b: float, rel: float = 0.0) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return a == b if rel == 0.0 else math.isclose(a, b, rel_tol=rel, abs_tol=rel)


def snapshot(net: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in net.state_dict().items()}


def unchanged(net: nn.Module, before: dict[str, torch.Tensor]) -> bool:
    after = net.state_dict()
    return after.keys() == before.keys() and all(torch.equal(after[k], before[k]) for k in before)


# --- l2_norm --------------------------------------------------------------------------------


def l2_norm_reference(net: nn.Module) -> float:
    """NASLib: get_layer_metric_array(net, lambda l: l.weight.norm(), mode='param'), then
    find_measures' sum_arr (a float32 torch sum, layer by layer)."""
    metric_array = []
    for layer in net.modules():
        if isinstance(layer, nn.Conv2d) or isinstance(layer, nn.Linear):
            metric_array.append(layer.weight.norm())
    total = 0.0
    for i in range(len(metric_array)):
        total += torch.sum(metric_array[i])
    return total.item()


@settings(max_examples=10, deadline=None)
@given(arch=archs, seed=seeds)
def test_l2_norm_is_naslibs_and_a_direct_norm(arch: Arch, seed: int) -> None:
    net = net_for(arch, seed=seed)
    before = snapshot(net)
    direct = math.fsum(
        math.sqrt(float(np.sum(m.weight.detach().double().numpy() ** 2)))
        for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    assert math.isclose(l2_norm(net), direct, rel_tol=1e-6)  # float32 norms (NASLib's)
    assert math.isclose(l2_norm(net), l2_norm_reference(net), rel_tol=1e-6)  # float32 sum there
    assert unchanged(net, before)


@settings(max_examples=10, deadline=None)
@given(arch=archs, scale=st.floats(-8, 8).filter(lambda c: abs(c) > 1e-3))
def test_l2_norm_scaling_one_layer_scales_its_term(arch: Arch, scale: float) -> None:
    net = net_for(arch)
    layer = net.classifier
    term = layer.weight.detach().double().norm().item()
    total = l2_norm(net)
    with torch.no_grad():
        layer.weight.mul_(scale)
    assert math.isclose(l2_norm(net), total - term + abs(scale) * term, rel_tol=1e-6)


def test_l2_norm_ignores_biases_and_batchnorm() -> None:
    net = net_for(CELL)
    total = l2_norm(net)
    with torch.no_grad():
        net.classifier.bias.mul_(100.0)
        net.stem[1].weight.mul_(100.0)
    assert l2_norm(net) == total
    assert get_proxy("l2_norm")(net) == total
    assert l2_norm(nn.Sequential(nn.ReLU())) == 0.0
    with pytest.raises(TypeError, match="torch.nn.Module"):
        l2_norm("net")


# --- zen ------------------------------------------------------------------------------------


def zen_reference(model: nn.Module, resolution: int, batch_size: int,
                  generator: torch.Generator) -> float:
    """ZenNAS compute_zen_score.py, repeat=1, on a deep copy with fresh BN statistics; the global
    RNG replaced by ``generator`` (same draw order: weights, input, input2)."""
    model = copy.deepcopy(model)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
    model.train()
    mixup_gamma = 1e-2
    with torch.no_grad():
        for m in model.modules():  # network_weight_gaussian_init
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, generator=generator)
                if hasattr(m, "bias") and m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, generator=generator)
                if hasattr(m, "bias") and m.bias is not None:
                    nn.init.zeros_(m.bias)
        input = torch.randn(size=[batch_size, 3, resolution, resolution], generator=generator)  # noqa: A001
        input2 = torch.randn(size=[batch_size, 3, resolution, resolution], generator=generator)
        mixup_input = input + mixup_gamma * input2

        def forward_pre_gap(inputs: torch.Tensor) -> torch.Tensor:  # AZ-NAS custom/tss_model.py
            feature = model.stem(inputs)
            for cell in model.cells:
                feature = cell(feature)
            return model.lastact(feature)

        output = forward_pre_gap(input)
        mixup_output = forward_pre_gap(mixup_input)
        nas_score = torch.sum(torch.abs(output - mixup_output), dim=[1, 2, 3])
        nas_score = torch.mean(nas_score)
        log_bn_scaling_factor = 0.0
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                bn_scaling_factor = torch.sqrt(torch.mean(m.running_var))
                log_bn_scaling_factor += torch.log(bn_scaling_factor)
        nas_score = torch.log(nas_score) + log_bn_scaling_factor
    return float(nas_score)


ZEN_REL = 1e-5  # the reference sums its logs in float32; tfnas in float64


@settings(max_examples=5, deadline=None)
@given(arch=archs, seed=seeds)
def test_zen_equals_zennas_recipe(arch: Arch, seed: int) -> None:
    net = net_for(arch, seed=seed)
    ours = zen(net, RES, generator=gen(seed), batch_size=BATCH)
    assert same(ours, zen_reference(net, RES, BATCH, gen(seed)), ZEN_REL)


def test_zen_on_xautodls_network_is_the_same() -> None:
    # the weights are re-drawn: only the structure (and modules() order) matters
    ours = zen(net_for(CELL), RES, generator=gen(3), batch_size=BATCH)
    theirs = zen_reference(xautodl_net(CELL), RES, BATCH, gen(3))
    assert same(ours, theirs, ZEN_REL)


def test_zen_is_deterministic_and_leaves_the_network_alone() -> None:
    net = net_for(CELL)
    net.eval()
    before = snapshot(net)
    g1, g2 = gen(11), gen(11)
    a = zen(net, RES, generator=g1, batch_size=BATCH)
    b = zen(net, RES, generator=g2, batch_size=BATCH)
    assert a == b and math.isfinite(a)
    assert torch.equal(g1.get_state(), g2.get_state())
    assert unchanged(net, before) and not net.training
    assert zen(net, RES, generator=gen(12), batch_size=BATCH) != a


def test_zen_through_the_registry() -> None:
    proxy = get_proxy("zen")
    assert proxy.needs.resolution and proxy.needs.random and proxy.batch_size == 16
    net = net_for(CELL)
    assert proxy(net, resolution=RES, generator=gen(5)) == zen(net, RES, generator=gen(5))


def test_zen_non_finite_rule() -> None:
    assert _sum_logs([0.0, 2.0]) == -math.inf
    assert math.isnan(_sum_logs([math.nan, 2.0]))
    assert math.isnan(_sum_logs([0.0, math.inf]))
    assert _sum_logs([math.e, 1.0]) == 1.0


def test_zen_bad_input_is_one_line() -> None:
    net = net_for(CELL)
    with pytest.raises(TypeError, match="torch.Generator"):
        zen(net, RES, generator=0)
    with pytest.raises(ValueError, match="batch_size"):
        zen(net, RES, generator=gen(0), batch_size=0)
    with pytest.raises(ValueError, match="resolution"):
        zen(net, 0, generator=gen(0))


# --- AZ-NAS ---------------------------------------------------------------------------------


def az_reference(model: nn.Module, resolution: int, batch_size: int,
                 generator: torch.Generator) -> dict[str, float]:
    """AZ-NAS NB201/ZeroShotProxy/compute_az_nas_score.py (init 'kaiming_norm_fanin', random
    input), on a deep copy, every global-RNG draw taken from ``generator`` in the same order."""
    model = copy.deepcopy(model)
    model.train()

    def kaiming_normal_fanin_init(m: nn.Module) -> None:
        if isinstance(m, nn.Conv2d) or isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu", generator=generator)
            if hasattr(m, "bias") and m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            if m.affine:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    model.apply(kaiming_normal_fanin_init)
    input_ = torch.randn(size=[batch_size, 3, resolution, resolution], generator=generator)

    layer_features = []  # custom/tss_model.py extract_cell_features
    feature = model.stem(input_)
    if feature.requires_grad:
        feature.retain_grad()
    layer_features.append(feature)
    for cell in model.cells:
        feature = cell(feature)
        if feature.requires_grad:
            feature.retain_grad()
        layer_features.append(feature)

    expressivity_scores = []
    for i in range(len(layer_features)):
        feat = layer_features[i].detach().clone()
        b, c, h, w = feat.size()
        feat = feat.permute(0, 2, 3, 1).contiguous().view(b * h * w, c)
        m = feat.mean(dim=0, keepdim=True)
        feat = feat - m
        sigma = torch.mm(feat.transpose(1, 0), feat) / (feat.size(0))
        s = torch.linalg.eigvalsh(sigma)
        prob_s = s / s.sum()
        score = (-prob_s) * torch.log(prob_s + 1e-8)
        score = score.sum().item()
        expressivity_scores.append(score)
    expressivity_scores = np.array(expressivity_scores)
    with np.errstate(invalid="ignore"):
        progressivity = np.min(expressivity_scores[1:] - expressivity_scores[:-1])
    expressivity = np.sum(expressivity_scores)

    scores = []
    for i in reversed(range(1, len(layer_features))):
        f_out = layer_features[i]
        f_in = layer_features[i - 1]
        if f_out.grad is not None:
            f_out.grad.zero_()
        if f_in.grad is not None:
            f_in.grad.zero_()
        g_out = torch.ones_like(f_out) * 0.5
        g_out = (torch.bernoulli(g_out, generator=generator) - 0.5) * 2
        g_in = torch.autograd.grad(outputs=f_out, inputs=f_in, grad_outputs=g_out, retain_graph=False)[0]
        if g_out.size() == g_in.size() and torch.all(g_in == g_out):
            scores.append(-np.inf)
        else:
            if g_out.size(2) != g_in.size(2) or g_out.size(3) != g_in.size(3):
                bo, co, ho, wo = g_out.size()
                bi, ci, hi, wi = g_in.size()
                stride = int(hi / ho)
                pixel_unshuffle = nn.PixelUnshuffle(stride)
                g_in = pixel_unshuffle(g_in)
            bo, co, ho, wo = g_out.size()
            bi, ci, hi, wi = g_in.size()
            g_out = g_out.permute(0, 2, 3, 1).contiguous().view(bo * ho * wo, co)
            g_in = g_in.permute(0, 2, 3, 1).contiguous().view(bi * hi * wi, ci)
            mat = torch.mm(g_in.transpose(1, 0), g_out) / (bo * ho * wo)
            if mat.size(0) < mat.size(1):
                mat = mat.transpose(0, 1)
            s = torch.linalg.svdvals(mat)
            scores.append(-s.max().item() - 1 / (s.max().item() + 1e-6) + 2)
    with np.errstate(invalid="ignore"):
        trainability = np.mean(scores)
    return {
        "expressivity": float(expressivity) if not np.isnan(expressivity) else -np.inf,
        "progressivity": float(progressivity) if not np.isnan(progressivity) else -np.inf,
        "trainability": float(trainability) if not np.isnan(trainability) else -np.inf,
    }


def assert_az_equal(ours: az.AZComponents, ref: dict[str, float]) -> None:
    for name in ("expressivity", "progressivity", "trainability"):
        assert same(getattr(ours, name), ref[name], 1e-12), name


@settings(max_examples=5, deadline=None)
@given(arch=archs, seed=seeds)
def test_az_components_equal_the_anchor(arch: Arch, seed: int) -> None:
    az.clear_cache()
    net = net_for(arch, seed=seed)
    before = snapshot(net)
    ours = az.az_components(net, RES, generator=gen(seed), batch_size=BATCH)
    assert_az_equal(ours, az_reference(net, RES, BATCH, gen(seed)))
    assert unchanged(net, before)


def test_az_components_on_xautodls_network_are_the_same() -> None:
    az.clear_cache()
    ours = az.az_components(net_for(CELL), RES, generator=gen(2), batch_size=BATCH)
    assert_az_equal(ours, az_reference(xautodl_net(CELL), RES, BATCH, gen(2)))


def test_az_components_under_no_grad() -> None:
    az.clear_cache()
    net = net_for(CELL)
    with torch.no_grad():
        inside = az.az_components(net, RES, generator=gen(4), batch_size=BATCH)
    az.clear_cache()
    assert inside == az.az_components(net, RES, generator=gen(4), batch_size=BATCH)


def test_identity_block_makes_trainability_minus_inf() -> None:
    az.clear_cache()
    result = az.az_components(net_for(IDENTITY), RES, generator=gen(0), batch_size=BATCH)
    assert result.trainability == -math.inf
    assert -math.inf in result.blocks


def test_az_cache_shares_one_computation(monkeypatch: pytest.MonkeyPatch) -> None:
    az.clear_cache()
    calls = []
    compute = az._compute
    monkeypatch.setattr(az, "_compute", lambda *a: calls.append(1) or compute(*a))
    net = net_for(CELL)
    values, states = [], []
    for proxy in ("az_expressivity", "az_progressivity", "az_trainability"):
        g = gen(9)
        values.append(get_proxy(proxy)(net, resolution=RES, generator=g))
        states.append(g.get_state())
    assert len(calls) == 1
    fresh = gen(9)
    direct = compute(net, (64, 3, RES, RES), fresh)
    assert values == [direct.expressivity, direct.progressivity, direct.trainability]
    assert all(torch.equal(s, fresh.get_state()) for s in states)  # a hit leaves what a run leaves
    get_proxy("az_expressivity")(net, resolution=RES, generator=gen(10))  # other state: recompute
    get_proxy("az_expressivity")(net_for(CELL), resolution=RES, generator=gen(10))  # other object
    assert len(calls) == 3


def test_az_cache_does_not_outlive_its_network(monkeypatch: pytest.MonkeyPatch) -> None:
    az.clear_cache()
    calls = []
    compute = az._compute
    monkeypatch.setattr(az, "_compute", lambda *a: calls.append(1) or compute(*a))
    az.az_components(net_for(CELL), RES, generator=gen(1), batch_size=BATCH)
    az.az_components(net_for(CELL), RES, generator=gen(1), batch_size=BATCH)  # maybe the same id
    assert len(calls) == 2


def test_az_complexity_is_the_flops() -> None:
    net = net_for(CELL)
    assert get_proxy("az_complexity")(net, resolution=32) == flops(net, 32)


# --- az_nas aggregation ---------------------------------------------------------------------


def az_nas_reference(results: dict[str, list[float]], api_flops: list[float]) -> np.ndarray:
    """tss_general.ipynb: rank_agg = log(rankdata(flops)/l) + Σ_k log(rankdata(results[k])/l)."""
    rank_agg = None
    l = len(api_flops)  # noqa: E741
    rank_agg = np.log(scipy.stats.rankdata(api_flops) / l)
    for k in results.keys():
        if rank_agg is None:
            rank_agg = np.log(scipy.stats.rankdata(results[k]) / l)
        else:
            rank_agg = rank_agg + np.log(scipy.stats.rankdata(results[k]) / l)
    return rank_agg


VALUES = st.sampled_from([-np.inf, -1.0, 0.0, 0.5, 2.0, 3.25])  # few values: ties are common


def populations(min_size: int = 1, max_size: int = 12):
    return st.integers(min_size, max_size).flatmap(lambda n: st.fixed_dictionaries(
        {name: st.lists(VALUES, min_size=n, max_size=n) for name in az.COMPONENTS}))


@settings(max_examples=50, deadline=None)
@given(population=populations())
def test_az_nas_is_the_notebooks_aggregation(population: dict[str, list[float]]) -> None:
    results = {k: population[f"az_{k}"] for k in ("expressivity", "progressivity", "trainability")}
    expected = az_nas_reference(results, population["az_complexity"])
    assert np.array_equal(az.az_nas({k: np.array(v) for k, v in population.items()}), expected)


@settings(max_examples=50, deadline=None)
@given(population=populations(), data=st.data())
def test_az_nas_permutes_with_the_population(population: dict[str, list[float]], data) -> None:
    n = len(population["az_complexity"])
    perm = np.array(data.draw(st.permutations(range(n))), dtype=int)
    scores = {k: np.array(v) for k, v in population.items()}
    permuted = {k: v[perm] for k, v in scores.items()}
    assert np.array_equal(az.az_nas(permuted), az.az_nas(scores)[perm])


def test_az_nas_counts_nan_as_minus_inf_and_checks_its_input() -> None:
    base = {k: np.array([1.0, 2.0, 3.0]) for k in az.COMPONENTS}
    with_nan = dict(base, az_trainability=np.array([np.nan, 2.0, 3.0]))
    with_inf = dict(base, az_trainability=np.array([-np.inf, 2.0, 3.0]))
    assert np.array_equal(az.az_nas(with_nan), az.az_nas(with_inf))
    assert az.az_nas({k: np.zeros(0) for k in az.COMPONENTS}).shape == (0,)
    with pytest.raises(ValueError, match="az_complexity"):
        az.az_nas({k: v for k, v in base.items() if k != "az_complexity"})
    with pytest.raises(ValueError, match="same cells"):
        az.az_nas(dict(base, az_complexity=np.ones(4)))
    with pytest.raises(ValueError, match="1-D"):
        az.az_nas(dict(base, az_complexity=np.ones((3, 1))))
    proxy = get_proxy("az_nas")
    assert proxy.ensemble and proxy.members == az.COMPONENTS


def test_score_many_computes_the_az_components_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from tfnas.scoring import score, score_many

    az.clear_cache()
    calls = []
    compute = az._compute
    monkeypatch.setattr(az, "_compute", lambda *a: calls.append(1) or compute(*a))
    names = ["az_expressivity", "az_progressivity", "az_trainability"]
    together = score_many(str(CELL), names, "ImageNet16-120", seed=1)
    assert len(calls) == 1
    for name in names:
        assert same(together[name].score, score(str(CELL), name, "ImageNet16-120", seed=1)), name
    assert len(calls) == 4  # alone, each proxy gets its own network: no sharing, same bits


def test_the_size_space_network_is_scored_by_the_same_recipes() -> None:
    az.clear_cache()
    net = build_network("8:16:24:32:64", 10, gen(0), space="sss")
    assert same(zen(net, RES, generator=gen(1), batch_size=BATCH),
                zen_reference(net, RES, BATCH, gen(1)), ZEN_REL)
    assert_az_equal(az.az_components(net, RES, generator=gen(1), batch_size=BATCH),
                    az_reference(net, RES, BATCH, gen(1)))
    assert math.isclose(l2_norm(net), l2_norm_reference(net), rel_tol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("resolution", [16, 32])
def test_forty_cells_equal_the_anchors_at_the_reference_batch(resolution: int) -> None:
    import random

    from tfnas.space import sample_distinct

    for i, cell in enumerate(sample_distinct(random.Random(resolution), 40)):
        net = net_for(cell, seed=i)
        az.clear_cache()
        assert_az_equal(az.az_components(net, resolution, generator=gen(i)),
                        az_reference(net, resolution, az.AZ_BATCH, gen(i)))
        assert same(zen(net, resolution, generator=gen(i)),
                    zen_reference(net, resolution, 16, gen(i)), ZEN_REL), str(cell)
