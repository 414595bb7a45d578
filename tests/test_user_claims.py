"""Users' own claims files: a repository with a two-line claim test runs them through the plugin.

Each test runs a real pytest in a scratch folder standing for a user's repository: its
``test_claims.py`` is the two lines that docs/claims.md gives, its ``user.toml`` one correlation
claim of a made-up paper against the committed score tables (cheap: one table, no search). The
plugin is loaded with ``-p harness.plugin``, as the ``pytest11`` entry point does once the
package is reinstalled (tests/test_plugin.py checks that both load it once).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tfnas.config import data_root

ROOT = Path(__file__).resolve().parents[1]
USER_ID = "example-synflow-spearman-cifar100"
SHIPPED_ID = "table1-ImageNet16-120-n10-score"  # cheap: 30 searches of 10 cells, from tables

USER_TOML = f'''\
# Claims of a made-up paper: Example et al., "Zero-cost proxies, again" (2026).

[[claim]]
id = "{USER_ID}"
title = "synflow Spearman rho vs 200-epoch test accuracy, CIFAR-100"
source = "Example et al. 2026, Table 2"
kind = "correlation"
fast = true
protocol = {{ proxy = "synflow", dataset = "cifar100", metric = "test200", coefficient = "spearman", sample = 0, seed = 1 }}
published = {{ value = 0.76 }}
tolerance = {{ rule = "equivalence", margin = 0.05, justification = "No uncertainty is published; 0.05 is the spread of rank correlations between initialisations." }}
interpretation = "All 15,625 cells of the topology space, Spearman rho."
'''

TEST_CLAIMS = '''\
from harness.claim_bench import run_claim


def test_claim(claim, benchmark, claims_context, pytestconfig):
    run_claim(claim, benchmark, claims_context, pytestconfig)
'''

pytestmark = [
    pytest.mark.integration,  # real pytest runs in subprocesses
    pytest.mark.skipif(not (ROOT / "benchmarks" / "scores").is_dir(),
                       reason="benchmarks/scores/ missing"),
]


def _pytest(repo: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT),  # the committed tables, by setting: the
           "TFNAS_TABLES": str(ROOT / "benchmarks" / "scores")}  # default is the cwd's
    root = data_root(required=False)  # absolute: the run's cwd is the user's repository
    if root is not None:
        env["TFNAS_DATA"] = str(root.resolve())
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "harness.plugin", "-q",
           *args]
    return subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A user's repository: the two-line claim test and the user's claims file."""
    (tmp_path / "test_claims.py").write_text(TEST_CLAIMS, encoding="utf-8")
    (tmp_path / "user.toml").write_text(USER_TOML, encoding="utf-8")
    return tmp_path


def _claims_record(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))["claims"]


def test_a_users_file_alone_runs_only_its_claims_with_verdicts(repo, data_root):
    run = _pytest(repo, "--claims", "user.toml", "--bootstrap", "20", "--benchmark-json=out.json")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "1 passed" in run.stdout, run.stdout[-3000:]
    claims = _claims_record(repo / "out.json")
    assert [o["id"] for o in claims["outcomes"]] == [USER_ID]
    (rec,) = claims["outcomes"]
    assert rec["status"] == "reproduced" and rec["source"] == "Example et al. 2026, Table 2"
    assert abs(rec["reproduced"]["value"] - 0.76) < 0.05
    digest = hashlib.sha256((repo / "user.toml").read_bytes()).hexdigest()
    assert claims["registries"] == [{"path": "user.toml", "sha256": digest, "claims": [USER_ID]}]
    assert claims["registry_sha256"] == hashlib.sha256(f"{digest}\n".encode()).hexdigest()
    assert claims["options"]["score_source"] == "tables" and claims["options"]["bootstrap"] == 20
    from harness.results import load_results

    assert load_results(repo / "out.json")["claims"]["summary"]["reproduced"] == 1


def test_shipped_and_users_claims_run_side_by_side_and_k_selects_from_both(repo, data_root):
    run = _pytest(repo, "--claims", "shipped", "--claims", "user.toml", "--bootstrap", "20",
                  "-k", f"{USER_ID} or {SHIPPED_ID}", "--benchmark-json=out.json")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    claims = _claims_record(repo / "out.json")
    assert sorted(o["id"] for o in claims["outcomes"]) == sorted([USER_ID, SHIPPED_ID])
    statuses = {o["id"]: o["status"] for o in claims["outcomes"]}
    assert statuses == {USER_ID: "reproduced", SHIPPED_ID: "known divergence"}, statuses
    assert "1 passed, " in run.stdout and "1 xfailed" in run.stdout, run.stdout[-3000:]
    paths = [r["path"] for r in claims["registries"]]
    assert paths[-1] == "user.toml" and all(p.startswith("shipped/") for p in paths[:-1])
    assert SHIPPED_ID in next(r["claims"] for r in claims["registries"]
                              if r["path"] == "shipped/training-free-nas.toml")


def _usage_error(run: subprocess.CompletedProcess) -> str:
    """The one line the plugin ended the session with, before collecting anything."""
    assert run.returncode == 4, run.stdout[-3000:] + run.stderr[-3000:]  # a usage error
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("ERROR: --claims: "), run.stderr[-3000:]
    assert "Traceback" not in run.stdout + run.stderr, run.stdout[-3000:]
    return lines[0]


def test_a_malformed_users_file_is_refused_up_front_naming_file_claim_and_field(repo):
    (repo / "user.toml").write_text(USER_TOML.replace('metric = "test200"', 'metric = "test12"'),
                                    encoding="utf-8")
    run = _pytest(repo, "--claims", "shipped", "--claims", "user.toml")
    line = _usage_error(run)
    assert line.startswith(f"ERROR: --claims: 'user.toml': claim '{USER_ID}': field "
                           "'protocol.metric' is 'test12', expected one of"), line
    assert "passed" not in run.stdout


def test_a_claim_id_in_two_files_is_refused_naming_both(repo):
    (repo / "user.toml").write_text(USER_TOML.replace(USER_ID, SHIPPED_ID), encoding="utf-8")
    run = _pytest(repo, "--claims", "shipped", "--claims", "user.toml")
    line = _usage_error(run)
    assert f"claim '{SHIPPED_ID}' is defined in both 'shipped/training-free-nas.toml' and " \
           "'user.toml'" in line, line


PLAIN_SUITE = '''\
import sys

import pytest


@pytest.fixture
def claim():
    return "a fixture of the user's own"


def test_a_claim_fixture_of_its_own_is_left_alone(claim):
    assert claim == "a fixture of the user's own"


@pytest.mark.parametrize("claim", [1, 2])
def test_a_claim_parameter_of_its_own_is_left_alone(claim):
    assert claim in (1, 2)


def test_a_benchmark_of_its_own(benchmark):
    assert benchmark(sum, [1, 2]) == 3


def test_the_plugin_imported_nothing():
    assert sorted(m for m in sys.modules if m.split(".")[0] in ("harness", "tfnas")) == [
        "harness", "harness.plugin"]
    assert "torch" not in sys.modules and "scipy" not in sys.modules
'''


def test_the_plugin_does_nothing_in_a_plain_run(tmp_path):
    """No claims section, no parametrisation of tests that define ``claim`` themselves, no
    harness modules (nor torch) imported, no claims record in the JSON."""
    (tmp_path / "test_plain.py").write_text(PLAIN_SUITE, encoding="utf-8")
    run = _pytest(tmp_path, "-vv", "--benchmark-json=out.json")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "5 passed" in run.stdout, run.stdout[-3000:]
    assert "test_a_claim_parameter_of_its_own_is_left_alone[1]" in run.stdout
    assert "test_a_claim_fixture_of_its_own_is_left_alone PASSED" in run.stdout
    assert not re.search(r"^=+ claims =+$", run.stdout, re.MULTILINE), run.stdout[-3000:]
    assert "claims" not in json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))


def test_the_plugin_loads_without_pytest_benchmark(tmp_path):
    """Its pytest-benchmark hooks are optional: with that plugin off, a plain run still works."""
    (tmp_path / "test_one.py").write_text("def test_one():\n    pass\n", encoding="utf-8")
    run = _pytest(tmp_path, "-p", "no:benchmark", "--claims", "shipped")
    assert run.returncode == 0 and "1 passed" in run.stdout, run.stdout[-3000:] + run.stderr
