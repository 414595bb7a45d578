"""The search registry: algorithms register where they are defined, and the CLI follows it."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import pytest

from tfnas import cli
from tfnas.checks import ArgumentError, check_int
from tfnas.search import TableScorer, repeat
from tfnas.search._run import Run
from tfnas.search.registry import (
    _ALGORITHMS,
    Param,
    UnknownSearchError,
    algorithm_names,
    get_algorithm,
    register_search,
)
from tfnas.space import all_cells
from tfnas.spaces import get_space


def test_builtins_are_registered_with_their_parameters() -> None:
    assert algorithm_names()[:2] == ("random", "rea")
    assert get_algorithm("random").param_names() == ("n",)
    assert get_algorithm("rea").param_names() == ("population", "sample", "cycles", "time_budget")
    assert get_algorithm("rea").prepare() == {"population": 64, "sample": 20, "cycles": 1000,
                                              "time_budget": None}
    assert get_algorithm("rea").prepare(time_budget=5.0)["cycles"] is None
    assert get_algorithm("random").evaluations({"n": 7}) == 7
    assert get_algorithm("rea").evaluations({"cycles": None, "time_budget": 3.0}) is None


def test_unknown_algorithm_names_the_known_ones() -> None:
    with pytest.raises(UnknownSearchError, match="unknown search algorithm 'bayes'; expected one "
                                                 "of random, rea"):
        get_algorithm("bayes")


def test_prepare_refuses_bad_values_with_the_algorithms_own_checks() -> None:
    with pytest.raises(ArgumentError, match="sample must be <= population"):
        get_algorithm("rea").prepare(population=4, sample=5)
    with pytest.raises(ArgumentError, match="n must be >= 1"):
        get_algorithm("random").prepare(n=0)


def _first_cells(scorer, n: int, seed: int, oracle=None, dataset=None, on_evaluation=None,
                 space=None):
    """A toy algorithm: the first n cells of a seeded shuffle, the best kept (ties: first)."""
    run = Run(scorer, on_evaluation)
    cells = get_space(space).sample_distinct(random.Random(seed), n)
    scores = [run(a) for a in cells]
    best = max(range(n), key=lambda i: scores[i])
    return run.trace("first", seed, {"n": n}, cells[best], scores[best], oracle, dataset)


@pytest.fixture
def toy_algorithm() -> Iterator[str]:
    register_search("first", params=(Param("n", int, 3, "cells", evaluations=True),),
                    prepare=lambda n=3, space=None: {"n": check_int("n", n, 1, 50)},
                    help="toy")(_first_cells)
    try:
        yield "first"
    finally:
        del _ALGORITHMS["first"]


def test_a_registered_algorithm_runs_through_repeat_and_the_cli(toy_algorithm, capsys) -> None:
    scores = {a: float(i % 97) for i, a in enumerate(all_cells())}
    algorithm = get_algorithm(toy_algorithm)
    traces = repeat(algorithm.run, 2, 5, scorer=TableScorer(scores, "toy"),
                    **algorithm.prepare(n=4))
    assert [len(t.evaluations) for t in traces] == [4, 4]
    assert all(t.best_score == max(e.score for e in t.evaluations) for t in traces)

    status = cli.main(["search", toy_algorithm, "--proxy", "oracle", "--dataset", "cifar10",
                       "--n", "4", "--json", "-"])
    out = capsys.readouterr()
    assert status == 0, out.err
    assert [t["algorithm"] for t in json.loads(out.out)["traces"]] == ["first"]
    # a flag of another algorithm is refused, naming who takes it
    status = cli.main(["search", toy_algorithm, "--proxy", "oracle", "--dataset", "cifar10",
                       "--population", "4"])
    assert status == 2
    assert "--population applies to 'rea' only, not 'first'" in capsys.readouterr().err


def test_a_second_function_under_a_taken_name_is_refused() -> None:
    with pytest.raises(ValueError, match="a search algorithm 'rea' is already registered"):
        register_search("rea", params=(), prepare=dict, help="")(_first_cells)


def test_runs_are_named_by_the_algorithms_own_label(toy_algorithm) -> None:
    assert get_algorithm("rea").describe({"population": 64, "sample": 20, "cycles": 1000}) == (
        "REA P=64 S=20 C=1000")
    assert get_algorithm("random").describe({"n": 10}) == "random N=10"
    assert get_algorithm(toy_algorithm).describe({"n": 4}) == "first n=4"  # no label: name k=v
