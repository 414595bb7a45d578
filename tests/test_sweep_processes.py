"""A sweep's processes die with it (issue 12, cause 5): real ``tfnas sweep --workers 2`` runs,
real signals (SIGKILL, SIGTERM, SIGINT), real pipes a caller waits on, and a real second process
locking the store mid-sweep. Linux only: descendants are found through ``/proc``.
"""

from __future__ import annotations

import os
import selectors
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tfnas.scoring import score, settings_key
from tfnas.space import arch_at
from tfnas.store import ScoreStore

pytestmark = [
    pytest.mark.integration,  # real sweeps in subprocesses, signals
    pytest.mark.skipif(not Path(f"/proc/self/task/{os.getpid()}/children").exists(),
                       reason="needs Linux /proc/<pid>/task/<tid>/children"),
    pytest.mark.usefixtures("one_torch_thread"),
]

CELLS = 40
STARTED_BY = 2  # cells stored before a signal is sent: the workers are scoring by then
EOF_WITHIN_S = 10.0  # after the sweep dies, a caller reading its output gets EOF this soon
SETTINGS = settings_key("params", "cifar10", 0, 128)


def sweep_command(store: Path, *extra: str, workers: int = 2) -> list[str]:
    return [sys.executable, "-m", "tfnas", "sweep", "--workers", str(workers), "--proxy", "params",
            "--dataset", "cifar10", "--indices", f"0-{CELLS - 1}", "--chunk-size", "1",
            "--store", str(store), *extra]


# -- /proc ------------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def descendants(pid: int) -> list[int]:
    found, todo = [], children(pid)
    while todo:
        child = todo.pop()
        found.append(child)
        todo += children(child)
    return found


def identity(pid: int) -> tuple[str, str] | None:
    """``(state, start time)`` of a process from /proc/<pid>/stat; None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[0], fields[19]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(processes: dict[int, tuple[str, str] | None]) -> list[str]:
    """Those of the recorded processes still running (a zombie holds nothing: it counts as gone)."""
    out = []
    for pid, start in processes.items():
        now = identity(pid)
        if now is not None and start is not None and now[1] == start[1] and now[0] != "Z":
            out.append(f"{pid} {cmdline(pid)[:120]}")
    return out


# -- driving a sweep -------------------------------------------------------------------------


def stored(path: Path) -> int:
    if not path.exists():
        return 0
    with ScoreStore(path) as store:
        return store.count()


def start_and_wait_for_workers(path: Path, *extra: str) -> tuple[subprocess.Popen, dict]:
    """A running sweep whose two workers are scoring; its descendants' identities."""
    proc = subprocess.Popen(sweep_command(path, *extra), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while True:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the sweep did not start its workers in 90 s"
        kids = descendants(proc.pid)
        workers = [k for k in kids if "spawn_main" in cmdline(k)]
        if len(workers) == 2 and stored(path) >= STARTED_BY:
            return proc, {k: identity(k) for k in kids}
        time.sleep(0.05)


def read_to_eof(proc: subprocess.Popen, within: float) -> tuple[bytes, bytes, float]:
    """What a caller reading the sweep's stdout and stderr gets, and how long EOF took."""
    start = time.monotonic()
    selector = selectors.DefaultSelector()
    chunks: dict[int, list[bytes]] = {}
    for stream in (proc.stdout, proc.stderr):
        os.set_blocking(stream.fileno(), False)
        selector.register(stream, selectors.EVENT_READ)
        chunks[stream.fileno()] = []
    while selector.get_map():
        left = within - (time.monotonic() - start)
        if left <= 0:
            break
        for key, _ in selector.select(timeout=left):
            data = os.read(key.fd, 65536)
            if data:
                chunks[key.fd].append(data)
            else:
                selector.unregister(key.fileobj)
    open_streams = len(selector.get_map())
    selector.close()
    assert open_streams == 0, f"the output pipes were still open {within} s after the signal"
    elapsed = time.monotonic() - start
    return (b"".join(chunks[proc.stdout.fileno()]), b"".join(chunks[proc.stderr.fileno()]),
            elapsed)


def gone_within(processes: dict, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while alive(processes) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(processes), f"left behind: {alive(processes)}"


def rows(path: Path) -> dict[str, float]:
    db = sqlite3.connect(path)
    try:
        return dict(db.execute("SELECT arch, score FROM scores WHERE proxy='params'"))
    finally:
        db.close()


def resume_completes(path: Path, before: dict[str, float]) -> None:
    """Running the command again (on one process, to be quick) stores every cell; nothing stored
    before changed."""
    done = subprocess.run(sweep_command(path, workers=1), capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    after = rows(path)
    assert len(after) == CELLS and set(after) == {str(arch_at(i)) for i in range(CELLS)}
    assert {a: after[a] for a in before} == before
    for index in (0, CELLS // 2, CELLS - 1):  # the scoring rule, as a single process computes it
        arch = arch_at(index)
        assert after[str(arch)] == score(arch, "params", "cifar10", seed=0, batch_size=128)


# -- the tests --------------------------------------------------------------------------------


def test_sigkill_of_the_sweep_takes_its_workers_and_tracker_with_it(tmp_path: Path) -> None:
    path = tmp_path / "killed.sqlite"
    proc, processes = start_and_wait_for_workers(path)
    assert len(processes) >= 3  # two workers and multiprocessing's resource tracker
    os.kill(proc.pid, signal.SIGKILL)
    _, _, took = read_to_eof(proc, EOF_WITHIN_S)
    assert proc.wait(timeout=10) == -signal.SIGKILL
    gone_within(processes, 5)
    assert took < EOF_WITHIN_S
    resume_completes(path, rows(path))


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_or_sigint_stops_the_workers_and_says_so_in_one_line(tmp_path: Path, signum: int,
                                                                     status: int) -> None:
    path = tmp_path / "stopped.sqlite"
    proc, processes = start_and_wait_for_workers(path)
    os.kill(proc.pid, signum)
    out, err, _ = read_to_eof(proc, EOF_WITHIN_S)
    assert proc.wait(timeout=10) == status
    gone_within(processes, 5)
    text = err.decode()
    assert text.count("\n") == 1 and "Traceback" not in text, text
    assert f"stopped by {signal.Signals(signum).name}" in text and "resume" in text
    before = rows(path)
    assert len(before) >= STARTED_BY
    resume_completes(path, before)


HOLD_LOCK = textwrap.dedent(
    """
    import sqlite3, sys
    db = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    print("locked", flush=True)
    sys.stdin.read()
    """
)


def test_a_lock_taken_mid_sweep_ends_it_in_one_line_with_no_process_left(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite"
    proc, processes = start_and_wait_for_workers(path, "--lock-timeout", "0.5")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == b"locked\n"
        _, err, _ = read_to_eof(proc, 30)
        assert proc.wait(timeout=10) == 1
        gone_within(processes, 5)
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
        holder.stdout.close()
    text = err.decode()
    assert text.count("\n") == 1 and "Traceback" not in text, text
    assert "is locked by another connection" in text and f"pid {holder.pid}" in text
    assert "move it aside" not in text
    resume_completes(path, rows(path))


ORPHAN = textwrap.dedent(
    """
    import os, subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", sys.argv[1], str(os.getpid())])
    print(child.pid, flush=True)
    time.sleep(120)
    """
)
WATCHED = textwrap.dedent(
    """
    import sys, time
    from tfnas.sweep import die_with_parent
    die_with_parent(int(sys.argv[1]), pdeathsig=False, poll_seconds=0.1)
    print("watching", flush=True)
    time.sleep(120)
    """
)


def test_the_portable_watchdog_alone_ends_an_orphaned_worker(tmp_path: Path) -> None:
    """Without PR_SET_PDEATHSIG (as on macOS or Windows) the watchdog thread still notices."""
    parent = subprocess.Popen([sys.executable, "-c", ORPHAN, WATCHED], stdout=subprocess.PIPE)
    try:
        child = int(parent.stdout.readline())
        record = {child: identity(child)}
        with selectors.DefaultSelector() as selector:
            selector.register(parent.stdout, selectors.EVENT_READ)
            assert selector.select(timeout=60), "the child never started watching"
        assert parent.stdout.readline() == b"watching\n"
    finally:
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        parent.stdout.close()
    gone_within(record, 5)


def worker_children(before: set[int]) -> dict[int, tuple[str, str] | None]:
    return {p: identity(p) for p in set(children(os.getpid())) - before
            if "spawn_main" in cmdline(p)}


def test_a_normal_run_in_process_leaves_no_worker(tmp_path: Path) -> None:
    from tfnas.sweep import run_sweep

    before = set(children(os.getpid()))
    report = run_sweep(tmp_path / "ok.sqlite", ["params"], ["cifar10"], indices=range(6),
                       chunk_size=2, workers=2)
    assert report.computed == 6
    assert not alive(worker_children(before))


def test_a_failed_run_in_process_stops_its_workers_at_once(tmp_path: Path) -> None:
    """The store locked by another process: the first write fails, the workers are ended."""
    from tfnas.store import StoreLockedError
    from tfnas.sweep import run_sweep

    path = tmp_path / "failed.sqlite"
    before = set(children(os.getpid()))
    with ScoreStore(path, timeout=0.3) as store:
        holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(path)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            assert holder.stdout.readline() == b"locked\n"
            start = time.monotonic()
            with pytest.raises(StoreLockedError):
                run_sweep(store, ["params"], ["cifar10"], indices=range(CELLS), chunk_size=1,
                          workers=2)
            gone_within(worker_children(before), 5)
        finally:
            holder.stdin.close()
            holder.wait(timeout=10)
            holder.stdout.close()
    assert time.monotonic() - start < 60  # it did not score the other cells first
    assert stored(path) == 0
