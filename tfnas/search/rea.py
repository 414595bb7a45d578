"""Regularized (aging) evolution, Real et al. 2019, as NATS-Bench's ``regularized_evolution``.

The population is a FIFO queue of ``population`` cells. Each cycle draws ``sample`` members
uniformly WITH replacement, the best of them (first maximum) is the parent, its child is one
mutation (:func:`tfnas.space.mutate`), the child joins and the oldest member leaves. The result is
the best cell ever evaluated (first maximum of the history).

Budgets: ``cycles`` counts every evaluation, the initial population included (the paper: P=64,
S=20, C=1000). ``time_budget`` reproduces the reference code (P=10, S=3, fitness = 12-epoch
validation accuracy): the whole initial population is always evaluated, then children are added
while the cumulative time (simulated by an :class:`OracleScorer`) is below the budget, so the
last child may overshoot it. With both, the first limit reached stops the run.
"""

from __future__ import annotations

import collections
import random
from collections.abc import Callable
from typing import Any, NamedTuple

from tfnas import space
from tfnas.checks import check_int
from tfnas.search._run import OnEvaluation, Run
from tfnas.search.random_search import rank_key
from tfnas.search.scorers import Scorer
from tfnas.search.trace import Trace
from tfnas.space import Arch


class Member(NamedTuple):
    """A population member; ``birth`` is its evaluation number (0-based), so older is smaller."""

    birth: int
    arch: Arch
    score: float


class Cycle(NamedTuple):
    """What one evolution cycle did, for observers (progress, tests)."""

    tournament: tuple[Member, ...]
    parent: Member
    child: Member
    removed: Member
    population: tuple[Member, ...]
    """The population after the cycle."""


def rea(scorer: Scorer, population: int, sample: int, cycles: int | None, seed: int,
        oracle: Any = None, dataset: str | None = None, time_budget: float | None = None,
        on_evaluation: OnEvaluation | None = None,
        on_cycle: Callable[[Cycle], None] | None = None) -> Trace:
    """Run REA with an explicit ``random.Random(seed)``; see the module docstring."""
    check_int("population", population, 1)
    check_int("sample", sample, 1)
    seed = check_int("seed", seed, 0)
    if cycles is None and time_budget is None:
        raise ValueError("rea needs a budget: cycles= (evaluations) and/or time_budget= (seconds)")
    if cycles is not None:
        check_int("cycles", cycles, population)
    if time_budget is not None:
        if isinstance(time_budget, bool) or not isinstance(time_budget, int | float):
            raise TypeError(f"time_budget must be a number of seconds, got {time_budget!r}")
        if not time_budget > 0:
            raise ValueError(f"time_budget must be > 0 seconds, got {time_budget}")
    rng = random.Random(seed)
    run = Run(scorer, on_evaluation)
    queue: collections.deque[Member] = collections.deque()

    def evaluate(arch: Arch) -> Member:
        birth = len(run.evaluations)
        return Member(birth, arch, run(arch))

    while len(queue) < population:
        queue.append(evaluate(space.sample(rng)))

    def more() -> bool:
        if cycles is not None and len(run.evaluations) >= cycles:
            return False
        return time_budget is None or run.total < time_budget

    while more():
        tournament = tuple(rng.choice(queue) for _ in range(sample))
        parent = max(tournament, key=lambda member: rank_key(member.score))
        child = evaluate(space.mutate(parent.arch, rng))
        queue.append(child)
        removed = queue.popleft()
        if on_cycle is not None:
            on_cycle(Cycle(tournament, parent, child, removed, tuple(queue)))
    best = max(run.evaluations, key=lambda e: rank_key(e.score))
    settings = {"population": population, "sample": sample, "cycles": cycles,
                "time_budget": time_budget}
    return run.trace("rea", seed, settings, Arch.parse(best.arch), best.score, oracle, dataset)
