"""The report renders from a recorded results JSON (tests/fixtures/claims_results.json).

The fixture was recorded with `pytest benchmarks/test_claims.py --benchmark-json` against
synthetic score tables (accuracy*10 + noise) and a missing table, so it holds every status kind
the report must show; its values mean nothing about the paper.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.report import md_text, write_report
from harness.results import ResultsError, load_results

FIXTURE = Path(__file__).parent / "fixtures" / "claims_results.json"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    return write_report(FIXTURE, out), load_results(FIXTURE)


def test_summary_counts_at_the_top_match_the_outcomes(rendered):
    path, data = rendered
    text = path.read_text(encoding="utf-8")
    head = "\n".join(text.splitlines()[:6])
    recs = data["claims"]["outcomes"]
    for status in ("reproduced", "not reproduced", "not run"):
        assert f"{sum(r['status'] == status for r in recs)} {status}" in head
    assert f"{len(recs)} claims" in head


def test_every_claim_appears_with_its_verdict_interpretation_and_alternatives(rendered):
    path, data = rendered
    text = path.read_text(encoding="utf-8")
    for rec in data["claims"]["outcomes"]:
        assert f"`{rec['id']}`" in text
        assert md_text(rec["interpretation"]) in text
        for alt in rec["alternatives_run"]:
            assert md_text(alt["label"]) in text
        if rec["status"] == "not run":
            assert md_text(rec["reason"]) in text
    for section in ("## Fig. 3", "## Table I", "## Run"):
        assert section in text
    assert md_text(data["machine_info"]["tfnas"]["torch"]) in text


def test_plots_are_written_as_png_and_linked(rendered):
    path, _ = rendered
    pngs = sorted(p.name for p in path.parent.glob("*.png"))
    assert "fig3_scatter.png" in pngs and "accuracy_cifar10.png" in pngs
    text = path.read_text(encoding="utf-8")
    for name in pngs:
        assert f"]({name})" in text
        assert (path.parent / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_report(tmp_path):
    res = subprocess.run([sys.executable, "-m", "harness", "report", str(FIXTURE), "--out",
                          str(tmp_path)], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "report.md").is_file()


def test_bad_inputs_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_results(tmp_path / "absent.json")
    (tmp_path / "x.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ResultsError, match="not JSON"):
        load_results(tmp_path / "x.json")
    (tmp_path / "y.json").write_text(json.dumps({"benchmarks": []}), encoding="utf-8")
    with pytest.raises(ResultsError, match="no 'claims'"):
        write_report(tmp_path / "y.json", tmp_path / "out")
    res = subprocess.run([sys.executable, "-m", "harness", "report", str(tmp_path / "y.json")],
                         capture_output=True, text=True, check=False, cwd=tmp_path)
    assert res.returncode == 2 and "no 'claims'" in res.stderr


def test_ratio_rule_shows_the_factor_not_a_difference():
    from harness.report import render_markdown

    data = load_results(FIXTURE)
    rec = data["claims"]["outcomes"][0]
    rec["tolerance"] = {"rule": "ratio", "factor": 10.0}
    rec["judgement"] = {"passed": False, "difference": 151.0, "allowed": 10.0,
                        "statistic": {"ratio": 95.2}, "explanation": "ratio 95.2 vs allowed 10"}
    row = next(line for line in render_markdown(data, []).splitlines()
               if line.startswith(f"| `{rec['id']}`"))
    assert "×95.2 (allowed ×10)" in row and "151" not in row
