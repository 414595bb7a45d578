"""The harness plugin rides on pytest-benchmark without breaking it.

Runs the real claim benchmarks in a subprocess (two quick claims from the committed score tables:
one that reproduces, one recorded as a known divergence) and checks that pytest-benchmark's own
features still work next to the harness: ``--benchmark-json`` carries the top-level ``claims``
summary and the torch/thread/data-hash machine info, ``--benchmark-histogram`` writes its SVG,
``--benchmark-autosave`` + ``--benchmark-compare`` compare a second run with the first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.registry import load_claims

ROOT = Path(__file__).resolve().parents[1]
PASSING = "mellor-kendall-cifar10"
DIVERGENT = "table1-cifar10-n10-accuracy"

pytestmark = pytest.mark.skipif(
    not (ROOT / "benchmarks" / "scores").is_dir(), reason="benchmarks/scores/ missing"
)


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
