"""The ledger's README block (``python -m harness findings``): counts per status of claims and of
independent measurements, rendered from a results file, and a stale block caught by ``--check``."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.__main__ import main as harness_main
from harness.ledger import FINDINGS_MARKERS, findings_block, ledger
from harness.outcome import Outcome
from harness.results import ResultsError, load_results, outcomes
from harness.verdicts import Tolerance

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "fixtures" / "claims_results.json"
BEGIN, END = FINDINGS_MARKERS


def harness(capsys, *args: object) -> tuple[int, str, str]:
    """``python -m harness ARGS`` in this process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    code = harness_main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def rows(block: str) -> dict[str, tuple[int, int]]:
    """The block's table: status -> (claims, independent measurements)."""
    found = re.findall(r"^\| (?:\*\*)?([a-z ]+?)(?:\*\*)? \| (?:\*\*)?(\d+)(?:\*\*)? \| "
                       r"(?:\*\*)?(\d+)(?:\*\*)? \|$", block, re.M)
    return {s: (int(c), int(m)) for s, c, m in found}


@given(st.lists(st.tuples(st.sampled_from(["reproduced", "not reproduced", "inconclusive",
                                           "known divergence", "not run"]),
                          st.sampled_from(["", "m1", "m2"])), max_size=10),
       st.lists(st.text(max_size=20), max_size=3))
def test_the_block_counts_what_the_ledger_counts(recs, reasons):
    """Every status row and the totals come from the ledger; text from the file cannot break the
    table (a reason with ``|`` or a line break stays in its paragraph)."""
    tol = Tolerance("holds")
    book = ledger([Outcome(id=f"c{i}", status=s, tolerance=tol, measurement=m, reason="r")
                   for i, (s, m) in enumerate(recs)],
                  [{"id": f"d{i}", "reason": r} for i, r in enumerate(reasons)])
    block = findings_block(book)
    table = rows(block)
    assert table.pop("total") == (len(recs), book.total_measurements)
    assert table == {s: (n, book.measurements[s]) for s, n in book.claims.items()}
    assert sum(c for c, _ in table.values()) == len(recs)
    assert block.count("\n|") == len(book.claims) + 3  # header, rule, statuses, total
    if reasons:
        assert f"{len(reasons)} claims deselected" in block


def test_a_split_measurement_names_its_claims():
    tol = Tolerance("holds")
    book = ledger([Outcome(id="t1", status="reproduced", tolerance=tol, measurement="k"),
                   Outcome(id="t2", status="inconclusive", tolerance=tol, measurement="k"),
                   Outcome(id="t3", status="inconclusive", tolerance=tol, measurement="j")])
    block = findings_block(book)
    assert rows(block)["total"] == (3, 2)
    assert rows(block)["reproduced"] == (1, 1) and rows(block)["inconclusive"] == (2, 2)
    assert "`t1`, `t2` (inconclusive, reproduced)" in block


def test_the_cli_prints_the_block_of_a_results_file(capsys):
    status, out, err = harness(capsys, "findings", FIXTURE)
    assert status == 0, err
    data = load_results(FIXTURE)
    recs = outcomes(data)
    assert rows(out)["total"][0] == len(recs)
    assert rows(out)["reproduced"][0] == sum(r.status == "reproduced" for r in recs)
    assert "2026" not in out and "claims_results" not in out  # nothing but the verdicts


def test_readme_block_is_rewritten_then_up_to_date_then_stale(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n{BEGIN}\nold counts\n{END}\nafter\n", encoding="utf-8")
    status, out, err = harness(capsys, "findings", FIXTURE, "--readme", readme, "--check")
    assert status == 1 and "is stale" in out and "python -m harness findings" in err
    assert "old counts" in readme.read_text(encoding="utf-8")  # --check writes nothing
    status, out, _ = harness(capsys, "findings", FIXTURE, "--readme", readme)
    assert status == 0 and "rewritten" in out
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# x\n\nbefore\n") and text.endswith(f"{END}\nafter\n")
    assert "old counts" not in text
    status, out, _ = harness(capsys, "findings", FIXTURE, "--readme", readme, "--check")
    assert status == 0 and "is up to date" in out
    # another run: one claim moves from reproduced to inconclusive, and the block is stale
    data = copy.deepcopy(load_results(FIXTURE))
    rec = next(r for r in data["claims"]["outcomes"] if r["status"] == "reproduced")
    rec["status"] = "inconclusive"
    moved = tmp_path / "claims_results.json"
    moved.write_text(json.dumps(data), encoding="utf-8")
    status, _, _ = harness(capsys, "findings", moved, "--readme", readme, "--check")
    assert status == 1


@pytest.mark.parametrize("text, why", [("no markers\n", "findings:begin"),
                                       (f"{END}\n{BEGIN}\n", "begin first"),
                                       (f"{BEGIN}\n{END}\n{BEGIN}\n{END}\n", "exactly one")])
def test_a_readme_without_one_marker_pair_is_refused_in_one_line(tmp_path, capsys, text, why):
    readme = tmp_path / "README.md"
    readme.write_text(text, encoding="utf-8")
    status, out, err = harness(capsys, "findings", FIXTURE, "--readme", readme)
    assert status == 2 and why in err and err.count("\n") == 1, err
    assert readme.read_text(encoding="utf-8") == text


def test_check_needs_a_readme(capsys):
    status, _, err = harness(capsys, "findings", FIXTURE, "--check")
    assert status == 2 and "--readme" in err


def test_a_missing_results_file_is_one_line(tmp_path, capsys):
    status, _, err = harness(capsys, "findings", tmp_path / "none.json")
    assert status == 2 and err.count("\n") == 1


def test_the_project_readme_holds_one_findings_block():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    assert "python -m harness findings" in block and rows(block).get("total")


# ---------------------------------------------------------------- derived claims count once


def _entries(**declared):
    """Two correlation claims on different proxies; ``declared`` adds fields to the second."""
    import tomllib

    from harness.registry import SHIPPED_NAME, claim_files
    raw = [e for p in claim_files(SHIPPED_NAME)
           for e in tomllib.loads(p.read_text(encoding="utf-8"))["claim"]]
    first = copy.deepcopy(next(e for e in raw if e["id"] == "white-params-cifar100"))
    second = copy.deepcopy(next(e for e in raw if e["id"] == "white-flops-cifar100"))
    second.pop("derived_from", None)
    second.update(declared)
    return first, second


def _registered(*entries):
    from harness.registry import parse_claims, with_derivations

    return with_derivations(parse_claims({"claim": list(entries)}))


def test_a_declared_derivation_shares_its_origin_s_measurement():
    first, second = _entries()
    plain = _registered(first, second)
    assert plain["white-flops-cifar100"].measurement != plain["white-params-cifar100"].measurement
    assert plain["white-flops-cifar100"].derived_from is None
    first, second = _entries(derived_from={"claim": "white-params-cifar100", "because": "ranks"})
    claims = _registered(first, second)
    flops, params = claims["white-flops-cifar100"], claims["white-params-cifar100"]
    assert flops.measurement == params.measurement and flops.derived_from == params.id
    assert flops.to_dict()["derived_from"] == {"claim": params.id, "because": "ranks"}
    tol = Tolerance("holds")
    book = ledger([Outcome(id=c.id, status="reproduced", tolerance=tol, measurement=c.measurement,
                           derived_from=c.derived_from) for c in claims.values()])
    assert (book.total_claims, book.total_measurements) == (2, 1)


@pytest.mark.parametrize("declared, why", [
    ({"claim": "nowhere", "because": "x"}, "not a claim in use"),
    ({"claim": "white-flops-cifar100", "because": "x"}, "derived_from"),
    ({"claim": "white-params-cifar100", "because": " "}, "derived_from"),
    ({"claim": "white-params-cifar100"}, "derived_from"),
    ({"claim": "white-params-cifar100", "because": "x", "extra": 1}, "derived_from"),
    ("white-params-cifar100", "derived_from")])
def test_a_bad_derivation_is_refused(declared, why):
    from harness.registry import ClaimError

    first, second = _entries(derived_from=declared)
    with pytest.raises(ClaimError, match=why):
        _registered(first, second)


def test_a_cycle_of_derivations_is_refused():
    from harness.registry import ClaimError

    first, second = _entries(derived_from={"claim": "white-params-cifar100", "because": "x"})
    first["derived_from"] = {"claim": "white-flops-cifar100", "because": "x"}
    with pytest.raises(ClaimError, match="cycle"):
        _registered(first, second)


def _same_estimates(path: Path) -> list[tuple[str, ...]]:
    """Groups of claims of a results file whose reproduced estimates are identical in every
    field (value, std, n, se, interval) and whose value is a measured number: not the decision
    code of an ``ordered`` rule (0, 0.5 or 1) or a ``holds`` fraction, which agree by design."""
    groups: dict[str, list[str]] = {}
    for rec in load_results(path)["claims"]["outcomes"]:
        est = rec.get("reproduced")
        if rec["tolerance"]["rule"] in ("ordered", "holds"):
            continue
        if est and isinstance(est.get("value"), float) and est["value"] == est["value"]:
            groups.setdefault(json.dumps(est, sort_keys=True), []).append(rec["id"])
    return [tuple(ids) for ids in groups.values() if len(ids) > 1]


def test_claims_with_identical_estimates_share_a_registered_measurement():
    """The guard against counting one number twice: two claims whose reproduced estimates agree
    in every field rest on one measurement, and the claims files must say so (the same protocol,
    or ``derived_from``), not leave it to coincidence. Checked on the committed baseline against
    today's registry; a new coincidence fails here until it is declared or explained."""
    from harness.registry import load_registry

    claims = load_registry().claims
    groups = _same_estimates(ROOT / "benchmarks" / "baseline.json")
    assert groups, "the baseline has claims resting on one measurement (Table II re-reads Table I)"
    for ids in groups:
        known = [cid for cid in ids if cid in claims]
        assert len({claims[cid].measurement for cid in known}) <= 1, (
            f"{known}: identical estimates but no shared measurement; declare "
            "derived_from = { claim, because } in the claims file")


def test_the_guard_flags_identical_estimates_without_a_shared_measurement(tmp_path):
    """The guard can fail: two claims given one estimate are found as a group."""
    data = copy.deepcopy(load_results(FIXTURE))
    recs = [r for r in data["claims"]["outcomes"] if r.get("reproduced")][:2]
    recs[1]["reproduced"] = copy.deepcopy(recs[0]["reproduced"])
    recs[0]["reproduced"]["value"] = recs[1]["reproduced"]["value"] = 0.5
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert (recs[0]["id"], recs[1]["id"]) in _same_estimates(path)


_LINEAGE = {"origin": "Zhang & Jia, ICLR 2022", "quoted_by": "Tybl & Neumann, CVPR 2025",
            "because": "the quoting table cites it"}


def test_a_copied_number_counts_once_under_its_origin_and_is_rendered():
    first, second = _entries(lineage=_LINEAGE)
    first["lineage"] = dict(_LINEAGE)
    first["published"] = dict(second["published"])  # the same number, quoted by two claims
    claims = _registered(first, second)
    assert claims["white-flops-cifar100"].to_dict()["lineage"] == _LINEAGE
    tol = Tolerance("holds")
    recs = [Outcome(id=c.id, status="reproduced", tolerance=tol, measurement=c.measurement,
                    published=c.published, lineage=c.lineage.to_dict()) for c in claims.values()]
    book = ledger(recs)
    assert (book.total_claims, book.published_numbers) == (2, 1)
    assert book.copied == ("white-flops-cifar100", "white-params-cifar100")
    block = findings_block(book)
    assert "the 2 claims check 1 distinct published numbers" in block
    assert "`white-flops-cifar100`" in block
    again = [Outcome.from_dict(json.loads(json.dumps(r.to_dict()))) for r in recs]
    assert [r.lineage for r in again] == [_LINEAGE, _LINEAGE]
    plain = ledger([Outcome(id=c.id, status="reproduced", tolerance=tol, published=c.published)
                    for c in _registered(*_entries()).values()])
    assert plain.published_numbers == 2 and not plain.copied
    assert "distinct published numbers" not in findings_block(plain)


def test_the_report_says_a_value_is_copied(tmp_path):
    from harness.report import render_markdown

    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    data["claims"]["outcomes"][0]["lineage"] = dict(_LINEAGE)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    page = render_markdown(load_results(path), [])
    assert "published value copied: first in Zhang &amp; Jia, ICLR 2022" in page
    assert "not independent evidence" in page
    del data["claims"]["outcomes"][0]["lineage"]["because"]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ResultsError, match="lineage.because"):
        load_results(path)


@pytest.mark.parametrize("declared", [
    {"origin": "x", "quoted_by": "y"}, {"origin": "x", "quoted_by": "y", "because": " "},
    {"origin": "x", "quoted_by": "y", "because": "z", "extra": "w"}, "x",
    {"origin": 1, "quoted_by": "y", "because": "z"}])
def test_a_bad_lineage_is_refused(declared):
    from harness.registry import ClaimError

    first, second = _entries(lineage=declared)
    with pytest.raises(ClaimError, match="lineage"):
        _registered(first, second)
