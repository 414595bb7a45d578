"""Random search (as in NASWOT): score N distinct random cells and keep the best."""

from __future__ import annotations

import random
from typing import Any

from tfnas.checks import MAX_SEED, WHY_SEED, check_int
from tfnas.search._run import OnEvaluation, Run
from tfnas.search.limits import MAX_N, WHY_N
from tfnas.search.registry import Param, register_search
from tfnas.search.scorers import Scorer
from tfnas.search.trace import Trace
from tfnas.space import Arch, sample_distinct


def rank_key(score: float) -> float:
    """Order used to pick winners: the score, with NaN below every number."""
    return score if score == score else float("-inf")


def check_random_arguments(n: object) -> int:
    """``n`` if it is a valid random-search size (1..15,625), else an ``ArgumentError``."""
    return check_int("n", n, 1, MAX_N, WHY_N)


DEFAULT_N = 100


def _prepare(n: int = DEFAULT_N) -> dict[str, Any]:
    return {"n": check_random_arguments(n)}


@register_search("random", params=(Param("n", int, DEFAULT_N, "cells drawn", evaluations=True),),
                 prepare=_prepare, help="score N distinct random cells, keep the best")
def random_search(scorer: Scorer, n: int, seed: int, oracle: Any = None,
                  dataset: str | None = None, on_evaluation: OnEvaluation | None = None) -> Trace:
    """Draw ``n`` distinct cells from ``random.Random(seed)``, score each in draw order, return
    the first one with the maximal score (ties: first drawn, like Python's ``max``)."""
    check_random_arguments(n)
    seed = check_int("seed", seed, 0, MAX_SEED, WHY_SEED)
    run = Run(scorer, on_evaluation)
    best: Arch | None = None
    best_score = float("-inf")
    for arch in sample_distinct(random.Random(seed), n):
        value = run(arch)
        if best is None or rank_key(value) > rank_key(best_score):
            best, best_score = arch, value
    assert best is not None
    return run.trace("random", seed, {"n": n}, best, best_score, oracle, dataset)
