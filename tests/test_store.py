"""The score store: round trips, special floats, idempotence, refusal of foreign/corrupt files,
and durability under SIGKILL and concurrent writer processes (real subprocesses, real SQLite)."""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfnas.errors import TfnasError
from tfnas.space import SPACE_SIZE, Arch, ArchError, all_cells, arch_at
from tfnas.spaces import SIZE, TOPOLOGY
from tfnas.spaces.size import CANDIDATES, SizeArch
from tfnas.store import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    CorruptStoreError,
    NotAStoreError,
    ScoreStore,
    StoreConflictError,
    StoreError,
    StoreLockedError,
    StoreSpaceError,
)

SETTINGS = '{"seed": 0, "batch_size": 128}'
ARCH = arch_at(0)
cells = st.integers(0, SPACE_SIZE - 1).map(arch_at)
floats = st.floats(allow_nan=True, allow_infinity=True)


def same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@given(arch=cells, score=floats, seconds=st.floats(0, 1e6))
def test_put_get_round_trip_exact(tmp_path_factory: pytest.TempPathFactory, arch: Arch,
                                  score: float, seconds: float) -> None:
    path = tmp_path_factory.mktemp("s") / "scores.sqlite"
    with ScoreStore(path) as store:
        assert store.get("naswot", "cifar10", arch, SETTINGS) is None
        store.put("naswot", "cifar10", arch, SETTINGS, score, seconds)
    with ScoreStore(path) as store:  # reopened: the value was committed to disk
        got = store.get("naswot", "cifar10", str(arch), SETTINGS)
        assert got is not None and same(got, score)  # SQLite keeps ±inf; -0.0 reads as 0.0


def test_minus_inf_and_nan_stored_distinctly(tmp_path: Path) -> None:
    a, b, c = all_cells()[:3]
    with ScoreStore(tmp_path / "s.db") as store:
        store.put("naswot", "cifar10", a, SETTINGS, -math.inf, 0.1)
        store.put("naswot", "cifar10", b, SETTINGS, math.nan, 0.1)
        store.put("naswot", "cifar10", c, SETTINGS, math.inf, 0.1)
        got = store.scored("naswot", "cifar10", SETTINGS)
    assert got[a] == -math.inf and math.isnan(got[b]) and got[c] == math.inf


def test_keys_do_not_mix(tmp_path: Path) -> None:
    arch = all_cells()[0]
    with ScoreStore(tmp_path / "s.db") as store:
        store.put("naswot", "cifar10", arch, SETTINGS, 1.0, 0.0)
        store.put("synflow", "cifar10", arch, SETTINGS, 2.0, 0.0)
        store.put("naswot", "cifar100", arch, SETTINGS, 3.0, 0.0)
        store.put("naswot", "cifar10", arch, '{"seed": 1}', 4.0, 0.0)
        assert store.get("naswot", "cifar10", arch, SETTINGS) == 1.0
        assert store.get("synflow", "cifar10", arch, SETTINGS) == 2.0
        assert store.get("naswot", "cifar100", arch, SETTINGS) == 3.0
        assert store.get("naswot", "cifar10", arch, '{"seed": 1}') == 4.0
        assert store.count() == 4
        assert store.count(proxy="naswot") == 3
        assert store.count(proxy="naswot", dataset="cifar10", settings=SETTINGS) == 1
        assert store.scored("naswot", "cifar10", SETTINGS) == {arch: 1.0}


def test_put_is_idempotent_and_refuses_conflicts(tmp_path: Path) -> None:
    arch = all_cells()[5]
    with ScoreStore(tmp_path / "s.db") as store:
        store.put("naswot", "cifar10", arch, SETTINGS, 1.5, 0.2)
        store.put("naswot", "cifar10", arch, SETTINGS, 1.5, 9.9)
        assert store.count() == 1
        with pytest.raises(StoreConflictError, match="refusing the different score"):
            store.put("naswot", "cifar10", arch, SETTINGS, 2.5, 0.2)
        assert store.get("naswot", "cifar10", arch, SETTINGS) == 1.5


def test_put_many_counts_new_rows_and_is_atomic(tmp_path: Path) -> None:
    archs = all_cells()[:10]
    with ScoreStore(tmp_path / "s.db") as store:
        rows = [("params", "cifar10", a, SETTINGS, float(i), 0.0) for i, a in enumerate(archs)]
        assert store.put_many(rows[:4]) == 4
        assert store.put_many(rows) == 6
        bad = [("params", "cifar10", all_cells()[20], SETTINGS, 1.0, 0.0),
               ("params", "cifar10", archs[0], SETTINGS, 99.0, 0.0)]  # conflicts
        with pytest.raises(StoreConflictError):
            store.put_many(bad)
        assert store.count() == 10  # the whole batch was rolled back
        assert store.scored("params", "cifar10", SETTINGS) == {a: float(i)
                                                                for i, a in enumerate(archs)}


@pytest.mark.parametrize(
    ("row", "error", "match"),
    [
        (("", "cifar10", 0, SETTINGS, 1.0, 0.0), TypeError, "proxy"),
        (("naswot", "cifar10", "|bogus|", SETTINGS, 1.0, 0.0), ValueError, "malformed arch"),
        (("naswot", "cifar10", 0, SETTINGS, "1.0", 0.0), TypeError, "score must be a float"),
        (("naswot", "cifar10", 0, None, 1.0, 0.0), TypeError, "settings"),
        (("naswot", "cifar10", 0, SETTINGS, 1.0, None), TypeError, "seconds"),
    ],
)
def test_bad_rows_are_refused(tmp_path: Path, row: tuple, error: type, match: str) -> None:
    row = tuple(str(arch_at(0)) if x == 0 and i == 2 else x for i, x in enumerate(row))
    with ScoreStore(tmp_path / "s.db") as store:
        with pytest.raises(error, match=match):
            store.put(*row)
        with pytest.raises(TypeError, match="store row"):
            store.put_many([row[:5]])
        assert store.count() == 0


def test_refuses_a_foreign_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    with pytest.raises(NotAStoreError, match="not a tfnas score store"):
        ScoreStore(path)


def test_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    ScoreStore(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    with pytest.raises(NotAStoreError, match="schema version 99"):
        ScoreStore(path)


def test_refuses_a_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    path.write_bytes(b"this is not an SQLite database at all" * 200)
    with pytest.raises(CorruptStoreError, match="not a readable tfnas score store"):
        ScoreStore(path)


def test_refuses_a_truncated_store(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with ScoreStore(path) as store:
        store.put_many([("p", "cifar10", a, SETTINGS, 1.0, 0.0) for a in all_cells()[:2000]])
    data = path.read_bytes()
    path.write_bytes(data[:100] + b"\xff" * 300 + data[400:])  # smash the header's tail
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    with pytest.raises(StoreError):
        with ScoreStore(path) as store:
            store.count()


def test_bad_paths(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        ScoreStore(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ScoreStore(tmp_path / "missing" / "s.db")


def test_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    ScoreStore(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


# -- processes --------------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys, time
    from tfnas.space import arch_at
    from tfnas.store import ScoreStore
    path, start, stop, pause = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    with ScoreStore(path) as store:
        for i in range(start, stop):
            if store.get("params", "cifar10", arch_at(i), "s") is None:
                store.put("params", "cifar10", arch_at(i), "s", float(i) * 0.5, 0.0)
            time.sleep(pause)
    """
)


def writer(path: Path, start: int, stop: int, pause: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(start), str(stop),
                             str(pause)], stderr=subprocess.PIPE)


def expected(start: int, stop: int) -> dict[Arch, float]:
    return {arch_at(i): i * 0.5 for i in range(start, stop)}


@pytest.mark.integration
def test_sigkilled_writer_loses_nothing_committed_and_resume_completes(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    ScoreStore(path).close()
    proc = writer(path, 0, 400, 0.01)
    try:
        deadline = time.monotonic() + 30
        with ScoreStore(path) as store:
            while store.count() < 20:
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline, "the writer wrote nothing in 30 s"
                time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    with ScoreStore(path) as store:
        got = store.scored("params", "cifar10", "s")
        assert 20 <= len(got) < 400  # killed mid-run
        assert all(got[a] == v for a, v in expected(0, 400).items() if a in got)
        assert store.count() == len(got)  # no duplicate rows
    resumed = writer(path, 0, 400, 0.0)
    assert resumed.wait(timeout=120) == 0, resumed.stderr.read().decode()
    resumed.stderr.close()
    with ScoreStore(path) as store:
        assert store.scored("params", "cifar10", "s") == expected(0, 400)
        assert store.count() == 400


@pytest.mark.integration
def test_two_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    # overlapping ranges: both processes write cells 150..249
    procs = [writer(path, 0, 250, 0.0), writer(path, 150, 400, 0.0)]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()
        proc.stderr.close()
    with ScoreStore(path) as store:
        assert store.scored("params", "cifar10", "s") == expected(0, 400)
        assert store.count() == 400


# -- locks, damage after open, and failed creation (issue 12, causes 6 and 10) -------------------

HOLDER = textwrap.dedent(
    """
    import sqlite3, sys, time
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    if sys.argv[2] == "exclusive-mode":
        db.execute("PRAGMA locking_mode = EXCLUSIVE")
    db.execute("BEGIN EXCLUSIVE")
    db.execute("SELECT count(*) FROM scores").fetchone()
    print("locked", flush=True)
    sys.stdin.read()  # hold the lock until the test closes our stdin
    db.execute("ROLLBACK")
    """
)


class Holder:
    """A real second process holding an exclusive SQLite lock on ``path`` until closed."""

    def __init__(self, path: Path, mode: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), mode],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.proc.stdout.readline() == b"locked\n"

    def __enter__(self) -> subprocess.Popen:
        return self.proc

    def __exit__(self, *exc: object) -> None:
        self.proc.stdin.close()
        assert self.proc.wait(timeout=20) == 0
        self.proc.stdout.close()


def one_line_error(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and len(text) <= 500, text
    return text


def healthy_store(path: Path, n: int = 30) -> dict[Arch, float]:
    rows = {a: float(i) for i, a in enumerate(all_cells()[:n])}
    with ScoreStore(path) as store:
        store.put_many([("params", "cifar10", a, SETTINGS, v, 0.0) for a, v in rows.items()])
    return rows


@pytest.mark.parametrize("mode", ["exclusive-transaction", "exclusive-mode"])
def test_a_locked_healthy_store_waits_then_says_locked_and_by_whom(tmp_path: Path,
                                                                   mode: str) -> None:
    path = tmp_path / "s.db"
    rows = healthy_store(path)
    with Holder(path, mode) as holder:
        start = time.monotonic()
        with pytest.raises(StoreLockedError) as caught:
            ScoreStore(path, timeout=0.5)
        waited = time.monotonic() - start
        text = one_line_error(caught.value)
    assert waited >= 0.5  # it waited the stated busy timeout before giving up
    assert "locked" in text and f"pid {holder.pid}" in text and "not damaged" in text
    assert "move it aside" not in text and "not a readable" not in text
    with ScoreStore(path) as store:  # the lock is gone and nothing was lost
        assert store.scored("params", "cifar10", SETTINGS) == rows


def test_a_lock_taken_after_open_is_a_one_line_store_error(tmp_path: Path) -> None:
    """A writer locked out mid-run gets StoreLockedError; WAL readers are never blocked."""
    path = tmp_path / "s.db"
    rows = healthy_store(path)
    arch = all_cells()[100]
    with ScoreStore(path, timeout=0.3) as store:
        with Holder(path, "exclusive-transaction") as holder:
            with pytest.raises(StoreLockedError) as caught:
                store.put("params", "cifar10", arch, SETTINGS, 1.0, 0.0)
            text = one_line_error(caught.value)
            assert "write scores to" in text and f"pid {holder.pid}" in text
            assert store.scored("params", "cifar10", SETTINGS) == rows  # reads still work
            assert store.get("params", "cifar10", arch, SETTINGS) is None
            assert store.count() == len(rows)
        store.put("params", "cifar10", arch, SETTINGS, 1.0, 0.0)  # released: works again
    with ScoreStore(path) as store:
        assert store.scored("params", "cifar10", SETTINGS) == {**rows, arch: 1.0}


def test_damage_found_after_open_is_a_one_line_corrupt_store_error(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with ScoreStore(path) as store:
        store.put_many([("p", "cifar10", a, SETTINGS, 1.0, 0.0) for a in all_cells()[:3000]])
    data = path.read_bytes()
    rng = __import__("random").Random(12)
    path.write_bytes(data[:4096] + rng.randbytes(len(data) - 4096))  # header fine, pages garbage
    with ScoreStore(path) as store:  # the header and schema page still open
        for call in (store.count, lambda: store.scored("p", "cifar10", SETTINGS)):
            with pytest.raises(CorruptStoreError, match="not a readable tfnas score store"):
                call()


@pytest.mark.parametrize(("column", "value"), [("arch", "|junk|"), ("arch", "x" * 100_000),
                                                ("score", "not a number"), ("score", b"\x00")])
def test_rows_not_written_by_tfnas_are_refused_in_one_line(tmp_path: Path, column: str,
                                                           value: object) -> None:
    path = tmp_path / "s.db"
    healthy_store(path, 3)
    db = sqlite3.connect(path)
    db.execute(f"UPDATE scores SET {column} = ? WHERE arch = ?", (value, str(all_cells()[0])))
    db.commit()
    db.close()
    with ScoreStore(path) as store, pytest.raises(CorruptStoreError) as caught:
        store.scored("params", "cifar10", SETTINGS)
    assert "not written by tfnas" in one_line_error(caught.value)


CREATE_UNDER_FSIZE = textwrap.dedent(
    """
    import resource, signal, sys
    from tfnas.store import ScoreStore, StoreError
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
    try:
        ScoreStore(sys.argv[1])
    except StoreError as exc:
        print(type(exc).__name__, exc)
        sys.exit(3)
    """
)


@pytest.mark.integration
def test_a_failed_creation_leaves_no_file_behind(tmp_path: Path) -> None:
    """A new store whose first write fails (a real EFBIG under RLIMIT_FSIZE) is removed."""
    path = tmp_path / "new.db"
    proc = subprocess.run([sys.executable, "-c", CREATE_UNDER_FSIZE, str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.count("\n") == 1 and "score store" in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.integration
def test_a_pipe_or_device_is_refused_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    code = "import sys; from tfnas.store import ScoreStore; ScoreStore(sys.argv[1])"
    for target in (fifo, Path("/dev/null")):
        proc = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True,
                              text=True, timeout=30)  # opening a fifo used to block forever
        assert "StoreError" in proc.stderr and "not a regular file" in proc.stderr


@pytest.mark.parametrize("path", ["x" * 100_000, "a\0b", ""])
def test_unusable_paths_are_one_bounded_line(tmp_path: Path, path: str) -> None:
    with pytest.raises(StoreError) as caught:
        ScoreStore(tmp_path / path if path else path)
    one_line_error(caught.value)


@pytest.mark.parametrize("timeout", [math.inf, math.nan, -1, 10**6, 10**400, "5", True])
def test_the_busy_timeout_is_bounded(tmp_path: Path, timeout: object) -> None:
    with pytest.raises(TfnasError) as caught:
        ScoreStore(tmp_path / "s.db", timeout=timeout)
    one_line_error(caught.value)
    assert not (tmp_path / "s.db").exists()


# -- fuzz: any bytes at a store path give scores or one line, in bounded memory ------------------


@pytest.fixture(scope="module")
def store_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real store of 300 rows (NaN and ±inf included), closed, as its file's bytes."""
    path = tmp_path_factory.mktemp("fuzz") / "base.db"
    values = [math.nan, math.inf, -math.inf, 0.0]
    with ScoreStore(path) as store:
        store.put_many([("params", "cifar10", a, SETTINGS, values[i % 4] if i < 8 else i * 0.25,
                         0.0) for i, a in enumerate(all_cells()[:300])])
    return path.read_bytes()


edits = st.lists(st.tuples(st.integers(0, 2**17), st.binary(min_size=1, max_size=64)), max_size=6)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=edits, cut=st.one_of(st.none(), st.integers(0, 2**17)))
def test_any_damage_gives_scores_or_one_store_error(tmp_path_factory: pytest.TempPathFactory,
                                                    store_bytes: bytes, edits: list, cut) -> None:
    """Overwritten and truncated store files: scores, or a one-line StoreError; never another
    exception, never more Python memory than 16 x the file + 4 MB."""
    data = bytearray(store_bytes)
    for offset, chunk in edits:
        data[offset : offset + len(chunk)] = chunk
    if cut is not None:
        del data[cut:]
    path = tmp_path_factory.mktemp("f") / "s.db"
    path.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        with ScoreStore(path, timeout=0.1) as store:
            scored = store.scored("params", "cifar10", SETTINGS)
            assert store.count() >= len(scored)
            assert all(isinstance(v, float) for v in scored.values())
            store.get("params", "cifar10", all_cells()[0], SETTINGS)
    except StoreError as exc:
        assert one_line_error(exc).isprintable()  # no raw bytes from the file
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak <= 16 * len(data) + 4 * 2**20


# -- other search spaces (issue 13): one file, rows of each space read back only as that space's --

size_cells = st.tuples(*[st.sampled_from(CANDIDATES)] * 5).map(SizeArch)


@given(arch=size_cells, score=floats)
def test_a_size_space_store_round_trips(tmp_path_factory: pytest.TempPathFactory, arch: SizeArch,
                                        score: float) -> None:
    path = tmp_path_factory.mktemp("sss") / "scores.sqlite"
    with ScoreStore(path, space="sss") as store:
        assert store.get("params", "cifar10", arch, SETTINGS) is None
        store.put("params", "cifar10", arch, SETTINGS, score, 0.5)
    with ScoreStore(path, space=SIZE) as store:
        got = store.get("params", "cifar10", str(arch), SETTINGS)
        assert got is not None and same(got, score)
        (back, value), = store.scored("params", "cifar10", SETTINGS).items()
        assert back == arch and isinstance(back, SizeArch) and same(value, score)
    with ScoreStore(path) as topology:  # the same file read for the topology space: none of it
        assert topology.scored("params", "cifar10", SETTINGS) == {} and topology.count() == 1


def test_rows_of_two_spaces_in_one_file_never_come_back_as_the_other(tmp_path: Path) -> None:
    path = tmp_path / "both.sqlite"
    tss = {arch_at(i): float(i) for i in (0, 1, 15624)}
    sss = {SIZE.arch_at(i): -float(i) for i in (0, 1, 32767)}
    with ScoreStore(path) as store:
        assert store.put_many([("params", "cifar10", a, SETTINGS, v, 0.0) for a, v in tss.items()]) == 3
    with ScoreStore(path, space="sss") as store:
        assert store.put_many([("params", "cifar10", a, SETTINGS, v, 0.0) for a, v in sss.items()]) == 3
        assert store.scored("params", "cifar10", SETTINGS) == sss
        assert store.count() == 6  # count() is of the file, every space
        assert store.get("params", "cifar10", SIZE.arch_at(1), SETTINGS) == -1.0
    with ScoreStore(path) as store:
        assert store.scored("params", "cifar10", SETTINGS) == tss
        assert all(type(a) is Arch for a in store.scored("params", "cifar10", SETTINGS))
    # the topology rows are spelled exactly as before: the schema and the keys did not change
    db = sqlite3.connect(path)
    archs = {row[0] for row in db.execute("SELECT arch FROM scores")}
    (schema,) = db.execute("SELECT sql FROM sqlite_master WHERE name='scores'").fetchone()
    db.close()
    assert archs == {str(a) for a in tss} | {str(a) for a in sss}
    assert " ".join(schema.split()) == " ".join("""CREATE TABLE scores ( proxy TEXT NOT NULL,
        dataset TEXT NOT NULL, arch TEXT NOT NULL, settings TEXT NOT NULL,
        score REAL, -- NULL encodes NaN
        seconds REAL NOT NULL, PRIMARY KEY (proxy, dataset, arch, settings) ) WITHOUT ROWID""".split())


def test_a_cell_of_another_space_is_refused_in_one_line(tmp_path: Path) -> None:
    with ScoreStore(tmp_path / "s.db") as topology, ScoreStore(tmp_path / "t.db", space="sss") as size:
        for store, cell, other in ((topology, SizeArch((8,) * 5), "sss"), (size, arch_at(3), "tss")):
            for method, args in (("put", (cell, SETTINGS, 1.0, 0.0)), ("get", (cell, SETTINGS))):
                with pytest.raises(StoreSpaceError) as caught:
                    getattr(store, method)("params", "cifar10", *args)
                assert f"open it with space='{other}'" in one_line_error(caught.value)
        # a string is read in the store's space: another space's spelling is malformed there
        with pytest.raises(ArchError, match="malformed"):
            topology.get("params", "cifar10", "8:8:8:8:8", SETTINGS)
        with pytest.raises(ArchError, match="malformed"):
            size.put("params", "cifar10", str(arch_at(0)), SETTINGS, 1.0, 0.0)
        assert topology.count() == size.count() == 0
    assert repr(size) == f"ScoreStore({str(tmp_path / 't.db')!r}, space='sss')"


@pytest.mark.parametrize("value", ["8:8:8:8", "08:8:8:8:8", "|junk|", 12345, b"8:8:8:8:8"])
def test_a_row_of_no_space_is_refused_in_one_line_by_any_space(tmp_path: Path, value: object) -> None:
    path = tmp_path / "s.db"
    with ScoreStore(path, space="sss") as store:
        store.put("params", "cifar10", SizeArch((8,) * 5), SETTINGS, 1.0, 0.0)
    db = sqlite3.connect(path)
    db.execute("UPDATE scores SET arch = ?", (value,))
    db.commit()
    db.close()
    for space in (SIZE, TOPOLOGY):
        with ScoreStore(path, space=space) as store, pytest.raises(CorruptStoreError) as caught:
            store.scored("params", "cifar10", SETTINGS)
        assert "not written by tfnas" in one_line_error(caught.value)


COLUMNS = ("proxy TEXT NOT NULL", "dataset TEXT NOT NULL", "arch TEXT NOT NULL",
           "settings TEXT NOT NULL", "score REAL", "seconds REAL NOT NULL")
KEY = "PRIMARY KEY (proxy, dataset, arch, settings)"


def _schema_variants() -> dict[str, list[str]]:
    """Schemas that carry the store's id and version but differ from its own in one way each."""
    table = lambda cols, key=KEY, tail=" WITHOUT ROWID": (  # noqa: E731
        f"CREATE TABLE scores ({', '.join([*cols, key] if key else cols)}){tail}")
    out = {
        "no primary key": [table(COLUMNS, key="", tail="")],
        "a rowid table": [table(COLUMNS, tail="")],
        "a shorter key": [table(COLUMNS, key="PRIMARY KEY (proxy, dataset, arch)")],
        "a reordered key": [table(COLUMNS, key="PRIMARY KEY (arch, proxy, dataset, settings)")],
        "an extra column": [table([*COLUMNS, "note TEXT"])],
        "a trigger": [table(COLUMNS), "CREATE TRIGGER t AFTER INSERT ON scores BEGIN "
                      "DELETE FROM scores; END"],
        "an extra index": [table(COLUMNS), "CREATE INDEX i ON scores (score)"],
        "a view": [table(COLUMNS), "CREATE VIEW v AS SELECT * FROM scores"],
        "another table": [table(COLUMNS), "CREATE TABLE other (x)"],
        "no scores table": ["CREATE TABLE other (x)"],
    }
    for i, col in enumerate(COLUMNS):
        name = col.split()[0]
        out[f"{name} without its type"] = [table([*COLUMNS[:i], name, *COLUMNS[i + 1:]])]
        if name in KEY:  # a WITHOUT ROWID key column is NOT NULL whether it says so or not
            continue
        changed = col.replace("NOT NULL", "") if "NOT NULL" in col else f"{col} NOT NULL"
        out[f"{name} nullability flipped"] = [table([*COLUMNS[:i], changed, *COLUMNS[i + 1:]])]
    return out


@pytest.mark.parametrize("variant", sorted(_schema_variants()))
def test_a_store_with_our_id_but_another_schema_is_refused_unchanged(variant: str,
                                                                      tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    db = sqlite3.connect(path)
    for statement in _schema_variants()[variant]:
        db.execute(statement)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(CorruptStoreError, match="not its schema") as info:
        ScoreStore(path)
    assert "\n" not in str(info.value) and len(str(info.value)) <= 500
    assert path.read_bytes() == before


def test_the_store_schema_check_accepts_what_tfnas_writes(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with ScoreStore(path) as store:
        store.put("p", "cifar10", ARCH, "k", 1.0, 0.1)
    with ScoreStore(path) as store:  # reopened: the schema it wrote is its own
        assert store.get("p", "cifar10", ARCH, "k") == 1.0
