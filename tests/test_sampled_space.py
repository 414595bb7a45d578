"""Searching a sampled table: the held cells as a space (tfnas.spaces.sampled)."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tfnas import cli
from tfnas.search import TableScorer, random_search, rea
from tfnas.space import ArchError, arch_at
from tfnas.spaces import get_space
from tfnas.spaces.sampled import SampledSpace
from tfnas.tables import load_table, table_path, write_table

HELD = sorted(random.Random(3).sample(range(15625), 300))


@pytest.fixture(scope="module")
def held() -> SampledSpace:
    return SampledSpace("tss", [arch_at(i) for i in HELD])


@given(seed=st.integers(0, 2**32), n=st.integers(0, 300))
def test_draws_and_mutations_stay_in_the_held_cells(seed, n):
    space = SampledSpace("tss", [arch_at(i) for i in HELD])
    rng = random.Random(seed)
    drawn = space.sample_distinct(rng, n)
    assert len({space.index_of(a) for a in drawn}) == n
    assert {space.index_of(a) for a in drawn} <= set(HELD)
    child = space.mutate(space.sample(rng), rng)
    assert space.index_of(child) in set(HELD)


def test_a_mutation_is_a_held_neighbour_when_there_is_one(held):
    base = get_space("tss")
    rng = random.Random(0)
    for index in HELD:
        arch = arch_at(index)
        options = held.neighbours(arch)
        assert set(options) == {n for n in base.neighbours(arch) if base.index_of(n) in set(HELD)}
        child = held.mutate(arch, rng)
        assert child in options if options else base.index_of(child) in set(HELD)


def test_an_unheld_cell_is_refused_in_one_line(held):
    outside = next(i for i in range(15625) if i not in set(HELD))
    for call in (lambda: held.arch_at(outside), lambda: held.index_of(str(arch_at(outside))),
                 lambda: held.check_index(outside), lambda: held.sample_distinct(random.Random(0), 301)):
        with pytest.raises(ArchError) as info:
            call()
        assert "\n" not in str(info.value)


def test_searches_on_a_sampled_table_evaluate_only_held_cells(held):
    scores = {arch_at(i): float(i % 97) for i in HELD}
    scorer = TableScorer(scores, "held")
    for trace in (random_search(scorer, 120, seed=1, space=held),
                  rea(scorer, 20, 5, 200, seed=1, space=held)):
        assert trace.space == "tss"
        assert {str(e.arch) for e in trace.evaluations} <= {str(a) for a in scores}


def test_cli_searches_the_cells_a_sampled_table_holds_and_says_so(tmp_path, capsys, data_root):
    full = load_table("params", "cifar10")
    write_table(table_path("params", "cifar10", tmp_path), "params", "cifar10",
                {arch_at(i): full.scores[arch_at(i)] for i in HELD}, full.provenance)
    out = tmp_path / "s.json"
    code = cli.main(["search", "rea", "--proxy", "params", "--dataset", "cifar10", "--table",
                     "--table-root", str(tmp_path), "--cycles", "150", "--json", str(out)])
    assert code == 0
    assert "holds 300 of 15,625 cells (not a uniform sample); searching those cells" in capsys.readouterr().err
    (trace,) = json.loads(out.read_text())["traces"]
    assert {e[0] for e in trace["evaluations"]} <= {str(arch_at(i)) for i in HELD}
