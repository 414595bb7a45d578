"""The sweep engine: planning, resumability (SIGKILL), and equal scores on any executor."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfnas.scoring import score, settings_key
from tfnas.space import SPACE_SIZE, arch_at
from tfnas.store import ScoreStore
from tfnas.sweep import (
    EXIT_INCOMPLETE,
    main,
    parse_indices,
    plan,
    run_sweep,
)
from tfnas.tables import load_table

CHEAP = ["params", "synflow"]
CHEAP_CELLS = list(range(0, 12))
NASWOT_CELLS = [0, 11]


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py


@pytest.fixture(scope="module")
def serial_store(tmp_path_factory):
    """The single-process reference: cheap proxies on a few cells, NASWOT on two."""
    path = tmp_path_factory.mktemp("serial") / "scores.sqlite"
    with ScoreStore(path) as store:
        run_sweep(store, CHEAP, ["cifar10"], indices=CHEAP_CELLS, chunk_size=5)
        run_sweep(store, ["naswot"], ["cifar10"], indices=NASWOT_CELLS, chunk_size=1)
    return path


def _scored(path, proxy, dataset="cifar10"):
    with ScoreStore(path) as store:
        return store.scored(proxy, dataset, settings_key(proxy, dataset, 0, 128))


def test_serial_sweep_stores_the_scoring_rule(serial_store):
    """The sweep stores exactly what tfnas.scoring.score computes for each cell."""
    for proxy, cells in (("params", CHEAP_CELLS), ("naswot", NASWOT_CELLS)):
        scored = _scored(serial_store, proxy)
        assert sorted(a.index for a in scored) == cells
        for arch, value in scored.items():
            assert value == score(arch, proxy, "cifar10", seed=0, batch_size=128)


def test_dask_local_cluster_equals_single_process(serial_store, tmp_path):
    from dask.distributed import Client, LocalCluster

    path = tmp_path / "dask.sqlite"
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                     dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        report = run_sweep(path, CHEAP, ["cifar10"], indices=CHEAP_CELLS, chunk_size=3,
                           scheduler=cluster.scheduler_address)
        assert report.computed == len(CHEAP) * len(CHEAP_CELLS)
        run_sweep(path, ["naswot"], ["cifar10"], indices=NASWOT_CELLS, chunk_size=1, scheduler=client)
    for proxy in CHEAP + ["naswot"]:
        assert _scored(path, proxy) == _scored(serial_store, proxy)


def test_process_pool_equals_single_process(serial_store, tmp_path):
    path = tmp_path / "pool.sqlite"
    report = run_sweep(path, ["params"], ["cifar10"], indices=CHEAP_CELLS[::-1], chunk_size=4,
                       workers=2)
    assert report.computed == len(CHEAP_CELLS)
    assert _scored(path, "params") == _scored(serial_store, "params")


@settings(max_examples=10)  # each example builds 7 networks
@given(chunk=st.integers(1, 7), order=st.permutations(CHEAP_CELLS[:7]))
def test_any_partition_gives_the_same_table(serial_store, tmp_path_factory, chunk, order):
    path = tmp_path_factory.mktemp("part") / "s.sqlite"
    run_sweep(path, ["params"], ["cifar10"], indices=order, chunk_size=chunk)
    reference = _scored(serial_store, "params")
    assert _scored(path, "params") == {a: reference[a] for a in map(arch_at, order)}


def test_resume_computes_only_missing_cells(serial_store, tmp_path):
    path = tmp_path / "resume.sqlite"
    first = run_sweep(path, ["params"], ["cifar10"], indices=CHEAP_CELLS[:5])
    assert first.computed == 5
    again = run_sweep(path, ["params"], ["cifar10"], indices=CHEAP_CELLS, chunk_size=2)
    assert (again.jobs[0].stored_before, again.computed, again.remaining) == (5, 7, 0)
    assert run_sweep(path, ["params"], ["cifar10"], indices=CHEAP_CELLS).computed == 0
    assert _scored(path, "params") == _scored(serial_store, "params")


def test_plan_chunks_cover_exactly_the_missing_cells(tmp_path):
    with ScoreStore(tmp_path / "p.sqlite") as store:
        settings = settings_key("params", "cifar10", 0, 128)
        store.put("params", "cifar10", arch_at(3), settings, 1.0, 0.0)
        chunks, jobs = plan(store, ["params"], ["cifar10"], indices=range(10), chunk_size=4)
    archs = [a for c in chunks for a in c.archs]
    assert archs == [str(arch_at(i)) for i in range(10) if i != 3]
    assert [len(c.archs) for c in chunks] == [4, 4, 1]
    assert (jobs[0].requested, jobs[0].stored_before, jobs[0].remaining) == (10, 1, 9)


def test_sigkill_then_restart_completes_without_duplicates(serial_store, tmp_path):
    path = tmp_path / "killed.sqlite"
    cells = "0-59"
    cmd = [sys.executable, "-m", "tfnas.sweep", "--proxy", "synflow", "--dataset", "cifar10",
           "--indices", cells, "--chunk-size", "3", "--store", str(path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stored = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists():
            with ScoreStore(path) as store:
                stored = store.count()
            if stored >= 6:
                break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 6 <= stored < 60, f"kill came too late or too early ({stored} cells stored)"
    with ScoreStore(path) as store:
        survived = store.count()
    assert survived >= stored and survived % 3 == 0  # only whole chunks were committed
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    db = sqlite3.connect(path)
    rows, distinct = db.execute("SELECT count(*), count(DISTINCT arch) FROM scores").fetchone()
    db.close()
    assert rows == distinct == 60
    scored = _scored(path, "synflow")
    for index in CHEAP_CELLS:  # agrees with the uninterrupted single-process sweep
        assert scored[arch_at(index)] == _scored(serial_store, "synflow")[arch_at(index)]


def test_command_line_exports_tables(serial_store, tmp_path, capsys):
    store, root = tmp_path / "cli.sqlite", tmp_path / "tables"
    args = ["--proxy", "params", "--dataset", "cifar10", "--indices", "0-11", "--store", str(store)]
    assert main(args + ["--export", str(root)]) == 0
    table = load_table("params", "cifar10", root, settings=settings_key("params", "cifar10", 0, 128))
    assert table.scores == _scored(serial_store, "params")
    assert table.missing == SPACE_SIZE - 12
    assert "wrote" in capsys.readouterr().out
    assert main(args + ["--export", str(root)]) == 0
    assert "unchanged" in capsys.readouterr().out


def test_budget_stops_early_with_resume_status(tmp_path):
    args = ["--proxy", "params", "--dataset", "cifar10", "--indices", "0-9", "--chunk-size", "1",
            "--store", str(tmp_path / "b.sqlite")]
    assert main(args + ["--budget", "0"]) == EXIT_INCOMPLETE
    assert main(args) == 0


@given(ranges=st.lists(st.tuples(st.integers(0, SPACE_SIZE - 1), st.integers(0, 50)), min_size=1,
                       max_size=5))
def test_parse_indices(ranges):
    text = ",".join(f"{lo}-{min(lo + n, SPACE_SIZE - 1)}" for lo, n in ranges)
    listed = [i for lo, n in ranges for i in range(lo, min(lo + n, SPACE_SIZE - 1) + 1)]
    assert parse_indices(text) == list(dict.fromkeys(listed))  # each once, first-listed order


@pytest.mark.parametrize("text", ["", "x", "5-3", "0-15625", "-1", "1-2-3"])
def test_parse_indices_refuses_bad_text(text):
    with pytest.raises(ValueError, match="index|indices"):
        parse_indices(text)


def test_bad_arguments(tmp_path):
    with ScoreStore(tmp_path / "x.sqlite") as store:
        with pytest.raises(ValueError, match="chunk_size"):
            plan(store, ["params"], ["cifar10"], chunk_size=0)
        with pytest.raises(TypeError, match="proxies"):
            plan(store, "params", ["cifar10"])
        with pytest.raises(ValueError, match="workers"):
            run_sweep(store, ["params"], ["cifar10"], indices=[0], workers=0)
        with pytest.raises(ValueError, match="limit"):
            run_sweep(store, ["params"], ["cifar10"], limit=-1)


def test_tfnas_cli_runs_sweep(tmp_path, capsys):
    from tfnas.cli import main as tfnas_main

    store = str(tmp_path / "c.sqlite")
    assert tfnas_main(["sweep", "--proxy", "params", "--dataset", "cifar10", "--indices", "0-1",
                       "--store", store]) == 0
    assert "stored      2/2" in capsys.readouterr().out
    assert tfnas_main(["sweep", "--proxy", "params", "--dataset", "cifar10", "--indices", "5-2",
                       "--store", store]) == 2
    assert "'5-2' must lie within" in capsys.readouterr().err
    assert tfnas_main(["sweep", "--proxy", "nope", "--dataset", "cifar10", "--indices", "0",
                       "--store", store]) == 1
    assert "unknown proxy 'nope'" in capsys.readouterr().err


def test_progress_bar_only_when_asked_or_on_a_terminal(tmp_path, capsys):
    run_sweep(tmp_path / "q.sqlite", ["params"], ["cifar10"], indices=[0, 1])
    assert capsys.readouterr().err == ""  # stderr is not a terminal here: quiet
    run_sweep(tmp_path / "q.sqlite", ["params"], ["cifar10"], indices=[2, 3], progress=True)
    err = capsys.readouterr().err
    assert "2/2" in err and "cell/s" in err


def test_serial_sweep_restores_the_thread_count(tmp_path):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        run_sweep(tmp_path / "t.sqlite", ["params"], ["cifar10"], indices=[0])
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
