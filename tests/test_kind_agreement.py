"""The ensemble and ranking kinds: pair_agreement (vote), rank_aggregate (AZ-NAS), proxy_ranking.

Synthetic tables over the real cells as in ``test_partial_tables``. The vote proxy's ``pairwise_agreement`` is replaced
by :func:`vote_agreement`, a stand-in with the published rule (a pair of cells with distinct
accuracies counts 1 when the members' majority vote orders it as the accuracy does, ½ on a vote
tie), so that the kind is tested on its own; the jackknife is proven equal to a literal
leave-one-out loop, and honest against the spread over repeated samples.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import rankdata
from test_partial_tables import DATASET, N, context, permutation, population, write

import harness.kinds.pair_agreement as pa
from harness.context import NotRun
from harness.evaluate import evaluate_claim
from harness.kinds.pair_agreement import grouped_jackknife_se, measure_pair_agreement
from harness.kinds.proxy_ranking import (
    IN_ORDER,
    REVERSED,
    UNDECIDED,
    decided_pairs,
    judge_order,
    pair_status,
    ranking_value,
)
from harness.kinds.rank_aggregate import measure_rank_aggregate
from harness.registry import ClaimError, parse_claim
from harness.stats import correlation
from harness.verdicts import INCONCLUSIVE, NOT_REPRODUCED, NOT_RUN, REPRODUCED

MEMBERS = ("synflow", "params", "flops")


def vote_agreement(member_scores, accuracy) -> float:
    """Stand-in for ``tfnas.proxies.vote.pairwise_agreement`` (vectorised, O(n²) memory)."""
    acc = np.asarray(accuracy, dtype=float)
    votes = np.zeros((acc.size, acc.size))
    for s in member_scores.values():
        s = np.asarray(s, dtype=float)
        with np.errstate(invalid="ignore"):
            votes += np.nan_to_num(np.sign(s[:, None] - s[None, :]), nan=0.0)
    iu = np.triu_indices(acc.size, 1)
    truth = np.sign(acc[:, None] - acc[None, :])[iu]
    vote = np.sign(votes[iu])
    keep = truth != 0
    if not keep.any():
        return float("nan")
    return float(np.mean((vote[keep] == truth[keep]) + 0.5 * (vote[keep] == 0)))


def literal_agreement(member_scores, accuracy) -> float:
    """The published rule as loops: every pair, every member's vote."""
    acc = list(accuracy)
    num = den = 0.0
    for i in range(len(acc)):
        for j in range(i + 1, len(acc)):
            if acc[i] == acc[j]:
                continue
            vote = 0
            for s in member_scores.values():
                a, b = float(s[i]), float(s[j])
                vote += (a > b) - (a < b)
            den += 1
            truth = 1 if acc[i] > acc[j] else -1
            num += 1.0 if vote * truth > 0 else 0.5 if vote == 0 else 0.0
    return num / den if den else float("nan")


def literal_jackknife_se(member_scores, accuracy) -> float:
    n = len(accuracy)
    theta = []
    for k in range(n):
        keep = [i for i in range(n) if i != k]
        theta.append(literal_agreement({m: [s[i] for i in keep] for m, s in member_scores.items()},
                                       [accuracy[i] for i in keep]))
    theta = np.array(theta)
    return float(np.sqrt((n - 1) / n * np.sum((theta - theta.mean()) ** 2)))


small = st.integers(5, 10).flatmap(lambda n: st.tuples(
    st.lists(st.lists(st.sampled_from([0.0, 1.0, 2.0, 3.0, -np.inf]), min_size=n, max_size=n),
             min_size=3, max_size=3),
    st.lists(st.integers(0, 4), min_size=n, max_size=n)))


@settings(max_examples=40, deadline=None)
@given(small)
def test_the_delete_one_jackknife_equals_a_literal_leave_one_out_loop(data):
    members, acc = data
    scores = {f"m{k}": np.array(s) for k, s in enumerate(members)}
    accuracy = np.array(acc, dtype=float)
    assert vote_agreement(scores, accuracy) == pytest.approx(literal_agreement(scores, acc),
                                                             nan_ok=True)
    fast = grouped_jackknife_se(vote_agreement, scores, accuracy, groups=len(acc))
    slow = literal_jackknife_se({m: list(s) for m, s in scores.items()}, acc)
    assert fast == pytest.approx(slow, abs=1e-12, nan_ok=True)


NOISE = {"synflow": 0.3, "params": 1.0, "flops": -3.0}
"""Each member is the accuracy signal plus this much noise (negative: the score is negated):
synflow ranks best, then params; flops is weak and anti-correlated (its |rho| is judged)."""


def members_population(seed: int = 0):
    acc, base = population(seed)
    rng = np.random.default_rng(seed + 100)
    sign = {m: -1.0 if v < 0 else 1.0 for m, v in NOISE.items()}
    return acc, {m: sign[m] * (base + abs(NOISE[m]) * rng.standard_normal(N)) for m in MEMBERS}


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """Complete tables of the three members (one -inf score), written once for the module."""
    root = tmp_path_factory.mktemp("full")
    acc, scores = members_population()
    scores["flops"][7] = -np.inf
    for m in MEMBERS:
        write(root, m, scores[m], range(N), None)
    return context(root, acc), acc, scores  # one context: its tables are read once


def test_the_grouped_jackknife_matches_the_spread_over_repeated_samples():
    acc, scores = members_population(1)
    rng = np.random.default_rng(4)
    n, values, ses = 200, [], []
    for _ in range(40):
        i = rng.choice(N, size=n, replace=False)
        sub = {m: s[i] for m, s in scores.items()}
        values.append(vote_agreement(sub, acc[i]))
        ses.append(grouped_jackknife_se(vote_agreement, sub, acc[i]))
    fpc = (N - n) / (N - 1)
    assert np.std(values, ddof=1) == pytest.approx(np.mean(ses) * fpc ** 0.5, rel=0.3)


def agreement_claim(published: float = 0.8):
    return parse_claim({"id": "test-vote", "title": "t", "source": "s", "kind": "pair_agreement",
                        "protocol": {"members": list(MEMBERS), "dataset": DATASET,
                                     "metric": "test200"},
                        "published": {"value": published},
                        "tolerance": {"rule": "equivalence", "margin": 0.025,
                                      "justification": "t"}, "interpretation": "i"})


def test_pair_agreement_over_complete_tables_is_exact_and_aligned(full, monkeypatch):
    ctx, acc, scores = full
    seen = {}

    def recording(member_scores, accuracy):
        seen.update(member_scores, acc=accuracy)
        return 0.8123

    monkeypatch.setattr(pa, "agreement_function", lambda: recording)
    m = measure_pair_agreement(agreement_claim().protocol, ctx)
    assert m.estimate.value == 0.8123 and m.estimate.se == 0.0 and m.estimate.n == N
    assert all(np.array_equal(seen[k], scores[k]) for k in MEMBERS)
    assert np.array_equal(seen["acc"], acc)


def test_pair_agreement_on_a_sample_carries_the_jackknife_error(tmp_path, monkeypatch):
    acc, scores = members_population()
    perm = permutation()
    n = 300
    for m in MEMBERS:
        write(tmp_path, m, scores[m], perm[:n], "permutation:5")
    monkeypatch.setattr(pa, "agreement_function", lambda: vote_agreement)
    ctx = context(tmp_path, acc)
    m = measure_pair_agreement(agreement_claim().protocol, ctx)
    idx = np.sort(perm[:n])
    sub = {k: scores[k][idx] for k in MEMBERS}
    assert m.estimate.value == pytest.approx(vote_agreement(sub, acc[idx]))
    expected = grouped_jackknife_se(vote_agreement, sub, acc[idx]) * ((N - n) / (N - 1)) ** 0.5
    assert m.estimate.se == pytest.approx(expected) and m.estimate.se > 0
    assert m.details["space_sample"]["sample"] and m.details["jackknife"]["groups"] == 30
    out = evaluate_claim(agreement_claim(m.estimate.value), ctx)
    assert out.status in (REPRODUCED, INCONCLUSIVE) and out.judgement.interval[1] > out.judgement.interval[0]


def test_pair_agreement_refuses_an_index_order_table_and_a_missing_vote(tmp_path, monkeypatch):
    acc, scores = members_population()
    for m in MEMBERS:
        write(tmp_path, m, scores[m], range(1000), None)
    monkeypatch.setattr(pa, "agreement_function", lambda: vote_agreement)
    out = evaluate_claim(agreement_claim(), context(tmp_path, acc))
    assert out.status == NOT_RUN and "not a uniform sample" in out.reason
    import importlib.util

    if importlib.util.find_spec("tfnas.proxies.vote") is None:
        monkeypatch.undo()
        with pytest.raises(NotRun, match="pairwise_agreement"):
            pa.agreement_function()


def test_pair_agreement_protocol_is_validated():
    with pytest.raises(ClaimError, match="members"):
        parse_claim({**_raw_agreement(), "protocol": {"members": ["synflw"], "dataset": DATASET,
                                                      "metric": "test200"}})
    with pytest.raises(ClaimError, match="twice"):
        parse_claim({**_raw_agreement(), "protocol": {"members": ["params", "params"],
                                                      "dataset": DATASET, "metric": "test200"}})


def _raw_agreement():
    return {"id": "t", "title": "t", "source": "s", "kind": "pair_agreement",
            "published": {"value": 0.8}, "interpretation": "i",
            "tolerance": {"rule": "equivalence", "margin": 0.025, "justification": "t"}}


# ------------------------------------------------------------------ rank_aggregate (AZ-NAS)

def log_rank_sum(member_scores):
    """AZ-NAS's aggregation: Σ_members log(rank / n), rank 1 = lowest score."""
    n = len(next(iter(member_scores.values())))
    return sum(np.log(rankdata(np.where(np.isfinite(s), s, -np.inf), method="min") / n)
               for s in member_scores.values())


@pytest.fixture
def ensemble(monkeypatch):
    import tfnas.proxies.registry as reg
    from tfnas.proxies import proxy_names, register_proxy

    proxy_names()
    monkeypatch.setattr(reg, "_PROXIES", dict(reg._PROXIES))
    register_proxy("test_log_rank_sum", members=MEMBERS)(log_rank_sum)
    return "test_log_rank_sum"


def aggregate_claim(quantity: str, published: float, coefficient: str | None = "kendall"):
    protocol = {"proxy": "test_log_rank_sum", "dataset": DATASET, "metric": "test200",
                "quantity": quantity}
    if coefficient:
        protocol["coefficient"] = coefficient
    return parse_claim({"id": "t", "title": "t", "source": "s", "kind": "rank_aggregate",
                        "protocol": protocol, "published": {"value": published},
                        "tolerance": {"rule": "equivalence", "margin": 0.05,
                                      "justification": "t"}, "interpretation": "i"})


def test_rank_aggregate_over_the_whole_space(full, ensemble):
    ctx, acc, scores = full
    agg = log_rank_sum(scores)
    for coefficient in ("kendall", "spearman"):
        m = measure_rank_aggregate(aggregate_claim("correlation", 0.5, coefficient).protocol, ctx)
        assert m.estimate.value == pytest.approx(correlation(agg, acc, coefficient))
        assert m.estimate.se == 0.0
    sel = measure_rank_aggregate(aggregate_claim("selected", 90.0, None).protocol, ctx)
    assert sel.estimate.value == acc[int(np.argmax(agg))] and sel.estimate.se == 0.0
    assert sel.details["selected"]["index"] == int(np.argmax(agg))


def test_rank_aggregate_on_a_sample(tmp_path, ensemble):
    acc, scores = members_population()
    perm = permutation()
    for m in MEMBERS:
        write(tmp_path, m, scores[m], perm[:2000], "permutation:5")
    ctx = context(tmp_path, acc)
    m = measure_rank_aggregate(aggregate_claim("correlation", 0.5).protocol, ctx)
    idx = np.sort(perm[:2000])
    agg = log_rank_sum({k: s[idx] for k, s in scores.items()})  # ranks within the sample
    assert m.estimate.value == pytest.approx(correlation(agg, acc[idx], "kendall"))
    assert m.estimate.se > 0 and m.details["space_sample"]["sample"]
    out = evaluate_claim(aggregate_claim("selected", 90.0, None), ctx)
    assert out.status == NOT_RUN and "not comparable on a sample" in out.reason


def aggregate_claim_with(quantity: str = "correlation", **extra):
    protocol = {"proxy": "test_log_rank_sum", "dataset": DATASET, "metric": "test200",
                "quantity": quantity, **extra}
    if quantity == "correlation":
        protocol.setdefault("coefficient", "spearman")
    return parse_claim({"id": "t", "title": "t", "source": "s", "kind": "rank_aggregate",
                        "protocol": protocol, "published": {"value": 0.5},
                        "tolerance": {"rule": "equivalence", "margin": 0.05,
                                      "justification": "t"}, "interpretation": "i"})


def literal_rule(scores: dict, rule: str) -> tuple[dict, np.ndarray]:
    """The three non-finite rules restated cell by cell: kept cells, and each member's scores."""
    n = len(next(iter(scores.values())))
    bad = [any(not np.isfinite(s[i]) for s in scores.values()) for i in range(n)]
    keep = np.array([not b for b in bad]) if rule == "drop" else np.ones(n, dtype=bool)
    out = {}
    for m, s in scores.items():
        finite = sorted(v for v in s if np.isfinite(v))
        median = float(np.median(finite))
        out[m] = np.array([v if np.isfinite(v) else (median if rule == "median" else v)
                           for v, k in zip(s, keep, strict=True) if k])
    return out, keep


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.floats(-5, 5), st.floats(-5, 5), st.booleans(), st.booleans()),
                min_size=2, max_size=40),
       st.sampled_from(("last", "drop", "median")))
def test_the_non_finite_rules_are_their_definitions(rows, rule):
    from harness.kinds.rank_aggregate import apply_non_finite

    a = np.array([-np.inf if bad else x for x, _, bad, _ in rows])
    b = np.array([-np.inf if bad else y for _, y, _, bad in rows])
    scores = {"a": a, "b": b}
    if not (np.isfinite(a).any() and np.isfinite(b).any()):
        return
    got, kept = apply_non_finite(scores, rule)
    want, keep = literal_rule(scores, rule)
    assert kept.tolist() == keep.tolist()
    for m in scores:
        assert got[m].tolist() == want[m].tolist()


def test_the_non_finite_rule_and_the_variant_change_what_is_aggregated(tmp_path, ensemble):
    """drop and median change the aggregate as their definitions say; a variant folder replaces
    the tables it holds (and only those), and its precision is recorded."""
    from tfnas.tables import variant_root

    acc, scores = members_population()
    scores["synflow"][:50] = -np.inf
    for m in MEMBERS:
        write(tmp_path, m, scores[m], range(N), None)
    ctx = context(tmp_path, acc)
    for rule in ("last", "drop", "median"):
        m = measure_rank_aggregate(aggregate_claim_with(non_finite=rule).protocol, ctx)
        ruled, keep = literal_rule(scores, rule)
        want = correlation(log_rank_sum(ruled), acc[keep], "spearman")
        assert m.estimate.value == pytest.approx(want)
        assert m.details["population"] == int(keep.sum()) and m.details["non_finite"]["cells"] == 50
    other = scores["params"][::-1].copy()
    write(variant_root("v", tmp_path), "params", other, range(N), None)
    m = measure_rank_aggregate(aggregate_claim_with(variant="v").protocol, ctx)
    want = correlation(log_rank_sum({**scores, "params": other}), acc, "spearman")
    assert m.estimate.value == pytest.approx(want)
    assert m.details["member_tables"]["params"]["variant"] == "v"
    out = evaluate_claim(aggregate_claim_with(variant="nowhere"), ctx)
    assert out.status == NOT_RUN and "no tables variant 'nowhere'" in out.reason


def test_rank_aggregate_over_a_subset_ranks_within_the_subset(full, ensemble):
    """cells = a subset: the population is the subset's cells (ranks within it, as VKDNW's
    notebook aggregates over the cells it keeps), with no sampling error when tables are whole."""
    from tfnas.space import all_cells, cell_subset

    ctx, acc, scores = full
    keep = np.array([cell_subset("without_dead_ops").contains(c) for c in all_cells()])
    m = measure_rank_aggregate(aggregate_claim_with(cells="without_dead_ops").protocol, ctx)
    agg = log_rank_sum({k: s[keep] for k, s in scores.items()})
    assert m.estimate.value == pytest.approx(correlation(agg, acc[keep], "spearman"))
    assert m.estimate.se == 0.0 and m.details["population"] == int(keep.sum()) < len(keep)
    assert m.details["cell_set"] == "subset without_dead_ops"


def test_rank_aggregate_protocol_is_validated(ensemble):
    for bad in ({"non_finite": "zero"}, {"variant": "../x"}, {"variant": 3}, {"cells": "most"}):
        with pytest.raises(ClaimError, match=next(iter(bad))):
            aggregate_claim_with(**bad)
    with pytest.raises(ClaimError, match="ensemble"):
        parse_claim({"id": "t", "title": "t", "source": "s", "kind": "rank_aggregate",
                     "protocol": {"proxy": "params", "dataset": DATASET, "metric": "test200",
                                  "quantity": "correlation", "coefficient": "kendall"},
                     "published": {"value": 0.5}, "interpretation": "i",
                     "tolerance": {"rule": "equivalence", "margin": 0.05, "justification": "t"}})
    with pytest.raises(ClaimError, match="coefficient"):
        aggregate_claim("selected", 90.0, "kendall")


# ------------------------------------------------------------------ proxy_ranking

TABLE1_C10 = (("synflow", 0.737), ("jacob_cov", 0.731), ("snip", 0.596),
              ("grad_norm", 0.594), ("grasp", 0.514), ("fisher", 0.36))


def test_only_pairs_further_apart_than_the_gap_are_decided():
    pairs = set(decided_pairs(TABLE1_C10, 0.05))
    assert ("synflow", "jacob_cov") not in pairs and ("jacob_cov", "synflow") not in pairs
    assert ("snip", "grad_norm") not in pairs
    assert ("synflow", "snip") in pairs and ("grasp", "fisher") in pairs
    assert ("snip", "grasp") in pairs and ("grad_norm", "grasp") in pairs
    assert len(pairs) == 13  # 15 pairs less the two near-ties
    assert all(dict(TABLE1_C10)[p] - dict(TABLE1_C10)[q] > 0.05 for p, q in pairs)


def test_pair_status_and_the_ranking_value():
    assert pair_status(0.1, 0.0, 13) == IN_ORDER and pair_status(-0.01, 0.0, 13) == REVERSED
    assert pair_status(0.0, 0.0, 13) == REVERSED  # an exact tie is not the published order
    assert pair_status(0.1, 0.05, 13) == IN_ORDER  # 0.1 - 1.645 * 0.05 > 0
    assert pair_status(0.05, 0.05, 13) == UNDECIDED
    assert pair_status(-0.2, 0.05, 13) == REVERSED  # beyond the Bonferroni bound (z = 2.89)
    assert pair_status(-0.1, 0.05, 13) == UNDECIDED  # shown at 5% alone, not over 13 pairs
    assert ranking_value([IN_ORDER, IN_ORDER]) == 1.0
    assert ranking_value([IN_ORDER, UNDECIDED]) == 0.5
    assert ranking_value([UNDECIDED, REVERSED]) == 0.0


def test_judge_order_on_made_up_correlations():
    ours = {"synflow": (0.70, 0.0), "jacob_cov": (0.75, 0.0), "snip": (0.60, 0.0),
            "grad_norm": (0.61, 0.0), "grasp": (0.50, 0.0), "fisher": (0.30, 0.0)}
    value, pairs = judge_order(ours, TABLE1_C10, 0.05)
    assert value == 1.0  # the near-ties swapped: not claimed, not judged
    ours["fisher"] = (0.55, 0.0)
    value, pairs = judge_order(ours, TABLE1_C10, 0.05)
    assert value == 0.0 and {(r["higher"], r["lower"]) for r in pairs if r["status"] == REVERSED} \
        == {("grasp", "fisher")}
    noisy = {k: (v, 0.04) for k, (v, _) in ours.items()}
    noisy["fisher"] = (0.45, 0.04)
    value, _ = judge_order(noisy, TABLE1_C10, 0.05)
    assert value == 0.5  # grasp 0.50 vs fisher 0.45 at se 0.08: undecided


def ranking_claim(values: dict, also=()):
    return parse_claim({"id": "t", "title": "t", "source": "s", "kind": "proxy_ranking",
                        "protocol": {"dataset": DATASET, "metric": "test200",
                                     "coefficient": "spearman", "absolute": True,
                                     "values": values, "gap": 0.05, "also": list(also)},
                        "published": {"value": 1.0},
                        "tolerance": {"rule": "ordered", "justification": "t"},
                        "interpretation": "i"})


def test_proxy_ranking_on_tables(full):
    ctx, acc, _ = full
    assert evaluate_claim(ranking_claim({"synflow": 0.8, "flops": 0.3}), ctx).status == REPRODUCED
    out = evaluate_claim(ranking_claim({"synflow": 0.3, "flops": 0.8}, also=["params"]), ctx)
    assert out.status == NOT_REPRODUCED
    assert out.details["order"] == ["synflow", "params", "flops"]  # |rho|: flops is negative
    missing = evaluate_claim(ranking_claim({"synflow": 0.8, "params": 0.3}, also=["naswot"]), ctx)
    assert any(r["proxy"] == "naswot" and "missing" in r for r in missing.details["measured"])
    with pytest.raises(ClaimError, match="no two published values"):
        ranking_claim({"synflow": 0.8, "params": 0.79})


def test_proxy_ranking_on_samples_uses_common_cells_and_can_be_undecided(tmp_path):
    acc, base = population()
    rng = np.random.default_rng(3)
    a = base + 0.8 * rng.standard_normal(N)
    b = base + 0.85 * rng.standard_normal(N)  # nearly as good: a small sample cannot order them
    perm = permutation()
    write(tmp_path, "synflow", a, perm[:300], "permutation:5")
    write(tmp_path, "params", b, perm[:400], "permutation:5")
    out = evaluate_claim(ranking_claim({"synflow": 0.8, "params": 0.7}), context(tmp_path, acc))
    assert all(r["n_cells"] == 300 for r in out.details["measured"])
    assert out.status == INCONCLUSIVE and out.details["counts"][UNDECIDED] == 1
    # what would decide it names the undecided pair with the run's own difference and se
    (pair,) = out.details["pairs"]
    decide = out.judgement.decide
    assert "synflow over params" in decide and "300 cells" in decide
    assert f"{pair['difference']:+.3f}" in decide and f"{pair['se']:.3f}" in decide
    assert "realisation" not in decide


@pytest.mark.parametrize(("value", "verdict"), [(1.0, REPRODUCED), (0.5, INCONCLUSIVE),
                                                (0.0, NOT_REPRODUCED)])
def test_the_ordered_rule_maps_the_ranking_value(value, verdict):
    from harness.verdicts import Estimate, Tolerance, judge

    j = judge(Tolerance("ordered"), Estimate(value, None, 10, None, 0.0), Estimate(1.0))
    assert j.verdict == verdict and (j.decide != "") == (verdict == INCONCLUSIVE)


@given(st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: v not in (0.0, 0.5, 1.0)))
def test_the_ordered_rule_refuses_anything_but_a_ranking_value(value):
    from harness.verdicts import Estimate, Tolerance, judge

    with pytest.raises(ValueError, match="ordered rule"):
        judge(Tolerance("ordered"), Estimate(value, None, 10, None, 0.0), Estimate(1.0))


# ------------------------------------------------------------------ the shipped claims

NEW_PROXIES = ("jacob_cov", "snip", "grad_norm", "grasp", "fisher", "az_nas")


def test_the_new_shipped_claims_load_and_are_not_run_without_their_tables(tmp_path):
    from harness.context import Context
    from harness.registry import SHIPPED, load_registry
    from tfnas.proxies import proxy_names

    absent = [p for p in NEW_PROXIES if p not in proxy_names()]
    if absent:
        pytest.skip(f"proxies {absent} are not registered on this branch yet")
    files = [SHIPPED / f for f in ("abdelfattah-2021-zero-cost.toml", "white-2022-zero-cost.toml",
                                   "lee-2024-az-nas.toml")]
    claims = load_registry(files).claims
    kinds = {c.kind for c in claims.values()}
    assert {"correlation", "pair_agreement", "rank_aggregate", "proxy_ranking"} <= kinds
    ctx = Context(tables_root=tmp_path)  # no tables at all
    for claim in claims.values():
        out = evaluate_claim(claim, ctx)
        assert out.status == NOT_RUN and "no score table" in out.reason, (claim.id, out.reason)


def test_the_new_kinds_outcomes_fit_the_results_schema(full, ensemble, monkeypatch):
    import json

    from harness.outcome import Outcome
    from harness.results import _outcome

    ctx, acc, _ = full
    monkeypatch.setattr(pa, "agreement_function", lambda: lambda scores, accuracy: 0.8)
    for claim in (agreement_claim(), aggregate_claim("correlation", 0.5),
                  aggregate_claim("selected", 90.0, None),
                  ranking_claim({"synflow": 0.8, "flops": 0.3}, also=["naswot"])):
        record = json.loads(json.dumps(evaluate_claim(claim, ctx).to_dict()))
        _outcome(record, "outcome")  # raises on a field the schema refuses
        assert Outcome.from_dict(record).status in (REPRODUCED, INCONCLUSIVE, NOT_REPRODUCED)


def test_pair_agreement_uses_the_vote_proxys_function_and_its_count(tmp_path):
    vote = pytest.importorskip("tfnas.proxies.vote")
    assert pa.agreement_function() is vote.pairwise_agreement
    acc, scores = members_population()
    perm = permutation()
    for m in MEMBERS:
        write(tmp_path, m, scores[m], perm[:200], "permutation:5")
    m = measure_pair_agreement(agreement_claim().protocol, context(tmp_path, acc))
    idx = np.sort(perm[:200])
    sub = {k: scores[k][idx] for k in MEMBERS}
    assert m.estimate.value == vote.pairwise_agreement(sub, acc[idx])
    assert m.estimate.value == pytest.approx(literal_agreement(sub, acc[idx]))  # same published rule
