"""Regularized (aging) evolution, Real et al. 2019, as NATS-Bench's ``regularized_evolution``.

The population is a FIFO queue of ``population`` cells. Each cycle draws ``sample`` members
uniformly WITH replacement, the best of them (first maximum) is the parent, its child is one
mutation (the space's ``mutate``: :meth:`tfnas.spaces.SearchSpace.mutate`),
the child joins and the oldest member leaves. The result is
the best cell ever evaluated (first maximum of the history).

With an ensemble proxy (scores relative to the cells seen, :mod:`tfnas.search.ensemble`) a
tournament compares its members' current scores within every cell evaluated so far, and the
result is the first maximum of the ensemble re-ranked over every distinct evaluated cell.

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

from tfnas.checks import MAX_SEED, WHY_SEED, ArgumentError, check_int, check_seconds
from tfnas.errors import TfnasError, shown
from tfnas.search._run import OnEvaluation, Run
from tfnas.search.ensemble import PopulationScorer, begin_population, best_of
from tfnas.search.limits import (
    MAX_CYCLES,
    MAX_TIME_BUDGET,
    WHY_CYCLES,
    WHY_TIME_BUDGET,
    max_population,
)
from tfnas.search.random_search import rank_key
from tfnas.search.registry import Param, register_search
from tfnas.search.scorers import Scorer
from tfnas.search.trace import Trace
from tfnas.spaces import Arch, SearchSpace, get_space


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


class BudgetNotReachedError(TfnasError, ValueError):
    """A time-budgeted run reached :data:`MAX_CYCLES` evaluations before its budget."""


def check_rea_arguments(population: object, sample: object, cycles: object,
                        time_budget: object, space: str | SearchSpace | None = None,
                        ) -> tuple[int | None, float | None]:
    """Validate REA's sizes and budgets (see :mod:`tfnas.search.limits`) for ``space`` (default:
    the topology space); return ``(cycles, time_budget)`` as the run uses them. Raises an
    ``ArgumentError``."""
    limit, why = max_population(get_space(space))
    check_int("population", population, 1, limit, why)
    check_int("sample", sample, 1)
    if sample > population:  # type: ignore[operator]
        raise ArgumentError(
            f"sample must be <= population ({population:,}): a tournament draws from the "
            f"population, got sample {shown(sample)}"
        )
    if cycles is None and time_budget is None:
        raise ArgumentError(
            "rea needs a budget: cycles= (evaluations) and/or time_budget= (seconds)"
        )
    if cycles is not None:
        check_int("cycles", cycles, population, MAX_CYCLES, WHY_CYCLES)  # type: ignore[arg-type]
    if time_budget is not None:
        check_seconds("time_budget", time_budget, MAX_TIME_BUDGET, WHY_TIME_BUDGET)
    return cycles, time_budget  # type: ignore[return-value]


DEFAULT_POPULATION, DEFAULT_SAMPLE, DEFAULT_CYCLES = 64, 20, 1000


def _prepare(population: int = DEFAULT_POPULATION, sample: int = DEFAULT_SAMPLE,
             cycles: int | None = None, time_budget: float | None = None,
             space: str | SearchSpace | None = None) -> dict[str, Any]:
    """REA's parameters with the paper's defaults; without any budget, ``cycles`` is 1000."""
    if cycles is None and time_budget is None:
        cycles = DEFAULT_CYCLES
    cycles, time_budget = check_rea_arguments(population, sample, cycles, time_budget, space)
    return {"population": population, "sample": sample, "cycles": cycles,
            "time_budget": time_budget}


_PARAMS = (
    Param("population", int, DEFAULT_POPULATION, "P, the population size"),
    Param("sample", int, DEFAULT_SAMPLE, "S, the tournament size"),
    Param("cycles", int, DEFAULT_CYCLES, "evaluations incl. the initial population (default "
          f"{DEFAULT_CYCLES}, or unlimited with --time-budget)", evaluations=True),
    Param("time_budget", float, None, "stop when search time passes this many seconds "
          "(simulated for the oracle)"),
)


@register_search("rea", params=_PARAMS, prepare=_prepare,
                 help="regularized (aging) evolution, Real et al. 2019",
                 label="REA P={population} S={sample} C={cycles}")
def rea(scorer: Scorer, population: int, sample: int, cycles: int | None, seed: int,
        oracle: Any = None, dataset: str | None = None, time_budget: float | None = None,
        on_evaluation: OnEvaluation | None = None,
        on_cycle: Callable[[Cycle], None] | None = None,
        space: str | SearchSpace | None = None) -> Trace:
    """Run REA over ``space`` (default: the topology space) with an explicit
    ``random.Random(seed)``; see the module docstring."""
    space = get_space(space)
    cycles, time_budget = check_rea_arguments(population, sample, cycles, time_budget, space)
    seed = check_int("seed", seed, 0, MAX_SEED, WHY_SEED)
    rng = random.Random(seed)
    relative = begin_population(scorer)
    run = Run(scorer, on_evaluation)
    queue: collections.deque[Member] = collections.deque()
    fitness = _fitness(relative)

    def evaluate(arch: Arch) -> Member:
        birth = len(run.evaluations)
        return Member(birth, arch, run(arch))

    while len(queue) < population:
        queue.append(evaluate(space.sample(rng)))

    def more() -> bool:
        if cycles is not None and len(run.evaluations) >= cycles:
            return False
        if time_budget is None:
            return True
        if run.total >= time_budget:
            return False
        if len(run.evaluations) >= MAX_CYCLES:  # e.g. a scorer charging ~0 s per evaluation
            raise BudgetNotReachedError(
                f"the time budget of {time_budget:,.6g} s was not reached after {MAX_CYCLES:,} "
                f"evaluations ({run.total:,.6g} s charged; {WHY_CYCLES}); pass cycles= as well"
            )
        return True

    while more():
        tournament = tuple(rng.choice(queue) for _ in range(sample))
        parent = max(tournament, key=fitness)
        child = evaluate(space.mutate(parent.arch, rng))
        queue.append(child)
        removed = queue.popleft()
        if on_cycle is not None:
            on_cycle(Cycle(tournament, parent, child, removed, tuple(queue)))
    settings = {"population": population, "sample": sample, "cycles": cycles,
                "time_budget": time_budget}
    if relative is not None:
        cells = list(dict.fromkeys(space.parse(e.arch) for e in run.evaluations))
        arch, score = best_of(relative, cells)
        return run.trace("rea", seed, settings, arch, score, oracle, dataset, space)
    best = max(run.evaluations, key=lambda e: rank_key(e.score))
    return run.trace("rea", seed, settings, space.parse(best.arch), best.score, oracle, dataset,
                     space)


def _fitness(relative: PopulationScorer | None) -> Callable[[Member], float]:
    """A tournament's order: the score of a member's evaluation, or for a population-relative
    scorer its current score within every cell evaluated so far (AZ-NAS's re-ranking)."""
    if relative is None:
        return lambda member: rank_key(member.score)
    return lambda member: rank_key(relative.current(member.arch))
