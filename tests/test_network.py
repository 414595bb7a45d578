"""The TinyNetwork against xautodl's: structure, parameter counts, outputs, and the archive."""

from __future__ import annotations

import random
from pathlib import Path

import nats_bench
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import archs
from xautodl.models import get_cell_based_tiny_net
from xautodl.models.cell_searchs.genotypes import Structure

from tfnas.init import DEFAULT_SEED, init_parameters
from tfnas.network import TinyNetwork, build_network
from tfnas.space import OPS, Arch, sample

EXTREMES = [Arch((op,) * 6) for op in OPS]
RANDOM_CELLS = [sample(random.Random(1000 + i)) for i in range(6)]
CLASSES = (10, 100, 120)


def xautodl_network(arch: Arch, num_classes: int) -> torch.nn.Module:
    config = {
        "name": "infer.tiny",
        "C": 16,
        "N": 5,
        "genotype": Structure.str2structure(str(arch)),
        "num_classes": num_classes,
    }
    with torch.random.fork_rng(devices=[]):  # xautodl's constructors draw from the global RNG
        return get_cell_based_tiny_net(config)


def n_params(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("num_classes", CLASSES)
@pytest.mark.parametrize("arch", EXTREMES + RANDOM_CELLS, ids=str)
def test_same_parameters_and_state_dict_as_xautodl(arch: Arch, num_classes: int) -> None:
    ours = build_network(arch, num_classes)
    theirs = xautodl_network(arch, num_classes)
    assert n_params(ours) == n_params(theirs)
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert list(ours_sd) == list(theirs_sd)
    assert {k: v.shape for k, v in ours_sd.items()} == {k: v.shape for k, v in theirs_sd.items()}


def _same_outputs(src: torch.nn.Module, dst: torch.nn.Module, train: bool, seed: int) -> None:
    dst.load_state_dict(src.state_dict())
    src.train(train)
    dst.train(train)
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        (src_feat, src_logits), (dst_feat, dst_logits) = src(x), dst(x)
    assert torch.equal(src_feat, dst_feat)
    assert torch.equal(src_logits, dst_logits)
    # in train mode both update their BatchNorm statistics identically
    for (k, a), (_, b) in zip(src.state_dict().items(), dst.state_dict().items(), strict=True):
        assert torch.equal(a, b), k


@settings(max_examples=6)
@given(archs, st.sampled_from(CLASSES), st.booleans(), st.integers(0, 2**31))
def test_identical_outputs_for_identical_weights_both_directions(
    arch: Arch, num_classes: int, train: bool, seed: int
) -> None:
    ours = build_network(arch, num_classes, torch.Generator().manual_seed(seed))
    theirs = xautodl_network(arch, num_classes)
    _same_outputs(ours, theirs, train, seed)  # ours -> xautodl
    theirs = xautodl_network(arch, num_classes)
    ours = build_network(arch, num_classes, torch.Generator().manual_seed(seed + 1))
    _same_outputs(theirs, ours, train, seed)  # xautodl -> ours


@pytest.mark.parametrize("index", [0, 11, 284])
def test_parameter_count_matches_the_official_archive(fake_archive: Path, index: int) -> None:
    api = nats_bench.create(str(fake_archive), "tss", fast_mode=True, verbose=False)
    arch = api.arch(index)
    for dataset, num_classes in (
        ("cifar10", 10),
        ("cifar10-valid", 10),
        ("cifar100", 100),
        ("ImageNet16-120", 120),
    ):
        archived = api.get_cost_info(index, dataset)["params"]  # millions, 6 decimals
        assert n_params(build_network(arch, num_classes)) / 1e6 == pytest.approx(archived, abs=5e-7)


def test_forward_returns_features_and_logits() -> None:
    net = build_network(RANDOM_CELLS[0], 7)
    out = net(torch.zeros(2, 3, 16, 16))
    assert isinstance(out, tuple) and len(out) == 2
    assert out[0].shape == (2, 64) and out[1].shape == (2, 7)


def test_build_is_deterministic_and_never_touches_the_global_rng() -> None:
    state = torch.random.get_rng_state()
    a = build_network(RANDOM_CELLS[1], 10, torch.Generator().manual_seed(5))
    b = build_network(RANDOM_CELLS[1], 10, torch.Generator().manual_seed(5))
    c = build_network(RANDOM_CELLS[1], 10, torch.Generator().manual_seed(6))
    d = build_network(RANDOM_CELLS[1], 10)
    e = build_network(RANDOM_CELLS[1], 10, torch.Generator().manual_seed(DEFAULT_SEED))
    assert torch.equal(state, torch.random.get_rng_state())
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key])
        assert torch.equal(d.state_dict()[key], e.state_dict()[key])
    assert not torch.equal(a.classifier.weight, c.classifier.weight)
    assert not torch.equal(a.stem[0].weight, c.stem[0].weight)
    assert a.training


def test_accepts_arch_strings_and_arch_objects() -> None:
    arch = RANDOM_CELLS[2]
    a = build_network(arch, 10)
    b = build_network(str(arch), 10)
    assert isinstance(b, TinyNetwork) and b.arch == arch
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())


@pytest.mark.parametrize("num_classes", [0, -3])
def test_rejects_non_positive_class_counts(num_classes: int) -> None:
    with pytest.raises(ValueError, match="num_classes must be a positive int"):
        build_network(RANDOM_CELLS[0], num_classes)


@pytest.mark.parametrize("num_classes", [10.0, True, "10", None])
def test_rejects_non_int_class_counts(num_classes: object) -> None:
    with pytest.raises(TypeError, match="num_classes must be a positive int"):
        build_network(RANDOM_CELLS[0], num_classes)  # type: ignore[arg-type]


def test_rejects_bad_archs_and_generators() -> None:
    with pytest.raises(ValueError, match="malformed arch string"):
        build_network("|nor_conv_3x3~0|+|none~0|", 10)
    with pytest.raises(ValueError, match="unknown operation"):
        build_network("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", 10)
    with pytest.raises(TypeError, match="expected an Arch or an arch string"):
        build_network(12, 10)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="torch.Generator"):
        build_network(RANDOM_CELLS[0], 10, generator=random.Random(0))  # type: ignore[arg-type]


@pytest.mark.parametrize("arch", [EXTREMES[3], RANDOM_CELLS[3]], ids=str)
def test_build_equals_init_parameters_on_xautodls_network(arch: Arch) -> None:
    """Every tensor is initialised (no uninitialised storage survives), in xautodl's module order."""
    ours = build_network(arch, 100, torch.Generator().manual_seed(9))
    theirs = init_parameters(xautodl_network(arch, 100), torch.Generator().manual_seed(9))
    for (key, a), (_, b) in zip(
        ours.state_dict().items(), theirs.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), key
    assert all(p.requires_grad for p in ours.parameters())


# -- one network description ----------------------------------------------------------------


def test_the_op_table_is_the_spaces_op_list_and_each_kind_is_read_from_it() -> None:
    from tfnas import network

    assert tuple(network.OPS) == OPS
    net = build_network(Arch(OPS[:5] + ("nor_conv_1x1",)), 10)
    cells = [s for s in network.stages(net) if s.is_cell]
    assert len(cells) == 15 and sum(not s.is_cell for s in network.stages(net)) == 2
    for stage in cells:
        assert [(e.to, e.src) for e in stage.edges] == [(t, f) for t, f, _ in net.arch.edges()]
        assert [e.kind for e in stage.edges] == [network.OPS[op].kind for op in net.arch.ops]
        assert [e.layer for e in stage.edges] == list(range(6))


def test_xautodls_cells_give_the_same_structure() -> None:
    from tfnas import network

    arch = RANDOM_CELLS[4]
    ours = [s.edges for s in network.stages(build_network(arch, 10))]
    theirs = [s.edges for s in network.stages(xautodl_network(arch, 10))]
    assert ours == theirs


def test_structure_of_a_foreign_module_is_refused() -> None:
    from tfnas.network import UnsupportedNetworkError, stages

    with pytest.raises(UnsupportedNetworkError, match="TinyNetwork"):
        list(stages(torch.nn.Sequential(torch.nn.ReLU())))


def _literal_pool(self: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return self.op(x)  # nn.AvgPool2d on the batch as given


def _second_order(pool, x: torch.Tensor, w: torch.Tensor, a: torch.Tensor):
    """Output, ∂L/∂(x, a) and the H·g product through ``pool``, as grasp takes them."""
    x, a = x.clone().requires_grad_(True), a.clone().requires_grad_(True)
    y = pool(x * a)
    loss = (y * y * w).sum()
    gx, ga = torch.autograd.grad(loss, (x, a), create_graph=True)
    hx, ha = torch.autograd.grad((gx * gx.detach()).sum() + (ga * ga.detach()).sum(), (x, a))
    return y.detach(), gx.detach(), ga.detach(), hx, ha


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(1, 40), st.integers(1, 13), st.integers(1, 13),
       st.sampled_from([torch.float32, torch.float64]), st.integers(0, 2**31),
       st.sampled_from(["nchw", "channels_last", "transposed"]))
def test_the_pooling_op_is_nn_avgpool_bit_for_bit_to_second_order(
    n: int, c: int, h: int, w: int, dtype: torch.dtype, seed: int, layout: str
) -> None:
    """The channels-last route of ``Pooling`` gives the literal pool's bits: output, gradient,
    and the Hessian-vector product, at every layout a caller can hand it (which stays its own)."""
    from tfnas.network import Pooling

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, h, w, generator=g, dtype=dtype)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    elif layout == "transposed":
        x = x.transpose(2, 3)
    weights = torch.randn(x.shape, generator=g, dtype=dtype)
    a = torch.randn((), generator=g, dtype=dtype)
    pool = Pooling()
    fast = _second_order(pool, x, weights, a)
    literal = _second_order(lambda t: _literal_pool(pool, t), x, weights, a)
    for ours, theirs in zip(fast, literal, strict=True):
        assert torch.equal(ours, theirs)
        assert ours.stride() == theirs.stride()


@settings(max_examples=4, deadline=None)
@given(archs, st.integers(0, 2**31))
def test_networks_give_the_literal_pools_bits_for_every_pass_product(arch: Arch, seed: int) -> None:
    """A whole network (train mode, batch of 8 CIFAR-sized images) gives the same logits, weight
    gradients, H·g, Fisher values and input Jacobian with the fast pool as with ``nn.AvgPool2d``."""
    from tfnas.network import Pooling
    from tfnas.proxies.passes import PRODUCTS, gradient_pass

    arch = Arch(tuple("avg_pool_3x3" if i % 2 else op for i, op in enumerate(arch.ops)))
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(8, 3, 32, 32, generator=g)
    labels = torch.randint(0, 10, (8,), generator=g)

    def products():
        network = build_network(arch, 10, torch.Generator().manual_seed(seed)).train()
        return gradient_pass(network, images, labels, uses=PRODUCTS)

    fast = products()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Pooling, "forward", _literal_pool)
        literal = products()
    for name in sorted(PRODUCTS):
        ours, theirs = getattr(fast, name), getattr(literal, name)
        ours = ours if isinstance(ours, tuple) else (ours,)
        theirs = theirs if isinstance(theirs, tuple) else (theirs,)
        assert len(ours) == len(theirs), name
        assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True)), name
