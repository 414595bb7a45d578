"""A live search keeps every score as it goes: interrupted, it resumes from its store, and its
trace file holds each evaluation made before the interruption."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.integration  # real searches in subprocesses, interrupted by signals

ARGS = ["search", "rea", "--proxy", "synflow", "--dataset", "cifar10", "--cycles", "60",
        "--population", "8", "--sample", "3", "--seed", "3"]


def _selected(out: str) -> str:
    return next(line for line in out.splitlines() if line.startswith("selected: "))


def _default_sigint() -> None:
    # A background job starts with SIGINT ignored, and Python then keeps it ignored: restore the
    # default so that the child turns SIGINT into KeyboardInterrupt as under a terminal.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_live_search_resumes_from_its_default_store(tmp_path, stop):
    env = dict(os.environ, TFNAS_CACHE=str(tmp_path / "cache"), TFNAS_PROGRESS_SECONDS="0.01")
    trace = tmp_path / "trace.jsonl"
    cmd = [sys.executable, "-m", "tfnas", *ARGS, "--trace", str(trace)]
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, preexec_fn=_default_sigint)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if trace.exists() and len(trace.read_text().splitlines()) >= 10:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the search ended before it could be interrupted"
    process.send_signal(stop)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "run the same command to resume" in err and "Traceback" not in err, err
    assert "evals" in err  # progress lines went to the log (stderr is a pipe here)
    kept = [json.loads(line) for line in trace.read_text().splitlines()]
    assert len(kept) >= 10 and {row["run"] for row in kept} == {0}
    assert (tmp_path / "cache" / "scores-tss.sqlite").is_file()

    resumed = subprocess.run([sys.executable, "-m", "tfnas", *ARGS, "--quiet"], env=env,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    hits = int(resumed.stderr.split(" of ")[0].split()[-1].replace(",", ""))
    distinct = len({row["arch"] for row in kept})
    assert hits >= distinct  # every cell scored before the interruption is read back
    fresh = subprocess.run([sys.executable, "-m", "tfnas", *ARGS, "--no-store", "--quiet"],
                           env=env, capture_output=True, text=True, timeout=600)
    assert fresh.returncode == 0, fresh.stderr
    assert "read from the store" not in fresh.stderr
    assert _selected(resumed.stdout) == _selected(fresh.stdout)


def test_a_stop_inside_a_cleanup_is_still_a_stop():
    """A SIGTERM/SIGINT landing inside torch's mode stack makes the context manager's exit raise
    RuntimeError('trying to pop from empty mode stack') with the stop as its context: the CLI
    must still report an interrupted search (exit 130), not an internal error."""
    from tfnas.cli import interrupted_by

    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise RuntimeError("trying to pop from empty mode stack")  # noqa: B904
    except RuntimeError as exc:
        assert interrupted_by(exc)
    assert not interrupted_by(RuntimeError("a bug"))
    loop = RuntimeError("x")
    loop.__context__ = loop
    assert not interrupted_by(loop)
