"""Bookkeeping shared by the searches: timing, the per-run memo and building the trace."""

from __future__ import annotations

import math
import numbers
import sys
import time
from collections.abc import Callable
from typing import Any

from tfnas.checks import ArgumentError, ArgumentTypeError
from tfnas.errors import TfnasError, shown
from tfnas.search.scorers import Scorer
from tfnas.search.trace import Evaluation, Trace
from tfnas.spaces import Arch, SearchSpace, get_space

OnEvaluation = Callable[[Evaluation], None]


class CostError(TfnasError, ValueError):
    """A scorer returned a non-number, or charged a negative, infinite or NaN number of seconds."""


class Run:
    """Evaluates cells for one search run and records every evaluation."""

    def __init__(self, scorer: Scorer, on_evaluation: OnEvaluation | None = None) -> None:
        if not callable(scorer) or not hasattr(scorer, "name"):
            raise ArgumentTypeError(
                f"scorer must be a Scorer (callable with .name), got {type(scorer).__name__} "
                f"{shown(scorer)}"
            )
        self.scorer = scorer
        self.memoised = bool(getattr(scorer, "memoised", False))
        cost = getattr(scorer, "cost", None) if getattr(scorer, "simulated", False) else None
        self.cost: Callable[[Arch], float] | None = cost
        self.on_evaluation = on_evaluation
        self.memo: dict[Arch, float] = {}
        self.evaluations: list[Evaluation] = []
        self.total = 0.0
        self.start = time.perf_counter()
        self.cpu_start = time.process_time()

    @property
    def clock(self) -> str:
        return "simulated" if self.cost is not None else "wall"

    def __call__(self, arch: Arch) -> float:
        t0 = time.perf_counter()
        if self.memoised and arch in self.memo:
            value = self.memo[arch]
        else:
            value = self._score(arch)
            if self.memoised:
                self.memo[arch] = value
        seconds = self._charge(arch) if self.cost is not None else time.perf_counter() - t0
        self.total += seconds
        # interned: a cell's string is held once however often the runs evaluate it
        evaluation = Evaluation(sys.intern(str(arch)), value, seconds, self.total)
        self.evaluations.append(evaluation)
        if self.on_evaluation is not None:
            self.on_evaluation(evaluation)
        return value

    def _score(self, arch: Arch) -> float:
        """The scorer's value as a float (NaN and infinities rank last or first, see rank_key)."""
        value = self.scorer(arch)
        if isinstance(value, numbers.Real):  # not a str, which float() would also read
            try:
                return float(value)
            except (TypeError, ValueError, OverflowError):
                pass
        raise CostError(
            f"the scorer {shown(self.scorer.name)} returned {shown(value)} for {arch}; "
            "a score must be a number"
        )

    def _charge(self, arch: Arch) -> float:
        """The simulated seconds of ``arch``: finite and >= 0, or the run is meaningless."""
        assert self.cost is not None
        seconds = float(self.cost(arch))
        if not (math.isfinite(seconds) and seconds >= 0):
            raise CostError(
                f"the scorer {shown(self.scorer.name)} charged {shown(seconds)} simulated seconds "
                f"for {arch}; a training time must be finite and >= 0"
            )
        return seconds

    def trace(self, algorithm: str, seed: int, settings: dict[str, Any], best: Arch,
              best_score: float, oracle: Any = None, dataset: str | None = None,
              space: str | SearchSpace | None = None) -> Trace:
        wall = time.perf_counter() - self.start
        cpu = time.process_time() - self.cpu_start
        dataset = dataset if dataset is not None else getattr(self.scorer, "dataset", None)
        accuracies = None
        if oracle is not None:
            if dataset is None:
                raise ArgumentError("pass dataset= with oracle= (the scorer names no dataset)")
            acc = oracle.accuracies(best, dataset)
            accuracies = {"valid12": float(acc.valid12), "test200": float(acc.test200)}
        describe = getattr(self.scorer, "describe", None)
        settings = dict(settings, scorer=describe() if callable(describe) else None)
        return Trace(
            algorithm=algorithm, scorer=self.scorer.name, dataset=dataset, seed=seed,
            settings=settings, evaluations=self.evaluations, best=best, best_score=best_score,
            accuracies=accuracies, wall_seconds=wall, memoised=self.memoised, clock=self.clock,
            space=get_space(space).name, cpu_seconds=cpu,
        )
