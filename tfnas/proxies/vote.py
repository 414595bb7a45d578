"""The ``vote`` ensemble (Abdelfattah et al. 2021): majority vote of synflow, jacob_cov and snip.

Published rule (SamsungLabs/zero-cost-nas ``notebooks/nasbench201_correlations.ipynb``, function
``vote``): for an ordered pair of cells (i, j) take each member's difference ``m_i − m_j``; with
``p`` of the ``M`` differences positive the vote says "i is better" when ``p ≥ M/2`` and "j is
better" otherwise; the notebook reports the fraction of ordered pairs with distinct accuracies
that the vote orders as the accuracies do.

Over an unordered pair {i, j} with ``p`` members preferring i and ``n`` preferring j (the rest
tie: equal scores, NaN, or ``-inf`` against ``-inf``, whose differences are neither > 0 nor
< 0), the two ordered pairs agree exactly when ``p ≥ M/2 > n`` (i wins) or ``n ≥ M/2 > p``
(j wins); otherwise they name opposite cells and the pair counts ½. :func:`vote_compare` returns
that decision (+1, −1, 0), which is antisymmetric; :func:`pairwise_agreement` is the notebook's
fraction, counted over unordered pairs (undecided pairs ½), equal to the notebook's number;
:func:`vote` turns the pairwise rule into a per-cell score, the Copeland score (the fraction of
the other cells a cell beats, undecided pairs ½), so that a population can be ranked and a best
cell selected.

Scores: ``-inf`` is below every finite score (so it loses that member's vote against a finite
one) and ties with ``-inf``; NaN abstains (ties with everything), exactly as the notebook's
arithmetic treats them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from tfnas.checks import ArgumentError
from tfnas.proxies.az_nas import member_arrays
from tfnas.proxies.registry import register_proxy

MEMBERS = ("synflow", "jacob_cov", "snip")
"""The published vote's members."""

BLOCK = 256
"""Rows per block of the pairwise computations: a block's temporaries are a few arrays of
``BLOCK × N`` small integers or booleans (tens of MB for the whole space of 15,625 cells)."""


def _as_vector(scores: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(scores, dtype=np.float64)
    if a.ndim != 1 or a.shape[0] == 0:
        raise ArgumentError(f"{what} must be a non-empty 1-D sequence of member scores, got shape {a.shape}")
    return a


def vote_compare(a_scores: Sequence[float] | np.ndarray, b_scores: Sequence[float] | np.ndarray) -> int:
    """+1 if cell a beats cell b by majority vote of the members, −1 if b beats a, 0 if undecided.

    ``a_scores[k]`` and ``b_scores[k]`` are member ``k``'s scores of the two cells. With ``p``
    members preferring a and ``n`` preferring b out of ``M``: a wins when ``p ≥ M/2 > n``.
    """
    a, b = _as_vector(a_scores, "a_scores"), _as_vector(b_scores, "b_scores")
    if a.shape != b.shape:
        raise ArgumentError(
            f"a_scores and b_scores must score the same members, got {a.shape[0]} and {b.shape[0]}")
    m = a.shape[0]
    p, n = int(np.sum(a > b)), int(np.sum(a < b))
    if 2 * p >= m > 2 * n:
        return 1
    if 2 * n >= m > 2 * p:
        return -1
    return 0


def _member_matrix(member_scores: Mapping[str, np.ndarray] | Sequence[np.ndarray]) -> np.ndarray:
    """``(M, N)`` float64 matrix of the members' aligned scores."""
    if isinstance(member_scores, Mapping):
        names = tuple(member_scores)
        if not names:
            raise ArgumentError("member_scores is empty; expected at least one member's scores")
        arrays = member_arrays(member_scores, names)
    else:
        arrays = [np.asarray(a, dtype=np.float64) for a in member_scores]
        if not arrays:
            raise ArgumentError("member_scores is empty; expected at least one member's scores")
        if any(a.ndim != 1 for a in arrays) or len({a.shape[0] for a in arrays}) > 1:
            raise ArgumentError("member_scores must be aligned 1-D arrays of one length")
    return np.stack(arrays)


def _decisions(matrix: np.ndarray, rows: slice, cols: slice = slice(None)) -> np.ndarray:
    """``(rows, cols)`` int8: +1 where row cell i beats column cell j by majority vote, −1
    where j beats i, 0 where undecided (a cell against itself included)."""
    m = matrix.shape[0]
    block, other = matrix[:, rows], matrix[:, cols]
    p = np.zeros((block.shape[1], other.shape[1]), dtype=np.int16)
    n = np.zeros_like(p)
    for k in range(m):
        col = block[k][:, None]
        p += col > other[k][None, :]
        n += col < other[k][None, :]
    p2, n2 = 2 * p, 2 * n
    wins = (p2 >= m) & (n2 < m)
    losses = (n2 >= m) & (p2 < m)
    return wins.astype(np.int8) - losses.astype(np.int8)


def copeland(member_scores: Mapping[str, np.ndarray] | Sequence[np.ndarray]) -> np.ndarray:
    """Per cell, the fraction of the other cells it beats by majority vote (undecided: ½).

    NaN for a population of one cell (no other cell to beat); in ``[0, 1]`` otherwise.
    """
    matrix = _member_matrix(member_scores)
    count = matrix.shape[1]
    if count == 0:
        return np.zeros(0, dtype=np.float64)
    if count == 1:
        return np.full(1, np.nan)
    total = np.zeros(count, dtype=np.float64)
    for start in range(0, count, BLOCK):
        d = _decisions(matrix, slice(start, min(start + BLOCK, count)))
        # win = 1, undecided = 1/2, loss = 0; the diagonal (undecided with itself) removed
        total[start:start + d.shape[0]] = (d.sum(axis=1, dtype=np.int64) + count) / 2.0 - 0.5
    return total / (count - 1)


def pairwise_agreement(member_scores: Mapping[str, np.ndarray] | Sequence[np.ndarray],
                       accuracy: np.ndarray | Sequence[float]) -> float:
    """Fraction of cell pairs with distinct accuracies that the majority vote orders correctly.

    The notebook's number: pairs with equal accuracy are skipped; an undecided vote (see
    :func:`vote_compare`) counts ½ (the notebook's ordered pairs then split one right, one
    wrong); member score ties, NaN and ``-inf`` follow the module's rule. NaN when no pair has
    distinct accuracies. Accuracies must be finite. Vectorised in row blocks (memory
    ``O(BLOCK · N)``).
    """
    matrix = _member_matrix(member_scores)
    acc = np.asarray(accuracy, dtype=np.float64)
    if acc.ndim != 1 or acc.shape[0] != matrix.shape[1]:
        raise ArgumentError(
            f"accuracy must be 1-D with one value per cell ({matrix.shape[1]}), got shape {acc.shape}")
    if not np.all(np.isfinite(acc)):
        raise ArgumentError("accuracy must be finite; got NaN or infinite values")
    count = acc.shape[0]
    right = 0.0
    pairs = 0
    for start in range(0, count, BLOCK):
        stop = min(start + BLOCK, count)
        d = _decisions(matrix, slice(start, stop), slice(start, count))
        rows, cols = acc[start:stop, None], acc[None, start:]
        truth = (rows > cols).astype(np.int8) - (rows < cols).astype(np.int8)
        upper = np.arange(start, count)[None, :] > np.arange(start, stop)[:, None]  # pairs once
        counted = upper & (truth != 0)
        pairs += int(np.count_nonzero(counted))
        right += np.count_nonzero(counted & (d == truth)) + 0.5 * np.count_nonzero(counted & (d == 0))
    return right / pairs if pairs else float("nan")


@register_proxy(
    "vote", members=MEMBERS,
    help="Majority vote of synflow, jacob_cov and snip on each pair of cells; per cell the "
         "fraction of the other cells it beats (Copeland).",
    reference="Abdelfattah et al. ICLR 2021 (Zero-Cost Proxies); SamsungLabs/zero-cost-nas "
              "notebooks/nasbench201_correlations.ipynb (vote)",
    variant="Majority vote of synflow, jacob_cov and snip on each pair of cells, the notebook's "
            "rule (a member votes for the cell its score is strictly higher on; the vote names i "
            "when p >= M/2 > n); the per-cell score is the Copeland score, the fraction of the "
            "other cells of the population a cell beats (undecided pairs 1/2), so the ensemble "
            "can rank and select; the notebook reports only pairwise agreement with accuracy "
            "(tfnas.proxies.vote.pairwise_agreement, equal to its number). Member scores are "
            "tfnas's (synflow as its log, which no comparison sees). -inf loses to every finite "
            "score and ties -inf; NaN abstains. A one-cell population scores NaN.",
)
def vote(scores: Mapping[str, np.ndarray]) -> np.ndarray:
    """Copeland score of each cell under the majority vote of synflow, jacob_cov and snip."""
    arrays = member_arrays(scores, MEMBERS)
    return copeland(list(arrays))
