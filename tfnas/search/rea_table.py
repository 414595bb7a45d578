"""REA on a score table of the topology space, by cell index: :func:`~tfnas.search.rea.rea`
with a :class:`~tfnas.search.scorers.TableScorer`, the same cells in the same order for the same
seed, several times faster.

The Monte-Carlo estimates of the harness (:mod:`harness.kinds._seed_free`) run REA thousands of
times per protocol under every scoring realisation; there only the evaluated cells and the kept
one matter. This runs the same algorithm on integers: a cell is its op codes in base 5 (edge e
the e-th digit), the generator draws exactly what :func:`rea` and the space's ``sample`` and
``mutate`` draw (``choice`` over sequences of the same lengths, ``randrange`` over the edges),
and the tournament and the result keep the first maximum as ``max`` does.
``tests/test_rea_table.py`` checks it against :func:`rea` (ties, NaN and -inf scores included).
"""

from __future__ import annotations

import collections
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from tfnas.checks import MAX_SEED, WHY_SEED, check_int
from tfnas.errors import TfnasError, shown
from tfnas.search.rea import check_rea_arguments
from tfnas.space import NUM_EDGES, OPS, SPACE_SIZE, all_cells

_OTHER_CODES = tuple(range(len(OPS) - 1))
_POWERS = tuple(len(OPS) ** e for e in range(NUM_EDGES))


class TableRunError(TfnasError, ValueError):
    """A score table that is not one score per cell of the topology space."""


@dataclass(frozen=True)
class TableRun:
    """The official indices of the cells one run evaluated, in order, and of the cell it keeps
    (its trace's ``best``)."""

    cells: np.ndarray
    best: int


@lru_cache(maxsize=1)
def _code_to_index() -> np.ndarray:
    """The official NATS-Bench index of each op code (Σ_e op_e · 5^e)."""
    out = np.empty(SPACE_SIZE, dtype=np.int64)
    code = {op: i for i, op in enumerate(OPS)}
    for index, arch in enumerate(all_cells()):
        out[sum(code[op] * p for op, p in zip(arch.ops, _POWERS, strict=True))] = index
    return out


def _below(rng: random.Random) -> Callable[[int], int]:
    """``n -> rng.choice(range(n))``: the index ``choice`` draws for a sequence of length n.
    CPython's ``choice`` is ``seq[_randbelow(len(seq))]`` and, for ``random.Random``,
    ``_randbelow`` draws ``n.bit_length()`` bits until they fall below n; that loop is
    re-stated inline (a third of the run's time is the two calls around it). Any other
    generator or interpreter falls back to ``choice`` itself."""
    if type(rng)._randbelow is not getattr(random.Random, "_randbelow_with_getrandbits", None):
        choice = rng.choice
        return lambda n: choice(range(n))
    getrandbits = rng.getrandbits

    def below(n: int) -> int:
        k = n.bit_length()
        r = getrandbits(k)
        while r >= n:
            r = getrandbits(k)
        return r

    return below


def rea_table(scores: np.ndarray, population: int, sample: int, cycles: int, seed: int
              ) -> TableRun:
    """One REA run (P = ``population``, S = ``sample``, C = ``cycles`` evaluations) on
    ``scores`` (one per cell, by official index; NaN ranks below every number)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (SPACE_SIZE,):
        raise TableRunError(f"scores must be one float per cell of the topology space, shape "
                            f"({SPACE_SIZE},), got shape {shown(scores.shape)}")
    cycles_, _ = check_rea_arguments(population, sample, cycles, None)
    assert cycles_ is not None
    seed = check_int("seed", seed, 0, MAX_SEED, WHY_SEED)
    to_index = _code_to_index()
    key = np.where(np.isnan(scores), -np.inf, scores)[to_index].tolist()
    rng = random.Random(seed)
    below = _below(rng)
    randrange = rng.randrange
    size, others = population, len(_OTHER_CODES)
    evaluated: list[int] = []
    best_code, best_key = -1, 0.0
    queue: collections.deque[int] = collections.deque()

    def add(code: int) -> None:
        nonlocal best_code, best_key
        evaluated.append(code)
        queue.append(code)
        k = key[code]
        if best_code < 0 or k > best_key:
            best_code, best_key = code, k

    while len(queue) < population:
        code = 0
        for p in _POWERS:
            code += below(len(OPS)) * p
        add(code)
    while len(evaluated) < cycles_:
        parent = queue[below(size)]
        parent_key = key[parent]
        for _ in range(sample - 1):
            c = queue[below(size)]
            if key[c] > parent_key:
                parent, parent_key = c, key[c]
        edge = randrange(NUM_EDGES)
        power = _POWERS[edge]
        current = parent // power % len(OPS)
        other = below(others)
        add(parent + ((other + (other >= current)) - current) * power)
        queue.popleft()
    return TableRun(to_index[np.asarray(evaluated, dtype=np.int64)], int(to_index[best_code]))
