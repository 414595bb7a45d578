"""init_parameters: PyTorch's default init, bit for bit, but drawn from an explicit generator."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from tfnas.init import DEFAULT_SEED, default_generator, init_parameters


def _draw_like_pytorch(module: nn.Module, seed: int) -> nn.Module:
    """``module.reset_parameters()`` (PyTorch's own init, which reads the global RNG), run with the
    global CPU generator temporarily in the state of ``torch.Generator().manual_seed(seed)``.
    ``fork_rng`` restores the global state afterwards, so nothing leaks out of the test."""
    with torch.random.fork_rng(devices=[]):
        torch.random.set_rng_state(torch.Generator().manual_seed(seed).get_state())
        module.reset_parameters()
    return module


conv_specs = st.tuples(
    st.integers(1, 8),  # in channels
    st.integers(1, 8),  # out channels
    st.sampled_from([1, 3, 5]),  # kernel
    st.booleans(),  # bias
)


@settings(max_examples=30)
@given(conv_specs, st.integers(0, 2**63 - 1))
def test_conv_init_is_pytorchs_default_bit_for_bit(spec: tuple, seed: int) -> None:
    c_in, c_out, k, bias = spec
    expected = _draw_like_pytorch(nn.Conv2d(c_in, c_out, k, bias=bias), seed)
    actual = init_parameters(
        nn.Conv2d(c_in, c_out, k, bias=bias), torch.Generator().manual_seed(seed)
    )
    assert torch.equal(actual.weight, expected.weight)
    if bias:
        assert torch.equal(actual.bias, expected.bias)


@settings(max_examples=30)
@given(st.integers(1, 64), st.integers(1, 64), st.booleans(), st.integers(0, 2**63 - 1))
def test_linear_init_is_pytorchs_default_bit_for_bit(
    n_in: int, n_out: int, bias: bool, seed: int
) -> None:
    expected = _draw_like_pytorch(nn.Linear(n_in, n_out, bias=bias), seed)
    actual = init_parameters(nn.Linear(n_in, n_out, bias=bias), torch.Generator().manual_seed(seed))
    assert torch.equal(actual.weight, expected.weight)
    if bias:
        assert torch.equal(actual.bias, expected.bias)
        bound = 1 / math.sqrt(n_in)
        assert actual.bias.abs().max() <= bound


def test_batchnorm_is_reset_without_randomness() -> None:
    bn = nn.BatchNorm2d(4)
    with torch.no_grad():
        bn.weight.fill_(3.0)
        bn.bias.fill_(-1.0)
    bn(torch.randn(8, 4, 2, 2, generator=torch.Generator().manual_seed(0)))  # moves the stats
    init_parameters(bn, default_generator())
    assert torch.equal(bn.weight, torch.ones(4)) and torch.equal(bn.bias, torch.zeros(4))
    assert torch.equal(bn.running_mean, torch.zeros(4))
    assert torch.equal(bn.running_var, torch.ones(4))
    assert bn.num_batches_tracked.item() == 0


def test_draws_follow_module_order_from_one_generator() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Linear(4, 2))
    init_parameters(net, torch.Generator().manual_seed(7))
    g = torch.Generator().manual_seed(7)
    conv = init_parameters(nn.Conv2d(3, 4, 3), g)
    linear = init_parameters(nn.Linear(4, 2), g)  # continues the same stream
    assert torch.equal(net[0].weight, conv.weight) and torch.equal(net[0].bias, conv.bias)
    assert torch.equal(net[2].weight, linear.weight) and torch.equal(net[2].bias, linear.bias)


def test_same_seed_same_bits_and_global_rng_untouched() -> None:
    a, b, c = nn.Linear(5, 3), nn.Linear(5, 3), nn.Linear(5, 3)  # constructors use the global RNG
    state = torch.random.get_rng_state()
    init_parameters(a, torch.Generator().manual_seed(11))
    init_parameters(b, torch.Generator().manual_seed(11))
    init_parameters(c, torch.Generator().manual_seed(12))
    assert torch.equal(state, torch.random.get_rng_state())
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    assert not torch.equal(a.weight, c.weight)


def test_default_generator_uses_the_documented_seed() -> None:
    assert torch.equal(
        default_generator().get_state(), torch.Generator().manual_seed(DEFAULT_SEED).get_state()
    )


def test_errors() -> None:
    with pytest.raises(TypeError, match="torch.Generator"):
        init_parameters(nn.Linear(2, 2), 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="torch.nn.Module"):
        init_parameters("net", default_generator())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Embedding has parameters"):
        init_parameters(nn.Sequential(nn.Embedding(3, 2)), default_generator())
