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
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.report import md_text, write_report
from harness.results import ResultsError, load_results, outcomes

FIXTURE = Path(__file__).parent / "fixtures" / "claims_results.json"
"""A results JSON of the old harness (two-way verdicts): it must keep loading and rendering."""
FIXTURE_V2 = Path(__file__).parent / "fixtures" / "claims_results_v2.json"
"""Written from tests/report_records.py: the three-way verdicts' fields."""


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
    assert "scatter_0.png" in pngs and "accuracy_cifar10.png" in pngs
    text = path.read_text(encoding="utf-8")
    for name in pngs:
        assert f"]({name})" in text
        assert (path.parent / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.data  # the proxy section reads every committed score table (benchmarks/scores)
def test_cli_report(tmp_path, capsys):
    res = _run_harness(capsys, "report", FIXTURE, "--out", tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "report.md").is_file()


def test_bad_inputs_are_refused(tmp_path, capsys, monkeypatch):
    with pytest.raises(FileNotFoundError):
        load_results(tmp_path / "absent.json")
    (tmp_path / "x.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ResultsError, match="not JSON"):
        load_results(tmp_path / "x.json")
    (tmp_path / "y.json").write_text(json.dumps({"benchmarks": []}), encoding="utf-8")
    with pytest.raises(ResultsError, match="no 'claims'"):
        write_report(tmp_path / "y.json", tmp_path / "out")
    monkeypatch.chdir(tmp_path)
    res = _run_harness(capsys, "report", tmp_path / "y.json")
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


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str


def _run_harness(capsys, *args) -> Run:
    """``python -m harness ARGS`` in this process (a usage error's exit included)."""
    from harness.__main__ import main

    capsys.readouterr()
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse's usage errors exit
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return Run(code, out, err)


def assert_one_line_error(res, *names):
    err = res.stderr.strip()
    assert res.returncode == 2, (res.returncode, res.stderr[-2000:])
    assert "Traceback" not in res.stderr and "\n" not in err, res.stderr[-2000:]
    assert err.startswith("error: ") and len(err) <= 600, err
    for name in names:
        assert name in err, err


@pytest.mark.parametrize("case", range(len(BAD_FILES)), ids=[c[0] for c in BAD_FILES])
def test_every_command_refuses_a_bad_results_file_in_one_line(tmp_path, capsys, case):
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
    res = _run_harness(capsys, *args)
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


@pytest.mark.integration
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
    assert_one_line_error(res, "big.json", "is over")


def test_a_directory_or_a_missing_file_is_named_as_such(tmp_path, capsys):
    assert_one_line_error(_run_harness(capsys, "report", tmp_path), "is a directory")
    assert_one_line_error(_run_harness(capsys, "compare", tmp_path / "absent.json", FIXTURE),
                          "absent.json", "does not exist")


def test_unwritable_outputs_are_one_line(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    assert_one_line_error(_run_harness(capsys, "report", FIXTURE, "--out", blocker),
                          "cannot write", "a-file")
    assert_one_line_error(_run_harness(capsys, "report", FIXTURE, "--out", blocker / "sub"),
                          "cannot write")
    assert_one_line_error(_run_harness(capsys, "baseline", FIXTURE, "--to", blocker / "b.json"),
                          "cannot write")
    assert_one_line_error(_run_harness(capsys, "baseline", FIXTURE, "--to", tmp_path),
                          "cannot write")


def test_usage_errors_are_one_line(capsys):
    res = _run_harness(capsys, "report")
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
        for key in ("title", "source", "interpretation", "notes", "table", "known_divergence",
                    "reading", "measurement"):
            if isinstance(rec.get(key), dict):  # a recorded divergence as a table
                rec[key].update(because=text_of(f"because{i}"), reading=text_of(f"kd-reading{i}"))
            else:
                rec[key] = text_of(f"{key}{i}")
        if rec.get("diagnosis"):
            rec["diagnosis"]["text"] = text_of(f"diagnosis{i}")
            for j, c in enumerate(rec["diagnosis"].get("checks", [])):
                c["check"], c["observed"] = text_of(f"check{i}.{j}"), text_of(f"observed{i}.{j}")
        if rec.get("judgement"):
            rec["judgement"]["decide"] = text_of(f"decide{i}")
        if (rec.get("details") or {}).get("method") is not None:
            rec["details"]["method"] = text_of(f"method{i}")
        rec["tolerance"]["justification"] = text_of(f"justification{i}")
        if rec["status"] in ("not run", "error"):
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
    for j, d in enumerate(data["claims"].get("deselected", [])):
        d["reason"] = text_of(f"deselected{j}")
    for j, t in enumerate(data["claims"].get("tables", [])):
        names = {r["reading"]: text_of(f"reading-name{j}.{k}") for k, r in enumerate(t["readings"])}
        for r in t["readings"]:
            r["reading"] = names[r["reading"]]
        if t.get("best_reading") in names:
            t["best_reading"] = names[t["best_reading"]]
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
    expected = 1 + 3 + bool(plots) + len(tables) + len(recs)  # title, Findings, Run, details
    assert len(headings) == expected, headings
    rows = [line for line in md.splitlines() if line.startswith("| `")]
    assert len(rows) == len(recs)
    for row in rows:
        assert len(_unescaped(row, "|")) == 10, row


def test_planted_markup_is_inert_in_the_written_report(tmp_path, capsys):
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(_plant(fixture_data(),
                                      lambda f: HOSTILE[zlib.crc32(f.encode()) % len(HOSTILE)] + f)),
                    encoding="utf-8")
    # the proxy section reads score tables, not the results: its inertness is checked below
    res = _run_harness(capsys, "report", path, "--out", tmp_path / "out", "--no-proxies")
    assert res.returncode == 0, res.stderr
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    plots = tuple(sorted(p.name for p in (tmp_path / "out").glob("*.png")))
    assert "scatter_0.png" in plots and "accuracy_cifar10.png" in plots
    check_inert(md, load_results(path), plots=plots)
    assert "&lt;script&gt;" in md and "javascript" in md  # shown, as text
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(["report.md", *plots])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=40), min_size=1, max_size=8), st.booleans())
def test_any_text_in_any_data_field_renders_inert(texts, v2):
    from harness.report import render_markdown

    data = _plant(load_results(FIXTURE_V2 if v2 else FIXTURE),
                  lambda f: texts[zlib.crc32(f.encode()) % len(texts)])
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


# ---------------------------------------------------------------- the three-way verdicts (v2)


@pytest.fixture(scope="module")
def v2(tmp_path_factory):
    out = tmp_path_factory.mktemp("report-v2")
    path = write_report(FIXTURE_V2, out)
    return path.read_text(encoding="utf-8"), load_results(FIXTURE_V2), path.parent


def _first_screen(md):
    return md.split("## Run")[0]


def test_the_v2_fixture_is_the_records_written_out():
    from report_records import document

    assert json.loads(FIXTURE_V2.read_text(encoding="utf-8")) == json.loads(json.dumps(document()))


def test_every_record_field_survives_the_json_round_trip():
    from report_records import records

    from harness.outcome import Outcome

    data = load_results(FIXTURE_V2)
    loaded = {o.id: o for o in outcomes(data)}
    for rec in records():
        assert loaded[rec.id] == Outcome.from_dict(json.loads(json.dumps(rec.to_dict())))
        assert loaded[rec.id].to_dict() == json.loads(json.dumps(rec.to_dict()))


def test_the_first_screen_counts_claims_and_independent_measurements(v2):
    md, data, _ = v2
    recs = data["claims"]["outcomes"]
    head = _first_screen(md)
    keys = {r.get("measurement") or r["id"] for r in recs}
    assert f"{len(keys)} distinct measurements under {len(recs)} claims" in head
    assert len(keys) < len(recs)  # t2-in-n100 is derived from t1-in-n100
    for status in ("reproduced", "inconclusive", "known divergence", "diagnosis unsupported",
                   "not run", "error"):
        assert f"{sum(r['status'] == status for r in recs)} {status}" in head.splitlines()[2]
    assert "2 deselected" in head.splitlines()[2]
    # the shared measurement got two statuses: both are named, as a disagreement
    assert "search random naswot ImageNet16-120 N=100 best (diagnosis unsupported, reproduced)" \
        in head
    assert "`t2-in-n100` from `t1-in-n100`" in head


def test_the_first_screen_says_which_reading_fits_each_table_from_the_numbers(v2):
    md, data, _ = v2
    head = _first_screen(md).replace("Its informative rows", "its informative rows")
    table = data["claims"]["tables"][0]
    consistent = table["consistent"]
    if len(consistent) == 1:
        assert (f"its informative rows are consistent with one reading, "
                f"*{md_text(consistent[0])}*") in head
    elif consistent:
        assert "the table does not decide between" in head
    else:
        assert "no one reading is consistent with every informative row" in head
    for r in table["readings"]:
        assert (f"*{md_text(r['reading'])}*: {r['reproduced']} of {r['rows']} rows "
                "reproduced") in head
        for row in r["rejected_by"]:
            assert f"`{row}`" in head
    assert "log-likelihood" not in head  # reported in the JSON, never used to choose


def test_the_first_screen_says_why_each_divergence_and_what_would_decide(v2):
    md, data, _ = v2
    head = _first_screen(md)
    by_id = {r["id"]: r for r in data["claims"]["outcomes"]}
    assert md_text(by_id["t1-c10-n100"]["diagnosis"]["text"]) in head
    assert "diagnosis no longer holds: direction expected below, observed above" in head
    for cid in ("t1-c100-n100", "best-dataset"):
        assert md_text(by_id[cid]["judgement"]["decide"]) in head
    assert "×2.25 [×2.2, ×2.3] (allowed ×1.5)" in head  # a factor rule reads as ratios
    assert "σ ratio 0.375 [0.29, 0.46]" in md  # a distribution rule's spread part
    left = [line for line in head.splitlines() if line.startswith("  - ") and " — `" in line]
    for d in data["claims"]["deselected"]:
        assert any("deselected (" in line and md_text(d["reason"]) in line
                   and f"`{d['id']}`" in line for line in left), d
    for r in by_id.values():
        if r["status"] in ("not run", "error"):
            assert any(f"{r['status']} (" in line and md_text(r["reason"]) in line
                       and f"`{r['id']}`" in line for line in left), r["id"]


def _numbers(node):
    if isinstance(node, bool):
        return
    if isinstance(node, int | float):
        yield float(node)
    elif isinstance(node, dict):
        for v in node.values():
            yield from _numbers(v)
    elif isinstance(node, list):
        for v in node:
            yield from _numbers(v)


def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


def test_every_number_on_the_first_screen_is_traceable_to_the_json(v2):
    import math
    import re

    from harness.markdown import fmt as _fmt

    md, data, _ = v2
    head = re.sub(r"`[^`]*`", "", _first_screen(md))  # claim ids hold digits
    for text in sorted(set(_strings(data)), key=len, reverse=True):  # text from the JSON as text
        if len(text) > 3:
            head = head.replace(md_text(text), " ")
    values = list(_numbers(data))
    for r in data["claims"]["outcomes"]:  # a factor rule's interval is shown as ratios
        j = r.get("judgement") or {}
        if r["tolerance"]["rule"] == "ratio" and j.get("interval"):
            values += [math.exp(x) for x in j["interval"]]
    shown_as = {_fmt(v, d) for v in values for d in (3, 4)}
    counts = {str(i) for i in range(len(data["claims"]["outcomes"]) + 1)}
    for token in re.findall(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?", head):
        assert token in shown_as or token in counts, token


def test_every_claim_shows_slack_power_interval_and_its_sensitivity(v2):
    from harness.markdown import fmt as _fmt

    md, data, _ = v2
    details = md.split("## Claim details")[1]
    for r in data["claims"]["outcomes"]:
        block = details.split(f"### `{r['id']}`")[1].split("\n### ")[0]
        j = r.get("judgement")
        if j is None:
            assert md_text(r["reason"]) in block
            continue
        assert f"verdict of the rule: {j['verdict']}" in block
        if j["slack"] is not None:
            assert f"slack {_fmt(j['slack'], 3)}" in block
        if j["power"] is not None:
            assert f"= {_fmt(j['power'], 3)}" in block
        d = r.get("details") or {}
        for x in d.get("realisations", []):
            assert f"seed {x['seed']}: {_fmt(x['value'])}" in block
        pred = (d.get("predicted") or {}).get("mean")
        if pred:
            assert ", ".join(_fmt(pred[q]) for q in ("q05", "q50", "q95")) in block
        if r.get("derived_from"):
            assert f"derived from `{r['derived_from']}`" in block


def test_v2_plots_show_the_sampling_distribution_and_the_cells_near_the_top(v2):
    md, _, out = v2
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert "sampling_0.png" in pngs and "top_cells.png" in pngs
    for name in pngs:
        assert f"]({name})" in md


def test_the_old_fixture_has_no_new_fields_and_still_renders(rendered):
    path, data = rendered
    assert all("measurement" not in r for r in data["claims"]["outcomes"])
    text = path.read_text(encoding="utf-8")
    n = len(data["claims"]["outcomes"])
    assert f"{n} distinct measurements under {n} claims" in text  # each its own measurement


def _v2_mutated(change):
    data = json.loads(FIXTURE_V2.read_text(encoding="utf-8"))
    change(data)
    return data


def _by_id(data, cid):
    return next(r for r in data["claims"]["outcomes"] if r["id"] == cid)


# (name, change, what the message must name)
BAD_V2 = [
    ("verdict-contradicts-passed",
     lambda d: _by_id(d, "t1-c10-n10")["judgement"].update(verdict="not reproduced"),
     "judgement.passed"),
    ("unknown-verdict", lambda d: _by_id(d, "t1-c10-n10")["judgement"].update(verdict="maybe"),
     "judgement.verdict"),
    ("power-above-one", lambda d: _by_id(d, "t1-c10-n10")["judgement"].update(power=1.5),
     "judgement.power"),
    ("interval-one-number", lambda d: _by_id(d, "t1-c10-n10")["judgement"].update(interval=[1]),
     "judgement.interval"),
    ("se-negative", lambda d: _by_id(d, "t1-c10-n10")["reproduced"].update(se=-1),
     "reproduced.se"),
    ("derived-from-itself", lambda d: _by_id(d, "t2-in-n100").update(derived_from="t2-in-n100"),
     "derived_from"),
    ("derived-from-another-measurement",
     lambda d: _by_id(d, "t2-in-n100").update(measurement="something else"), "measurement"),
    ("divergence-direction", lambda d: _by_id(d, "t1-c10-n100")["known_divergence"].update(
        direction="sideways"), "known_divergence.direction"),
    ("divergence-without-because",
     lambda d: _by_id(d, "t1-c10-n100")["known_divergence"].pop("because"),
     "known_divergence.because"),
    ("diagnosis-without-text", lambda d: _by_id(d, "t1-c10-n100")["diagnosis"].pop("text"),
     "diagnosis.text"),
    ("check-holds-a-string",
     lambda d: _by_id(d, "t1-c10-n100")["diagnosis"]["checks"][0].update(holds="yes"),
     "diagnosis.checks[0].holds"),
    ("quantiles-out-of-order", lambda d: _by_id(d, "t1-c10-n10")["details"]["predicted"][
        "mean"].update(q05=99.0), "predicted.mean.q95"),
    ("realisation-without-seed",
     lambda d: _by_id(d, "t1-c10-n10")["details"]["realisations"][0].pop("seed"),
     "realisations[0].seed"),
    ("top-cell-score-a-string",
     lambda d: _by_id(d, "t4-c10-score")["details"]["top_cells"][0].update(score="high"),
     "top_cells[0].score"),
    ("best-reading-unknown", lambda d: d["claims"]["tables"][0].update(best_reading="another"),
     "claims.tables[0].best_reading"),
    ("reading-rows-too-few", lambda d: d["claims"]["tables"][0]["readings"][0].update(rows=1),
     "claims.tables[0].readings[0].rows"),
    ("deselected-bad-id", lambda d: d["claims"]["deselected"].append({"id": "a b", "reason": "x"}),
     "claims.deselected[2].id"),
    ("deselected-without-reason", lambda d: d["claims"]["deselected"][0].pop("reason"),
     "claims.deselected[0].reason"),
    ("alternative-verdict-contradicts",
     lambda d: _by_id(d, "t1-c10-n100")["alternatives_run"][0].update(verdict="not reproduced"),
     "alternatives_run[0].verdict"),
]


@pytest.mark.parametrize("case", range(len(BAD_V2)), ids=[c[0] for c in BAD_V2])
def test_the_new_fields_are_validated_strictly(tmp_path, case):
    name, change, field = BAD_V2[case]
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(_v2_mutated(change)), encoding="utf-8")
    with pytest.raises(ResultsError) as info:
        load_results(path)
    assert field in str(info.value) and "\n" not in str(info.value), str(info.value)


def test_a_divergence_written_as_prose_still_loads(tmp_path):
    path = tmp_path / "prose.json"
    path.write_text(json.dumps(_v2_mutated(lambda d: _by_id(d, "t1-c10-n100").update(
        known_divergence="the paper's cell is another one"))), encoding="utf-8")
    rec = {o.id: o for o in outcomes(load_results(path))}["t1-c10-n100"]
    assert rec.known_divergence.to_dict() == {"because": "the paper's cell is another one",
                                              "expect": "not reproduced"}


# ---------------------------------------------------------------- the ledger


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["reproduced", "not reproduced", "inconclusive",
                                           "not run", "error"]),
                          st.sampled_from(["", "m1", "m2", "m3"])), max_size=12))
def test_the_ledger_counts_claims_and_distinct_measurements(rows):
    from harness.ledger import ledger
    from harness.outcome import Outcome
    from harness.verdicts import Tolerance

    tol = Tolerance("holds")
    recs = [Outcome(id=f"c{i}", status=s, tolerance=tol, measurement=m, reason="r")
            for i, (s, m) in enumerate(rows)]
    book = ledger(recs, [{"id": "d1", "reason": "-m 'not live'"}])
    keys = {m or f"c{i}" for i, (_, m) in enumerate(rows)}
    assert sum(book.claims.values()) == book.total_claims == len(rows)
    assert book.total_measurements == len(keys)
    for status, n in book.measurements.items():
        assert n == len({m or f"c{i}" for i, (s, m) in enumerate(rows) if s == status})
        assert n <= book.claims[status]
    split = {m for m in keys if len({s for s, k in rows if k == m and m}) > 1}
    assert set(book.split) == split
    assert [x.id for x in book.deselected] == ["d1"]
    assert {x.id for x in book.left_out} - {"d1"} == {
        f"c{i}" for i, (s, _) in enumerate(rows) if s in ("not run", "error")}


# ---------------------------------------------------------------- the plugin records deselections

ROOT = Path(__file__).resolve().parents[1]
TRIVIAL = "def test_claim(claim, benchmark):\n    benchmark(lambda: None)\n"


@pytest.mark.integration
def test_the_plugin_records_every_deselected_claim_with_its_reason(tmp_path):
    import os

    from harness.registry import load_claims

    (tmp_path / "test_trivial.py").write_text(TRIVIAL, encoding="utf-8")
    out = tmp_path / "out.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")])}
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(tmp_path),
         "-m", "not live", "-k", "not table1", f"--benchmark-json={out}",
         "--deselect=test_trivial.py::test_claim[mellor-kendall-cifar10]",
         "--benchmark-min-rounds=1", "--benchmark-max-time=0.000001", "--benchmark-warmup=off"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    claims = load_claims()
    data = load_results(out)
    got = {d["id"]: d["reason"] for d in data["claims"]["deselected"]}
    live = {c.id for c in claims.values() if c.live}
    assert set(got) == live | {i for i in claims if "table1" in i} | {"mellor-kendall-cifar10"}
    assert got.pop("mellor-kendall-cifar10").startswith("--deselect ")
    for cid, reason in got.items():
        if cid not in live:
            assert reason == "-k 'not table1'", (cid, reason)
        elif "table1" not in cid:
            assert reason == "-m 'not live'", (cid, reason)
    for cid, reason in got.items():  # the terminal summary lists them too
        assert f"DESELECTED {cid}: {reason}" in res.stdout
    assert f"{len(got) + 1} deselected" in res.stdout
    summary = data["claims"]["summary"]
    assert summary["deselected"] == len(got) + 1 and summary["independent"]["total"] == 0


def test_undefined_spreads_a_count_of_realisations_and_a_cell_sample_load(tmp_path):
    def change(d):
        rec = _by_id(d, "t1-c10-n10")
        rec["details"]["predicted"]["std"].update(sd=float("nan"), q05=float("nan"))
        rec["details"]["realisations"] = 5
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(_v2_mutated(change)), encoding="utf-8")
    md = write_report(path, tmp_path / "out").read_text(encoding="utf-8")
    assert "scoring realisations: 5" in md
    # each kind types its own record: a timing claim's cells are its sample, a search's a count
    from harness.kinds.timing import TimingDetails

    sample = TimingDetails.from_dict({"cells": ["|nor_conv_3x3~0|", "|skip_connect~0|"]})
    assert sample.lines(None) == ["- cells: a sample of 2"]
    path.write_text(json.dumps(_v2_mutated(lambda d: _by_id(d, "t1-c10-n10")["details"].update(
        cells=["|nor_conv_3x3~0|"]))), encoding="utf-8")
    with pytest.raises(ResultsError, match=r"details\.cells must be an object"):
        load_results(path)
    path.write_text(json.dumps(_v2_mutated(lambda d: _by_id(d, "t1-c10-n10")["details"].update(
        realisations="five"))), encoding="utf-8")
    with pytest.raises(ResultsError, match=r"details\.realisations must be an array"):
        load_results(path)


def test_an_alternative_without_its_judgement_is_not_given_a_verdict(v2):
    from harness.outcome import AlternativeRun
    from harness.report import _alternative_line
    from harness.verdicts import Estimate

    failed = AlternativeRun("all cells", {}, Estimate(1.0), False, "mean inconclusive")
    assert "→ does not match" in _alternative_line(failed)  # could be either of two verdicts
    md, _, _ = v2
    assert "→ reproduced, interval [-0.3, 0.7]" in md  # with its judgement: the verdict


# ---------------------------------------------------------------- proxies by dataset


def _proxy_rows():
    from harness.proxy_table import Correlation, ProxyRow, ProxyTable

    ds = ("cifar10", "cifar100", "ImageNet16-120")
    whole = Correlation(0.7961, 15625, True)
    sample = Correlation(-0.4123, 2000, False, (-0.45, -0.37))
    rows = (ProxyRow("naswot", "", "", "", (), dict.fromkeys(ds), {"cifar10": whole,
                                                                   "cifar100": sample,
                                                                   "ImageNet16-120": None}),
            ProxyRow("synflow", "", "", "", (), dict.fromkeys(ds), dict.fromkeys(ds)))
    return ProxyTable(rows, ds)


def _section(text):
    return text.split("## Proxies by dataset", 1)[1].split("\n## ", 1)[0]


def test_the_proxy_section_shows_each_value_with_its_claims_verdicts_and_a_plot(tmp_path):
    path = write_report(FIXTURE, tmp_path, proxies=_proxy_rows())
    section = _section(path.read_text(encoding="utf-8"))
    recs = {r.id: r for r in outcomes(load_results(FIXTURE))}
    naswot = next(line for line in section.splitlines() if line.startswith("| `naswot` |"))
    cells = naswot.split(" | ")
    assert cells[1].startswith("0.796 \\(0.796\\); `fig3-corr-cifar10` (pearson valid12) "
                               f"**{recs['fig3-corr-cifar10'].status}**")
    assert cells[2].startswith("-0.412 \\(0.412\\) \\[-0.450, -0.370\\] n=2000")
    assert cells[3].startswith("—")
    synflow = next(line for line in section.splitlines() if line.startswith("| `synflow` |"))
    assert f"`abdelfattah-synflow-cifar10` (spearman test200) " \
           f"**{recs['abdelfattah-synflow-cifar10'].status}**" in synflow
    assert "![proxy_correlations.png](proxy_correlations.png)" in section
    assert (tmp_path / "proxy_correlations.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_proxy_section_says_why_when_the_tables_cannot_be_read(tmp_path):
    path = write_report(FIXTURE, tmp_path, proxies=tmp_path / "absent")
    assert "Not computed: no folder of score tables" in _section(path.read_text(encoding="utf-8"))
    assert not (tmp_path / "proxy_correlations.png").exists()


def test_without_proxies_the_report_has_no_proxy_section(tmp_path):
    path = write_report(FIXTURE, tmp_path)
    assert "## Proxies by dataset" not in path.read_text(encoding="utf-8")


def test_the_report_section_and_the_readme_render_the_same_numbers(tmp_path):
    from harness.proxy_table import correlation_text, render_table

    table = _proxy_rows()
    section = _section(write_report(FIXTURE, tmp_path, proxies=table).read_text(encoding="utf-8"))
    readme = render_table(table)
    for row in table.rows:
        for d in table.datasets:
            text = correlation_text(row.correlations[d])
            assert text in readme
            assert md_text(text) in section or text == "—"


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=40), min_size=1, max_size=8))
def test_planted_text_in_the_claims_stays_inert_in_the_proxy_section(texts):
    from harness.report import render_markdown

    data = _plant(load_results(FIXTURE), lambda f: texts[zlib.crc32(f.encode()) % len(texts)])
    for o in data["claims"]["outcomes"]:  # every claim lands in a cell of the section
        if o.get("kind") == "correlation":
            o["protocol"] = {**o["protocol"], "proxy": "naswot", "dataset": "cifar10",
                             "coefficient": texts[0], "metric": texts[-1]}
    section = _section(render_markdown(data, [], proxies=_proxy_rows()))
    assert "<" not in section and "](" not in section
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert len(rows) == 2 and rows[0].count("**") >= 2  # the claims' verdicts are there
    for row in rows:
        assert len(_unescaped(row, "|")) == 5, row


def test_agreement_aggregate_and_ranking_claims_land_beside_their_ensemble_and_dataset():
    from harness.proxy_table import Correlation, ProxyRow, ProxyTable
    from harness.report import render_markdown

    ds = ("cifar10",)
    rows = (ProxyRow("vote", "", "", "", ("synflow", "jacob_cov", "snip"), dict.fromkeys(ds),
                     {"cifar10": Correlation(0.5, 100, True, agreement=0.7)}),
            ProxyRow("az_nas", "", "", "", ("a", "b"), dict.fromkeys(ds), dict.fromkeys(ds)))
    data = load_results(FIXTURE)
    recs = data["claims"]["outcomes"]
    recs[0].update(kind="pair_agreement", protocol={"members": ["synflow", "jacob_cov", "snip"],
                                                     "dataset": "cifar10"})
    recs[1].update(kind="rank_aggregate", protocol={"proxy": "az_nas", "dataset": "cifar10",
                                                     "quantity": "selected"})
    recs[2].update(kind="proxy_ranking", protocol={"dataset": "cifar10", "coefficient": "spearman"})
    section = _section(render_markdown(data, [], proxies=ProxyTable(rows, ds)))
    vote = next(line for line in section.splitlines() if line.startswith("| `vote` |"))
    assert "agreement 0.700" in vote and f"`{recs[0]['id']}` (pair\\_agreement)" in vote
    az = next(line for line in section.splitlines() if line.startswith("| `az_nas` |"))
    assert f"`{recs[1]['id']}` (rank\\_aggregate selected) **{recs[1]['status']}**" in az
    assert (f"- how the proxies rank on CIFAR-10: `{recs[2]['id']}` (proxy\\_ranking) "
            f"**{recs[2]['status']}**") in section
