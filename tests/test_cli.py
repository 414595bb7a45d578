"""The command line: outputs, exit codes, errors.

Arguments and errors run in-process through :func:`tfnas.cli.main` (its return code is the exit
status; stdout and stderr are captured); the process contract itself (``python -m tfnas``, its
exit status and one stderr line, a closed pipe) runs as real subprocesses, in the integration tier.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tfnas import cli
from tfnas.search import Trace
from tfnas.space import arch_at

ARCH = str(arch_at(0))


@dataclass(frozen=True)
class Result:
    """What a run of the command line gave: its exit status, stdout and stderr."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def tfnas(capsys: pytest.CaptureFixture[str]):
    """``tfnas(*args)``: ``tfnas.cli.main(args)`` in this process, as a :class:`Result`."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def python_m_tfnas(*args: str) -> Result:
    """``python -m tfnas *args`` as a real process (integration tests only)."""
    done = subprocess.run([sys.executable, "-m", "tfnas", *args], capture_output=True, text=True,
                          timeout=120)
    return Result(done.returncode, done.stdout, done.stderr)


def assert_one_line_error(result: Result, code: int, *words: str) -> None:
    assert result.returncode == code, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in lines[0]


@pytest.fixture(scope="module")
def oracle(data_root):
    from tfnas.oracles import default_oracle

    return default_oracle()


def test_search_rea_oracle_json_to_stdout(oracle, tfnas) -> None:
    result = tfnas("search", "rea", "--proxy", "oracle", "--dataset", "cifar10", "--population",
                   "10", "--sample", "3", "--time-budget", "20000", "--repeats", "3", "--seed",
                   "5", "--json", "-")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    traces = [Trace.from_dict(t) for t in data["traces"]]
    assert len(traces) == 3 and all(t.clock == "simulated" for t in traces)
    assert all(t.settings["master_seed"] == 5 for t in traces)
    test200 = [oracle.accuracy(t.best, "cifar10", 200, "test") for t in traces]
    assert [t.accuracies["test200"] for t in traces] == test200
    assert data["summary"]["test200"][0] == pytest.approx(sum(test200) / 3)
    assert "test200 acc" in result.stderr  # the human table goes to stderr with --json -
    assert "\r" not in result.stderr  # no progress bar when stderr is not a terminal


def test_search_random_json_file_is_reproducible(tmp_path: Path, data_root, tfnas) -> None:
    outs = [tmp_path / "a.json", tmp_path / "b.json"]
    for out in outs:
        result = tfnas("search", "random", "--proxy", "oracle", "--dataset", "ImageNet16-120",
                       "--n", "50", "--repeats", "2", "--json", str(out))
        assert result.returncode == 0, result.stderr
        assert "valid12 acc" in result.stdout and result.stderr == ""
    a, b = (json.loads(p.read_text())["traces"] for p in outs)
    for x, y in zip(a, b, strict=True):
        tx, ty = Trace.from_dict(x), Trace.from_dict(y)
        assert tx.seed == ty.seed and tx.best == ty.best
        assert [e[:2] for e in tx.evaluations] == [e[:2] for e in ty.evaluations]
        assert len(tx.evaluations) == 50 == tx.distinct


def test_score_oracle_json(oracle, tfnas) -> None:
    result = tfnas("score", "--proxy", "oracle", "--dataset", "cifar100", "--arch", ARCH, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"arch", "proxy", "dataset", "score", "seconds", "accuracy"}
    assert data["accuracy"] == "valid12"  # which accuracy: 12 epochs, validation split
    assert data["score"] == oracle.accuracy(ARCH, "cifar100", 12, "valid")
    assert data["arch"] == ARCH and data["proxy"] == "oracle" and data["dataset"] == "cifar100"


def test_score_live_proxy_through_the_store(tmp_path: Path, data_root, tfnas) -> None:
    pytest.importorskip("tfnas.scoring")
    store = tmp_path / "scores.sqlite"
    args = ("score", "--proxy", "params", "--dataset", "cifar10", "--arch", ARCH, "--store",
            str(store), "--json")
    first, second = tfnas(*args), tfnas(*args)
    assert first.returncode == 0 == second.returncode, first.stderr + second.stderr
    assert json.loads(first.stdout)["score"] == json.loads(second.stdout)["score"] > 0
    from tfnas.store import ScoreStore

    with ScoreStore(store) as s:
        assert s.count(proxy="params", dataset="cifar10") == 1
    plain = tfnas("score", "--proxy", "params", "--dataset", "cifar10", "--arch", ARCH)
    assert plain.returncode == 0 and plain.stdout.startswith("params on cifar10:")


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("search", "random", "--proxy", "bogus", "--dataset", "cifar10"), 1,
         ("unknown proxy 'bogus'", "naswot")),
        (("search", "random", "--proxy", "oracle", "--dataset", "mnist"), 2,
         ("--dataset", "invalid choice")),
        (("search", "random", "--proxy", "oracle", "--dataset", "cifar10", "--n", "20000"), 1,
         ("15,625",)),
        (("search", "rea", "--proxy", "oracle", "--dataset", "cifar10", "--cycles", "5"), 1,
         ("cycles must be >= 64",)),
        (("search", "rea", "--proxy", "oracle", "--dataset", "cifar10", "--repeats", "0"), 1,
         ("repeats must be >= 1",)),
        (("search", "random", "--proxy", "synflow", "--dataset", "cifar10", "--table",
          "--store", "x.db"), 2, ("exclude",)),
        (("score", "--proxy", "oracle", "--dataset", "cifar10", "--arch", "|bogus~0|"), 1,
         ("malformed arch string",)),
        (("score", "--proxy", "oracle", "--dataset", "cifar10"), 2, ("--arch",)),
        (("dance",), 2, ("invalid choice",)),
    ],
)
def test_errors_are_one_line(args: tuple[str, ...], code: int, words: tuple[str, ...],
                             data_root, tfnas) -> None:
    assert_one_line_error(tfnas(*args), code, *words)


@pytest.mark.integration
def test_python_m_tfnas_keeps_the_process_contract(data_root) -> None:
    """The real entry point: output on stdout and exit 0; an error is one stderr line, no
    traceback, exit 1; a usage error exit 2."""
    ok = python_m_tfnas("score", "--proxy", "oracle", "--dataset", "cifar10", "--arch", ARCH,
                        "--json")
    assert ok.returncode == 0 and ok.stderr == "", ok.stderr
    assert json.loads(ok.stdout)["arch"] == ARCH
    assert_one_line_error(python_m_tfnas("search", "random", "--proxy", "bogus", "--dataset",
                                         "cifar10"), 1, "tfnas: error:", "unknown proxy 'bogus'")
    assert_one_line_error(python_m_tfnas("dance"), 2, "invalid choice")


def test_missing_data_is_one_line(tmp_path: Path, tfnas, monkeypatch) -> None:
    monkeypatch.delenv("TFNAS_DATA", raising=False)
    assert_one_line_error(tfnas("search", "random", "--proxy", "oracle", "--dataset", "cifar10"),
                          1, "TFNAS_DATA is not set")
    monkeypatch.setenv("TFNAS_DATA", str(tmp_path))  # exists, but holds no tables
    assert_one_line_error(tfnas("score", "--proxy", "oracle", "--dataset", "cifar10", "--arch",
                                ARCH), 1, "does not exist")


def test_missing_score_table_is_one_line(data_root, tfnas) -> None:
    from tfnas.tables import table_path

    if table_path("naswot_reference", "ImageNet16-120").exists():
        pytest.skip("this checkout has a naswot_reference table")
    result = tfnas("search", "random", "--proxy", "naswot_reference", "--dataset",
                   "ImageNet16-120", "--table")
    assert_one_line_error(result, 1, "naswot_reference")


def test_table_search_refuses_a_table_scored_under_other_settings(data_root, tfnas) -> None:
    from tfnas.tables import table_path

    if not table_path("synflow", "cifar10").exists():
        pytest.skip("benchmarks/scores/ has no synflow cifar10 table")
    ok = tfnas("search", "random", "--proxy", "synflow", "--dataset", "cifar10", "--table",
               "--n", "10", "--json", "-")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["traces"][0]["scorer"] == "synflow-table"
    # The committed table was scored with seed 0; asking for seed 1 must not silently reuse it.
    assert_one_line_error(
        tfnas("search", "random", "--proxy", "synflow", "--dataset", "cifar10", "--table",
              "--score-seed", "1"), 1, "computed under settings", "\"seed\":1")


# -- hostile files, bounds, huge inputs, side effects (issue 12, causes 4, 6, 8, 10) ------------

SEARCH = ("search", "rea", "--proxy", "oracle", "--dataset", "cifar10")
BIG = "9" * 5000  # int() refuses str of more than 4,300 digits with a ValueError


def assert_short(result: Result, code: int, *words: str) -> str:
    assert_one_line_error(result, code, *words)
    line = result.stderr.strip()
    assert len(line) <= 500, line
    return line


def test_a_hostile_image_pickle_is_one_line_and_runs_nothing(tmp_path: Path, tfnas,
                                                             monkeypatch) -> None:
    # UnsafePickleError is an UnpicklingError: the CLI used to let it escape as a traceback.
    import pickle

    marker = tmp_path / "marker"

    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    images = tmp_path / "data" / "images" / "cifar-10-batches-py"
    images.mkdir(parents=True)
    (images / "test_batch").write_bytes(pickle.dumps({b"data": Evil(), b"labels": [0]},
                                                     protocol=2))
    store = tmp_path / "scores.sqlite"
    monkeypatch.setenv("TFNAS_DATA", str(tmp_path / "data"))
    result = tfnas("score", "--proxy", "naswot", "--dataset", "cifar10", "--arch", ARCH,
                   "--store", str(store))
    assert_short(result, 1, "tfnas: error:", "refused")
    assert not marker.exists()
    assert not store.exists()  # the data is checked before the store is created


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        ((*SEARCH, "--time-budget", "inf"), 2, ("--time-budget", "finite")),
        ((*SEARCH, "--time-budget", "nan"), 2, ("--time-budget", "finite")),
        ((*SEARCH, "--time-budget", "1e999"), 2, ("--time-budget", "finite")),
        ((*SEARCH, "--time-budget", "-1"), 1, ("time_budget", "> 0")),
        ((*SEARCH, "--time-budget", "0"), 1, ("time_budget", "> 0")),
        ((*SEARCH, "--time-budget", "1e12"), 1, ("time_budget must be <=", "30 days")),
        ((*SEARCH, "--repeats", "1000000000"), 1, ("repeats must be <=", "runs")),
        ((*SEARCH, "--repeats", "5000"), 1, ("2,000,000", "memory")),
        ((*SEARCH, "--population", "100000000"), 1, ("population must be <=", "cells")),
        ((*SEARCH, "--population", "10", "--sample", "11"), 1, ("sample must be <= population",)),
        ((*SEARCH, "--population", "0"), 1, ("population must be >= 1",)),
        ((*SEARCH, "--cycles", "1000000000"), 1, ("cycles must be <=",)),
        ((*SEARCH, "--batch-size", "100000"), 1, ("--batch-size must be <=", "memory")),
        ((*SEARCH, "--batch-size", "0"), 1, ("--batch-size must be >= 1",)),
        ((*SEARCH, "--seed", "-1"), 1, ("--seed must be >= 0",)),
        ((*SEARCH, "--seed", "9223372036854775808"), 1, ("--seed must be <=", "64-bit")),
        ((*SEARCH, "--json", ""), 2, ("--json", "'-'")),
        ((*SEARCH, "--json", "/"), 1, ("--json", "directory")),
        ((*SEARCH, "--json", "/no/such/folder/x.json"), 1, ("--json", "folder does not exist")),
        ((*SEARCH, "--n", "5"), 2, ("--n applies to 'random' only",)),
        (("search", "random", "--proxy", "oracle", "--dataset", "cifar10", "--time-budget", "9"),
         2, ("--time-budget applies to 'rea' only",)),
        ((*SEARCH, "--repeats", "٣"), 2, ("--repeats", "ASCII digits")),
        ((*SEARCH, "--repeats", "１"), 2, ("--repeats", "ASCII digits")),
        ((*SEARCH, "--repeats", "1_0"), 2, ("--repeats", "ASCII digits")),
        ((*SEARCH, "--seed", BIG), 2, ("--seed", "ASCII digits")),
        (("search", "random", "--proxy", "oracle", "--dataset", "cifar10", "--n", BIG), 2,
         ("--n",)),
        (("score", "--proxy", "oracle", "--dataset", "cifar10", "--arch", ARCH, "--seed", BIG), 2,
         ("--seed",)),
        (("score", "--proxy", "oracle", "--dataset", "cifar10", "--arch", "|none~0|" * 12_500), 1,
         ("malformed arch string", "at most 95")),
        (("score", "--proxy", "oracle", "--dataset", "cifar10", "--arch",
          "|none~0|+|none~0|none~01|+|none~0|none~1|none~2|"), 1,
         ("malformed arch string", "leading zero")),
        (("score", "--proxy", "oracle", "--dataset", "c" * 100_000, "--arch", ARCH), 2,
         ("invalid choice",)),
        (("score", "--proxy", "p" * 100_000, "--dataset", "cifar10", "--arch", ARCH), 1,
         ("unknown proxy",)),
        ((*SEARCH, "x" * 100_000), 2, ("unrecognized arguments",)),
    ],
)
def test_bad_flags_are_one_short_line_with_the_reason(args, code, words, data_root,
                                                      tfnas) -> None:
    assert_short(tfnas(*args), code, *words)


@pytest.mark.parametrize(
    "args",
    [
        ("search", "rea", "--proxy", "params", "--dataset", "cifar10", "--population", "0"),
        ("search", "rea", "--proxy", "params", "--dataset", "cifar10", "--time-budget", "-1"),
        ("search", "rea", "--proxy", "params", "--dataset", "cifar10", "--repeats", "100000"),
        ("search", "random", "--proxy", "params", "--dataset", "cifar10", "--n", "0"),
        ("search", "random", "--proxy", "params", "--dataset", "cifar10", "--batch-size", "0"),
        ("score", "--proxy", "params", "--dataset", "cifar10", "--arch", ARCH,
         "--batch-size", "0"),
        ("score", "--proxy", "params", "--dataset", "cifar10", "--arch", ARCH, "--seed", "-1"),
    ],
)
def test_a_refused_command_leaves_no_store_file(tmp_path: Path, args, data_root, tfnas) -> None:
    store = tmp_path / "scores.sqlite"
    assert_short(tfnas(*args, "--store", str(store)), 1)
    assert not store.exists()


@pytest.mark.parametrize("command", [("score", "--arch", ARCH), ("search", "random")])
def test_a_store_with_the_oracle_is_refused_and_not_created(tmp_path: Path, command,
                                                            data_root, tfnas) -> None:
    store = tmp_path / "scores.sqlite"
    args = (*command, "--proxy", "oracle", "--dataset", "cifar10", "--store", str(store))
    assert_short(tfnas(*args), 2, "--store", "oracle")
    assert not store.exists()


def test_help_returns_instead_of_exiting(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["search", "--help"]) == 0
    assert "--time-budget" in capsys.readouterr().out


@pytest.mark.integration
def test_a_closed_output_pipe_is_one_line(data_root) -> None:
    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "tfnas", "search", "random", "--proxy", "oracle", "--dataset",
             "cifar10", "--n", "20", "--json", "-"], stdout=write, stderr=subprocess.PIPE,
            text=True, timeout=120)
    finally:
        os.close(write)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "broken pipe" in lines[0], result.stderr


# -- the store and the tables with --space (issue 13) ---------------------------------------------


def test_size_space_search_and_score_through_a_store(tmp_path: Path, data_root,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from tfnas.scoring import score, settings_key
    from tfnas.spaces.size import SizeArch
    from tfnas.store import ScoreStore

    store = tmp_path / "sss.sqlite"
    search = ["search", "random", "--space", "sss", "--proxy", "params", "--dataset", "cifar10",
              "--n", "3", "--store", str(store), "--json", "-"]
    assert cli.main(search) == 0
    (trace,) = json.loads(capsys.readouterr().out)["traces"]
    evaluated = {SizeArch.parse(e[0]): e[1] for e in trace["evaluations"]}
    with ScoreStore(store, space="sss") as s:
        stored = s.scored("params", "cifar10", settings_key("params", "cifar10", 0, 128))
    assert stored == evaluated and len(stored) == 3
    assert all(value == score(arch, "params", "cifar10") for arch, value in stored.items())
    assert cli.main(search) == 0  # the second run reads the store: the same trace's scores
    (again,) = json.loads(capsys.readouterr().out)["traces"]
    assert [e[1] for e in again["evaluations"]] == [e[1] for e in trace["evaluations"]]
    assert cli.main(["score", "--space", "sss", "--proxy", "params", "--dataset", "cifar10",
                     "--arch", "8:8:8:8:8", "--store", str(store), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["score"] == score(SizeArch((8,) * 5), "params",
                                                                 "cifar10")
    with ScoreStore(store) as topology:
        assert topology.count() == 4 and topology.scored(
            "params", "cifar10", settings_key("params", "cifar10", 0, 128)) == {}


def test_size_space_search_reads_the_size_space_table(tmp_path: Path, data_root,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from tfnas.scoring import settings_key
    from tfnas.spaces import SIZE
    from tfnas.spaces.size import SizeArch
    from tfnas.tables import table_path, write_table

    settings = settings_key("params", "cifar10", 0, 128)
    scores = {a: float((i * 7919) % 32768) for i, a in enumerate(SIZE.all_cells())}
    write_table(table_path("params", "cifar10", tmp_path, "sss"), "params", "cifar10", scores,
                {"settings": settings}, "sss")
    search = ["search", "random", "--space", "sss", "--proxy", "params", "--dataset", "cifar10",
              "--n", "5", "--table", "--table-root", str(tmp_path), "--json", "-"]
    assert cli.main(search) == 0
    (trace,) = json.loads(capsys.readouterr().out)["traces"]
    assert trace["scorer"] == "params-table"
    for arch, value, *_ in trace["evaluations"]:  # [arch, score, seconds, cumulative]
        assert value == scores[SizeArch.parse(arch)]
    # the topology search finds no topology table there, and the size-space table is its own
    assert cli.main([*search[:2], *search[4:]]) == 1
    assert "params-cifar10.csv.gz" in capsys.readouterr().err
    (tmp_path / "params-cifar10.csv.gz").write_bytes(
        table_path("params", "cifar10", tmp_path, "sss").read_bytes())
    assert cli.main([*search[:2], *search[4:]]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "of the 'sss' search space" in err
    assert cli.main([a for a in search if a != "--table"]) == 2
    assert "--table-root goes with --table" in capsys.readouterr().err


def test_the_oracle_is_refused_for_the_size_space_and_creates_no_store(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["search", "random", "--space", "sss", "--proxy", "oracle", "--dataset",
                     "cifar10", "--n", "2"]) == 2
    assert "reads topology-space accuracy tables" in capsys.readouterr().err
    assert cli.main(["score", "--space", "sss", "--proxy", "params", "--dataset", "cifar10",
                     "--arch", ARCH, "--store", str(tmp_path / "s.db")]) == 1
    assert "malformed size-space config" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
