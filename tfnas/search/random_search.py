"""Random search (as in NASWOT): score N distinct random cells of a space and keep the best."""

from __future__ import annotations

import random
from typing import Any

from tfnas.checks import MAX_SEED, WHY_SEED, check_int
from tfnas.search._run import OnEvaluation, Run
from tfnas.search.ensemble import begin_population, best_of
from tfnas.search.limits import max_n
from tfnas.search.registry import Param, register_search
from tfnas.search.scorers import Scorer
from tfnas.search.trace import Trace
from tfnas.spaces import Arch, SearchSpace, get_space


def rank_key(score: float) -> float:
    """Order used to pick winners: the score, with NaN below every number."""
    return score if score == score else float("-inf")


def check_random_arguments(n: object, space: str | SearchSpace | None = None) -> int:
    """``n`` if it is a valid random-search size (1..the space's size, 15,625 for the default
    topology space), else an ``ArgumentError``."""
    limit, why = max_n(get_space(space))
    return check_int("n", n, 1, limit, why)


DEFAULT_N = 100


def _prepare(n: int = DEFAULT_N, space: str | SearchSpace | None = None) -> dict[str, Any]:
    return {"n": check_random_arguments(n, space)}


@register_search("random", params=(Param("n", int, DEFAULT_N, "cells drawn", evaluations=True),),
                 prepare=_prepare, help="score N distinct random cells, keep the best",
                 label="random N={n}")
def random_search(scorer: Scorer, n: int, seed: int, oracle: Any = None,
                  dataset: str | None = None, on_evaluation: OnEvaluation | None = None,
                  space: str | SearchSpace | None = None) -> Trace:
    """Draw ``n`` distinct cells of ``space`` (default: the topology space) from
    ``random.Random(seed)``, score each in draw order, return the first one with the maximal
    score (ties: first drawn, like Python's ``max``). An ensemble scorer's scores are relative
    to the cells drawn so far, so its result is the first maximum of the ensemble over all ``n``
    drawn cells (:mod:`tfnas.search.ensemble`)."""
    space = get_space(space)
    check_random_arguments(n, space)
    seed = check_int("seed", seed, 0, MAX_SEED, WHY_SEED)
    relative = begin_population(scorer)
    run = Run(scorer, on_evaluation)
    best: Arch | None = None
    best_score = float("-inf")
    drawn = space.sample_distinct(random.Random(seed), n)
    for arch in drawn:
        value = run(arch)
        if best is None or rank_key(value) > rank_key(best_score):
            best, best_score = arch, value
    assert best is not None
    if relative is not None:
        best, best_score = best_of(relative, drawn)
    return run.trace("random", seed, {"n": n}, best, best_score, oracle, dataset, space)
