"""Scoring several proxies together: the same bits as one at a time, the sweep's order and chunks,
and incomplete tables read as uniform samples (the longest prefix of the sweep permutation)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tfnas.checks import ArgumentError
from tfnas.proxies import get_proxy, proxies
from tfnas.scoring import DEFAULT_BATCH, batch_for, score, score_many, settings_key
from tfnas.space import SPACE_SIZE, arch_at
from tfnas.store import ScoreStore
from tfnas.sweep import plan, run_sweep
from tfnas.tables import order_text, read_table, sweep_order, table_path, write_table

# Two cheap cells of different shapes: a skip/pool cell and a conv cell.
CELLS = ("|skip_connect~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|avg_pool_3x3~2|",
         "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|none~0|nor_conv_3x3~1|skip_connect~2|")
DATASET = "ImageNet16-120"  # 16x16 images: the cheapest resolution


def _single() -> list[str]:
    return [p.name for p in proxies() if p.builtin and not p.ensemble]


# every proxy, twice per cell: the first cell in the unit tier, the second (the costlier, ~8 s)
# in the integration tier
@pytest.mark.parametrize("arch", [CELLS[0], pytest.param(CELLS[1], marks=pytest.mark.integration)])
def test_scoring_together_gives_the_bits_of_scoring_alone(arch, one_torch_thread):
    names = _single()
    together = score_many(arch, names, DATASET, seed=3)
    assert list(together) == names
    for name in names:
        alone = score(arch, name, DATASET, seed=3)
        got = together[name].score
        assert got == alone or (math.isnan(got) and math.isnan(alone)), name
        assert together[name].seconds >= 0


def test_a_group_shares_its_time_and_each_proxy_keeps_its_batch(one_torch_thread):
    names = _single()
    scores = score_many(CELLS[0], names, DATASET)
    for name in names:
        assert batch_for(name) == (get_proxy(name).batch_size or DEFAULT_BATCH)
    assert {s.proxy for s in scores.values()} == set(names)
    assert batch_for("naswot", 16) == 16


def test_ensembles_are_refused_where_one_network_is_scored():
    ensembles = [p.name for p in proxies() if p.ensemble]
    for name in ensembles:
        with pytest.raises(ArgumentError, match="population"):
            score(CELLS[0], name, DATASET)
        with pytest.raises(ArgumentError, match="population"):
            score_many(CELLS[0], ["params", name], DATASET)


def test_a_random_proxy_continues_the_init_generator():
    # The generator a random proxy gets is the cell's init generator after the network is built:
    # so the same (cell, seed) always gives it the same stream, whatever it is scored with.
    from tfnas.scoring import _generator, _network
    from tfnas.spaces import resolve

    arch, space = resolve(CELLS[1], None)
    _, state_a = _network(arch, space, 120, 5)
    _, state_b = _network(arch, space, 120, 5)
    assert torch.equal(state_a, state_b)

    class Spec:
        class needs:
            random = True

    first = torch.randn(4, generator=_generator(Spec, state_a))
    second = torch.randn(4, generator=_generator(Spec, state_a))
    assert torch.equal(first, second)


# -- the sweep: permutation order, shared chunks ----------------------------------------------


def test_sweep_order_is_a_seeded_permutation():
    order = sweep_order(None, 0)
    assert sorted(order) == list(range(SPACE_SIZE))
    assert sweep_order(None, 0) == order and sweep_order(None, 1) != order


def test_a_whole_space_plan_follows_the_permutation_and_shares_chunks(tmp_path):
    with ScoreStore(tmp_path / "s.sqlite") as store:
        chunks, jobs = plan(store, ["params", "flops"], ["cifar10"], limit=7, chunk_size=3,
                            order_seed=4)
    first = [str(arch_at(i)) for i in sweep_order(None, 4)[:7]]
    assert [a for c in chunks for a in c.archs] == first
    assert all(c.proxies == ("params", "flops") for c in chunks)
    assert [(j.proxy, j.requested, j.remaining) for j in jobs] == [("params", 7, 7), ("flops", 7, 7)]


def test_a_chunk_scores_only_the_proxies_a_cell_lacks(tmp_path):
    with ScoreStore(tmp_path / "s.sqlite") as store:
        cells = [arch_at(i) for i in range(6)]
        key = settings_key("params", "cifar10", 0)
        for arch in cells[:3]:
            store.put("params", "cifar10", arch, key, 1.0, 0.0)
        chunks, jobs = plan(store, ["params", "flops"], ["cifar10"], indices=range(6),
                            chunk_size=10)
    by_need = {c.proxies: c.archs for c in chunks}
    assert by_need == {("flops",): tuple(str(a) for a in cells[:3]),
                       ("params", "flops"): tuple(str(a) for a in cells[3:])}
    assert [j.remaining for j in jobs] == [3, 6]


def test_a_stopped_sweep_exports_a_uniform_sample(tmp_path, one_torch_thread):
    store = tmp_path / "s.sqlite"
    run_sweep(store, ["params", "flops"], [DATASET], limit=5, chunk_size=2, order_seed=2)
    from tfnas.tables import export_table

    with ScoreStore(store) as opened:
        result = export_table(opened, "params", DATASET, root=tmp_path, order_seed=2)
    table = read_table(result.path)
    assert table.provenance["order"] == "permutation:2"
    assert float(table.provenance["seconds_per_cell"]) >= 0
    assert table.provenance["variant"] and table.provenance["reference"]
    assert [str(a) for a in table.sample.cells] == [str(arch_at(i))
                                                    for i in sweep_order(None, 2)[:5]]
    assert not table.sample.complete


# -- incomplete tables as samples -------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(prefix=st.integers(1, 60), extras=st.sets(st.integers(61, 400), max_size=20),
       seed=st.integers(0, 2**31), hole=st.booleans())
def test_the_sample_is_the_longest_prefix_held(tmp_path_factory, prefix, extras, seed, hole):
    order = sweep_order(None, seed)
    held = set(range(prefix)) | extras
    if hole and prefix > 1:
        held.discard(prefix // 2)  # a chunk that never finished: the sample stops before it
    scores = {arch_at(order[p]): float(p) for p in held}
    root = tmp_path_factory.mktemp("t")
    path = table_path("params", "cifar10", root)
    write_table(path, "params", "cifar10", scores, {"order": order_text(seed)})
    sample = read_table(path).sample
    length = prefix // 2 if hole and prefix > 1 else prefix
    assert [str(a) for a in sample.cells] == [str(arch_at(order[p])) for p in range(length)]
    assert sample.n == length and not sample.complete


def test_an_incomplete_table_without_an_order_is_no_sample(tmp_path):
    path = table_path("params", "cifar10", tmp_path)
    write_table(path, "params", "cifar10", {arch_at(i): float(i) for i in range(50)}, {})
    assert read_table(path).sample.cells == ()


def test_an_undefined_value_ranks_last():
    from tfnas.scoring import ranked

    assert ranked(math.nan) == -math.inf and ranked(-math.inf) == -math.inf
    assert ranked(1.5) == 1.5 and ranked(math.inf) == math.inf  # +inf is the tables' to refuse
