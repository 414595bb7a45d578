"""VKDNW_agg: the ensemble against the anchor's sum written out cell by cell (ranks by counting)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfnas.errors import TfnasError
from tfnas.proxies import get_proxy
from tfnas.proxies import vkdnw as vk
from tfnas.proxies import vkdnw_agg as agg


def _average_rank(values: list[float], v: float) -> float:
    """pandas' average rank of ``v`` among the non-NaN ``values``, by counting."""
    below = sum(1 for x in values if x < v)
    equal = sum(1 for x in values if x == v)
    return below + (equal + 1) / 2


def _literal(layers, entropy, expressivity, trainability, flops, jacov) -> list[float]:
    """tss_analyze's fill and get_scores' vkdnw_comb_rank, one cell at a time."""
    finite = [x for x in jacov if math.isfinite(x)]
    jacov = [x if math.isfinite(x) else min(finite) for x in jacov] if finite else list(jacov)
    tuples = sorted(set(zip(layers, [vk.single_score(0, e) for e in entropy], strict=True)))
    out = []
    for i in range(len(layers)):
        total = math.log(tuples.index((layers[i], vk.single_score(0, entropy[i]))) + 1)
        for column in (expressivity, trainability, flops, jacov):
            present = [x for x in column if not math.isnan(x)]
            total += (math.log(_average_rank(present, column[i]))
                      if not math.isnan(column[i]) else math.nan)
        out.append(total)
    return out


_score = st.one_of(st.sampled_from([-1.0, 0.0, 2.5, -math.inf]), st.floats(-5, 5))
_cell = st.tuples(st.sampled_from([21, 66, 111]), st.sampled_from([0.1, 0.2, 0.2000001, 0.3]),
                  _score, _score, st.sampled_from([1.0, 2.0, 3.0]),
                  st.one_of(_score, st.just(math.nan)))


@settings(max_examples=150, deadline=None)
@given(st.lists(_cell, min_size=1, max_size=25))
def test_the_aggregate_is_the_anchors_sum_written_out(rows):
    columns = [list(c) for c in zip(*rows, strict=True)]
    single = [vk.single_score(la, e) for la, e in zip(columns[0], columns[1], strict=True)]
    got = agg.vkdnw_agg(dict(zip(agg.MEMBERS, [np.array(single)] + [np.array(c) for c in columns[2:]],
                                 strict=True)))
    expect = np.array(_literal(*columns))
    assert np.allclose(got, expect, rtol=0, atol=1e-12, equal_nan=True)


@settings(max_examples=60, deadline=None)
@given(st.lists(_cell, min_size=2, max_size=20), st.randoms(use_true_random=False))
def test_the_aggregate_permutes_with_the_population(rows, rnd):
    order = list(range(len(rows)))
    rnd.shuffle(order)

    def scores(rs):
        cols = [np.array(c, dtype=float) for c in zip(*rs, strict=True)]
        single = np.array([vk.single_score(la, e) for la, e in zip(cols[0], cols[1], strict=True)])
        return agg.vkdnw_agg(dict(zip(agg.MEMBERS, [single, *cols[2:]], strict=True)))

    assert np.array_equal(scores([rows[i] for i in order]), scores(rows)[order], equal_nan=True)


def test_a_missing_jacob_cov_takes_the_populations_minimum_and_ties_with_it():
    base = {m: np.array([1.0, 2.0, 3.0]) for m in agg.MEMBERS}
    with_nan = base | {"jacob_cov": np.array([-np.inf, 5.0, 4.0])}
    as_min = base | {"jacob_cov": np.array([4.0, 5.0, 4.0])}
    assert np.array_equal(agg.vkdnw_agg(with_nan), agg.vkdnw_agg(as_min))
    assert np.array_equal(agg.filled(np.array([np.nan, -np.inf])), np.array([np.nan, -np.inf]),
                          equal_nan=True)


def test_registration_and_bad_input():
    spec = get_proxy("vkdnw_agg")
    assert spec.ensemble and spec.members == agg.MEMBERS and "ondratybl/VKDNW" in spec.reference
    assert "jacob_cov" in spec.variant and "Kaiming" in spec.variant
    assert agg.vkdnw_agg({m: np.zeros(0) for m in agg.MEMBERS}).shape == (0,)
    with pytest.raises(TfnasError, match="lack the member"):
        agg.vkdnw_agg({"vkdnw_single": np.zeros(3)})
    with pytest.raises(TfnasError, match="same cells"):
        agg.vkdnw_agg({m: np.zeros(3 if m != "flops" else 2) for m in agg.MEMBERS})
