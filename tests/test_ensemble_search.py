"""Searches driven by the ensemble proxies (vote, az_nas): the incremental population scores
against the ensembles recomputed from scratch, the searches' choices against the ensembles
over their evaluated cells, table and live CLI runs, and store reuse of member scores."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

from tfnas import cli
from tfnas.checks import ArgumentError
from tfnas.members import MissingMemberScoreError, TableMembers, score_population
from tfnas.proxies import get_proxy
from tfnas.proxies.az_nas import az_nas
from tfnas.proxies.vote import copeland
from tfnas.search import TableScorer, random_search, rea, repeat
from tfnas.search.ensemble import EnsembleScorer, begin_population
from tfnas.search.population import (
    RankPopulation,
    RecomputedPopulation,
    VotePopulation,
    population_for,
)
from tfnas.space import all_cells, as_arch

ENSEMBLES = ("az_nas", "vote")

values = st.one_of(st.sampled_from([0.0, 1.0, 2.0, -math.inf, math.nan]),
                   st.floats(-1e6, 1e6, allow_nan=False))


def rows_of(width: int) -> st.SearchStrategy[list[tuple[float, ...]]]:
    return st.lists(st.tuples(*[values] * width), min_size=1, max_size=25)


def columns(rows: list[tuple[float, ...]], members: tuple[str, ...]) -> dict[str, np.ndarray]:
    matrix = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(members))
    return {m: matrix[:, k] for k, m in enumerate(members)}


def first_max(scores: list[float] | np.ndarray) -> int:
    keyed = [s if s == s else -math.inf for s in scores]
    return keyed.index(max(keyed))


@given(rows_of(4))
def test_incremental_az_nas_is_az_nas_over_the_cells_seen(rows) -> None:
    members = get_proxy("az_nas").members
    population = RankPopulation(len(members))
    for n, row in enumerate(rows, start=1):
        population.add(row)
        seen = columns(rows[:n], members)
        expected = az_nas(seen)
        for i in range(n):
            ranks = [scipy.stats.rankdata(np.where(np.isnan(seen[m]), -np.inf, seen[m]))[i]
                     for m in members]
            assert population.ranks(i) == ranks
            assert math.isclose(population.score(i), expected[i], rel_tol=1e-12, abs_tol=1e-12)


@given(st.integers(1, 5).flatmap(lambda m: st.tuples(st.just(m), rows_of(m))))
def test_incremental_vote_is_copeland_over_the_cells_seen_bit_for_bit(drawn) -> None:
    width, rows = drawn
    population = VotePopulation(width)
    for n, row in enumerate(rows, start=1):
        population.add(row)
        expected = copeland(list(np.asarray(rows[:n], dtype=np.float64).reshape(n, width).T))
        got = np.asarray([population.score(i) for i in range(n)])
        assert np.array_equal(got, expected, equal_nan=True)


def test_a_population_grows_past_its_first_allocation() -> None:
    rng = random.Random(3)
    rows = [(rng.random(), rng.random(), rng.random()) for _ in range(150)]
    population = VotePopulation(3)
    for row in rows:
        population.add(row)
    assert np.array_equal([population.score(i) for i in range(150)],
                          copeland(list(np.asarray(rows).T)))


def test_population_rules() -> None:
    assert isinstance(population_for("az_nas"), RankPopulation)
    assert isinstance(population_for("vote"), VotePopulation)
    members = get_proxy("az_nas").members
    other = RecomputedPopulation(members, az_nas)
    rows = [(1.0, 2.0, 3.0, 4.0), (2.0, 1.0, 3.0, 0.0), (0.0, 0.0, 5.0, 4.0)]
    for row in rows:
        other.add(row)
    assert [other.score(i) for i in range(3)] == az_nas(columns(rows, members)).tolist()
    with pytest.raises(ArgumentError, match="not an ensemble"):
        population_for("naswot")
    with pytest.raises(ArgumentError, match="needs 4 member scores"):
        RankPopulation(4).add((1.0, 2.0))


@pytest.fixture(scope="module")
def member_tables() -> dict[str, dict]:
    """Made-up member scores of every cell: coarse (ties) with a few -inf."""
    rng = random.Random(11)
    names = {m for e in ENSEMBLES for m in get_proxy(e).members}
    return {m: {a: (-math.inf if rng.random() < 0.02 else float(rng.randrange(40)))
                for a in all_cells()} for m in sorted(names)}


def precomputed(proxy: str, tables: dict[str, dict]) -> EnsembleScorer:
    members = get_proxy(proxy).members
    return EnsembleScorer(proxy, TableMembers(members, {m: tables[m] for m in members}))


def ensemble_over(proxy: str, tables: dict[str, dict], cells: list) -> np.ndarray:
    """The registered ensemble from scratch over ``cells`` (cells or their strings)."""
    spec = get_proxy(proxy)
    cells = [as_arch(c) for c in cells]
    return np.asarray(spec.function({m: np.asarray([tables[m][c] for c in cells])
                                     for m in spec.members}))


@pytest.mark.parametrize("proxy", ENSEMBLES)
@pytest.mark.parametrize("seed", [0, 7])
def test_random_search_returns_the_ensembles_argmax_over_its_drawn_cells(
        proxy: str, seed: int, member_tables) -> None:
    trace = random_search(precomputed(proxy, member_tables), n=60, seed=seed)
    drawn = [e.arch for e in trace.evaluations]
    assert len(set(drawn)) == 60
    expected = ensemble_over(proxy, member_tables, drawn)
    best = first_max(expected)
    assert str(trace.best) == drawn[best] and trace.best_score == expected[best]
    # each evaluation recorded the cell's score within the cells drawn up to it
    for n in (1, 2, 30, 60):
        within = ensemble_over(proxy, member_tables, drawn[:n])[-1]
        recorded = trace.evaluations[n - 1].score
        assert (math.isnan(within) and math.isnan(recorded)) or math.isclose(
            recorded, within, rel_tol=1e-12, abs_tol=1e-12)


@pytest.mark.parametrize("proxy", ENSEMBLES)
def test_rea_picks_parents_by_current_scores_and_returns_the_final_argmax(
        proxy: str, member_tables) -> None:
    evaluated: list[str] = []
    checked = []

    def on_cycle(cycle) -> None:
        before = list(dict.fromkeys(evaluated[:-1]))  # the cells seen when the parent was drawn
        now = dict(zip(before, ensemble_over(proxy, member_tables, before).tolist(), strict=True))
        scores = [now[str(m.arch)] for m in cycle.tournament]
        top = max(s if s == s else -math.inf for s in scores)
        assert math.isclose(now[str(cycle.parent.arch)], top, rel_tol=1e-12, abs_tol=1e-12)
        checked.append(cycle)

    trace = rea(precomputed(proxy, member_tables), population=10, sample=4, cycles=120, seed=5,
                on_evaluation=lambda e: evaluated.append(e.arch), on_cycle=on_cycle)
    assert len(checked) == 110
    cells = list(dict.fromkeys(e.arch for e in trace.evaluations))
    final = ensemble_over(proxy, member_tables, cells)
    best = first_max(final)
    assert str(trace.best) == cells[best] and trace.best_score == final[best]


@pytest.mark.parametrize("proxy", ENSEMBLES)
def test_every_repeat_begins_a_fresh_population(proxy: str, member_tables) -> None:
    scorer = precomputed(proxy, member_tables)
    traces = repeat(rea, 2, 3, scorer=scorer, population=5, sample=2, cycles=20)
    alone = rea(precomputed(proxy, member_tables), population=5, sample=2, cycles=20,
                seed=traces[1].seed)
    assert [e[:2] for e in traces[1].evaluations] == [e[:2] for e in alone.evaluations]
    assert traces[1].best == alone.best


def test_other_scorers_are_not_population_relative(member_tables) -> None:
    assert begin_population(TableScorer(member_tables["synflow"], "t")) is None


def test_a_scorer_refuses_another_ensembles_members_and_unseen_cells(member_tables) -> None:
    with pytest.raises(ArgumentError, match="combines synflow, jacob_cov, snip"):
        EnsembleScorer("vote", TableMembers(get_proxy("az_nas").members, member_tables))
    scorer = precomputed("vote", member_tables)
    with pytest.raises(ArgumentError, match="not been evaluated in this run"):
        scorer.current(next(iter(member_tables["snip"])))


def test_score_population_takes_precomputed_member_scores(member_tables) -> None:
    cells = list(member_tables["snip"])[:40]
    for proxy in ENSEMBLES:
        assert score_population(cells, proxy, "cifar10", member_scores=member_tables) == \
            ensemble_over(proxy, member_tables, cells).tolist()
    gap = {m: dict(list(t.items())[1:]) for m, t in member_tables.items()}
    with pytest.raises(MissingMemberScoreError, match="have none for cell"):
        score_population(cells, "vote", "cifar10", member_scores=gap)
    with pytest.raises(ArgumentError, match="not both"):
        score_population(cells, "vote", "cifar10", store=object(), member_scores=member_tables)
    with pytest.raises(ArgumentError, match="not an ensemble"):
        score_population(cells, "synflow", "cifar10", member_scores=member_tables)


# -- the command line ---------------------------------------------------------------------------

def _members_tables_exist(proxy: str) -> bool:
    from tfnas.tables import table_path

    return all(table_path(m, "cifar10").exists() for m in get_proxy(proxy).members)


@pytest.mark.parametrize("proxy", ENSEMBLES)
def test_table_search_ranks_within_the_member_tables_common_cells(
        proxy: str, capsys: pytest.CaptureFixture[str], data_root) -> None:
    if not _members_tables_exist(proxy):
        pytest.skip(f"benchmarks/scores/ lacks a cifar10 table of a member of {proxy}")
    from tfnas.search.ensemble import ensemble_table
    from tfnas.tables import load_table

    code = cli.main(["search", "rea", "--proxy", proxy, "--dataset", "cifar10", "--table",
                     "--population", "10", "--sample", "3", "--cycles", "100", "--json", "-"])
    out, err = capsys.readouterr()
    assert code == 0, err
    trace = json.loads(out)["traces"][0]
    assert trace["scorer"] == f"{proxy}-table"
    tables = {m: load_table(m, "cifar10").scores for m in get_proxy(proxy).members}
    common = [c for c in all_cells() if all(c in t for t in tables.values())]
    whole = dict(zip(map(str, common), ensemble_over(proxy, tables, common).tolist(),
                     strict=True))
    assert ensemble_table(proxy, "cifar10").scores == dict(
        zip(common, whole.values(), strict=True))
    evaluated = [e[0] for e in trace["evaluations"]]
    assert all(e[1] == whole[e[0]] for e in trace["evaluations"])
    assert trace["best_score"] == max(whole[c] for c in evaluated) == whole[trace["best"]]
    if len(common) < 15625:
        assert f"{proxy} ranking within them" in err


def test_table_search_refuses_member_tables_scored_under_other_settings(
        capsys: pytest.CaptureFixture[str], data_root) -> None:
    if not _members_tables_exist("az_nas"):
        pytest.skip("benchmarks/scores/ lacks the AZ-NAS component tables for cifar10")
    code = cli.main(["search", "random", "--proxy", "az_nas", "--dataset", "cifar10", "--table",
                     "--score-seed", "1", "--n", "5"])
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert code == 1 and len(errors) == 1 and errors[0].startswith("tfnas: error: ")
    assert "az_expressivity-cifar10.csv.gz" in errors[0]
    assert "computed under settings" in errors[0] and '"seed":1' in errors[0]


@pytest.mark.integration
def test_live_rea_with_vote_then_a_store_rerun_scores_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch, data_root) -> None:
    store = tmp_path / "members.sqlite"
    args = ["search", "rea", "--proxy", "vote", "--cycles", "12", "--population", "4",
            "--sample", "2", "--dataset", "cifar10", "--store", str(store), "--json", "-"]
    assert cli.main(args) == 0, capsys.readouterr().err
    first = json.loads(capsys.readouterr().out)["traces"][0]

    def no_scoring(*_args, **_kwargs):
        raise AssertionError("a member was scored again; the store should have served it")

    import tfnas.scoring

    monkeypatch.setattr(tfnas.scoring, "score_many", no_scoring)
    assert cli.main(args) == 0, capsys.readouterr().err
    again = json.loads(capsys.readouterr().out)["traces"][0]
    assert [e[:2] for e in again["evaluations"]] == [e[:2] for e in first["evaluations"]]
    assert again["best"] == first["best"] and again["best_score"] == first["best_score"]
    cells = list(dict.fromkeys(e[0] for e in first["evaluations"]))
    from tfnas.store import ScoreStore

    with ScoreStore(store) as opened:
        assert [opened.count(proxy=m, dataset="cifar10") for m in ("synflow", "jacob_cov", "snip")] \
            == [len(cells)] * 3
        scores = score_population(cells, "vote", "cifar10", store=opened)
    assert first["best_score"] == max(scores) == scores[cells.index(first["best"])]


@pytest.mark.integration
def test_live_random_search_with_az_nas(capsys: pytest.CaptureFixture[str], data_root) -> None:
    assert cli.main(["search", "random", "--proxy", "az_nas", "--n", "3", "--dataset", "cifar10",
                     "--json", "-"]) == 0, capsys.readouterr().err
    trace = json.loads(capsys.readouterr().out)["traces"][0]
    assert trace["scorer"] == "az_nas" and trace["distinct"] == 3
    assert trace["evaluations"][0][1] == 0.0  # alone, a cell ranks first on every component
    assert trace["settings"]["scorer"]["members"] == list(get_proxy("az_nas").members)
