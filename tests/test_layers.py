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


# --- VKDNW's Table 1 row and the cells it was measured on ----------------------------------------

PUBLISHED = {  # Tybl & Neumann CVPR 2025, Table 1, "No. of trainable layers (ℵ)": (KT, SPR)
    "cifar10": (0.626, 0.767), "cifar100": (0.646, 0.787), "ImageNet16-120": (0.623, 0.764)}
ALL_CELLS = {  # the anchor's own unfiltered run (paper_preparation.ipynb, vkdnw_dim): (KT, SPR)
    "cifar10": (0.580, 0.723), "cifar100": (0.594, 0.737), "ImageNet16-120": (0.574, 0.716)}
CELL_EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))  # (from, to) in Arch.ops order


def _paths(node: int = 0) -> list[list[int]]:
    """Every input-to-output path of the cell DAG, as lists of edge positions."""
    if node == 3:
        return [[]]
    return [[i, *rest] for i, (a, b) in enumerate(CELL_EDGES) if a == node for rest in _paths(b)]


def without_dead_ops(arch) -> bool:
    """GRAF's "valid" NB201 cell (gabikadlecova/zc_combine: ``remove_zero_branches`` then keep
    ``net == new_net``): every operation other than ``none`` lies on some input-to-output path of
    non-``none`` operations. 9,445 of the 15,625 cells; VKDNW's filtered evaluation keeps the cells
    GRAF has features for, which are these."""
    live = {i for path in _paths() if all(arch.ops[e] != "none" for e in path) for i in path}
    return all(i in live or op == "none" for i, op in enumerate(arch.ops))


def test_dead_op_filter_on_hand_cells():
    from tfnas.space import Arch

    assert len(_paths()) == 4
    assert without_dead_ops(Arch(("none",) * 6))
    assert without_dead_ops(Arch(("nor_conv_3x3",) * 6))
    # node 1 is reached but leads nowhere: its conv is dead
    assert not without_dead_ops(Arch.parse(
        "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|skip_connect~0|none~1|none~2|"))
    # node 1 is never reached: the ops leaving it are dead
    assert not without_dead_ops(Arch.parse(
        "|none~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_3x3~0|none~1|skip_connect~2|"))


def test_the_library_filter_is_the_path_definition_on_every_cell():
    """tfnas.space.without_dead_ops (reachability forward and backward) selects exactly the cells
    this file's literal re-statement (enumerate every input-to-output path) selects."""
    from tfnas.space import all_cells, cell_subset
    from tfnas.space import without_dead_ops as library

    cells = all_cells()
    assert [library(a) for a in cells] == [without_dead_ops(a) for a in cells]
    assert sum(map(cell_subset("without_dead_ops").contains, cells)) == 9445
    assert all(map(cell_subset("all").contains, cells))


@pytest.mark.data
@pytest.mark.parametrize("dataset", list(PUBLISHED))
def test_published_row_is_the_count_on_cells_without_dead_ops(dataset):
    """The count ranks all 15,625 cells as the anchor's unfiltered run did, and on the 9,445 cells
    without dead operations it gives VKDNW's published Table 1 row to the third decimal."""
    import numpy as np

    from harness.stats import correlation
    from tfnas.oracles import TableOracle
    from tfnas.space import all_cells

    cells = all_cells()
    accuracy = TableOracle().column(dataset, 200, "test")
    score = np.array([closed_form(a) for a in cells], dtype=float)
    keep = np.array([without_dead_ops(a) for a in cells])
    assert keep.sum() == 9445
    for (tau, rho), mask in ((ALL_CELLS[dataset], slice(None)), (PUBLISHED[dataset], keep)):
        assert round(correlation(score[mask], accuracy[mask], "kendall"), 3) == tau
        assert round(correlation(score[mask], accuracy[mask], "spearman"), 3) == rho
