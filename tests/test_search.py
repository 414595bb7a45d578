"""Searches: REA and random-search invariants (hypothesis), determinism, budgets, traces, and
searches over the real NATS-Bench tables (TableOracle over $TFNAS_DATA)."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Mapping

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import seeds

from tfnas.search import (
    Cycle,
    MissingScoreError,
    OracleScorer,
    TableScorer,
    Trace,
    random_search,
    rea,
    repeat,
    run_seeds,
    summarize,
    traces_from_json,
    traces_to_json,
)
from tfnas.space import OPS, SPACE_SIZE, Arch, all_cells


def random_table(seed: int) -> dict[Arch, float]:
    rng = random.Random(seed)
    return {a: rng.random() for a in all_cells()}


def additive_table(seed: int) -> dict[Arch, float]:
    """Score = sum of per-(edge, op) weights: every non-optimal cell has a better neighbour."""
    rng = random.Random(seed)
    weights = [{op: rng.random() for op in OPS} for _ in range(6)]
    return {a: sum(weights[e][op] for e, op in enumerate(a.ops)) for a in all_cells()}


RANDOM = TableScorer(random_table(0), "random-table")
ADDITIVE = TableScorer(additive_table(1), "additive-table")
# few distinct values, so ties are frequent
TIED = TableScorer({a: float(i % 3) for i, a in enumerate(all_cells())}, "tied-table")


def first_max(evaluations: list) -> tuple[str, float]:
    best = evaluations[0]
    for e in evaluations[1:]:
        if e.score > best.score:
            best = e
    return best.arch, best.score


def deterministic_part(trace: Trace, wall: bool = True) -> dict:
    data = trace.to_dict()
    data.pop("wall_seconds")
    data.pop("cpu_seconds", None)  # CPU seconds differ between runs too
    if wall:  # wall-clock seconds differ between runs; everything else must not
        data["evaluations"] = [e[:2] for e in data["evaluations"]]
    return data


@pytest.fixture(scope="module")
def oracle():
    from tfnas.oracles import default_oracle

    return default_oracle()


# -- random search ------------------------------------------------------------------------------

@given(n=st.integers(1, 300), seed=seeds, table=st.sampled_from([RANDOM, TIED]))
def test_random_search_scores_n_distinct_cells_and_returns_the_first_best(
        n: int, seed: int, table: TableScorer) -> None:
    trace = random_search(table, n, seed)
    archs = [e.arch for e in trace.evaluations]
    assert len(archs) == n == len(set(archs)) == trace.distinct
    assert all(e.score == table.scores[Arch.parse(e.arch)] for e in trace.evaluations)
    assert (str(trace.best), trace.best_score) == first_max(trace.evaluations)
    assert trace.algorithm == "random" and trace.seed == seed and trace.settings["n"] == n


@given(n=st.integers(1, 200), seed=seeds)
def test_random_search_same_seed_same_trace(n: int, seed: int) -> None:
    a, b = random_search(RANDOM, n, seed), random_search(RANDOM, n, seed)
    assert deterministic_part(a) == deterministic_part(b)


def test_random_search_over_the_whole_space_finds_the_global_optimum(oracle) -> None:
    scorer = OracleScorer(oracle, "cifar100")
    trace = random_search(scorer, SPACE_SIZE, seed=3, oracle=oracle)
    column = oracle.column("cifar100", 12, "valid")
    assert trace.best_score == column.max()
    assert trace.best.index == int(np.argmax(column))  # first maximum, like max()
    assert trace.accuracies["valid12"] == trace.best_score
    assert trace.accuracies["test200"] == oracle.accuracy(trace.best, "cifar100", 200, "test")


def test_random_search_validates(oracle) -> None:
    with pytest.raises(ValueError, match="n must be <= 15,625"):
        random_search(RANDOM, SPACE_SIZE + 1, 0)
    with pytest.raises(ValueError, match="n must be >= 1"):
        random_search(RANDOM, 0, 0)
    with pytest.raises(TypeError, match="n must be an int"):
        random_search(RANDOM, 10.0, 0)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        random_search(RANDOM, 10, -1)
    with pytest.raises(TypeError, match="scorer"):
        random_search({}, 10, 0)


# -- REA ----------------------------------------------------------------------------------------

@settings(max_examples=30)
@given(population=st.integers(1, 30), sample=st.integers(1, 25), extra=st.integers(0, 150),
       seed=seeds, table=st.sampled_from([RANDOM, TIED, ADDITIVE]))
def test_rea_invariants(population: int, sample: int, extra: int, seed: int,
                        table: TableScorer) -> None:
    sample = min(sample, population)  # a tournament draws from the population
    cycles: list[Cycle] = []
    trace = rea(table, population, sample, population + extra, seed, on_cycle=cycles.append)
    assert len(trace.evaluations) == population + extra and len(cycles) == extra
    evaluations = trace.evaluations
    for k, cycle in enumerate(cycles):
        births_before = {m.birth for m in cycle.population} - {cycle.child.birth}
        births_before.add(cycle.removed.birth)
        assert len(cycle.population) == population  # never exceeds P
        assert cycle.removed.birth == min(births_before)  # the oldest leaves
        assert cycle.child.birth == population + k
        assert all(m.birth in births_before for m in cycle.tournament)
        assert len(cycle.tournament) == sample
        assert cycle.parent == max(cycle.tournament, key=lambda m: m.score)  # first max
        assert sum(a != b for a, b in zip(cycle.parent.arch.ops, cycle.child.arch.ops, strict=True)) == 1
        assert evaluations[cycle.child.birth].arch == str(cycle.child.arch)
        assert evaluations[cycle.child.birth].score == cycle.child.score
    assert (str(trace.best), trace.best_score) == first_max(evaluations)


@settings(max_examples=10)
@given(seed=seeds)
def test_rea_same_seed_same_trace(seed: int) -> None:
    a, b = rea(RANDOM, 16, 5, 200, seed), rea(RANDOM, 16, 5, 200, seed)
    assert deterministic_part(a) == deterministic_part(b)
    assert a.seed == seed and a.settings["population"] == 16


@settings(max_examples=10)
@given(seed=seeds)
def test_rea_paper_setting_reaches_the_optimum_of_a_smooth_table(seed: int) -> None:
    # On an additive table every cell but the optimum has a better neighbour, so P=64, S=20,
    # C=1000 climbs to the top; random search with the same budget usually does not.
    trace = rea(ADDITIVE, 64, 20, 1000, seed)
    assert trace.best_score == max(ADDITIVE.scores.values())


def test_rea_beats_random_search_on_a_smooth_table() -> None:
    optimum = max(ADDITIVE.scores.values())
    rea_hits = sum(rea(ADDITIVE, 10, 3, 300, s).best_score == optimum for s in run_seeds(5, 40))
    rs_hits = sum(random_search(ADDITIVE, 300, s).best_score == optimum for s in run_seeds(6, 40))
    assert rea_hits > rs_hits


def test_rea_time_budget_reference_setting(oracle) -> None:
    scorer = OracleScorer(oracle, "cifar10")  # fitness: 12-epoch cifar10-valid accuracy
    trace = rea(scorer, 10, 3, None, seed=11, oracle=oracle, time_budget=20000)
    assert trace.clock == "simulated"
    for e in trace.evaluations:
        assert e.seconds == oracle.train_time(e.arch, "cifar10", 12)
        assert e.score == oracle.accuracy(e.arch, "cifar10-valid", 12, "valid")
    cumulative = list(np.cumsum([e.seconds for e in trace.evaluations]))
    assert [e.cumulative_seconds for e in trace.evaluations] == pytest.approx(cumulative)
    # children are added while the time is under budget: the last one may overshoot
    assert trace.evaluations[-2].cumulative_seconds < 20000 <= trace.search_seconds
    assert trace.settings["time_budget"] == 20000 and trace.settings["cycles"] is None
    # fully deterministic, times included (simulated clock)
    again = rea(scorer, 10, 3, None, seed=11, oracle=oracle, time_budget=20000)
    assert deterministic_part(trace, wall=False) == deterministic_part(again, wall=False)


def test_rea_always_evaluates_the_whole_initial_population(oracle) -> None:
    trace = rea(OracleScorer(oracle, "cifar100"), 10, 3, None, seed=0, time_budget=1.0)
    assert len(trace.evaluations) == 10
    capped = rea(OracleScorer(oracle, "cifar100"), 10, 3, 25, seed=0, time_budget=2e6)
    assert len(capped.evaluations) == 25  # the first limit reached stops the run


def test_rea_with_the_oracle_selects_better_than_a_random_cell(oracle) -> None:
    # NATS-Bench's REA (P=10, S=3, 20000 s on CIFAR-10) selects cells in the top decile.
    traces = repeat(rea, 8, 2024, scorer=OracleScorer(oracle, "cifar10"), population=10,
                    sample=3, cycles=None, time_budget=20000, oracle=oracle)
    top_decile = float(np.percentile(oracle.column("cifar10", 200, "test"), 90))
    assert summarize(traces)["test200"][0] > top_decile


def test_rea_validates() -> None:
    with pytest.raises(ValueError, match="needs a budget"):
        rea(RANDOM, 10, 3, None, 0)
    with pytest.raises(ValueError, match="cycles must be >= 10"):
        rea(RANDOM, 10, 3, 5, 0)
    with pytest.raises(ValueError, match="population must be >= 1"):
        rea(RANDOM, 0, 3, 5, 0)
    with pytest.raises(TypeError, match="sample must be an int"):
        rea(RANDOM, 10, "3", 50, 0)
    with pytest.raises(ValueError, match="time_budget must be a finite number of seconds > 0"):
        rea(RANDOM, 10, 3, None, 0, time_budget=0)
    with pytest.raises(TypeError, match="time_budget must be a number"):
        rea(RANDOM, 10, 3, None, 0, time_budget="1h")


# -- scorers and memoisation --------------------------------------------------------------------

class CountingScorer:
    """A deterministic, 'costly' scorer: the search must memoise it within a run."""

    memoised = True

    def __init__(self, scores: Mapping[Arch, float]) -> None:
        self.scores, self.name, self.calls = scores, "counting", 0

    def __call__(self, arch: Arch) -> float:
        self.calls += 1
        return self.scores[arch]


def test_memoised_scorers_are_called_once_per_distinct_cell() -> None:
    scorer = CountingScorer(ADDITIVE.scores)
    trace = rea(scorer, 10, 5, 500, seed=1)
    assert trace.memoised and scorer.calls == trace.distinct
    assert trace.distinct == len({e.arch for e in trace.evaluations}) < 500  # REA revisits
    plain = rea(ADDITIVE, 10, 5, 500, seed=1)
    assert not plain.memoised
    assert [e[:2] for e in plain.evaluations] == [e[:2] for e in trace.evaluations]


def test_table_scorer_missing_cell_names_cell_and_table() -> None:
    cells = all_cells()
    scorer = TableScorer({a: 1.0 for a in cells[:100]}, "partial")
    with pytest.raises(MissingScoreError, match=r"'partial' \(100 cells\).*index 100"):
        scorer(cells[100])
    with pytest.raises(TypeError, match="mapping"):
        TableScorer([1.0], "x")


def test_oracle_scorer_maps_cifar10_to_cifar10_valid(oracle) -> None:
    arch = all_cells()[1]
    assert OracleScorer(oracle, "cifar10")(arch) == oracle.accuracy(arch, "cifar10-valid", 12,
                                                                   "valid")
    assert OracleScorer(oracle, "cifar10", 200, "test")(arch) == oracle.accuracy(
        arch, "cifar10", 200, "test")
    assert not OracleScorer(oracle, "cifar10", 200, "test").simulated
    with pytest.raises(ValueError, match="unknown dataset"):
        OracleScorer(oracle, "mnist")
    with pytest.raises(ValueError, match="12 or 200"):
        OracleScorer(oracle, "cifar10", epochs=50)
    with pytest.raises(TypeError, match="accuracy"):
        OracleScorer(object(), "cifar10")


def test_proxy_scorer_reads_and_writes_through_the_store(tmp_path, monkeypatch) -> None:
    scoring = pytest.importorskip("tfnas.scoring")
    from tfnas.search import ProxyScorer
    from tfnas.store import ScoreStore

    calls = []

    def fake_score(arch, proxy, dataset, seed=0, batch_size=128, batch=None, space=None,
                   precision="float32", device=None):
        calls.append(arch)
        return -math.inf if arch.ops[0] == "none" else float(len(str(arch)))

    monkeypatch.setattr(scoring, "score", fake_score)
    cells = all_cells()[:20]
    with ScoreStore(tmp_path / "s.db") as store:
        scorer = ProxyScorer("params", "cifar10", store=store)
        first = [scorer(a) for a in cells]
        again = ProxyScorer("params", "cifar10", store=store)
        assert [again(a) for a in cells] == first
        assert len(calls) == 20 and again.store_hits == 20
        assert store.scored("params", "cifar10", scorer.settings) == dict(zip(cells, first, strict=True))


# -- traces and repeats -------------------------------------------------------------------------

@settings(max_examples=20)
@given(seed=seeds, minus_inf=st.integers(0, 5))
def test_trace_json_round_trip(seed: int, minus_inf: int) -> None:
    scores = dict(RANDOM.scores)
    for arch in random.Random(seed).sample(all_cells(), minus_inf * 1000):
        scores[arch] = -math.inf
    trace = rea(TableScorer(scores, "t"), 8, 3, 60, seed)
    text = trace.to_json()
    assert "Infinity" not in text.replace('"-inf"', "")  # strict JSON
    assert Trace.from_json(text) == trace
    assert traces_from_json(traces_to_json([trace, trace])) == [trace, trace]


def test_trace_from_json_errors() -> None:
    trace = random_search(RANDOM, 5, 0)
    data = trace.to_dict()
    with pytest.raises(ValueError, match="unsupported trace format"):
        Trace.from_dict({**data, "format": 99})
    del data["best"]
    with pytest.raises(ValueError, match="missing the field 'best'"):
        Trace.from_dict(data)
    with pytest.raises(TypeError, match="JSON object"):
        Trace.from_json("[1, 2]")


def test_repeat_records_independent_seeds(oracle) -> None:
    traces = repeat(random_search, 5, 42, scorer=OracleScorer(oracle, "cifar100"), n=10,
                    oracle=oracle)
    assert [t.seed for t in traces] == run_seeds(42, 5)
    assert len(set(run_seeds(42, 5))) == 5 and run_seeds(42, 5) != run_seeds(43, 5)
    assert [t.settings["repeat"] for t in traces] == list(range(5))
    assert all(t.settings["master_seed"] == 42 for t in traces)
    for t in traces:  # each repeat is reproducible alone from its recorded seed
        alone = random_search(OracleScorer(oracle, "cifar100"), 10, t.seed, oracle=oracle)
        assert [e[:2] for e in alone.evaluations] == [e[:2] for e in t.evaluations]
    summary = summarize(traces)
    valid = [t.accuracies["valid12"] for t in traces]
    assert summary["valid12"] == pytest.approx((statistics.fmean(valid), statistics.pstdev(valid)))
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        repeat(random_search, 0, 0, scorer=RANDOM, n=3)


# -- bounds, nonsense and one-line errors (issue 12, causes 4, 8, 10) ---------------------------

def one_line_error(call, *words: str):
    """Run ``call``; it must raise a TfnasError (a ValueError, TypeError or KeyError too) with a bounded
    one-line message holding ``words``."""
    from tfnas.errors import TfnasError

    with pytest.raises(TfnasError) as info:
        call()
    assert isinstance(info.value, ValueError | TypeError | LookupError)
    message = str(info.value)
    assert "\n" not in message and len(message) <= 500, message
    for word in words:
        assert word in message, message
    return info.value


HUGE = 10**5000  # str() of it is refused by Python: a message must not try


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: random_search(RANDOM, SPACE_SIZE + 1, 0), ("15,625", "distinct cells")),
        (lambda: random_search(RANDOM, HUGE, 0), ("n must be <=", "digits")),
        (lambda: random_search(RANDOM, 10, HUGE), ("seed must be <=",)),
        (lambda: random_search(RANDOM, 10, 2**63), ("seed must be <=", "64-bit")),
        (lambda: rea(RANDOM, 100_000_000, 20, None, 0, time_budget=10.0),
         ("population must be <=", "15,625 cells of the space")),
        (lambda: rea(RANDOM, 10, 30, 100, 0), ("sample must be <= population (10)",)),
        (lambda: rea(RANDOM, 10, 3, 10**9, 0), ("cycles must be <=", "revisits")),
        (lambda: rea(RANDOM, 10, 3, None, 0, time_budget=math.inf), ("finite",)),
        (lambda: rea(RANDOM, 10, 3, None, 0, time_budget=math.nan), ("finite",)),
        (lambda: rea(RANDOM, 10, 3, None, 0, time_budget=-1.0), ("> 0",)),
        (lambda: rea(RANDOM, 10, 3, None, 0, time_budget=HUGE), ("finite",)),
        (lambda: rea(RANDOM, 10, 3, None, 0, time_budget=1e12), ("2,592,000", "30 days")),
        (lambda: repeat(random_search, 1_000_000_000, 0, scorer=RANDOM, n=3),
         ("repeats must be <=", "500 runs")),
        (lambda: repeat(rea, 5000, 0, scorer=RANDOM, population=10, sample=3, cycles=1000),
         ("2,000,000", "in memory")),
        (lambda: run_seeds(-1, 3), ("seed must be >= 0",)),
        (lambda: TableScorer({}, "x" * 100_000)(all_cells()[0]), ("has no score",)),
        (lambda: OracleScorer(object(), "cifar10"), ("oracle must have",)),
        (lambda: OracleScorer.__new__(OracleScorer).__init__(None, "c" * 100_000), ()),
    ],
)
def test_every_size_and_budget_is_bounded_with_a_reason(call, words) -> None:
    one_line_error(call, *words)


class FreeScorer:
    """A simulated scorer charging ``cost`` seconds per cell (as a hostile oracle table could)."""

    memoised, simulated = False, True

    def __init__(self, cost: float) -> None:
        self.name, self._cost = f"free-{cost}", cost

    def __call__(self, arch: Arch) -> float:
        return RANDOM.scores[arch]

    def cost(self, arch: Arch) -> float:
        return self._cost


def test_a_time_budget_that_is_never_reached_ends_with_a_clear_error() -> None:
    from tfnas.search.limits import MAX_CYCLES
    from tfnas.search.rea import BudgetNotReachedError

    error = one_line_error(lambda: rea(FreeScorer(0.0), 10, 3, None, 0, time_budget=20000),
                           f"{MAX_CYCLES:,} evaluations", "pass cycles=")
    assert isinstance(error, BudgetNotReachedError)
    # with cycles as well the first limit stops the run, as documented
    assert len(rea(FreeScorer(0.0), 10, 3, 50, 0, time_budget=20000).evaluations) == 50


@pytest.mark.parametrize("cost", [-5e12, -1.0, math.inf, math.nan])
def test_nonsense_simulated_times_are_refused(cost: float) -> None:
    from tfnas.search._run import CostError

    error = one_line_error(lambda: rea(FreeScorer(cost), 10, 3, None, 0, time_budget=100),
                           "finite and >= 0")
    assert isinstance(error, CostError)


@pytest.mark.parametrize("value", ["0.5", None, object(), 10**400])
def test_a_score_that_is_not_a_number_is_refused(value) -> None:
    from tfnas.search import CostError

    table = TableScorer(dict.fromkeys(all_cells(), value), "odd")
    assert isinstance(one_line_error(lambda: random_search(table, 3, 0), "must be a number"),
                      CostError)


def test_repeats_of_time_budgeted_runs_are_bounded_in_total(monkeypatch) -> None:
    import sys

    repeat_module = sys.modules["tfnas.search.repeat"]  # the package's `repeat` is the function
    monkeypatch.setattr(repeat_module, "MAX_TOTAL_EVALUATIONS", 200)
    one_line_error(lambda: repeat(rea, 50, 0, scorer=FreeScorer(1.0), population=10, sample=3,
                                  cycles=None, time_budget=40.0), "past the bound of 200")


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000 + "]" * 100_000, "[" + "9" * 5000 + "]", "\ud800", "{", "null", "[null]",
     '[{"format": 1}]'],
)
def test_broken_trace_json_is_one_line(text: str) -> None:
    one_line_error(lambda: traces_from_json(text))


@pytest.mark.parametrize(
    ("field", "value"),
    [("evaluations", [[1, 2]]), ("evaluations", [["a", "x", 1, 1]]), ("seed", "1"),
     ("best", "|none~00|+" + "x" * 100_000), ("settings", []), ("accuracies", [1]),
     ("wall_seconds", 10**400), ("memoised", "yes"), ("clock", "x" * 100_000),
     ("best_score", "1e999x")],
)
def test_wrong_trace_fields_are_one_line(field: str, value) -> None:
    data = random_search(RANDOM, 5, 0).to_dict()
    data[field] = value
    one_line_error(lambda: Trace.from_dict(data), "trace")


# -- the space argument (issue 13) ----------------------------------------------------------


def test_an_explicit_topology_space_draws_exactly_the_default() -> None:
    from tfnas.spaces import TOPOLOGY

    for space in ("tss", TOPOLOGY):
        assert random_search(RANDOM, 30, 3, space=space).evaluations[-1][:2] == random_search(
            RANDOM, 30, 3).evaluations[-1][:2]
        a, b = rea(RANDOM, 10, 3, 60, 4, space=space), rea(RANDOM, 10, 3, 60, 4)
        assert [e[:2] for e in a.evaluations] == [e[:2] for e in b.evaluations]


def test_topology_traces_keep_their_json_and_a_bad_space_is_refused() -> None:
    import json

    from tfnas.search import TraceError

    trace = random_search(RANDOM, 5, 0)
    data = json.loads(trace.to_json())
    assert trace.space == "tss" and "space" not in data  # written exactly as before spaces
    assert Trace.from_dict(data).space == "tss"
    data["space"] = "nb101"
    with pytest.raises(TraceError, match="unknown search space 'nb101'"):
        Trace.from_dict(data)
    data["space"] = "sss"  # a topology cell is no size-space config
    with pytest.raises(TraceError, match="size-space config"):
        Trace.from_dict(data)
