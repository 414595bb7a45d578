"""Progress: a bar on a terminal, periodic lines with rate and ETA in logs, nothing when quiet."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tfnas.checks import ArgumentTypeError
from tfnas.progress import INTERVAL_SECONDS, Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_lines_with_count_rate_and_eta(monkeypatch):
    monkeypatch.setenv("TFNAS_PROGRESS_SECONDS", "1e-9")
    log = io.StringIO()
    with Progress(4, "search", "eval", stream=log) as bar:
        for _ in range(4):
            bar.update(1, "rea")
    lines = log.getvalue().splitlines()
    assert len(lines) == 5  # one per update and the last one
    assert lines[1].startswith("search: 2/4 evals (50%), ") and "ETA" in lines[1] and "[rea]" in lines[1]
    assert lines[-1].endswith("[done]")


def test_an_interrupted_loop_says_so(monkeypatch):
    monkeypatch.setenv("TFNAS_PROGRESS_SECONDS", "1e-9")
    log = io.StringIO()
    with pytest.raises(KeyboardInterrupt), Progress(None, "sweep", "cell", stream=log) as bar:
        bar.update(3)
        raise KeyboardInterrupt
    assert log.getvalue().splitlines()[-1].startswith("sweep: 3 cells, ")
    assert log.getvalue().rstrip().endswith("[interrupted]")


def test_short_loops_and_quiet_ones_print_nothing(monkeypatch):
    log = io.StringIO()
    with Progress(3, "x", stream=log) as bar:
        bar.update(3)
    assert log.getvalue() == ""  # shorter than the interval
    monkeypatch.setenv("TFNAS_PROGRESS_SECONDS", "1e-9")
    for options in ({"quiet": True}, {"show": False}):
        with Progress(3, "x", stream=log, **options) as bar:
            bar.update(3)
        assert log.getvalue() == ""


def test_a_terminal_gets_a_bar():
    screen = _Terminal()
    with Progress(2, "sweep", "cell", stream=screen) as bar:
        bar.update(2)
    assert "2/2" in screen.getvalue() and "\r" in screen.getvalue()


@given(st.text(max_size=12))
def test_a_bad_interval_falls_back_to_the_default(text):
    import os

    from tfnas.progress import interval_seconds

    saved = os.environ.get("TFNAS_PROGRESS_SECONDS")
    os.environ["TFNAS_PROGRESS_SECONDS"] = text.replace("\x00", "")
    try:
        value = interval_seconds()
    finally:
        if saved is None:
            os.environ.pop("TFNAS_PROGRESS_SECONDS")
        else:
            os.environ["TFNAS_PROGRESS_SECONDS"] = saved
    assert value > 0 and value == value and value != float("inf")
    assert value == INTERVAL_SECONDS or float(text) == value


def test_show_is_checked():
    with pytest.raises(ArgumentTypeError):
        Progress(1, "x", show="yes")  # type: ignore[arg-type]
