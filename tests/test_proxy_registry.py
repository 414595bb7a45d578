"""The proxy registry: the decorator, its refusals, needs honoured end to end, module discovery."""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

import tfnas.proxies
from tfnas.datasets import get_dataset, load_batch
from tfnas.network import build_network
from tfnas.proxies import (
    Needs,
    Proxy,
    ProxyRegistrationError,
    UnknownProxyError,
    get_proxy,
    proxy_names,
    register_proxy,
)
from tfnas.proxies import proxies as _all_proxies
from tfnas.proxies import registry as reg
from tfnas.scoring import score, settings_key
from tfnas.space import Arch

CELL = Arch.parse(
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"
)
FIRST = ("naswot", "naswot_reference", "synflow", "params", "flops")  # listed first, in this order
BUILTINS = tuple(p.name for p in _all_proxies() if p.builtin)  # then every other built-in file


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch):
    """The registry module, with every registration made in the test undone afterwards."""
    proxy_names()  # discovery first, so that the restored table keeps the built-ins
    monkeypatch.setattr(reg, "_PROXIES", dict(reg._PROXIES))
    return reg


class Calls:
    """A recorder of what a test proxy was given."""

    def __init__(self) -> None:
        self.args: list[tuple] = []


# --- the decorator ---------------------------------------------------------------------------


def test_the_decorator_registers_and_returns_the_function(registry) -> None:
    def scaled(network: nn.Module, images: torch.Tensor) -> float:
        """Twice the batch mean (a test proxy)."""
        return 2 * float(images.mean())

    assert register_proxy("test_scaled", data=True)(scaled) is scaled
    proxy = get_proxy("test_scaled")
    assert proxy == scaled.__tfnas_proxy__
    assert (proxy.name, proxy.function, proxy.needs) == ("test_scaled", scaled, Needs(data=True))
    assert proxy.help == "Twice the batch mean (a test proxy)."
    assert proxy.origin == __name__ and not proxy.builtin and proxy.table
    assert proxy_names() == (*BUILTINS, "test_scaled") == tfnas.proxies.PROXY_NAMES
    assert register_proxy("test_scaled", data=True)(scaled) is scaled  # the same again: a no-op
    images = torch.ones(2, 3, 8, 8)
    assert proxy(build_network(CELL, 10), images) == 2.0


def test_registrations_after_the_builtins_are_listed_by_name(registry) -> None:
    for name in ("test_b", "test_a"):
        register_proxy(name)(lambda network: 0.0)
    assert proxy_names() == (*BUILTINS, "test_a", "test_b")


def test_a_taken_name_is_refused(registry) -> None:
    register_proxy("test_once")(lambda network: 1.0)
    with pytest.raises(ProxyRegistrationError, match=r"'test_once' is already registered \(.*<lambda>\)"):
        register_proxy("test_once")(lambda network: 2.0)
    with pytest.raises(ProxyRegistrationError,
                       match=r"'synflow' is already registered \(tfnas\.proxies\.synflow\.synflow\)"):
        register_proxy("synflow", resolution=True)(lambda network, resolution, channels: 0.0)
    assert get_proxy("test_once").function(None) == 1.0
    assert get_proxy("synflow").origin == "tfnas.proxies.synflow"


@pytest.mark.parametrize("kwargs, words", [
    ({"labels": True}, "needs labels needs data too"),
    ({"data": True, "resolution": True}, "data or a resolution, not both"),
    ({"data": 1}, "Needs.data must be a bool, got 1"),
    ({"structure": "graph"}, "structure must be None or one of cells, got 'graph'"),
    ({"members": ("params",), "structure": "cells"}, "an ensemble scores no network"),
])
def test_contradictory_needs_are_refused(registry, kwargs: dict, words: str) -> None:
    with pytest.raises(ProxyRegistrationError, match=words):
        register_proxy("test_bad", **kwargs)
    assert "test_bad" not in proxy_names()


@pytest.mark.parametrize("name", ["my-proxy", "", "1st", "a b", "ü", "x" * 65, None, 3])
def test_a_name_must_be_a_plain_identifier(registry, name: object) -> None:
    with pytest.raises(ProxyRegistrationError, match="a proxy name must be ASCII letters"):
        register_proxy(name)  # type: ignore[arg-type]


def test_an_unknown_name_lists_the_known_ones(registry) -> None:
    register_proxy("test_known")(lambda network: 0.0)
    known = ", ".join((*BUILTINS, "test_known"))
    with pytest.raises(UnknownProxyError,
                       match=re.escape(f"unknown proxy 'no_such'; known proxies: {known}") + "$"):
        get_proxy("no_such")
    with pytest.raises(ValueError, match="unknown proxy 'x'"):  # still a ValueError for old callers
        get_proxy("x")
    with pytest.raises(TypeError, match="proxy name must be a str"):
        get_proxy(None)  # type: ignore[arg-type]


# --- needs are honoured ------------------------------------------------------------------------


def test_each_kind_of_proxy_gets_exactly_what_it_declares(registry) -> None:
    calls = Calls()
    register_proxy("test_bare")(lambda network: calls.args.append(("bare",)) or 1.0)
    register_proxy("test_size", resolution=True)(
        lambda network, resolution, channels: calls.args.append((resolution, channels)) or 2.0)
    register_proxy("test_data", data=True)(
        lambda network, images: calls.args.append((images,)) or 3.0)
    register_proxy("test_labels", data=True, labels=True)(
        lambda network, images, labels: calls.args.append((images, labels)) or 4.0)
    net = build_network(CELL, 10)
    images, labels = torch.zeros(4, 3, 16, 8), torch.arange(4)
    assert get_proxy("test_bare")(net, images, resolution=32, labels=labels) == 1.0
    assert get_proxy("test_size")(net, images, labels=labels) == 2.0
    assert get_proxy("test_size")(net, resolution=12) == 2.0
    assert get_proxy("test_data")(net, images, labels=labels) == 3.0
    assert get_proxy("test_labels")(net, images, labels=labels) == 4.0
    assert calls.args[:3] == [("bare",), ((16, 8), 3), (12, 3)]
    assert calls.args[3][0] is images
    assert calls.args[4][0] is images and calls.args[4][1] is labels


def test_a_labels_proxy_refuses_missing_or_malformed_labels(registry) -> None:
    proxy = register_proxy("test_labels", data=True, labels=True)(lambda n, i, y: 0.0).__tfnas_proxy__
    net, images = build_network(CELL, 10), torch.zeros(4, 3, 8, 8)
    with pytest.raises(ValueError, match="'test_labels' needs the batch's labels, got labels=None"):
        proxy(net, images)
    with pytest.raises(TypeError, match="labels must be int64 class indices, got torch.int32"):
        proxy(net, images, labels=torch.zeros(4, dtype=torch.int32))
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\), one per image, got \(4, 1\)"):
        proxy(net, images, labels=torch.zeros(4, 1, dtype=torch.int64))
    with pytest.raises(ValueError, match="labels were given without images"):
        proxy(net, labels=torch.zeros(4, dtype=torch.int64))
    with pytest.raises(TypeError, match="labels must be a torch.Tensor"):
        proxy(net, images, labels=[0, 0, 0, 0])  # type: ignore[arg-type]


@pytest.mark.parametrize("dataset", ["cifar10", "ImageNet16-120"])
def test_score_passes_the_batch_and_its_labels(registry, dataset: str) -> None:
    """score() hands a labels proxy the loaded batch's own labels, and a data-free one the size."""
    seen: dict[str, tuple] = {}

    @register_proxy("test_labels", data=True, labels=True)
    def labelled(network: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
        seen["labels"] = (network.training, images.clone(), labels.clone())
        labels.zero_()  # a careless proxy: the shared batch must not be harmed
        return float(images.shape[0])

    @register_proxy("test_size", resolution=True)
    def size(network: nn.Module, resolution: int, channels: int) -> float:
        seen["size"] = (resolution, channels)
        return 0.5

    spec, batch = get_dataset(dataset), load_batch(dataset, 3, 16)
    assert score(CELL, "test_labels", dataset, seed=3, batch_size=16) == 16.0
    training, images, labels = seen["labels"]
    assert training and torch.equal(images, batch.images) and torch.equal(labels, batch.labels)
    assert score(CELL, "test_labels", dataset, seed=3, batch_size=16) == 16.0
    assert torch.equal(seen["labels"][2], batch.labels)  # the cached labels were not zeroed
    assert score(CELL, "test_size", dataset) == 0.5 and seen["size"] == (spec.resolution, 3)
    mine = torch.arange(16) % spec.num_classes
    score(CELL, "test_labels", dataset, batch_size=16, batch=batch.images, labels=mine.clone())
    assert torch.equal(seen["labels"][2], mine)
    with pytest.raises(ValueError, match="proxy 'test_labels' needs labels: pass labels= with batch="):
        score(CELL, "test_labels", dataset, batch_size=16, batch=batch.images)


def test_a_run_time_proxy_keys_the_store_by_its_module(registry) -> None:
    register_proxy("test_free")(lambda network: 0.0)
    assert f'"origin":"{__name__}"' in settings_key("test_free", "cifar10", 0, 8)
    assert "origin" not in settings_key("params", "cifar10", 0, 8)


# --- discovery ---------------------------------------------------------------------------------


def test_discovery_imports_every_public_module_of_the_package(registry, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A new proxy is one new file in the package: nothing else is edited."""
    (tmp_path / "zz_newproxy.py").write_text(textwrap.dedent('''
        from tfnas.proxies.registry import register_proxy

        @register_proxy("zz_new", data=True, labels=True)
        def zz_new(network, images, labels):
            """A proxy in a new module."""
            return float(labels.sum())
    '''))
    (tmp_path / "_private.py").write_text("raise RuntimeError('a _private module is not imported')\n")
    monkeypatch.setattr(tfnas.proxies, "__path__", [*tfnas.proxies.__path__, str(tmp_path)])
    monkeypatch.setattr(reg, "_discovered", False)
    for module in ("tfnas.proxies.zz_newproxy", "tfnas.proxies._private"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    try:
        assert proxy_names() == (*BUILTINS, "zz_new")
        proxy = get_proxy("zz_new")
        assert proxy.builtin and proxy.origin == "tfnas.proxies.zz_newproxy"
        assert proxy.needs == Needs(data=True, labels=True) and proxy.help == "A proxy in a new module."
        register_proxy("aaa_runtime")(lambda network: 0.0)
        assert proxy_names() == (*BUILTINS, "zz_new", "aaa_runtime")  # built-ins first
    finally:
        sys.modules.pop("tfnas.proxies.zz_newproxy", None)
    assert "tfnas.proxies._private" not in sys.modules


def test_proxies_are_typed_records() -> None:
    for proxy in tfnas.proxies.proxies():
        assert isinstance(proxy, Proxy) and isinstance(proxy.needs, Needs)
    with pytest.raises(AttributeError):
        get_proxy("naswot").name = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="has no attribute 'NOPE'"):
        tfnas.proxies.NOPE  # noqa: B018


def test_the_original_proxies_are_listed_first_then_every_other_builtin_file():
    assert BUILTINS[: len(FIRST)] == FIRST
    assert len(BUILTINS) > len(FIRST)  # the suite's files register themselves
