"""The report renders from a recorded results JSON (tests/fixtures/claims_results.json).

The fixture was recorded with `pytest benchmarks/test_claims.py --benchmark-json` against
synthetic score tables (accuracy*10 + noise) and a missing table, so it holds every status kind
the report must show; its values mean nothing about the paper.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.report import md_text, write_report
from harness.results import ResultsError, load_results, outcomes

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


# ---------------------------------------------------------------- hostile and broken results files


def fixture_data():
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def _mutated(change):
    data = fixture_data()
    change(data)
    return json.dumps(data)


def _deep(depth):
    return "[" * depth + "]" * depth


def _outcome(data, i=0):
    return data["claims"]["outcomes"][i]


# (name, file content as text or bytes, what the message must name)
BAD_FILES = [
    ("id-not-a-string", _mutated(lambda d: d["claims"].update(outcomes=[{"id": 1, "status": []}])),
     "claims.outcomes[0].id"),
    ("status-an-array", _mutated(lambda d: _outcome(d).update(status=[])),
     "claims.outcomes[0].status"),
    ("unknown-status", _mutated(lambda d: _outcome(d).update(status="sort of")),
     "claims.outcomes[0].status"),
    ("published-a-string", _mutated(lambda d: _outcome(d, 3).update(published="x")),
     "claims.outcomes[3].published"),
    ("ci-one-number", _mutated(lambda d: _outcome(d, 3)["reproduced"].update(ci=[1])),
     "claims.outcomes[3].reproduced.ci"),
    ("details-a-number", _mutated(lambda d: _outcome(d).update(details=5)),
     "claims.outcomes[0].details"),
    ("scatter-lengths-differ",
     _mutated(lambda d: _outcome(d)["details"].update(scatter={"score": [1, 2], "accuracy": [1]})),
     "claims.outcomes[0].details.scatter.accuracy"),
    ("machine-info-an-array", _mutated(lambda d: d.update(machine_info=[1])), "machine_info"),
    ("cpu-count-a-string", _mutated(lambda d: d["machine_info"]["tfnas"].update(cpu_count="8")),
     "machine_info.tfnas.cpu_count"),
    ("judgement-passed-a-string",
     _mutated(lambda d: _outcome(d)["judgement"].update(passed="yes")),
     "claims.outcomes[0].judgement.passed"),
    ("alternative-a-number", _mutated(lambda d: _outcome(d).update(alternatives_run=[3])),
     "claims.outcomes[0].alternatives_run[0]"),
    ("tolerance-rule-unknown", _mutated(lambda d: _outcome(d)["tolerance"].update(rule="vibes")),
     "claims.outcomes[0].tolerance"),
    ("ratio-without-factor",
     _mutated(lambda d: _outcome(d).update(tolerance={"rule": "ratio", "justification": "x"})),
     "claims.outcomes[0].tolerance"),
    ("margin-infinite",
     _mutated(lambda d: _outcome(d)["tolerance"].update(margin=float("inf"))),
     "claims.outcomes[0].tolerance.margin"),
    ("duplicate-id", _mutated(lambda d: d["claims"]["outcomes"].append(_outcome(d))),
     ".id"),
    ("id-with-markup", _mutated(lambda d: _outcome(d).update(id="<script>x</script>")),
     "claims.outcomes[0].id"),
    ("benchmarks-of-numbers", _mutated(lambda d: d.update(benchmarks=[1])), "benchmarks[0]"),
    ("n-a-float", _mutated(lambda d: _outcome(d, 8)["reproduced"].update(n=2.5)),
     "claims.outcomes[8].reproduced.n"),
    ("deep-json", _mutated(lambda d: _outcome(d).update(notes="DEEP")).replace(
        '"DEEP"', _deep(200_000)), "deeper than"),
    ("deep-but-parsable", _mutated(lambda d: _outcome(d).update(notes="DEEP")).replace(
        '"DEEP"', _deep(100)), "deeper than"),
    ("huge-integer", _mutated(lambda d: _outcome(d).update(notes="BIG")).replace(
        '"BIG"', "9" * 5000), "value"),
    ("not-utf8", b"\xff\xfe" + _mutated(lambda d: None).encode("utf-16-le"), "UTF-8"),
    ("not-json", "{not json", "not JSON"),
    ("no-claims", json.dumps({"benchmarks": []}), "no 'claims'"),
]


def _run_harness(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "harness", *map(str, args)], capture_output=True,
                          text=True, check=False, cwd=cwd, timeout=120)


def assert_one_line_error(res, *names):
    err = res.stderr.strip()
    assert res.returncode == 2, (res.returncode, res.stderr[-2000:])
    assert "Traceback" not in res.stderr and "\n" not in err, res.stderr[-2000:]
    assert err.startswith("error: ") and len(err) <= 600, err
    for name in names:
        assert name in err, err


@pytest.mark.parametrize("case", range(len(BAD_FILES)), ids=[c[0] for c in BAD_FILES])
def test_every_command_refuses_a_bad_results_file_in_one_line(tmp_path, case):
    name, content, field = BAD_FILES[case]
    path = tmp_path / f"{name}.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    command = ("report", "compare", "baseline")[case % 3]
    args = {"report": ("report", path, "--out", tmp_path / "out"),
            "compare": ("compare", FIXTURE, path),
            "baseline": ("baseline", path, "--to", tmp_path / "baseline.json")}[command]
    res = _run_harness(*args)
    assert_one_line_error(res, path.name, field)
    assert not (tmp_path / "out" / "report.md").exists() and not (tmp_path / "baseline.json").exists()


def _vm_peak_of_the_harness() -> int:
    """Bytes of address space the harness CLI's imports take (torch, matplotlib, scipy)."""
    code = ("import harness.__main__, harness.report, harness.compare, matplotlib.pyplot; "
            "print(open('/proc/self/status').read())")
    status = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout
    return next(int(line.split()[1]) * 1024 for line in status.splitlines()
                if line.startswith("VmPeak:"))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
def test_oversize_results_file_is_refused_unread_under_a_small_memory_limit(tmp_path):
    """A 2 GiB file (sparse: no disk) is refused from its size, within baseline + 300 MB."""
    import resource

    path = tmp_path / "big.json"
    with open(path, "wb") as fh:
        fh.truncate(2 * 2**30)
    limit = _vm_peak_of_the_harness() + 300 * 2**20

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    res = subprocess.run([sys.executable, "-m", "harness", "report", str(path), "--out",
                          str(tmp_path / "o")], capture_output=True, text=True, check=False,
                         timeout=120, preexec_fn=cap)
    assert_one_line_error(res, "big.json", "larger than")


def test_a_directory_or_a_missing_file_is_named_as_such(tmp_path):
    assert_one_line_error(_run_harness("report", tmp_path), "is a directory")
    assert_one_line_error(_run_harness("compare", tmp_path / "absent.json", FIXTURE),
                          "absent.json", "does not exist")


def test_unwritable_outputs_are_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    assert_one_line_error(_run_harness("report", FIXTURE, "--out", blocker), "cannot write",
                          "a-file")
    assert_one_line_error(_run_harness("report", FIXTURE, "--out", blocker / "sub"),
                          "cannot write")
    assert_one_line_error(_run_harness("baseline", FIXTURE, "--to", blocker / "b.json"),
                          "cannot write")
    assert_one_line_error(_run_harness("baseline", FIXTURE, "--to", tmp_path), "cannot write")


def test_usage_errors_are_one_line():
    res = _run_harness("report")
    assert res.returncode == 2 and "\n" not in res.stderr.strip(), res.stderr
    assert "Traceback" not in res.stderr


# ---------------------------------------------------------------- markup from data


HOSTILE = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[click](javascript:alert(1))",
    "![](http://tracker.example/p.png)", "\n# Planted heading\n", "a | b | c", "`code` *em* _u_",
    "&lt;script&gt;", "<http://x.example>", "line\r\nbreak\u2028sep", "\\|", "~~s~~ $x$",
]


def _plant(data, text_of):
    """Put strings (text_of(field name)) into every data field the report shows."""
    for i, rec in enumerate(data["claims"]["outcomes"]):
        for key in ("title", "source", "interpretation", "notes", "table", "known_divergence"):
            rec[key] = text_of(f"{key}{i}")
        rec["tolerance"]["justification"] = text_of(f"justification{i}")
        if rec["status"] == "not run":
            rec["reason"] = text_of(f"reason{i}")
        if rec.get("judgement"):
            rec["judgement"]["explanation"] = text_of(f"explanation{i}")
        for j, alt in enumerate(rec.get("alternatives_run", [])):
            alt["label"] = text_of(f"label{i}.{j}")
            alt["passed"] = True
            if "explanation" in alt:
                alt["explanation"] = text_of(f"alt-explanation{i}.{j}")
    mi = data["machine_info"]
    mi["node"], mi["cpu"]["brand_raw"] = text_of("node"), text_of("cpu")
    mi["python_version"], mi["tfnas"]["torch"] = text_of("python"), text_of("torch")
    mi["tfnas"]["data_sha256"] = {text_of("data-name"): text_of("digest")}
    data["commit_info"]["id"], data["datetime"] = text_of("commit"), text_of("date")
    data["claims"]["options"] = {text_of("option"): text_of("option-value")}
    return data


def _unescaped(text, char):
    """Positions of ``char`` in ``text`` not preceded by an odd number of backslashes."""
    out = []
    for i, c in enumerate(text):
        if c == char:
            k = i
            while k > 0 and text[k - 1] == "\\":
                k -= 1
            if (i - k) % 2 == 0:
                out.append(i)
    return out


def check_inert(md, data, plots=()):
    """The structural properties of a report whose data fields hold arbitrary text."""
    links = [f"![{p}]({p})" for p in plots]
    lines = [line for line in md.splitlines() if line not in links]
    assert len(lines) == len(md.splitlines()) - len(plots)
    md = "\n".join(lines)
    assert "<" not in md
    assert "](" not in md and "![" not in md
    recs = data["claims"]["outcomes"]
    headings = [line for line in md.splitlines() if line.startswith("#")]
    tables = {str(r.get("table") or "Other") for r in recs}
    expected = 1 + 2 + bool(plots) + len(tables) + len(recs)  # title, Run, details, Plots
    assert len(headings) == expected, headings
    rows = [line for line in md.splitlines() if line.startswith("| `")]
    assert len(rows) == len(recs)
    for row in rows:
        assert len(_unescaped(row, "|")) == 8, row


def test_planted_markup_is_inert_in_the_written_report(tmp_path):
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(_plant(fixture_data(),
                                      lambda f: HOSTILE[zlib.crc32(f.encode()) % len(HOSTILE)] + f)),
                    encoding="utf-8")
    res = _run_harness("report", path, "--out", tmp_path / "out")
    assert res.returncode == 0, res.stderr
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    check_inert(md, load_results(path), plots=("fig3_scatter.png", "accuracy_cifar10.png"))
    assert "&lt;script&gt;" in md and "javascript" in md  # shown, as text
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        ["report.md", "fig3_scatter.png", "accuracy_cifar10.png"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=40), min_size=1, max_size=8))
def test_any_text_in_any_data_field_renders_inert(texts):
    from harness.report import render_markdown

    data = _plant(load_results(FIXTURE), lambda f: texts[zlib.crc32(f.encode()) % len(texts)])
    check_inert(render_markdown(data, []), data)


def test_claim_ids_outside_the_safe_charset_are_refused(tmp_path):
    for bad in ("a b", "ä", "-x", "x" * 81, "a/../b", "a`b", "a|b", ""):
        path = tmp_path / "bad-id.json"
        path.write_text(_mutated(lambda d, bad=bad: _outcome(d).update(id=bad)), encoding="utf-8")
        with pytest.raises(ResultsError, match=r"claims\.outcomes\[0\]\.id"):
            load_results(path)


# ---------------------------------------------------------------- counts always add up


def test_summary_counts_add_up_to_the_number_of_claims_even_for_unknown_statuses():
    from harness.report import render_markdown, status_counts

    data = load_results(FIXTURE)
    data["claims"]["outcomes"][0]["status"] = "sort of"  # only in memory: a file is refused
    recs = outcomes(data)
    counts = status_counts(recs)
    assert sum(counts.values()) == len(recs) and counts["sort of"] == 1
    head = render_markdown(data, []).splitlines()[2]
    numbers = [int(part.split()[0]) for part in head.split("**")[2].split("—")[0].split(",")]
    assert sum(numbers) == len(recs)
