"""An ensemble proxy's scores within a growing population of cells, kept up to date per new cell.

An ensemble's score of a cell is relative to a population (``az_nas``: ranks within it; ``vote``:
the fraction of it the cell beats). A search meets its cells one at a time, so the population is
the cells seen so far; recomputing the ensemble from scratch at every new cell costs
``O(N log N)`` (az_nas) or ``O(N²)`` (vote) per cell. A population here is updated per new cell
and answers any member's current score without recomputing:

* :class:`RankPopulation` (``az_nas``): one sorted list per member; a cell's average rank is
  found by bisection, ``O(M log N)``; adding a cell is ``O(M N)`` list insertion (memmove, fast);
  the score is ``Σ_members log(rank / N)`` as :func:`tfnas.proxies.az_nas.az_nas` computes it
  over the same population (NaN ranks as ``-inf``; equal up to the order of the four additions);
* :class:`VotePopulation` (``vote``): every cell's Copeland points under the members' majority
  vote (:mod:`tfnas.proxies.vote`); a new cell is compared with each earlier one, ``O(M N)``
  vectorised, after which every score is ``O(1)`` and bit for bit
  :func:`tfnas.proxies.vote.copeland` of the population (NaN while the population is one cell).
  A whole run costs ``O(M N² / 2)`` comparisons: about 4·10⁸ for all 15,625 topology cells,
  seconds in numpy, and the population never exceeds the space (the searches draw from it);
* :class:`RecomputedPopulation` (any other registered ensemble): the ensemble's own function
  over the whole population, recomputed once per growth when a score is asked for.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import numpy as np

from tfnas.checks import ArgumentError
from tfnas.proxies import get_proxy


class Population(Protocol):
    """Cells (as their member scores) added one at a time; each cell's current ensemble score."""

    def add(self, values: Sequence[float]) -> int:
        """Add a cell's member scores (the ensemble's member order); return its index."""
        ...

    def score(self, index: int) -> float:
        """The ensemble score of cell ``index`` within every cell added so far."""
        ...

    def __len__(self) -> int: ...


def _checked(values: Sequence[float], count: int) -> tuple[float, ...]:
    row = tuple(float(v) for v in values)
    if len(row) != count:
        raise ArgumentError(f"a cell needs {count} member scores, got {len(row)}")
    return row


class RankPopulation:
    """``az_nas``: the sum over members of ``log(average rank / N)``, ranks ascending."""

    def __init__(self, members: int) -> None:
        self._sorted: list[list[float]] = [[] for _ in range(members)]
        self._cells: list[tuple[float, ...]] = []

    def __len__(self) -> int:
        return len(self._cells)

    def add(self, values: Sequence[float]) -> int:
        row = tuple(-math.inf if math.isnan(v) else v
                    for v in _checked(values, len(self._sorted)))
        for column, value in zip(self._sorted, row, strict=True):
            bisect.insort(column, value)
        self._cells.append(row)
        return len(self._cells) - 1

    def ranks(self, index: int) -> list[float]:
        """Cell ``index``'s average rank (1 = lowest) per member, as ``scipy.stats.rankdata``."""
        row = self._cells[index]
        return [(bisect.bisect_left(column, v) + bisect.bisect_right(column, v) + 1) / 2
                for column, v in zip(self._sorted, row, strict=True)]

    def score(self, index: int) -> float:
        n = len(self._cells)
        terms = np.log(np.asarray(self.ranks(index), dtype=np.float64) / n)
        total = float(terms[0])
        for term in terms[1:]:
            total += float(term)
        return total


class VotePopulation:
    """``vote``: the fraction of the other cells a cell beats by the members' majority vote."""

    def __init__(self, members: int) -> None:
        self._members = members
        self._matrix = np.empty((members, 64), dtype=np.float64)
        self._points = np.zeros(64, dtype=np.int64)
        """Per cell, twice its Copeland points: 2 per cell beaten, 1 per undecided pair."""
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def add(self, values: Sequence[float]) -> int:
        row = np.asarray(_checked(values, self._members), dtype=np.float64)
        n = self._n
        if n == self._points.shape[0]:
            self._matrix = np.concatenate([self._matrix, np.empty_like(self._matrix)], axis=1)
            self._points = np.concatenate([self._points, np.zeros_like(self._points)])
        others = self._matrix[:, :n]
        ahead = np.count_nonzero(row[:, None] > others, axis=0)
        behind = np.count_nonzero(row[:, None] < others, axis=0)
        m = self._members
        # the notebook's rule (tfnas.proxies.vote.vote_compare): the new cell wins when p >= M/2 > n
        decision = ((2 * ahead >= m) & (2 * behind < m)).astype(np.int64) \
            - ((2 * behind >= m) & (2 * ahead < m)).astype(np.int64)
        self._points[:n] += 1 - decision
        self._points[n] = int(np.sum(decision + 1))
        self._matrix[:, n] = row
        self._n = n + 1
        return n

    def score(self, index: int) -> float:
        if not 0 <= index < self._n:
            raise IndexError(index)
        if self._n == 1:
            return math.nan
        return int(self._points[index]) / 2.0 / (self._n - 1)


class RecomputedPopulation:
    """Any ensemble: its registered function over the whole population, recomputed on growth."""

    def __init__(self, members: tuple[str, ...],
                 function: Callable[[Mapping[str, np.ndarray]], np.ndarray]) -> None:
        self._members = members
        self._function = function
        self._rows: list[tuple[float, ...]] = []
        self._scores: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, values: Sequence[float]) -> int:
        self._rows.append(_checked(values, len(self._members)))
        self._scores = None
        return len(self._rows) - 1

    def score(self, index: int) -> float:
        if self._scores is None:
            columns = np.asarray(self._rows, dtype=np.float64).reshape(len(self._rows), -1)
            self._scores = np.asarray(self._function(
                {m: columns[:, k] for k, m in enumerate(self._members)}), dtype=np.float64)
        return float(self._scores[index])


def population_for(proxy: str) -> Population:
    """An empty population for the ensemble ``proxy`` (the incremental rule where one exists)."""
    from tfnas.proxies.az_nas import az_nas
    from tfnas.proxies.vote import vote

    spec = get_proxy(proxy)
    if not spec.ensemble:
        raise ArgumentError(f"proxy {proxy!r} is not an ensemble; it needs no population")
    if spec.function is az_nas:
        return RankPopulation(len(spec.members))
    if spec.function is vote:
        return VotePopulation(len(spec.members))
    return RecomputedPopulation(spec.members, spec.function)
