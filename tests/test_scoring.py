"""score(), cell_seed, settings_key and the proxy registry."""

from __future__ import annotations

import hashlib
import json
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import archs, seeds

from tfnas.datasets import get_dataset, load_batch
from tfnas.network import build_network
from tfnas.proxies import PROXY_NAMES, Needs, Proxy, get_proxy, proxy_names
from tfnas.proxies.counts import flops, params
from tfnas.proxies.synflow import synflow
from tfnas.scoring import (
    DEFAULT_BATCH,
    SCORING_VERSION,
    ScoreSettings,
    cell_seed,
    score,
    settings_key,
)
from tfnas.space import Arch

CELL = Arch.parse(
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"
)
DATASETS = ("cifar10", "cifar10-valid", "cifar100", "ImageNet16-120")


# --- cell_seed -------------------------------------------------------------------------------


@given(archs, seeds)
def test_cell_seed_is_the_documented_hash(arch: Arch, seed: int) -> None:
    digest = hashlib.sha256(f"{seed}|{arch}".encode()).digest()
    value = cell_seed(arch, seed)
    assert value == cell_seed(str(arch), seed)
    assert 0 <= value < 2**63
    assert value == int.from_bytes(digest[:8], "big") >> 1


@given(archs, archs, seeds, seeds)
def test_cell_seed_separates_cells_and_seeds(a: Arch, b: Arch, s: int, t: int) -> None:
    if (a, s) != (b, t):
        assert cell_seed(a, s) != cell_seed(b, t)  # 63-bit collisions: negligible


def test_cell_seed_errors() -> None:
    with pytest.raises(ValueError, match="seed must be >= 0"):
        cell_seed(CELL, -1)
    with pytest.raises(TypeError, match="seed must be an int"):
        cell_seed(CELL, 1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected an Arch"):
        cell_seed(None, 0)  # type: ignore[arg-type]


# --- settings_key ----------------------------------------------------------------------------


def test_settings_key_records_seed_batch_data_and_version() -> None:
    # synflow takes no batch: its key carries the fixed DEFAULT_BATCH whatever batch is asked.
    data_free = json.loads(settings_key("synflow", "cifar10", 3, 64))
    assert data_free == {
        "seed": 3,
        "batch_size": DEFAULT_BATCH,
        "data": "",
        "scoring_version": SCORING_VERSION,
    }
    with_data = json.loads(settings_key("naswot", "cifar100", 3, 64))
    assert with_data["data"] == load_batch("cifar100", 3, 64).identity != ""
    assert settings_key("naswot", "cifar100", 3, 64) == settings_key("naswot", "cifar100", 3, 64)
    assert settings_key("naswot", "cifar100", 4, 64) != settings_key("naswot", "cifar100", 3, 64)
    assert settings_key("synflow", "cifar10", 3, 64) == ScoreSettings(3, DEFAULT_BATCH, "").key()
    # The key of the built-ins is the one the committed tables carry: no "origin" field in it.
    assert ScoreSettings(3, 64, "").key() == (
        f'{{"batch_size":64,"data":"","scoring_version":"{SCORING_VERSION}","seed":3}}')
    assert json.loads(ScoreSettings(3, 64, "", origin="pkg==1.0").key())["origin"] == "pkg==1.0"


def test_settings_key_errors() -> None:
    with pytest.raises(ValueError, match="unknown proxy 'nope'; known proxies: naswot"):
        settings_key("nope", "cifar10", 0, 128)
    with pytest.raises(ValueError, match="unknown dataset 'cifar1000'"):
        settings_key("synflow", "cifar1000", 0, 128)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        settings_key("synflow", "cifar10", 0, 0)


# --- registry --------------------------------------------------------------------------------


BUILTINS = {  # the built-ins and their needs; other proxies may be registered besides them
    "naswot": Needs(data=True),
    "naswot_reference": Needs(data=True),
    "synflow": Needs(resolution=True, bn_free=True, float64=True),
    "params": Needs(),
    "flops": Needs(resolution=True),
}


def test_registry_lists_the_builtins_first_with_their_needs() -> None:
    names = proxy_names()
    assert names[: len(BUILTINS)] == tuple(BUILTINS) == PROXY_NAMES[: len(BUILTINS)]
    assert {name: get_proxy(name).needs for name in BUILTINS} == BUILTINS
    for name in names:
        proxy = get_proxy(name)
        assert isinstance(proxy, Proxy) and proxy.name == name
        assert proxy.builtin == proxy.origin.startswith("tfnas.proxies.")
    assert all(get_proxy(name).builtin and get_proxy(name).help for name in BUILTINS)
    assert [n for n in BUILTINS if not get_proxy(n).table] == ["naswot_reference"]
    with pytest.raises(ValueError, match="known proxies: naswot, naswot_reference, synflow"):
        get_proxy("no_such_proxy")
    with pytest.raises(TypeError, match="proxy name must be a str"):
        get_proxy(None)  # type: ignore[arg-type]


def test_data_free_proxies_take_the_size_from_resolution_or_images() -> None:
    net = build_network(CELL, 10)
    proxy = get_proxy("synflow")
    images = torch.zeros(2, 3, 16, 16)
    assert proxy(net, resolution=16) == proxy(net, images) == synflow(net, 16)
    assert get_proxy("flops")(net, resolution=(16, 8)) == flops(net, (16, 8))
    assert get_proxy("params")(net) == params(net)
    with pytest.raises(ValueError, match="needs the input size"):
        proxy(net)
    with pytest.raises(ValueError, match="needs a batch of images"):
        get_proxy("naswot")(net, None, resolution=32)
    with pytest.raises(ValueError, match="NCHW"):
        proxy(net, torch.zeros(3, 16, 16))
    with pytest.raises(TypeError, match="images must be a torch.Tensor"):
        proxy(net, [[0.0]])  # type: ignore[arg-type]


# --- score -----------------------------------------------------------------------------------


@pytest.mark.parametrize("proxy", ["synflow", "naswot"])
def test_score_is_bitwise_deterministic(proxy: str) -> None:
    state = torch.random.get_rng_state()
    first = score(CELL, proxy, "cifar10", seed=5, batch_size=32)
    again = score(str(CELL), proxy, "cifar10", seed=5, batch_size=32)
    assert first == again  # same bits, not merely close
    assert math.isfinite(first)
    assert torch.equal(state, torch.random.get_rng_state())


def test_seeds_change_the_initial_weights_and_the_score() -> None:
    a = build_network(CELL, 10, torch.Generator().manual_seed(cell_seed(CELL, 0)))
    b = build_network(CELL, 10, torch.Generator().manual_seed(cell_seed(CELL, 1)))
    assert not torch.equal(a.stem[0].weight, b.stem[0].weight)
    assert score(CELL, "synflow", "cifar10", seed=0) != score(CELL, "synflow", "cifar10", seed=1)


@pytest.mark.parametrize("dataset", DATASETS)
def test_score_follows_the_scoring_rule(dataset: str) -> None:
    """score = proxy(network from cell_seed, train mode, the dataset's batch / resolution)."""
    spec = get_dataset(dataset)
    seed, batch_size = 2, 16

    def network() -> torch.nn.Module:
        generator = torch.Generator().manual_seed(cell_seed(CELL, seed))
        return build_network(CELL, spec.num_classes, generator).train()

    net = network()
    assert score(CELL, "synflow", dataset, seed) == synflow(net, spec.resolution)
    assert score(CELL, "params", dataset) == params(net)
    images = load_batch(dataset, seed, batch_size).images
    naswot = get_proxy("naswot")
    expected = naswot(network(), images)
    assert score(CELL, "naswot", dataset, seed, batch_size) == expected
    assert score(CELL, "naswot", dataset, seed, batch_size, batch=images) == expected


def test_score_input_errors() -> None:
    good = torch.zeros(8, 3, 32, 32)
    with pytest.raises(ValueError, match="unknown proxy 'nope'"):
        score(CELL, "nope", "cifar10")
    with pytest.raises(ValueError, match="unknown dataset 'mnist'"):
        score(CELL, "synflow", "mnist")
    with pytest.raises(ValueError, match="malformed arch string"):
        score("|none~0|", "synflow", "cifar10")
    with pytest.raises(TypeError, match="batch must be float32"):
        score(CELL, "naswot", "cifar10", batch_size=8, batch=good.double())
    with pytest.raises(ValueError, match=r"\(batch_size, 3, 32, 32\) = \(8, 3, 32, 32\)"):
        score(CELL, "naswot", "cifar10", batch_size=8, batch=torch.zeros(8, 3, 16, 16))
    with pytest.raises(ValueError, match=r"shape \(batch_size, 3, 16, 16\)"):
        score(CELL, "naswot", "ImageNet16-120", batch_size=8, batch=good)
    with pytest.raises(ValueError, match=r"got \(4, 3, 32, 32\)"):
        score(CELL, "naswot", "cifar10", batch_size=8, batch=torch.zeros(4, 3, 32, 32))
    with pytest.raises(ValueError, match="got \\(3, 32, 32\\)"):
        score(CELL, "naswot", "cifar10", batch_size=8, batch=torch.zeros(3, 32, 32))
    with pytest.raises(TypeError, match="batch must be a torch.Tensor"):
        score(CELL, "naswot", "cifar10", batch=good.numpy())
    with pytest.raises(ValueError, match="seed must be >= 0"):
        score(CELL, "synflow", "cifar10", seed=-2)
    with pytest.raises(TypeError, match="batch_size must be an int"):
        score(CELL, "synflow", "cifar10", batch_size=True)


def test_score_label_errors() -> None:
    images = torch.zeros(4, 3, 32, 32)
    labels = torch.tensor([0, 1, 2, 9])
    assert score(CELL, "naswot", "cifar10", batch_size=4, batch=images, labels=labels) == score(
        CELL, "naswot", "cifar10", batch_size=4, batch=images)  # labels a proxy does not need
    with pytest.raises(ValueError, match="labels= goes with batch="):
        score(CELL, "naswot", "cifar10", batch_size=4, labels=labels)
    with pytest.raises(TypeError, match="labels must be int64"):
        score(CELL, "naswot", "cifar10", batch_size=4, batch=images, labels=labels.int())
    with pytest.raises(TypeError, match="labels must be a torch.Tensor"):
        score(CELL, "naswot", "cifar10", batch_size=4, batch=images, labels=[0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"shape \(4,\), one per image, got \(3,\)"):
        score(CELL, "naswot", "cifar10", batch_size=4, batch=images, labels=labels[:3])
    with pytest.raises(ValueError, match="must lie in 0..9, got 0..10"):
        score(CELL, "naswot", "cifar10", batch_size=4, batch=images, labels=torch.tensor([0, 1, 2, 10]))
    with pytest.raises(ValueError, match="must lie in 0..9, got -1..9"):
        score(CELL, "naswot", "cifar10", batch_size=4, batch=images, labels=torch.tensor([-1, 1, 2, 9]))


@settings(max_examples=4, deadline=None)
@given(size=st.integers(2, 40), proxy=st.sampled_from(["snip", "naswot", "grad_norm"]))
def test_a_given_batch_says_its_own_size(size, proxy):
    """score(..., batch=<N images>, labels=<N labels>) scores at batch N, equal to scoring the
    same images at batch_size=N; it does not ask for the proxy's reference batch of labels."""
    loaded = load_batch("cifar10", 0, size)
    given = score(CELL, proxy, "cifar10", batch=loaded.images, labels=loaded.labels)
    assert given == score(CELL, proxy, "cifar10", batch_size=size)


def test_score_points_a_network_to_measure():
    with pytest.raises(TypeError, match="tfnas.measure"):
        score(torch.nn.Linear(2, 2), "snip", "cifar10")
