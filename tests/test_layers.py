"""layers (VKDNW's ℵ, "number of trainable layers"): the count of parameter tensors, checked
against the literal definition on built networks, the anchor's network (xautodl's TinyNetwork),
its closed form over the space, its independence of the seed and its committed tables."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import archs, seeds
from torch import nn
from xautodl.models import get_cell_based_tiny_net
from xautodl.models.cell_searchs.genotypes import Structure

from tfnas.checks import ArgumentTypeError
from tfnas.cli import main
from tfnas.network import build_network
from tfnas.proxies import get_proxy
from tfnas.proxies.layers import layers
from tfnas.scoring import score
from tfnas.space import all_cells
from tfnas.tables import load_table, table_path

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
DATASETS = (("cifar10", 10), ("cifar100", 100), ("ImageNet16-120", 120))


def conv_edges(arch) -> int:
    return sum(op.startswith("nor_conv") for op in arch.ops)


def closed_form(arch) -> int:
    """Stem 3 + two reduction blocks 2 x 7 + last BN 2 + classifier 2, and 3 per conv edge in
    each of the 15 cells (ReLU-conv-BN: bias-free conv weight, BN weight and bias)."""
    return 21 + 45 * conv_edges(arch)


def anchor_network(arch, num_classes: int) -> nn.Module:
    """xautodl's NAS-Bench-201 TinyNetwork (InferCell at its defaults), the network VKDNW's
    custom/tss_model.TinyNetwork re-states."""
    config = {"name": "infer.tiny", "C": 16, "N": 5,
              "genotype": Structure.str2structure(str(arch)), "num_classes": num_classes}
    with torch.random.fork_rng(devices=[]):
        return get_cell_based_tiny_net(config)


@settings(max_examples=25, deadline=None)
@given(archs, st.sampled_from(DATASETS))
def test_the_count_is_named_parameters_of_the_built_and_the_anchors_network(arch, dataset):
    _, num_classes = dataset
    net = build_network(arch, num_classes)
    value = layers(net)
    assert value == float(len(list(net.named_parameters())))
    assert value == float(len(list(anchor_network(arch, num_classes).named_parameters())))
    assert value == closed_form(arch)


@settings(max_examples=10, deadline=None)
@given(archs, seeds, seeds, st.sampled_from([d for d, _ in DATASETS]))
def test_the_score_is_seed_free_and_dataset_free(arch, seed_a, seed_b, dataset):
    a = score(arch, "layers", dataset, seed=seed_a)
    assert a == score(arch, "layers", dataset, seed=seed_b) == score(arch, "layers", "cifar10")
    assert a == closed_form(arch)


def test_registered_structure_only_and_exact():
    spec = get_proxy("layers")
    assert not (spec.needs.data or spec.needs.random or spec.needs.resolution or spec.ensemble)
    assert spec.tolerance == (0.0, 0.0) and spec.table and spec.structure is None
    assert "named_parameters" in spec.variant and "VKDNW" in spec.reference


def test_seed_free_for_the_harness():
    from harness.noise import seed_free

    assert seed_free("layers")


def test_ties_are_the_classes_of_equal_conv_edge_counts():
    """Seven values over the space, one per number k = 0..6 of conv edges, with the cells of
    each class C(6, k) 2^k 3^(6-k) (two conv ops, three others)."""
    from math import comb

    classes: dict[int, set[int]] = defaultdict(set)
    for arch in all_cells():
        classes[conv_edges(arch)].add(closed_form(arch))
    assert {k: len(v) for k, v in classes.items()} == {k: 1 for k in range(7)}
    sizes = defaultdict(int)
    for arch in all_cells():
        sizes[conv_edges(arch)] += 1
    assert dict(sizes) == {k: comb(6, k) * 2**k * 3 ** (6 - k) for k in range(7)}


def test_dead_conv_edges_are_counted_as_built():
    """A conv edge on no input-output path (node 1 cut off by none) still holds its tensors:
    the anchor's network builds it, and so the count includes it."""
    from tfnas.space import Arch

    dead = Arch.parse("|none~0|+|skip_connect~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|")
    live = Arch.parse("|none~0|+|skip_connect~0|none~1|+|skip_connect~0|none~1|none~2|")
    assert layers(build_network(dead, 10)) == layers(build_network(live, 10)) + 2 * 45


def test_a_non_module_is_refused():
    with pytest.raises(ArgumentTypeError):
        layers("not a network")  # type: ignore[arg-type]


def test_cli_scores_layers(capsys):
    assert main(["score", "--proxy", "layers", "--dataset", "cifar100", "--arch", ARCH,
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["score"] == 21 + 45 * 3 == score(ARCH, "layers", "cifar100")


@pytest.mark.parametrize("dataset", [d for d, _ in DATASETS])
def test_committed_table_is_the_closed_form_on_every_cell(dataset):
    if not table_path("layers", dataset).exists():
        pytest.skip(f"no layers-{dataset} table")
    table = load_table("layers", dataset)
    assert len(table.scores) == 15625
    bad = [str(a) for a, v in table.scores.items() if v != closed_form(a)]
    assert not bad, bad[:5]
