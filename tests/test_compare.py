"""The regression check: identical results pass; drift beyond tolerance and verdict changes fail."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.__main__ import main as harness_main
from harness.compare import compare_files, compare_outcomes, status_change
from harness.outcome import Outcome
from harness.results import load_results, outcomes_by_id
from harness.verdicts import STATUSES

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "fixtures" / "claims_results.json"
DATA = load_results(FIXTURE)
OLD = outcomes_by_id(DATA)
RECS = {r["id"]: r for r in DATA["claims"]["outcomes"]}
"""The records as written, to edit: ``edited`` turns them into outcomes again."""


def edited(change):
    new = copy.deepcopy(RECS)
    change(new)
    return {cid: Outcome.from_dict(rec) for cid, rec in new.items()}


def first(rule, status=None):
    return next(cid for cid, r in RECS.items() if (r.get("tolerance") or {}).get("rule") == rule
                and r.get("reproduced") and (status is None or r["status"] == status))


def test_identical_results_pass():
    assert compare_outcomes(OLD, copy.deepcopy(OLD)) == []
    assert compare_outcomes(OLD, edited(lambda n: None)) == []


def test_verdict_change_is_a_regression():
    cid = first("welch")
    diffs = compare_outcomes(OLD, edited(lambda n: n[cid].update(status="reproduced"
                             if RECS[cid]["status"] != "reproduced" else "not reproduced")))
    assert [(d.claim, d.kind, d.regression) for d in diffs] == [(cid, "verdict", True)]


def test_an_old_welch_record_is_read_as_a_difference_test():
    """The removed rule in an old baseline: tost with margin 0 at alpha / 2 (Welch's decision)."""
    cid = first("welch")
    tol = OLD[cid].tolerance
    assert (tol.rule, tol.margin, tol.alpha) == ("tost", 0.0, RECS[cid]["tolerance"]["alpha"] / 2)
    assert "welch" in tol.justification


def test_a_welch_record_without_alpha_is_read_too():
    from harness.verdicts import Tolerance

    t = Tolerance.from_dict({"rule": "welch", "justification": "old"})
    assert (t.rule, t.margin, t.alpha) == ("tost", 0.0, None)
    with pytest.raises(ValueError, match="removed"):
        Tolerance(rule="welch", alpha=0.01)


def test_old_judgements_without_a_verdict_load():
    for cid, rec in RECS.items():
        if rec.get("judgement") is not None:
            assert "verdict" not in rec["judgement"]
            assert OLD[cid].judgement.passed == rec["judgement"]["passed"]


@pytest.mark.parametrize("to", ["inconclusive", "not reproduced", "known divergence"])
def test_reproduced_to_another_verdict_is_a_regression(to):
    cid = next(c for c, r in RECS.items() if r["status"] == "reproduced")
    diffs = compare_outcomes(OLD, edited(lambda n: n[cid].update(status=to)))
    assert [(d.claim, d.kind, d.regression) for d in diffs] == [(cid, "verdict", True)]
    assert "reproduced -> " + to in diffs[0].message


@pytest.mark.parametrize("to", ["reproduced", "not reproduced", "inconclusive",
                                "diagnosis unsupported", "not run"])
def test_a_known_divergence_that_becomes_anything_else_is_a_regression(to):
    cid = next(c for c, r in RECS.items() if r["status"] == "not reproduced")
    old = edited(lambda o: o[cid].update(status="known divergence"))
    diffs = compare_outcomes(old, edited(lambda n: n[cid].update(status=to)))
    assert [(d.claim, d.kind, d.regression) for d in diffs] == [(cid, "verdict", True)]
    assert "known divergence -> " + to in diffs[0].message


@given(st.sampled_from(STATUSES), st.sampled_from(STATUSES))
def test_every_change_of_status_is_a_regression_and_no_change_is_none(before, after):
    """Reproduced -> inconclusive included: the one move a baseline without the claim hid."""
    why = status_change(before, after)
    assert (why is None) == (before == after)
    if before != after:
        cid = next(c for c, r in RECS.items() if r["status"] == "reproduced")
        old = edited(lambda o: o[cid].update(status=before))
        diffs = compare_outcomes(old, edited(lambda n: n[cid].update(status=after)))
        assert [(d.kind, d.regression) for d in diffs] == [("verdict", True)]


def test_reproduced_to_inconclusive_fails_the_cli(tmp_path, capsys):
    new = copy.deepcopy(DATA)
    rec = next(r for r in new["claims"]["outcomes"] if r["status"] == "reproduced")
    rec["status"] = "inconclusive"
    (tmp_path / "new.json").write_text(json.dumps(new), encoding="utf-8")
    status, out, err = harness(capsys, "compare", FIXTURE, tmp_path / "new.json")
    assert status == 1, out + err
    assert f"REGRESSION {rec['id']}: reproduced -> inconclusive" in out


def test_welch_drift_beyond_tolerance_is_detected_and_small_drift_is_not():
    cid = first("welch")
    rep = RECS[cid]["reproduced"]
    se = rep["std"] * (2 / rep["n"]) ** 0.5
    small = edited(lambda n: n[cid]["reproduced"].update(value=rep["value"] + 0.1 * se))
    assert compare_outcomes(OLD, small) == []
    big = edited(lambda n: n[cid]["reproduced"].update(value=rep["value"] + 20 * se))
    assert [d.kind for d in compare_outcomes(OLD, big)] == ["drift"]


def test_correlation_drift_uses_the_equivalence_margin():
    cid = first("equivalence")
    margin = RECS[cid]["tolerance"]["margin"]
    rep = RECS[cid]["reproduced"]

    def shift(by):
        def change(n):
            n[cid]["reproduced"].update(value=rep["value"] + by,
                                        ci=[c + by for c in rep["ci"]])
        return edited(change)

    assert compare_outcomes(OLD, shift(margin / 2)) == []
    assert [d.kind for d in compare_outcomes(OLD, shift(margin * 3 + 0.1))] == ["drift"]


def _new_style(rec: dict, tol: dict, reproduced: dict, published: dict) -> dict:
    """A record as the three-way harness writes it: a distribution claim with its judgement."""
    from harness.verdicts import Estimate, Tolerance, judge

    t = Tolerance(**tol)
    j = judge(t, Estimate.from_dict(reproduced), Estimate.from_dict(published))
    return {**copy.deepcopy(rec), "tolerance": t.to_dict(), "reproduced": reproduced,
            "published": published, "judgement": j.to_dict(), "status": j.verdict}


DIST = {"rule": "distribution", "margin": 1.0, "factor": 1.5, "justification": "x"}


def test_new_style_records_compare_and_drift_on_the_margin(tmp_path):
    cid = first("welch")
    pub = {"value": 80.0, "std": 1.1, "n": 30, "ci": None}  # far from ours: not reproduced

    def with_value(v):
        data = copy.deepcopy(DATA)
        rep = {"value": v, "std": 1.0, "n": 30, "ci": None, "se": None}
        data["claims"]["outcomes"] = [_new_style(RECS[cid], DIST, rep, pub)]
        path = tmp_path / f"r{v}.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        return outcomes_by_id(load_results(path))

    old = with_value(70.0)
    j = old[cid].judgement
    assert j.verdict == "not reproduced" and j.interval is not None and j.power is not None
    assert compare_outcomes(old, with_value(70.0)) == []
    # same verdict; a move well inside the margin is no drift, one far beyond it is
    assert compare_outcomes(old, with_value(70.1)) == []
    assert [d.kind for d in compare_outcomes(old, with_value(66.0))] == ["drift"]
    assert [d.kind for d in compare_outcomes(with_value(66.0), old)] == ["drift"]


def test_an_se_change_alone_counts_as_a_change():
    from harness.compare import unchanged
    from harness.verdicts import Estimate

    assert unchanged(Estimate(1.0, 0.5, 30), Estimate(1.0, 0.5, 30))
    assert not unchanged(Estimate(1.0, 0.5, 30), Estimate(1.0, 0.5, 30, se=0.0))


def test_missing_and_added_claims():
    cid = next(iter(OLD))
    diffs = compare_outcomes(OLD, edited(lambda n: n.pop(cid)))
    assert [(d.kind, d.regression) for d in diffs] == [("missing", True)]
    diffs = compare_outcomes(edited(lambda n: n.pop(cid)), OLD)
    assert [(d.kind, d.regression) for d in diffs] == [("added", False)]


def harness(capsys, *args: str) -> tuple[int, str, str]:
    """``python -m harness ARGS`` in this process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    code = harness_main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("drift, code", [(False, 0), (True, 1)])
def test_cli_exit_codes(tmp_path, capsys, drift, code):
    new = copy.deepcopy(DATA)
    if drift:
        rec = next(r for r in new["claims"]["outcomes"] if r["status"] != "not run")
        rec.update(status="not run", reason="the score table went missing")
    (tmp_path / "new.json").write_text(json.dumps(new), encoding="utf-8")
    status, out, err = harness(capsys, "compare", FIXTURE, tmp_path / "new.json")
    assert status == code, out + err


def test_baseline_command_writes_a_comparable_file(tmp_path, capsys):
    to = tmp_path / "baseline.json"
    status, _, err = harness(capsys, "baseline", FIXTURE, "--to", to)
    assert status == 0, err
    assert compare_outcomes(outcomes_by_id(load_results(to)), OLD) == []


# ---------------------------------------------------------------- a file compared with itself


def test_a_file_compared_with_itself_has_no_regressions(tmp_path, capsys):
    for path in (FIXTURE, ROOT / "benchmarks" / "baseline.json"):
        status, out, err = harness(capsys, "compare", path, path)
        assert status == 0 and "0 regression(s)" in out, out + err


numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                    st.integers(-10**6, 10**6).map(float))
estimates = st.fixed_dictionaries(
    {"value": numbers},
    optional={"std": st.none() | numbers, "n": st.none() | st.integers(0, 10**6),
              "ci": st.none() | st.lists(numbers, min_size=2, max_size=2)})


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(estimates, st.sampled_from(sorted({
    json.dumps(r["tolerance"], sort_keys=True) for r in RECS.values()}))), min_size=1,
    max_size=6))
def test_generated_results_compared_with_themselves_have_no_regressions(tmp_path_factory, recs):
    """Any reproduced estimate, NaN and infinities included, equals itself: no drift, no change."""
    data = copy.deepcopy(DATA)
    template = next(r for r in data["claims"]["outcomes"] if r.get("reproduced"))
    data["claims"]["outcomes"] = [
        {**copy.deepcopy(template), "id": f"claim-{i}", "reproduced": est,
         "tolerance": json.loads(tol)} for i, (est, tol) in enumerate(recs)]
    path = tmp_path_factory.mktemp("self") / "generated.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert compare_files(path, path) == []
    assert compare_outcomes(outcomes_by_id(load_results(path)),
                            outcomes_by_id(load_results(path))) == []


def test_a_changed_non_finite_value_is_still_a_regression():
    cid = first("equivalence")
    for old_value, new_value in ((float("nan"), 0.5), (0.5, float("nan")),
                                 (float("inf"), float("-inf"))):
        old = edited(lambda o, v=old_value: o[cid]["reproduced"].update(value=v))
        new = edited(lambda n, v=new_value: n[cid]["reproduced"].update(value=v))
        assert [d.kind for d in compare_outcomes(old, new)] == ["drift"], (old_value, new_value)
