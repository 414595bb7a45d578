"""The vote ensemble: vote_compare, the Copeland score and pairwise_agreement against literal
loops (the zero-cost-nas notebook's ``vote`` over ordered pairs), and their properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfnas.proxies import get_proxy
from tfnas.proxies import vote as v

VALUES = st.sampled_from([-np.inf, np.nan, -1.0, 0.0, 0.5, 2.0])  # few values: ties common


def notebook_vote(mets: list[float], gt: float) -> float:
    """zero-cost-nas notebooks/nasbench201_correlations.ipynb, ``vote``."""
    numpos = 0
    for m in mets:
        numpos += 1 if m > 0 else 0
    if numpos >= len(mets) / 2:
        sign = +1
    else:
        sign = -1
    return sign * gt


def notebook_agreement(metrics: list[np.ndarray], acc: np.ndarray) -> float:
    """The notebook's loop: every ordered pair (i, j), i != j, with distinct accuracies."""
    tot = right = 0
    with np.errstate(invalid="ignore"):
        for i in range(len(acc)):
            for j in range(len(acc)):
                if i != j:
                    diff = acc[i] - acc[j]
                    if diff == 0:
                        continue
                    diffsyn = [m[i] - m[j] for m in metrics]
                    same_sign = notebook_vote(diffsyn, diff)
                    right += 1 if same_sign > 0 else 0
                    tot += 1
    return right / tot if tot else float("nan")


def populations(max_members: int = 4, max_size: int = 9):
    return st.tuples(st.integers(1, max_members), st.integers(1, max_size)).flatmap(
        lambda mn: st.tuples(
            st.lists(st.lists(VALUES, min_size=mn[1], max_size=mn[1]), min_size=mn[0], max_size=mn[0]),
            st.lists(st.sampled_from([0.0, 1.0, 2.5, 3.0]), min_size=mn[1], max_size=mn[1])))


@settings(max_examples=200, deadline=None)
@given(a=st.lists(VALUES, min_size=1, max_size=5), data=st.data())
def test_vote_compare_is_antisymmetric(a: list[float], data) -> None:
    b = data.draw(st.lists(VALUES, min_size=len(a), max_size=len(a)))
    assert v.vote_compare(a, b) == -v.vote_compare(b, a)
    assert v.vote_compare(a, a) == 0


@settings(max_examples=200, deadline=None)
@given(a=st.lists(VALUES, min_size=1, max_size=5), data=st.data())
def test_vote_compare_is_the_notebooks_rule(a: list[float], data) -> None:
    b = data.draw(st.lists(VALUES, min_size=len(a), max_size=len(a)))
    with np.errstate(invalid="ignore"):
        forward = [x - y for x, y in zip(a, b, strict=True)]
        backward = [y - x for x, y in zip(a, b, strict=True)]
    says_a = notebook_vote(forward, 1.0) > 0  # (a, b) ordered: the vote prefers a
    says_b = notebook_vote(backward, 1.0) > 0  # (b, a) ordered: the vote prefers b
    expected = 1 if says_a and not says_b else -1 if says_b and not says_a else 0
    assert v.vote_compare(a, b) == expected


def test_vote_compare_examples() -> None:
    assert v.vote_compare([1, 1, 0], [0, 0, 1]) == 1
    assert v.vote_compare([1, 0, 0], [0, 0, 1]) == 0  # one each way, one tie: undecided
    assert v.vote_compare([-np.inf, 1, 1], [0, 0, 0]) == 1
    assert v.vote_compare([np.nan, np.nan, 1], [0, 0, 0]) == 0  # NaN abstains
    assert v.vote_compare([1, 1, 0, 0], [0, 0, 1, 1]) == 0
    assert v.vote_compare([1, 1, 0, 0], [0, 0, 0, 0]) == 1  # p = M/2 > n
    with pytest.raises(ValueError, match="same members"):
        v.vote_compare([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="1-D"):
        v.vote_compare([], [])


@pytest.fixture(scope="module")
def small_blocks():
    """Several blocks even for a handful of cells (the same for every example: module scope)."""
    before = v.BLOCK
    v.BLOCK = 3
    yield
    v.BLOCK = before


@settings(max_examples=150, deadline=None)
@given(population=populations())
def test_pairwise_agreement_is_the_notebooks_number(population, small_blocks) -> None:
    members, acc = population
    metrics = [np.array(m) for m in members]
    ours = v.pairwise_agreement({f"m{k}": m for k, m in enumerate(metrics)}, np.array(acc))
    expected = notebook_agreement(metrics, np.array(acc))
    assert (np.isnan(ours) and np.isnan(expected)) or ours == expected


@settings(max_examples=150, deadline=None)
@given(population=populations())
def test_copeland_is_a_loop_over_vote_compare(population, small_blocks) -> None:
    members, _ = population
    matrix = np.array(members, dtype=np.float64)
    n = matrix.shape[1]
    ours = v.copeland(list(matrix))
    if n == 1:
        assert np.isnan(ours).all()
        return
    for i in range(n):
        points = sum({1: 1.0, 0: 0.5, -1: 0.0}[v.vote_compare(matrix[:, i], matrix[:, j])]
                     for j in range(n) if j != i)
        assert ours[i] == pytest.approx(points / (n - 1), abs=1e-12)


@settings(max_examples=50, deadline=None)
@given(population=populations(max_members=3), data=st.data())
def test_copeland_permutes_with_the_population(population, data, small_blocks) -> None:
    members, _ = population
    matrix = np.array(members, dtype=np.float64)
    perm = np.array(data.draw(st.permutations(range(matrix.shape[1]))), dtype=int)
    assert np.array_equal(v.copeland(list(matrix[:, perm])), v.copeland(list(matrix))[perm],
                          equal_nan=True)


def test_vote_is_registered_and_checks_its_members() -> None:
    proxy = get_proxy("vote")
    assert proxy.ensemble and proxy.members == ("synflow", "jacob_cov", "snip")
    scores = {"synflow": np.array([3.0, 2.0, 1.0]), "jacob_cov": np.array([1.0, 2.0, 3.0]),
              "snip": np.array([3.0, 1.0, 2.0])}
    # cell 0 beats 1 (synflow, snip) and 2 (synflow, snip)
    expected = v.copeland(list(scores.values()))
    assert np.array_equal(v.vote(scores), expected)
    assert expected[0] == 1.0
    with pytest.raises(ValueError, match="snip"):
        v.vote({"synflow": np.ones(3), "jacob_cov": np.ones(3)})
    with pytest.raises(ValueError, match="same cells"):
        v.vote(dict(scores, snip=np.ones(2)))


def test_pairwise_agreement_checks_its_input() -> None:
    with pytest.raises(ValueError, match="one value per cell"):
        v.pairwise_agreement({"a": np.ones(3)}, np.ones(2))
    with pytest.raises(ValueError, match="finite"):
        v.pairwise_agreement({"a": np.ones(2)}, np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="empty"):
        v.pairwise_agreement({}, np.ones(2))
    assert np.isnan(v.pairwise_agreement({"a": np.arange(3.0)}, np.ones(3)))  # no pair counts
    assert v.pairwise_agreement({"a": np.arange(4.0)}, np.arange(4.0)) == 1.0
    assert v.pairwise_agreement({"a": -np.arange(4.0)}, np.arange(4.0)) == 0.0
