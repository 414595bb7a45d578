"""The sweep engine: planning, resumability (SIGKILL), and equal scores on any executor."""

from __future__ import annotations

import itertools
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tfnas.cli import main as cli_main
from tfnas.errors import TfnasError
from tfnas.scoring import score, settings_key
from tfnas.space import SPACE_SIZE, arch_at
from tfnas.spaces import SIZE
from tfnas.store import ScoreStore
from tfnas.sweep import (
    EXIT_INCOMPLETE,
    parse_indices,
    plan,
    run_sweep,
)
from tfnas.tables import load_table


def main(argv: list[str]) -> int:
    """``tfnas sweep ARGV``."""
    return cli_main(["sweep", *argv])

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


@pytest.mark.integration
def test_serial_sweep_stores_the_scoring_rule(serial_store):
    """The sweep stores exactly what tfnas.scoring.score computes for each cell."""
    for proxy, cells in (("params", CHEAP_CELLS), ("naswot", NASWOT_CELLS)):
        scored = _scored(serial_store, proxy)
        assert sorted(a.index for a in scored) == cells
        for arch, value in scored.items():
            assert value == score(arch, proxy, "cifar10", seed=0, batch_size=128)


@pytest.mark.integration
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


@pytest.mark.integration
def test_process_pool_equals_single_process(serial_store, tmp_path):
    path = tmp_path / "pool.sqlite"
    report = run_sweep(path, ["params"], ["cifar10"], indices=CHEAP_CELLS[::-1], chunk_size=4,
                       workers=2)
    assert report.computed == len(CHEAP_CELLS)
    assert _scored(path, "params") == _scored(serial_store, "params")


@pytest.mark.integration
@settings(max_examples=10)  # each example builds 7 networks
@given(chunk=st.integers(1, 7), order=st.permutations(CHEAP_CELLS[:7]))
def test_any_partition_gives_the_same_table(serial_store, tmp_path_factory, chunk, order):
    path = tmp_path_factory.mktemp("part") / "s.sqlite"
    run_sweep(path, ["params"], ["cifar10"], indices=order, chunk_size=chunk)
    reference = _scored(serial_store, "params")
    assert _scored(path, "params") == {a: reference[a] for a in map(arch_at, order)}


@pytest.mark.integration
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


@pytest.mark.integration
def test_sigkill_then_restart_completes_without_duplicates(serial_store, tmp_path):
    path = tmp_path / "killed.sqlite"
    cells = "0-59"
    cmd = [sys.executable, "-m", "tfnas", "sweep", "--proxy", "synflow", "--dataset", "cifar10",
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


@pytest.mark.integration
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


def test_progress_lines_in_logs_and_none_when_quiet(tmp_path, capsys, monkeypatch):
    run_sweep(tmp_path / "q.sqlite", ["params"], ["cifar10"], indices=[0, 1])
    assert capsys.readouterr().err == ""  # not a terminal, and shorter than a report interval
    monkeypatch.setenv("TFNAS_PROGRESS_SECONDS", "1e-9")
    run_sweep(tmp_path / "q.sqlite", ["params"], ["cifar10"], indices=[2, 3])
    err = capsys.readouterr().err
    assert "2/2 cells (100%)" in err and "cells/s" in err and "ETA" in err, err
    run_sweep(tmp_path / "q.sqlite", ["params"], ["cifar10"], indices=[4, 5], progress=False)
    assert capsys.readouterr().err == ""


def test_serial_sweep_restores_the_thread_count(tmp_path):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        run_sweep(tmp_path / "t.sqlite", ["params"], ["cifar10"], indices=[0])
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


# -- bounds and side effects of a failed sweep (issue 12, causes 4 and 10) ----------------------

BASE = ["sweep", "--proxy", "params", "--dataset", "cifar10", "--indices", "0-1"]
HUGE = "9" * 5000


def refused(argv: list[str], store, capsys) -> str:
    """Run ``tfnas`` and return its one stderr line; nothing may be left at ``store``."""
    from tfnas.cli import main as tfnas_main

    status = tfnas_main([*argv, "--store", str(store)])
    captured = capsys.readouterr()
    assert status in (1, 2), (status, captured)
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and len(captured.err) <= 500, captured.err
    assert "Traceback" not in captured.err
    return captured.err


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--workers", "100000"], "workers must be <="),
        (["--workers", "0"], "workers"),
        (["--workers", HUGE], "workers"),
        (["--workers", "\u0662"], "ASCII digits"),  # an Arabic-Indic 2: int() would take it
        (["--chunk-size", "0"], "chunk_size"),
        (["--chunk-size", "99999999"], "chunk_size must be <= 15,625"),
        (["--limit", "-1"], "limit"),
        (["--limit", str(10**12)], "limit must be <= 15,625"),
        (["--seed", str(2**64)], "seed"),
        (["--seed", "-1"], "seed"),
        (["--batch-size", "100000"], "batch_size must be <="),
        (["--batch-size", "0"], "batch_size"),
        (["--budget", "inf"], "budget"),
        (["--budget", "nan"], "budget"),
        (["--budget", "-1"], "budget"),
        (["--budget", "1e400"], "budget"),
        (["--budget", "1e12"], "30 days"),
        (["--budget", "\u0661"], "decimal number"),
        (["--lock-timeout", "inf"], "lock-timeout"),
        (["--lock-timeout", "-5"], "busy timeout"),
        (["--scheduler", "tcp://a b"], "scheduler"),
    ],
)
def test_every_size_and_budget_is_bounded_in_one_line(tmp_path, capsys, flags, says):
    store = tmp_path / "new" / "s.sqlite"
    assert says in refused([*BASE, *flags], store, capsys)
    assert not store.exists() and not store.parent.exists()  # nothing created on the way


@pytest.mark.parametrize(
    "argv",
    [
        ["sweep", "--proxy", "nope", "--dataset", "cifar10"],
        ["sweep", "--proxy", "x" * 100_000, "--dataset", "cifar10"],
        ["sweep", "--proxy", "params", "--dataset", "mnist"],
        ["sweep", "--proxy", "params", "--dataset", "cifar10", "--indices", "0-99999999"],
        ["sweep", "--proxy", "params", "--dataset", "cifar10", "--indices", "\u0660-\u0663"],
        ["sweep", "--proxy", "params", "--dataset", "cifar10", "--indices", "1" * 100_000],
        ["sweep", "--proxy", "params", "--dataset", "cifar10", "--indices", "0-1", "--workers",
         "0"],
    ],
)
def test_a_refused_sweep_leaves_no_store_behind(tmp_path, capsys, argv):
    store = tmp_path / "s.sqlite"
    refused(argv, store, capsys)
    assert list(tmp_path.iterdir()) == []


def test_a_sweep_whose_data_is_missing_leaves_no_store_behind(tmp_path, capsys, monkeypatch):
    empty = tmp_path / "data"
    empty.mkdir()
    monkeypatch.setenv("TFNAS_DATA", str(empty))  # a real, empty data folder
    store = tmp_path / "out" / "s.sqlite"
    refused(["sweep", "--proxy", "naswot", "--dataset", "cifar10", "--indices", "0"], store,
            capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_workers_bound_names_its_reason(tmp_path):
    from tfnas.sweep import max_workers, usable_cpus

    with pytest.raises(TfnasError, match=f"may use {usable_cpus()} CPUs"):
        run_sweep(tmp_path / "w.sqlite", ["params"], ["cifar10"], indices=[0],
                  workers=max_workers() + 1)
    assert not (tmp_path / "w.sqlite").exists()


def test_index_lists_are_bounded_however_given(tmp_path):
    with pytest.raises(TfnasError, match="at most 1,000,000 entries"):
        run_sweep(tmp_path / "i.sqlite", ["params"], ["cifar10"], indices=itertools.repeat(0))
    with pytest.raises(TfnasError, match="index"):
        run_sweep(tmp_path / "i.sqlite", ["params"], ["cifar10"], indices=[0, True])
    assert not (tmp_path / "i.sqlite").exists()
    text = ",".join(["0-15624"] * 100)  # 1.56M indices (over the bound), each index kept once
    assert parse_indices(text) == list(range(SPACE_SIZE))


@settings(max_examples=100, deadline=None,  # refused() reads (and so resets) capsys each time
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flag=st.sampled_from(["--workers", "--chunk-size", "--limit", "--seed", "--batch-size"]),
       value=st.one_of(st.integers(max_value=-1), st.integers(min_value=2**63)))
def test_out_of_range_int_flags_are_one_line(tmp_path_factory, capsys, flag, value):
    store = tmp_path_factory.mktemp("f") / "s.sqlite"
    refused([*BASE, flag, str(value)], store, capsys)
    assert not store.exists()


@example(text="0\xa0")  # str.strip() dropped the no-break space and accepted it
@given(text=st.text(max_size=40))
@settings(max_examples=200, deadline=None)
def test_parse_indices_is_a_list_or_one_line(text):
    try:
        got = parse_indices(text)
    except TfnasError as exc:
        assert "\n" not in str(exc) and len(str(exc)) <= 500
    else:
        assert got and len(got) == len(set(got)) and all(0 <= i < SPACE_SIZE for i in got)
        assert text.isascii()


def test_a_store_damaged_after_its_header_is_one_line(tmp_path, capsys):
    """SQLite errors found after the store opened (garbage pages) end the sweep in one line."""
    path = tmp_path / "damaged.sqlite"
    with ScoreStore(path) as store:
        settings = settings_key("params", "cifar10", 0, 128)
        store.put_many([("params", "cifar10", arch_at(i), settings, float(i), 0.0)
                        for i in range(3000)])
    data = path.read_bytes()
    path.write_bytes(data[:4096] + random.Random(5).randbytes(len(data) - 4096))
    text = refused(["sweep", "--proxy", "params", "--dataset", "cifar10", "--indices", "0-9"],
                   path, capsys)
    assert "not a readable tfnas score store" in text


# -- any registered search space (issue 13): the size space ---------------------------------------


def _sss_settings(proxy, batch_size=128):
    return settings_key(proxy, "cifar10", 0, batch_size)


def test_a_size_space_sweep_stores_and_exports_its_own_tables(tmp_path, capsys):
    store, root = tmp_path / "sss.sqlite", tmp_path / "tables"
    args = ["--space", "sss", "--proxy", "params,synflow", "--dataset", "cifar10", "--indices",
            "0-9", "--chunk-size", "4", "--store", str(store), "--export", str(root)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "stored     10/10" in out and "wrote" in out
    assert sorted(p.name for p in root.iterdir()) == ["params-cifar10-sss.csv.gz",
                                                       "synflow-cifar10-sss.csv.gz"]
    cells = [SIZE.arch_at(i) for i in range(10)]
    for proxy in ("params", "synflow"):
        table = load_table(proxy, "cifar10", root, settings=_sss_settings(proxy), space="sss")
        assert table.scores == {a: score(a, proxy, "cifar10") for a in cells}  # the scoring rule
        assert table.missing == SIZE.size - 10
    assert main(args) == 0  # resumed: nothing left to compute, the tables stay as they were
    out = capsys.readouterr().out
    assert "computed      0" in out and out.count("unchanged") == 2
    with ScoreStore(store) as topology:  # the file holds no topology cell
        assert topology.scored("params", "cifar10", _sss_settings("params")) == {}
    # a data-dependent proxy on a small batch, at both ends of the index order
    assert main(["--space", "sss", "--proxy", "naswot", "--dataset", "cifar10", "--indices",
                 "0,32767", "--batch-size", "8", "--store", str(store)]) == 0
    with ScoreStore(store, space="sss") as sss:
        scored = sss.scored("naswot", "cifar10", _sss_settings("naswot", 8))
    assert scored == {a: score(a, "naswot", "cifar10", batch_size=8)
                      for a in (SIZE.arch_at(0), SIZE.arch_at(32767))}


@pytest.mark.integration
def test_a_size_space_process_pool_equals_the_serial_sweep(tmp_path):
    serial, pool = tmp_path / "serial.sqlite", tmp_path / "pool.sqlite"
    run_sweep(serial, ["params"], ["cifar10"], indices=[5, 32767, 20000], space="sss")
    report = run_sweep(pool, ["params"], ["cifar10"], indices=[20000, 5, 32767], chunk_size=1,
                       workers=2, space=SIZE)
    assert report.computed == 3
    with ScoreStore(serial, space="sss") as a, ScoreStore(pool, space="sss") as b:
        got = b.scored("params", "cifar10", _sss_settings("params"))
        assert got == a.scored("params", "cifar10", _sss_settings("params"))
    assert sorted(SIZE.index_of(c) for c in got) == [5, 20000, 32767]


def test_size_space_indices_and_bounds_follow_its_size(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    assert "0..15624" in refused([*BASE[:-1], "20000"], store, capsys)  # a topology sweep
    assert "0..32767" in refused(["sweep", "--space", "sss", "--proxy", "params", "--dataset",
                                  "cifar10", "--indices", "32768"], store, capsys)
    assert "32,768" in refused(["sweep", "--space", "sss", "--proxy", "params", "--dataset",
                                "cifar10", "--chunk-size", "40000"], store, capsys)
    assert not store.exists()
    assert parse_indices("15625-15626,32767", "sss") == [15625, 15626, 32767]
    with ScoreStore(store, space="sss") as sss:
        chunks, jobs = plan(sss, ["params"], ["cifar10"], indices=[20000, 32767],
                            chunk_size=20000, space="sss")
    assert [c.archs for c in chunks] == [("40:64:8:40:8", "64:64:64:64:64")]
    assert chunks[0].space == "sss" and SIZE.index_of(chunks[0].archs[0]) == 20000
    assert jobs[0].requested == 2
    with ScoreStore(tmp_path / "t.sqlite") as topology, pytest.raises(
            TfnasError, match="chunk_size must be <= 15,625"):
        plan(topology, ["params"], ["cifar10"], chunk_size=20000)


def test_a_store_open_for_another_space_is_refused_in_one_line(tmp_path):
    with ScoreStore(tmp_path / "s.sqlite") as topology:
        with pytest.raises(TfnasError) as caught:
            run_sweep(topology, ["params"], ["cifar10"], indices=[0], space="sss")
        message = str(caught.value)
        assert "\n" not in message and "space='sss'" in message
        assert topology.count() == 0


def _export_target(kind, tmp_path):
    """An --export folder argument that cannot take the tables, made of the given kind."""
    target = tmp_path / "exports"
    if kind == "a file":
        target.write_text("not a folder")
    elif kind == "a FIFO":
        os.mkfifo(target)
    elif kind == "below a file":
        target.write_text("not a folder")
        target = target / "sub"
    elif kind == "a table path that is a folder":
        (target / "params-cifar10.csv.gz").mkdir(parents=True)
    elif kind == "a table path that is a FIFO":
        target.mkdir()
        os.mkfifo(target / "params-cifar10.csv.gz")
    return target


@pytest.mark.parametrize("kind", ["a file", "a FIFO", "below a file",
                                  "a table path that is a folder", "a table path that is a FIFO"])
def test_an_unusable_export_folder_is_refused_before_any_scoring(tmp_path, capsys, kind):
    target = _export_target(kind, tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    store = tmp_path / "s.sqlite"
    argv = ["sweep", "--proxy", "params", "--dataset", "cifar10", "--indices", "0-3",
            "--store", str(store), "--export", str(target)]
    assert main(argv[1:]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "export" in err and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no store: nothing was scored


@pytest.mark.integration
def test_an_unreachable_scheduler_leaves_no_store_behind(tmp_path, monkeypatch):
    import socket

    import tfnas.sweep as sweep_module

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr(sweep_module, "CONNECT_TIMEOUT_S", 2)
    store = tmp_path / "out" / "s.sqlite"
    with pytest.raises(TfnasError, match="cannot reach the Dask scheduler") as info:
        run_sweep(store, ["params"], ["cifar10"], indices=[0, 1],
                  scheduler=f"tcp://127.0.0.1:{port}")
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_resume_from_a_tables_folder_scores_only_the_cells_its_tables_lack(tmp_path):
    """--resume-from: a committed table's rows go into the store first (its settings' rows only),
    so growing it from 3 to 6 cells of the sweep order scores 3 cells; the grown export holds the
    table's own scores unchanged, and a table under other settings is refused in one line."""
    from tfnas.tables import TableMismatchError, sweep_order, table_path, write_table

    root = tmp_path / "tables"
    order = sweep_order(seed=0)
    settings = settings_key("params", "cifar10", 0)
    first = {arch_at(i): 1000.0 + k for k, i in enumerate(order[:3])}  # not params' values:
    write_table(table_path("params", "cifar10", root), "params", "cifar10", first,  # seen if kept
                {"settings": settings, "seconds_per_cell": "0.5", "order": "permutation:0"})
    report = run_sweep(tmp_path / "s.sqlite", ["params"], ["cifar10"], limit=6,
                       resume_from=root, progress=False)
    (job,) = report.jobs
    assert (job.stored_before, job.computed) == (3, 3)
    with ScoreStore(tmp_path / "s.sqlite") as store:
        stored = store.scored("params", "cifar10", settings)
    assert {a: stored[a] for a in first} == first
    assert all(stored[arch_at(i)] == score(arch_at(i), "params", "cifar10") for i in order[3:6])
    write_table(table_path("params", "cifar10", root), "params", "cifar10", first,
                {"settings": settings_key("params", "cifar10", 1)})
    with pytest.raises(TableMismatchError, match="cannot resume from .* other|computed under"):
        run_sweep(tmp_path / "t.sqlite", ["params"], ["cifar10"], limit=6, resume_from=root,
                  progress=False)
