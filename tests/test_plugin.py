"""The harness plugin rides on pytest-benchmark without breaking it.

Runs the real claim benchmarks in a subprocess (two quick claims from the committed score tables:
one that reproduces, one recorded as a known divergence) and checks that pytest-benchmark's own
features still work next to the harness: ``--benchmark-json`` carries the top-level ``claims``
summary and the torch/thread/data-hash machine info, ``--benchmark-histogram`` writes its SVG,
``--benchmark-autosave`` + ``--benchmark-compare`` compare a second run with the first.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from harness.registry import SHIPPED_NAME, claim_files, load_claims

ROOT = Path(__file__).resolve().parents[1]
PASSING = "mellor-search-n10-cifar10"
DIVERGENT = "table1-cifar10-n10-accuracy"

pytestmark = [
    pytest.mark.integration,  # real pytest runs in subprocesses
    pytest.mark.skipif(not (ROOT / "benchmarks" / "scores").is_dir(),
                       reason="benchmarks/scores/ missing"),
]


def _run(tmp: Path, data: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--bootstrap", "20", "-q",
           *(f"benchmarks/test_claims.py::test_claim[{c}]" for c in (PASSING, DIVERGENT)),
           f"--benchmark-storage=file://{tmp / 'storage'}", *extra]
    env = {**os.environ, "TFNAS_DATA": str(data)}
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, data_root):
    tmp = tmp_path_factory.mktemp("plugin")
    first = _run(tmp, data_root, f"--benchmark-json={tmp / 'first.json'}", "--benchmark-autosave",
                 f"--benchmark-histogram={tmp / 'hist' / 'claims'}")
    second = _run(tmp, data_root, f"--benchmark-json={tmp / 'second.json'}", "--benchmark-compare")
    return tmp, first, second


def test_the_claims_are_the_ones_the_test_expects():
    claims = load_claims()
    assert not claims[PASSING].known_divergence and claims[PASSING].fast
    assert claims[DIVERGENT].known_divergence and claims[DIVERGENT].fast


def test_both_runs_succeed_with_one_pass_and_one_strict_xfail(two_runs):
    _, first, second = two_runs
    for run in (first, second):
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert "1 passed" in run.stdout and "1 xfailed" in run.stdout, run.stdout[-3000:]


def test_json_holds_the_claims_summary_and_the_machine_info(two_runs):
    tmp, _, _ = two_runs
    data = json.loads((tmp / "first.json").read_text())
    claims = data["claims"]
    assert claims["format"] == "tfnas-claims/1"
    assert claims["summary"]["total"] == 2
    assert claims["summary"]["reproduced"] == 1 and claims["summary"]["known divergence"] == 1
    assert {o["id"] for o in claims["outcomes"]} == {PASSING, DIVERGENT}
    files = claim_files(SHIPPED_NAME)  # no --claims: the shipped registry, every file of it
    assert [r["path"] for r in claims["registries"]] == [f"shipped/{p.name}" for p in files]
    digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in files]
    assert [r["sha256"] for r in claims["registries"]] == digests
    assert claims["registry_sha256"] == hashlib.sha256("".join(
        d + "\n" for d in digests).encode()).hexdigest()
    assert claims["options"] == {"score_source": "tables", "score_tables": None,
                                 "score_store": None, "repetitions": None, "bootstrap": 20,
                                 "live_protocol": "reduced", "claims_seed": None,
                                 "scoring_noise": True}
    info = data["machine_info"]["tfnas"]
    assert info["torch"].startswith("2.13.0") and info["torch_threads"] >= 1
    assert any(k.startswith("scores/naswot") for k in info["data_sha256"])
    by_name = {b["name"]: b for b in data["benchmarks"]}
    assert by_name[f"test_claim[{PASSING}]"]["extra_info"]["status"] == "reproduced"


def test_histogram_is_written(two_runs):
    tmp, _, _ = two_runs
    svgs = list((tmp / "hist").glob("claims*.svg"))
    assert svgs, sorted(p.name for p in tmp.rglob("*"))
    assert svgs[0].read_text().lstrip().startswith(("<?xml", "<svg"))


def test_compare_reads_the_autosaved_first_run(two_runs):
    tmp, _, second = two_runs
    saved = list((tmp / "storage").rglob("*.json"))
    assert len(saved) == 1, saved
    assert "Comparing against benchmarks from" in second.stdout + second.stderr
    assert saved[0].stem.split("_")[0] in second.stdout


# ---------------------------------------------------------------- refused inputs and crashes


def _table_bytes(proxy: str, dataset: str, scores: list[str]) -> bytes:
    """A complete score table file written by hand (gzip CSV), scores given as text."""
    from tfnas.space import SPACE_SIZE, arch_at

    head = ["# format: tfnas-score-table/1", f"# proxy: {proxy}", f"# dataset: {dataset}",
            f"# rows: {SPACE_SIZE}", f"# space_size: {SPACE_SIZE}", "# complete: true",
            "index,arch,score"]
    rows = [f"{i},{arch_at(i)},{scores[i]}" for i in range(SPACE_SIZE)]
    return gzip.compress(("\n".join(head + rows) + "\n").encode(), mtime=0)


def _corrupt_gzip() -> bytes:
    data = bytearray(gzip.compress(b"# format: tfnas-score-table/1\n" * 50, mtime=0))
    data[-8:-4] = b"\0\0\0\0"  # the CRC no longer matches
    return bytes(data)


def test_refused_score_tables_are_not_run_and_the_report_shows_why(tmp_path, data_root):
    """A table the reader refuses (corrupt gzip) and one too sparse to correlate (two finite
    scores, the rest -inf) make their claims *not run* with the reason, never a crashed test;
    the JSON keeps its claims record and ``harness report`` renders it."""
    from tfnas.space import SPACE_SIZE

    tables = tmp_path / "tables"
    tables.mkdir()
    sparse = ["1.5", "2.5"] + ["-inf"] * (SPACE_SIZE - 2)
    (tables / "naswot-cifar10.csv.gz").write_bytes(_table_bytes("naswot", "cifar10", sparse))
    (tables / "synflow-cifar10.csv.gz").write_bytes(_corrupt_gzip())
    claims = ("mellor-kendall-cifar10", "abdelfattah-synflow-cifar10")
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--bootstrap", "20", "-q",
           *(f"benchmarks/test_claims.py::test_claim[{c}]" for c in claims),
           f"--score-tables={tables}", f"--benchmark-json={tmp_path / 'out.json'}"]
    env = {**os.environ, "TFNAS_DATA": str(data_root)}
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "2 skipped" in run.stdout, run.stdout[-3000:]
    data = json.loads((tmp_path / "out.json").read_text())
    by_id = {o["id"]: o for o in data["claims"]["outcomes"]}
    assert set(by_id) == set(claims)
    assert all(o["status"] == "not run" and "\n" not in o["reason"] for o in by_id.values())
    assert "gzip" in by_id["abdelfattah-synflow-cifar10"]["reason"]
    hashed = {k: v for k, v in data["machine_info"]["tfnas"]["data_sha256"].items()
              if k.startswith("scores/")}  # the tables in use, not the default ones
    assert hashed == {f"scores/{p.name}": hashlib.sha256(p.read_bytes()).hexdigest()
                      for p in tables.iterdir()}
    report = subprocess.run([sys.executable, "-m", "harness", "report", str(tmp_path / "out.json"),
                             "--out", str(tmp_path / "report")], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert report.returncode == 0, report.stderr
    text = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "2 not run" in text
    for cid in claims:
        assert f"### `{cid}` — not run" in text


CRASHING_SUITE = '''
import pytest
from harness.registry import load_claims

CLAIMS = load_claims()


@pytest.fixture
def broken_setup(request):
    if request.node.callspec.params["claim"].id == "fig3-corr-cifar10":
        raise RuntimeError("the fixture broke")


@pytest.mark.parametrize("claim", [CLAIMS["mellor-kendall-cifar10"], CLAIMS["fig3-corr-cifar10"]],
                         ids=lambda c: c.id)
def test_claim(claim, broken_setup, benchmark):
    benchmark.pedantic(lambda: {}["no such key"], rounds=1, iterations=1)
'''


def test_a_claim_that_raises_is_recorded_as_an_error_and_the_json_keeps_its_claims(tmp_path):
    """Claim tests that crash (in the measurement, or in set-up) still leave an outcome each:
    status ``error`` with a one-line reason, so the JSON's claims record is complete."""
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["harness.plugin"]\n')
    (tmp_path / "test_crash.py").write_text(CRASHING_SUITE)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                          "test_crash.py", "--benchmark-json=out.json"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    data = json.loads((tmp_path / "out.json").read_text())
    by_id = {o["id"]: o for o in data["claims"]["outcomes"]}
    assert by_id["mellor-kendall-cifar10"]["status"] == "error"
    assert by_id["mellor-kendall-cifar10"]["reason"].startswith("KeyError")
    assert "the fixture broke" in by_id["fig3-corr-cifar10"]["reason"]
    assert data["claims"]["summary"]["error"] == 2
    report = subprocess.run([sys.executable, "-m", "harness", "report", "out.json", "--out", "r"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stderr
    assert "2 error" in (tmp_path / "r" / "report.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------- registration


def _entry_point_dist(folder: Path, name: str) -> Path:
    """A minimal installed distribution whose only content is a pytest11 entry point ``name``
    for ``harness.plugin``: what ``pip install`` of tfnas leaves in site-packages."""
    info = folder / "fake_tfnas_plugin-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-tfnas-plugin\nVersion: 0\n")
    (info / "entry_points.txt").write_text(f"[pytest11]\n{name} = harness.plugin\n")
    return folder


def _run_registered(tmp: Path, dist: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(dist)])}
    env.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           "--claims", "shipped", *args], cwd=tmp, env=env, capture_output=True,
                          text=True, timeout=300)


def test_the_entry_point_and_pytest_plugins_name_the_plugin_once(tmp_path):
    """The pytest11 entry point of pyproject.toml loads the plugin on its own (``--claims`` is
    known without ``-p``), and ``-p harness.plugin`` or ``pytest_plugins`` beside it find it
    registered instead of registering the module twice; an entry point of another name would."""
    (name, target), = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "entry-points"]["pytest11"].items()
    assert (name, target) == ("harness.plugin", "harness.plugin")
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_one.py").write_text("def test_one():\n    pass\n")
    dist = _entry_point_dist(tmp_path / "site", name)
    for extra in ([], ["-p", "harness.plugin"]):
        run = _run_registered(suite, dist, *extra)
        assert run.returncode == 0 and "1 passed" in run.stdout, run.stdout[-2000:] + run.stderr
    (suite / "conftest.py").write_text('pytest_plugins = ["harness.plugin"]\n')
    run = _run_registered(suite, dist)
    assert run.returncode == 0 and "1 passed" in run.stdout, run.stdout[-2000:] + run.stderr
    other = _run_registered(suite, _entry_point_dist(tmp_path / "other", "tfnas"))
    assert other.returncode != 0 and "already registered" in other.stdout + other.stderr
