"""Correlation claims over a named subset of the space (``protocol.cells``; tfnas.space.CELL_SUBSETS):
the coefficient is the one over exactly the subset's cells, on a complete table and on a sampled one,
the null and the sampling error use the subset's size, and a bad field is one line."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.context import Context
from harness.kinds._samples import CellSet
from harness.kinds.correlation import (
    CorrelationProtocol,
    correlation_null,
    in_subset,
    measure_correlation,
    sampling_se,
    subset_size,
)
from harness.registry import ClaimError
from harness.stats import correlation
from tfnas.space import all_cells, cell_subset, without_dead_ops
from tfnas.tables import load_table

SUBSET = "without_dead_ops"


def _proto(**fields) -> CorrelationProtocol:
    base = {"proxy": "layers", "dataset": "cifar10", "metric": "test200", "coefficient": "kendall"}
    return CorrelationProtocol.from_dict("c", "protocol", {**base, **fields})


def test_the_default_is_the_whole_space_and_a_subset_is_read_from_the_claim():
    assert _proto().cells == "all"
    assert _proto(cells=SUBSET).cells == SUBSET


@pytest.mark.parametrize(("fields", "words"), [
    ({"cells": "valid"}, "field 'protocol.cells' is 'valid', expected one of ('all', 'without_dead_ops')"),
    ({"cells": 3}, "field 'protocol.cells' is 3"),
    ({"cells": SUBSET, "sample": 100}, "give one or the other"),
])
def test_a_bad_subset_is_one_line_naming_the_field(fields, words):
    with pytest.raises(ClaimError) as err:
        _proto(**fields)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_the_subset_sizes_are_counted_from_the_space():
    assert subset_size("all") == 15625
    assert subset_size(SUBSET) == sum(map(without_dead_ops, all_cells())) == 9445


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 400))
def test_restricting_a_sample_keeps_its_order_and_takes_the_subsets_population(seed, n):
    cells = tuple(sorted(random.Random(seed).sample(all_cells(), n), key=lambda a: a.index))
    sample = CellSet(cells, sampled=True, population=15625)
    kept = in_subset(_proto(cells=SUBSET), sample)
    assert kept.cells == tuple(c for c in cells if without_dead_ops(c))
    assert kept.population == 9445 and kept.sampled
    assert in_subset(_proto(), sample) is sample


@pytest.mark.data
@pytest.mark.parametrize("coefficient", ["kendall", "spearman"])
def test_the_coefficient_is_over_exactly_the_subsets_cells(coefficient):
    """On a complete table: the coefficient over the 9,445 cells, computed here by hand."""
    ctx = Context()
    measured = measure_correlation(_proto(cells=SUBSET, coefficient=coefficient), ctx)
    table = load_table("layers", "cifar10")
    accuracy = ctx.accuracy_column("cifar10", "test200")
    keep = [a for a in all_cells() if cell_subset(SUBSET).contains(a)]
    by_hand = correlation(np.array([table.scores[a] for a in keep]),
                          np.array([accuracy[a.index] for a in keep]), coefficient)
    assert measured.estimate.value == pytest.approx(by_hand, abs=1e-12)
    assert measured.estimate.n == 9445 and measured.estimate.se == 0.0
    assert "9,445 cells without dead operations" in measured.details["cell_set"]


@pytest.mark.data
def test_on_a_sampled_table_the_error_is_that_of_a_sample_of_the_subset():
    """jacob_cov's table is a uniform sample: its subset cells are a uniform sample of the
    subset, with the finite-population correction of 9,445 cells."""
    ctx = Context()
    proto = _proto(proxy="jacob_cov", coefficient="spearman", cells=SUBSET)
    measured = measure_correlation(proto, Context(scoring_noise=False))
    table = load_table("jacob_cov", "cifar10")
    keep = [a for a in table.scores if without_dead_ops(a)]
    assert measured.estimate.n == len(keep) < len(table.scores)
    se = sampling_se(measured.estimate.value, "spearman", len(keep), 9445)
    assert measured.estimate.se == pytest.approx(se)
    assert "of the 9445 cells" in measured.details["cell_set"]
    whole = measure_correlation(dataclasses.replace(proto, cells="all"), ctx)
    assert whole.estimate.n == len(table.scores)


def test_the_null_is_over_the_subsets_cells():
    null = correlation_null(_proto(cells=SUBSET), Context())
    assert null.result.estimate.n == 9445 and null.result.estimate.value == 0.0
