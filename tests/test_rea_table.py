"""REA by cell index on a score table (:func:`tfnas.search.rea_table.rea_table`) evaluates the
same cells in the same order and keeps the same cell as :func:`tfnas.search.rea` with a
:class:`~tfnas.search.TableScorer` — a literal re-statement — whatever the seed, the sizes and
the scores (ties, NaN, ±inf)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfnas.errors import TfnasError
from tfnas.search import TableScorer, rea
from tfnas.search.rea_table import rea_table
from tfnas.space import SPACE_SIZE, all_cells, index_of

CELLS = all_cells()


def _table(kind: str, seed: int) -> np.ndarray:
    """Scores by official index: distinct, heavily tied (few levels), or with NaN and ±inf."""
    rng = np.random.default_rng(seed)
    if kind == "distinct":
        return rng.normal(size=SPACE_SIZE)
    if kind == "tied":
        return rng.integers(0, 4, SPACE_SIZE).astype(float)
    scores = rng.normal(size=SPACE_SIZE)
    special = rng.random(SPACE_SIZE)
    scores[special < 0.3] = np.nan
    scores[(special >= 0.3) & (special < 0.4)] = -np.inf
    scores[special > 0.9995] = np.inf
    return scores


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), table=st.integers(0, 2**32 - 1),
       kind=st.sampled_from(["distinct", "tied", "special"]),
       population=st.integers(1, 70), sample=st.integers(1, 25), extra=st.integers(0, 300))
def test_the_same_cells_and_the_same_kept_cell_as_rea(seed, table, kind, population, sample,
                                                       extra):
    scores = _table(kind, table)
    scorer = TableScorer(dict(zip(CELLS, scores.tolist(), strict=True)), "t")
    sample = min(sample, population)  # REA refuses a tournament larger than the population
    cycles = population + extra
    trace = rea(scorer=scorer, population=population, sample=sample, cycles=cycles, seed=seed)
    fast = rea_table(scores, population, sample, cycles, seed)
    assert fast.cells.tolist() == [index_of(e.arch) for e in trace.evaluations]
    assert fast.best == index_of(trace.best)


def test_the_papers_protocol_is_the_same():
    scores = _table("distinct", 1)
    scorer = TableScorer(dict(zip(CELLS, scores.tolist(), strict=True)), "t")
    for seed in (0, 20240601):
        trace = rea(scorer=scorer, population=64, sample=20, cycles=1000, seed=seed)
        fast = rea_table(scores, 64, 20, 1000, seed)
        assert fast.cells.tolist() == [index_of(e.arch) for e in trace.evaluations]
        assert fast.best == index_of(trace.best)


@pytest.mark.parametrize(("args", "match"), [
    ((np.zeros(10), 64, 20, 1000, 0), "shape"),
    ((np.zeros(SPACE_SIZE), 0, 20, 1000, 0), "population"),
    ((np.zeros(SPACE_SIZE), 64, 20, 1000, -1), "seed"),
])
def test_bad_arguments_are_refused_in_one_line(args, match):
    with pytest.raises(TfnasError, match=match) as info:
        rea_table(*args)
    assert "\n" not in str(info.value)


def test_the_same_on_an_interpreter_whose_random_draws_indices_otherwise(monkeypatch):
    """Where ``random.Random`` is not CPython's (no ``_randbelow_with_getrandbits`` behind
    ``_randbelow``), the index version falls back to ``choice`` itself: still the same run."""
    import random

    monkeypatch.delattr(random.Random, "_randbelow_with_getrandbits")
    scores = _table("tied", 3)
    scorer = TableScorer(dict(zip(CELLS, scores.tolist(), strict=True)), "t")
    trace = rea(scorer=scorer, population=10, sample=3, cycles=200, seed=5)
    fast = rea_table(scores, 10, 3, 200, 5)
    assert fast.cells.tolist() == [index_of(e.arch) for e in trace.evaluations]
    assert fast.best == index_of(trace.best)
