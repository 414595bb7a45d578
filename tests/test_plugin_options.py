"""Every claim option and path is checked once, before collection: a bad one ends the session with
one ``ERROR:`` line naming the option (exit status 4), never a traceback, a hang, or an error per
claim (issue *Hardening, second pass*, items 1 and 4).

The runs are in-process (``pytester``) over a two-test stand-in for ``benchmarks/`` (one test
taking ``claim``, one taking ``paper_table``), collection only; one subprocess runs the real
``benchmarks/`` with a malformed file, the case the issue reported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import harness.context  # noqa: F401 - imported here: pytester's in-process runs drop what
import tfnas.oracles  # noqa: F401   they import, and numpy cannot be imported twice
import tfnas.tables  # noqa: F401
from harness.registry import load_registry

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.integration  # pytest-in-pytest (pytester), and one real pytest run

ROOT = Path(__file__).resolve().parents[1]
SUITE = '''
def test_claim(claim):
    pass


def test_paper_table(paper_table):
    pass
'''
GOOD = f"{ROOT / 'harness' / 'claims' / 'mellor-2021-naswot.toml'}"
load_registry([GOOD])  # imports the claim kinds (and the proxies) once, for the same reason
NUMERIC = {"--bootstrap": (1, 100_000), "--repetitions": (1, 10_000),
           "--claims-seed": (0, 2**63 - 1)}


def _outcome(pytester: pytest.Pytester, *args: str) -> tuple[int, list[str], str]:
    """(exit status, the non-empty stderr lines, all output) of a collect-only run."""
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--collect-only", "-q", *args)
    err = [ln for ln in result.errlines if ln.strip()]
    return int(result.ret), err, "\n".join(result.outlines + result.errlines)


def _assert_one_usage_line(pytester: pytest.Pytester, option: str, *args: str) -> str:
    ret, err, output = _outcome(pytester, *args)
    assert ret == 4, output[-3000:]
    assert len(err) == 1 and err[0].startswith(f"ERROR: {option}"), output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    return err[0]


def _paths(tmp: Path) -> dict[str, tuple[str, str]]:
    """Bad ``--claims`` paths, each with a word its message must say."""
    (tmp / "empty").mkdir()
    fifo_folder = tmp / "with-fifo"
    fifo_folder.mkdir()
    os.mkfifo(fifo_folder / "a.toml")
    os.mkfifo(tmp / "fifo.toml")
    os.symlink(tmp / "loop-b", tmp / "loop-a")
    os.symlink(tmp / "loop-a", tmp / "loop-b")
    (tmp / "latin1.toml").write_bytes(b'[[claim]]\nid = "caf\xe9"\n')
    (tmp / "bad.toml").write_text('[[claim]]\nid = "x"\nkind = "correlation"\n', encoding="utf-8")
    return {"missing": (str(tmp / "nope.toml"), "does not exist"),
            "empty folder": (str(tmp / "empty"), "no *.toml"),
            "fifo": (str(tmp / "fifo.toml"), "FIFO"),
            "fifo in a folder": (str(fifo_folder), "FIFO"),
            "symlink loop": (str(tmp / "loop-a"), "symbolic links"),
            "name too long": (str(tmp / ("n" * 300 + ".toml")), "too long"),
            "not utf-8": (str(tmp / "latin1.toml"), "UTF-8"),
            "malformed": (str(tmp / "bad.toml"), "claim 'x'"),
            "nul in the name": ("bad\x00name.toml", "claims registry")}


BAD_PATHS = ["missing", "empty folder", "fifo", "fifo in a folder", "symlink loop",
             "name too long", "not utf-8", "malformed", "nul in the name"]


@pytest.mark.parametrize("case", BAD_PATHS)
def test_a_bad_claims_path_is_one_usage_line(pytester, tmp_path, case):
    path, says = _paths(tmp_path)[case]
    line = _assert_one_usage_line(pytester, "--claims", "--claims", path)
    assert says in line, line


def _bad_numbers(option: str) -> list[str]:
    low, high = NUMERIC[option]
    return [str(low - 1), str(high + 1), "-7", "abc", "1.5", "", " 3", "٣", "1_0", "9" * 40]


@pytest.mark.parametrize("option, value", [(o, v) for o in NUMERIC for v in _bad_numbers(o)])
def test_an_out_of_range_or_non_numeric_option_is_one_usage_line(pytester, option, value):
    _assert_one_usage_line(pytester, option, f"{option}={value}")


@pytest.mark.parametrize("option, value", [("--score-source", "tablez"),
                                           ("--live-protocol", "fast"),
                                           ("--score-tables", "/nonexistent/folder"),
                                           ("--score-store", "/nonexistent/folder/s.db")])
def test_a_bad_choice_or_folder_is_one_usage_line(pytester, option, value):
    _assert_one_usage_line(pytester, option, option, value)


@pytest.mark.filterwarnings("ignore:Not saving anything")  # the inner run's, it runs nothing
def test_a_fifo_among_the_score_tables_is_refused_before_the_run_not_waited_on(
        pytester, tmp_path):
    tables = tmp_path / "tables"
    tables.mkdir()
    os.mkfifo(tables / "synflow-cifar10.csv.gz")
    line = _assert_one_usage_line(pytester, "data hashes", "--score-tables", str(tables),
                                  f"--benchmark-json={tmp_path / 'out.json'}")
    assert "FIFO" in line and "synflow-cifar10.csv.gz" in line, line


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(option=st.sampled_from(sorted(NUMERIC)),
       text=st.one_of(st.integers(-(2**70), 2**70).map(str),
                      st.text(st.characters(codec="utf-8", exclude_characters="\x00"),
                              max_size=12)))
def test_any_option_text_is_accepted_in_range_or_refused_in_one_line(pytester, option, text):
    ret, err, output = _outcome(pytester, "--claims", GOOD, f"{option}={text}")
    low, high = NUMERIC[option]
    valid = text.lstrip("-").isascii() and text.lstrip("-").isdigit() and len(text) <= 21 \
        and low <= int(text) <= high
    assert "Traceback" not in output, output[-3000:]
    if valid:
        assert ret == 0, output[-3000:]
    else:
        assert ret == 4 and len(err) == 1 and err[0].startswith(f"ERROR: {option}"), output


def test_good_options_collect_every_claim_and_table(pytester):
    ret, err, output = _outcome(pytester, "--claims", GOOD, "--bootstrap", "20",
                                "--repetitions", "3", "--claims-seed", "7")
    assert ret == 0 and not err, output[-3000:]
    assert "test_claim[mellor-" in output


def test_the_real_benchmarks_with_a_malformed_file_end_in_one_line(tmp_path):
    """``pytest benchmarks/ --claims BAD``: one line, not a traceback from test_tables.py."""
    bad = tmp_path / "bad.toml"
    bad.write_text('[[claim]]\nid = "x"\n', encoding="utf-8")
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q",
           "benchmarks/test_claims.py", "benchmarks/test_tables.py", "--claims", str(bad)]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    err = [ln for ln in run.stderr.splitlines() if ln.strip()]
    assert run.returncode == 4 and len(err) == 1, run.stdout[-3000:] + run.stderr[-3000:]
    assert err[0].startswith("ERROR: --claims: ") and "claim 'x'" in err[0], err
    assert "Traceback" not in run.stdout + run.stderr


def test_repetitions_that_would_exceed_the_evaluation_bound_are_one_usage_line(pytester):
    """``--repetitions`` in its range can still make a live claim's runs exceed the library's
    evaluation bound: refused before any claim runs, naming the claim. From the tables, the
    seed-free claims run no repetitions, so the same number is accepted there."""
    line = _assert_one_usage_line(pytester, "--repetitions", "--repetitions=5000",
                                  "--score-source", "live")
    assert "too many for claim" in line and "2,000,000" in line
    ret, _, output = _outcome(pytester, "--repetitions=5000")
    assert ret == 0, output[-3000:]
