"""Claim kinds register where they are defined; search protocols come from the search registry;
one Outcome type states the results-JSON schema."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import harness.registry as registry
from harness.context import Context
from harness.evaluate import evaluate_claim
from harness.kinds import Measurement, get_kind, kind_names, register_kind
from harness.kinds.search import SearchProtocol
from harness.outcome import AlternativeRun, Outcome
from harness.registry import ClaimError, load_claims, parse_claim
from harness.results import load_results
from harness.verdicts import NOT_RUN, REPRODUCED, Estimate

FIXTURE = Path(__file__).parent / "fixtures" / "claims_results.json"
RECORDS = load_results(FIXTURE)["claims"]["outcomes"]
SHIPPED = load_claims()


# ---------------------------------------------------------------- a kind defined here


@dataclass(frozen=True)
class ConstantProtocol:
    """A measurement that is a given number: enough to exercise the registry end to end."""

    value: float
    std: float = 0.0

    @classmethod
    def from_dict(cls, cid, where, proto):
        registry.known_fields(cid, where, proto, cls)
        if not isinstance(proto.get("value"), int | float):
            raise ClaimError(f"claim {cid!r}: field '{where}.value' must be a number")
        return cls(float(proto["value"]), float(proto.get("std", 0.0)))


MEASURED: list[ConstantProtocol] = []


@register_kind("constant", protocol=ConstantProtocol, side=True)
def measure_constant(proto: ConstantProtocol, ctx: Context) -> Measurement:
    MEASURED.append(proto)
    return Measurement(Estimate(proto.value, proto.std, 30), {"max": proto.value})


def entry(kind, protocol, tolerance, published=None, alternatives=()):
    return {"id": f"test-{kind}", "title": "t", "source": "s", "kind": kind,
            "protocol": protocol, "tolerance": {**tolerance, "justification": "a test"},
            "published": published if published is not None else {},
            "interpretation": "i", "alternatives": list(alternatives)}


def test_a_kind_registered_by_a_test_module_is_found_parsed_and_measured():
    assert "constant" in kind_names() and "constant" in registry.KINDS
    assert get_kind("constant").protocol is ConstantProtocol
    claim = parse_claim(entry("constant", {"value": 2.0},
                              {"rule": "equivalence", "margin": 0.1}, {"value": 2.05},
                              [{"label": "far", "value": 3.0}]))
    assert claim.protocol == ConstantProtocol(2.0)
    assert claim.protocol_for(claim.alternatives[0]) == ConstantProtocol(3.0)
    MEASURED.clear()
    out = evaluate_claim(claim, Context())
    assert MEASURED == [ConstantProtocol(2.0), ConstantProtocol(3.0)]
    assert out.status == REPRODUCED and out.reproduced.value == 2.0
    assert [a.passed for a in out.alternatives_run] == [False]
    assert out.protocol == {"value": 2.0}  # the outcome records the protocol as written


def test_a_registered_kind_can_be_a_side_of_a_comparison():
    claim = parse_claim(entry("comparison",
                              {"a": {"kind": "constant", "value": 5.0, "std": 1.0},
                               "b": {"kind": "constant", "value": 1.0, "std": 1.0}},
                              {"rule": "greater", "alpha": 0.05}))
    out = evaluate_claim(claim, Context())
    assert out.status == REPRODUCED and out.reference.value == 1.0
    lo, _ = out.judgement.interval
    assert lo > 0 and out.judgement.verdict == REPRODUCED


def test_a_kind_validates_its_own_fields_naming_claim_and_field():
    with pytest.raises(ClaimError, match=r"test-constant.*protocol\.value"):
        parse_claim(entry("constant", {"value": "x"}, {"rule": "holds"}, {"value": 1.0}))
    with pytest.raises(ClaimError, match=r"test-constant.*unknown field.*'colour'"):
        parse_claim(entry("constant", {"value": 1, "colour": 2}, {"rule": "holds"},
                          {"value": 1.0}))
    with pytest.raises(ClaimError, match="expected one of"):
        parse_claim(entry("nonsense", {}, {"rule": "holds"}, {"value": 1.0}))
    with pytest.raises(ValueError, match="already registered"):
        register_kind("constant", protocol=ConstantProtocol)(lambda p, c: None)


def test_the_built_in_kinds_are_the_modules_of_the_package():
    modules = {p.stem for p in (Path(registry.__file__).parent / "kinds").glob("*.py")
               if not p.stem.startswith("_")}
    assert modules <= set(kind_names())


# ---------------------------------------------------------------- search protocols


SEARCH = {"algorithm": "random", "proxy": "naswot", "dataset": "cifar10", "metric": "valid12",
          "n": 10, "repetitions": 2, "seed": 1, "selection": "best", "quantity": "score"}
REA = {**SEARCH, "algorithm": "rea", "population": 8, "sample": 3, "cycles": 20}
del REA["n"]


def test_a_search_protocol_has_the_algorithms_declared_params():
    p = SearchProtocol.from_dict("c", "protocol", REA)
    assert p.params == {"population": 8, "sample": 3, "cycles": 20} and p.population == 8
    assert SearchProtocol.from_dict("c", "protocol", SEARCH).n == 10
    with pytest.raises(AttributeError):
        p.n  # noqa: B018 - random's parameter, not REA's
    assert copy.deepcopy(p) == p and pickle.loads(pickle.dumps(p)) == p


def test_shipped_claims_copy_and_pickle():
    for claim in SHIPPED.values():  # (a comparative claim's published value is NaN: != itself)
        for twin in (copy.deepcopy(claim), pickle.loads(pickle.dumps(claim))):
            assert twin.protocol == claim.protocol and twin.alternatives == claim.alternatives
            assert json.dumps(twin.to_dict()) == json.dumps(claim.to_dict())


@pytest.mark.parametrize("proto, field", [
    ({**REA, "sample": 9}, "protocol.sample"),  # the algorithm's own prepare refuses it
    ({**REA, "cycles": 4}, "protocol.cycles"),
    ({**REA, "time_budget": 10}, "protocol.time_budget"),  # refused: machine-speed dependent
    ({**SEARCH, "population": 8}, "unknown field"),
    ({**SEARCH, "algorithm": "hill"}, "protocol.algorithm"),
    ({**SEARCH, "n": 20_000}, "protocol.n"),
    ({**SEARCH, "selection": "population"}, "protocol.selection"),
])
def test_bad_search_protocols_name_claim_and_field(proto, field):
    with pytest.raises(ClaimError) as info:
        SearchProtocol.from_dict("the-claim", "protocol", proto)
    assert "the-claim" in str(info.value) and field in str(info.value), str(info.value)


def test_a_new_search_algorithm_runs_as_itself_not_as_rea():
    from tfnas.checks import check_int
    from tfnas.search import random_search
    from tfnas.search.registry import Param, register_search

    calls = []

    def prepare(k=5):
        return {"k": check_int("k", k, 1, 100)}

    @register_search("test_first_k", params=(Param("k", int, 5, "cells", evaluations=True),),
                     prepare=prepare, help="a test algorithm")
    def first_k(scorer, k, seed, **_):
        calls.append(k)
        return random_search(scorer=scorer, n=k, seed=seed)

    proto_dict = {**{k: v for k, v in SEARCH.items() if k != "n"},
                  "algorithm": "test_first_k", "k": 4}
    proto = SearchProtocol.from_dict("c", "protocol", proto_dict)
    assert proto.label() == "test_first_k k=4 + naswot"
    with pytest.raises(ClaimError, match=r"protocol\.k"):
        SearchProtocol.from_dict("c", "protocol", {**proto_dict, "k": 500})
    from harness.kinds.search import measure_search

    got = measure_search(proto, Context())  # on tables: Monte-Carlo runs of the algorithm
    runs = int(got.details["method"].split()[1])
    assert set(calls) == {4} and got.details["method"] == f"Monte-Carlo {runs} runs"
    assert runs <= len(calls)  # further scoring realisations rerun the same seeds


def _column_and_accuracy(proxy="naswot", dataset="cifar10", metric="valid12"):
    ctx = Context(scoring_noise=False)  # the committed table alone: one realisation
    return ctx, ctx.score_column(proxy, dataset), ctx.accuracy_column(dataset, metric)


@pytest.mark.parametrize("selection, reader", [("best", "best_of_n"),
                                               ("unselected", "unselected_cell")])
def test_random_search_on_tables_is_exact(selection, reader):
    from harness import exact
    from harness.kinds.search import measure_search

    ctx, scores, acc = _column_and_accuracy()
    proto = SearchProtocol.from_dict("c", "protocol", {**SEARCH, "quantity": "accuracy",
                                                       "selection": selection})
    got = measure_search(proto, ctx)
    want = getattr(exact, reader)(scores, acc, 10)
    assert got.estimate.value == pytest.approx(want.mean) and got.estimate.se == 0.0
    assert got.estimate.std == pytest.approx(want.std) and got.estimate.n == 2
    assert got.details["method"] == "exact"
    assert got.details["predicted"]["mean"]["sd"] == pytest.approx(want.std / 2**0.5)


def test_all_cells_reading_is_the_space_mean_over_every_sampled_value():
    from harness.kinds.search import measure_search

    ctx, _, acc = _column_and_accuracy()
    got = measure_search(SearchProtocol.from_dict("c", "protocol", {
        **SEARCH, "quantity": "accuracy", "selection": "all"}), ctx)
    assert got.estimate.value == pytest.approx(acc.mean()) and got.estimate.n == 2 * 10


def test_unselected_needs_two_cells():
    with pytest.raises(ClaimError, match="unselected.*n >= 2"):
        SearchProtocol.from_dict("c", "protocol", {**SEARCH, "n": 1, "selection": "unselected"})


def test_an_unselected_run_value_is_a_drawn_cell_that_was_not_kept():
    from harness.kinds.search import _kept_index, _selected
    from tfnas.search import TableScorer, random_search

    ctx, scores, _ = _column_and_accuracy()
    scorer = ctx.scorer("naswot", "cifar10")
    assert isinstance(scorer, TableScorer)
    proto = SearchProtocol.from_dict("c", "protocol", {**SEARCH, "selection": "unselected"})
    trace = random_search(scorer, 10, 3)
    [(arch, score)] = _selected(proto, trace)
    drawn = [e.arch for e in trace.evaluations]
    assert arch in drawn and drawn.index(arch) != _kept_index(trace)


def test_oracle_fitness_finds_the_best_accuracy():
    from harness.kinds.search import measure_search

    ctx, _, acc = _column_and_accuracy()
    proto = SearchProtocol.from_dict("c", "protocol", {
        **SEARCH, "proxy": "oracle", "quantity": "accuracy", "n": 15625})
    got = measure_search(proto, ctx)
    assert got.estimate.value == acc.max() and got.estimate.std == 0.0
    assert proto.label() == "random N=15625 + oracle"


def test_claims_seed_replaces_the_master_seed_and_exact_values_ignore_it():
    from harness.kinds.search import measure_search

    proto = SearchProtocol.from_dict("c", "protocol", {**SEARCH, "quantity": "accuracy"})
    a = measure_search(proto, Context(claims_seed=7, scoring_noise=False))
    b = measure_search(proto, Context(claims_seed=8, scoring_noise=False))
    assert a.details["master_seed"] == 7 and b.details["master_seed"] == 8
    assert a.estimate.value == b.estimate.value and a.estimate.se == 0.0


def test_rea_on_tables_repeats_until_the_monte_carlo_error_is_a_tenth_of_the_margin():
    from harness.kinds._seed_free import MAX_RUNS, mc_target
    from harness.kinds.search import measure_search

    proto = SearchProtocol.from_dict("c", "protocol", {**REA, "quantity": "accuracy"})
    got = [measure_search(proto, Context(claims_seed=s)) for s in (1, 2)]
    for g in got:
        runs = int(g.details["method"].split()[1])
        assert g.estimate.se < mc_target("accuracy", g.estimate.value) or runs == MAX_RUNS
    assert abs(got[0].estimate.value - got[1].estimate.value) < 5 * max(
        g.estimate.se for g in got)


def test_scoring_noise_is_carried_where_realisations_exist_and_can_be_switched_off():
    from harness.kinds.search import measure_search

    proto = SearchProtocol.from_dict("c", "protocol", {
        **SEARCH, "proxy": "synflow", "n": 1000, "quantity": "accuracy"})
    ctx = Context()
    noise = ctx.noise("synflow", "cifar10")
    if noise is None or len(noise.realisations) < 2:
        pytest.skip("no synflow/cifar10 scoring-noise realisations in benchmarks/noise")
    on = measure_search(proto, ctx)
    off = measure_search(proto, Context(scoring_noise=False))
    assert on.details["scoring_noise"]["seeds"] == list(noise.seeds)
    assert [r["seed"] for r in on.details["realisations"]] == list(noise.seeds)
    assert off.details["scoring_noise"]["seeds"] == [0] and off.estimate.se == 0.0
    top = on.details["top_cells"]
    assert top[0]["score_sd"] >= 0 and sum(t["wins"] for t in top) <= 1 + 1e-9
    values = [r["value"] for r in on.details["realisations"]]
    # fresh scoring noise per repetition: the realisations' mean is known to their spread / sqrt(R)
    assert on.estimate.se == pytest.approx(float(np.std(values, ddof=1)) / np.sqrt(len(values)))
    assert on.estimate.se_df == pytest.approx(len(values) - 1)


def test_best_dataset_labels_are_unchanged():
    claim = SHIPPED["cifar100-best-scores"]
    assert [m.label() for m in claim.protocol.methods] == [
        "random N=100 + naswot", "random N=100 + synflow", "REA P=64 S=20 C=1000 + naswot",
        "REA P=64 S=20 C=1000 + synflow"]


# ---------------------------------------------------------------- one Outcome type


UPGRADED = ("verdict", "interval", "slack", "power", "effect", "power_effect", "decide")
"""Judgement fields a record from before the three-way verdicts lacks: written on reading it."""


def test_outcome_writes_every_recorded_field_back_unchanged():
    for rec in RECORDS:
        out = Outcome.from_dict(rec).to_dict()
        if "judgement" in out and "verdict" not in rec.get("judgement", {}):
            assert out["judgement"]["verdict"] == (
                REPRODUCED if rec["judgement"]["passed"] else "not reproduced")
            out["judgement"] = {k: v for k, v in out["judgement"].items() if k not in UPGRADED}
        if rec["tolerance"]["rule"] == "welch":  # removed: read as a difference test (tost)
            assert out["tolerance"]["rule"] == "tost" and out["tolerance"]["margin"] == 0
            out["tolerance"] = rec["tolerance"]
        assert (json.dumps(out, allow_nan=True, sort_keys=True)
                == json.dumps(rec, allow_nan=True, sort_keys=True))


estimates = st.builds(Estimate, st.floats(allow_nan=False), st.none() | st.floats(0, 1e3),
                      st.none() | st.integers(1, 1000),
                      st.none() | st.tuples(st.floats(-1, 0), st.floats(0, 1)))
alternative_runs = st.one_of(
    st.builds(AlternativeRun, st.text(max_size=10), st.just({"n": 1}), estimates,
              st.booleans(), st.text(max_size=10)),
    st.builds(AlternativeRun, st.text(max_size=10), st.just({}), reason=st.text(max_size=10)))


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(RECORDS), st.none() | estimates, st.lists(alternative_runs, max_size=3),
       st.sampled_from(["reproduced", "not run", "error", "known divergence"]))
def test_outcome_round_trips_through_its_dict(rec, reproduced, alts, status):
    base = Outcome.from_dict(copy.deepcopy(rec))
    o = dataclasses.replace(base, status=status, reproduced=reproduced or base.reproduced,
                            alternatives_run=tuple(alts))
    assert Outcome.from_dict(o.to_dict()) == o
    assert Outcome.from_dict(json.loads(json.dumps(o.to_dict()))).to_dict() == \
        json.loads(json.dumps(o.to_dict()))


def test_evaluated_outcomes_write_the_recorded_fields(tmp_path):
    measured = next(r for r in RECORDS if r["status"] == REPRODUCED and "reference" not in r)
    claim = parse_claim(entry("constant", {"value": 1.0}, {"rule": "holds"}, {"value": 1.0}))
    new = {"reading", "measurement"}  # the fields added with the three-way verdicts
    assert set(evaluate_claim(claim, Context()).to_dict()) - new == set(measured)
    not_run = next(r for r in RECORDS if r["status"] == NOT_RUN)
    ctx = Context(tables_root=tmp_path)
    assert set(evaluate_claim(SHIPPED["fig3-corr-cifar10"], ctx).to_dict()) - new == set(not_run)


def test_a_rule_registered_by_a_test_judges_a_claim():
    from harness.rules import register_rule
    from harness.verdicts import Judgement

    @register_rule("test_at_least", needs=("margin",))
    def at_least(tol, r, p):
        verdict = REPRODUCED if r.value >= p.value - tol.margin else "not reproduced"
        return Judgement(verdict, r.value - p.value, tol.margin, {}, "at least")

    def claim(value):
        return parse_claim(entry("constant", {"value": value},
                                 {"rule": "test_at_least", "margin": 0.5}, {"value": 2.0}))

    assert evaluate_claim(claim(1.6), Context()).status == REPRODUCED
    assert evaluate_claim(claim(1.4), Context()).status == "not reproduced"
    with pytest.raises(ClaimError, match=r"tolerance.*needs 'margin'"):
        parse_claim(entry("constant", {"value": 1.0}, {"rule": "test_at_least"}, {"value": 2.0}))


def test_best_dataset_holds_per_realisation_and_falls_back_to_seed_zero():
    from harness.kinds.best_dataset import _best_in, _by_realisation

    m = Measurement(Estimate(5.0), {"realisations": [{"seed": 0, "value": 5.0},
                                                     {"seed": 2, "value": 1.0}]})
    assert _by_realisation(m) == {0: 5.0, 2: 1.0}
    assert _by_realisation(Measurement(Estimate(3.0), {})) == {0: 3.0}
    per_dataset = {"cifar10": {0: 5.0, 2: 1.0}, "cifar100": {0: 4.0}}
    assert _best_in(per_dataset, 0) == "cifar10"
    assert _best_in(per_dataset, 2) == "cifar100"  # cifar100 has no seed 2: its seed 0 counts
