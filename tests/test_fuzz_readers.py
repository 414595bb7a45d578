"""Every path reader refuses what is not a regular file, bounds what it reads, and every rewrite is
atomic.

The readers are listed once (:data:`READERS`); each is tried on every kind of path a careless or
hostile user can hand it (a FIFO with no writer, a character device, a directory, a symlink loop,
a dangling link, a name too long, a sparse file over every bound). The contract: a ``TfnasError`` whose
message is one line, within seconds (an alarm turns a hang into a failure), and for the huge file
a tracemalloc peak far below the file's size. The noise cells reader, new in this pass, is fuzzed
as the old readers are; the atomic writer is killed part-way by a file-size limit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.crosscheck import read_foreign
from harness.noise import MAX_CELLS_BYTES, NoiseError, read_cells
from harness.proxy_table import BEGIN, END, ProxyTableError, read_target, rewrite
from harness.registry import load_registry
from harness.results import load_results
from tfnas.bounded import read_file, sha256_file, write_atomic
from tfnas.errors import TfnasError
from tfnas.images import read_image_file
from tfnas.nats_archive import load_file
from tfnas.safe_pickle import load_path
from tfnas.space import SPACE_SIZE
from tfnas.spot import read_spot
from tfnas.tables import read_table


class Refused(TfnasError):
    """The error the bounded primitives raise in these tests."""


READERS: dict[str, Callable[[Path], object]] = {
    "noise cells": read_cells,
    "foreign scores": read_foreign,
    "spot reference": read_spot,
    "generated-block target": read_target,
    "results JSON": load_results,
    "claims file": lambda p: load_registry([p]),
    "score table": read_table,
    "image file": lambda p: read_image_file(p, "cifar10"),
    "NATS archive file": load_file,
    "pickle": load_path,
    "bounded read": lambda p: read_file(p, 1 << 20, Refused, "file", "expected a small file"),
    "bounded hash": lambda p: sha256_file(p, 1 << 20, Refused, "file"),
}


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail instead of hanging: SIGALRM after ``seconds``."""
    def fire(signum: int, frame: object) -> None:
        raise TimeoutError(f"the reader did not return within {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def special_path(kind: str, tmp: Path) -> Path:
    """A path of the given kind inside ``tmp``."""
    path = tmp / "input.csv.gz"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "char device":
        path.symlink_to("/dev/zero")
    elif kind == "directory":
        path.mkdir()
    elif kind == "symlink loop":
        path.symlink_to(tmp / "other")
        (tmp / "other").symlink_to(path)
    elif kind == "dangling link":
        path.symlink_to(tmp / "nowhere")
    elif kind == "name too long":
        path = tmp / ("x" * 300)
    elif kind == "missing":
        pass
    elif kind == "huge sparse file":
        with open(path, "wb") as handle:
            handle.truncate(2**30 + 2**20)  # over every reader's bound, and costs no disk
    return path


KINDS = ("fifo", "char device", "directory", "symlink loop", "dangling link", "name too long",
         "missing", "huge sparse file")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reader", sorted(READERS))
def test_every_reader_refuses_what_is_not_a_small_regular_file(reader: str, kind: str,
                                                              tmp_path: Path) -> None:
    if kind == "char device" and not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero on this host")
    path = special_path(kind, tmp_path)
    tracemalloc.start()
    try:
        with deadline(20), pytest.raises(TfnasError) as info:
            READERS[reader](path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert "\n" not in message and 0 < len(message) <= 500, message
    assert peak < 40 * 2**20, f"{reader} took {peak} bytes on a {kind}"


@pytest.mark.parametrize("kind", ("fifo", "char device", "directory"))
def test_a_writer_refuses_to_replace_what_is_not_a_regular_file(kind: str, tmp_path: Path) -> None:
    path = special_path(kind, tmp_path)
    with deadline(20), pytest.raises(Refused, match="expected a regular file"):
        write_atomic(path, b"data", Refused, "output")
    assert not path.is_file() or kind == "char device"


# --- the noise cells file -------------------------------------------------------------------------

index_lines = st.integers(0, SPACE_SIZE - 1).map(str)
hostile_lines = st.one_of(
    index_lines,
    st.integers(-5, 10**12).map(str),
    st.sampled_from(["٣", "１２", "007", "+5", " 5", "5 ", "5\r", "0x10", "1e3", "", "#", "# top",
                     "# top 3 of x", "# top -1", "# top ٣", "# top 99999999999"]),
    st.text(max_size=12),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(hostile_lines, max_size=30))
def test_a_cells_file_is_valid_or_one_line(lines: list[str], tmp_path: Path) -> None:
    path = tmp_path / "cells.txt"
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass"))
    try:
        top, uniform = read_cells(path)
    except NoiseError as exc:
        assert "\n" not in str(exc) and len(str(exc)) <= 500
        return
    cells = [*top.tolist(), *uniform.tolist()]
    assert all(0 <= c < SPACE_SIZE for c in cells)
    assert len(set(cells)) == len(cells)
    rows = [ln for ln in lines if ln and not ln.startswith("#")]
    assert [str(c) for c in cells] == rows  # every row was a plain decimal, in order
    assert sum(ln.startswith("# top ") for ln in lines) >= 1


@given(k=st.integers(0, 40), extra=st.integers(0, 40), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_well_formed_cells_file_reads_back(k: int, extra: int, seed: int, tmp_path: Path) -> None:
    import random

    cells = random.Random(seed).sample(range(SPACE_SIZE), k + extra)
    path = tmp_path / "cells.txt"
    path.write_text(f"# top {k} of a table, then uniform cells\n" + "".join(f"{c}\n" for c in cells))
    top, uniform = read_cells(path)
    assert top.tolist() == cells[:k] and uniform.tolist() == cells[k:]


def test_a_cells_file_over_its_bound_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "cells.txt"
    path.write_bytes(b"# top 1\n" + b"1\n" * (MAX_CELLS_BYTES // 2))
    with pytest.raises(NoiseError, match="over"):
        read_cells(path)


# --- atomic rewrites ------------------------------------------------------------------------------

def test_rewrite_changes_only_the_block_and_refuses_a_file_without_markers(tmp_path: Path) -> None:
    path = tmp_path / "README.md"
    path.write_bytes(f"head\r\n{BEGIN}\nold\n{END}\ntail\n".encode())
    assert rewrite(path, "new").stale
    assert path.read_bytes() == f"head\r\n{BEGIN}\nnew\n{END}\ntail\n".encode()
    path.write_text("no markers\n")
    with pytest.raises(ProxyTableError, match="exactly one"):
        read_target(path)


WRITE_UNDER_LIMIT = textwrap.dedent("""
    import resource, signal, sys
    from pathlib import Path
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), int(sys.argv[2])))
    from harness.proxy_table import rewrite
    from tfnas.errors import TfnasError
    try:
        rewrite(Path(sys.argv[1]), "x" * int(sys.argv[3]))
    except TfnasError as exc:
        print("refused:", exc)
        sys.exit(1)
""")


@pytest.mark.integration
@pytest.mark.parametrize("new_size", [4096, 100_000])
def test_a_rewrite_that_fails_part_way_leaves_the_file_as_it_was(new_size: int,
                                                                 tmp_path: Path) -> None:
    path = tmp_path / "README.md"
    old = f"intro\n{BEGIN}\nthe old block\n{END}\nend\n".encode()
    path.write_bytes(old)
    done = subprocess.run([sys.executable, "-c", WRITE_UNDER_LIMIT, str(path), "2048",
                           str(new_size)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "refused:" in done.stdout and "left unchanged" in done.stdout
    assert "Traceback" not in done.stderr
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md"]  # no temporary left


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(old=st.binary(max_size=2000), new=st.binary(max_size=2000),
       mode=st.sampled_from([0o600, 0o644, 0o640]))
def test_write_atomic_replaces_all_at_once_and_keeps_the_mode(old: bytes, new: bytes, mode: int,
                                                              tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    path.write_bytes(old)
    path.chmod(mode)
    write_atomic(path, new, Refused, "output")
    assert path.read_bytes() == new
    assert path.stat().st_mode & 0o777 == mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]
