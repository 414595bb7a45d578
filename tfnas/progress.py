"""Progress of long loops (searches, sweeps, populations), wherever they run.

On a terminal or in a notebook a tqdm bar (``tqdm.auto``); anywhere else (a log file, CI, nohup,
a pipe) one line every :data:`INTERVAL_SECONDS` with the count, rate and ETA, and a last line when
a loop that has reported ends, so that a long run is never silent and a short one adds nothing. ``quiet=True`` (the CLI's ``--quiet``) shows
nothing. ``show=None`` decides by where the stream goes; ``True``/``False`` force it.
"""

from __future__ import annotations

import math
import os
import sys
import time
from types import TracebackType
from typing import TextIO

from tfnas.checks import ArgumentTypeError
from tfnas.errors import shown

INTERVAL_SECONDS = 30.0
"""Seconds between two report lines when the stream is not a terminal; the environment variable
``TFNAS_PROGRESS_SECONDS`` overrides it (a positive number)."""


def interval_seconds() -> float:
    """The seconds between two report lines (:data:`INTERVAL_SECONDS` or the environment's)."""
    text = os.environ.get("TFNAS_PROGRESS_SECONDS", "")
    try:
        value = float(text) if text else INTERVAL_SECONDS
    except ValueError:
        return INTERVAL_SECONDS
    return value if math.isfinite(value) and value > 0 else INTERVAL_SECONDS


def in_notebook() -> bool:
    """True inside a Jupyter kernel, where tqdm.auto draws a widget."""
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    get = getattr(shell, "get_ipython", None)
    return get is not None and get() is not None and hasattr(get(), "kernel")


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


class Progress:
    """Counts work done; shows it as a bar (terminal, notebook) or as periodic lines (logs).

    Use as a context manager, calling :meth:`update` per item; :attr:`done` is the count.
    """

    def __init__(self, total: int | None, desc: str, unit: str = "item", *, quiet: bool = False,
                 show: bool | None = None, stream: TextIO | None = None) -> None:
        if show not in (None, True, False):
            raise ArgumentTypeError(f"show must be True, False or None, got {shown(show)}")
        self.total, self.desc, self.unit = total, desc, unit
        self.stream = sys.stderr if stream is None else stream
        self.done = 0
        self.start = time.monotonic()
        self._bar = None
        self._lines = False
        self._reported = False
        self._next = self.start + interval_seconds()
        if quiet or show is False:
            return
        interactive = in_notebook() or _isatty(self.stream)
        if interactive:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, file=self.stream,
                             dynamic_ncols=True, smoothing=0.05)
        else:
            self._lines = True

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close(interrupted=kind is not None)

    def update(self, n: int = 1, note: str = "") -> None:
        """Count ``n`` more items (``note``: shown beside the bar, e.g. the current job)."""
        self.done += n
        if self._bar is not None:
            if note:
                self._bar.set_postfix_str(note, refresh=False)
            self._bar.update(n)
        elif self._lines and time.monotonic() >= self._next:
            self._write(note)
            self._next = time.monotonic() + interval_seconds()

    def line(self, note: str = "") -> str:
        """The report line: count (of total, percent), rate, ETA or elapsed time."""
        elapsed = time.monotonic() - self.start
        rate = self.done / elapsed if elapsed > 0 else math.nan
        count = f"{self.done:,}"
        tail = f"{_duration(elapsed)} elapsed"
        if self.total:
            count += f"/{self.total:,} {self.unit}s ({100 * self.done / self.total:.0f}%)"
            left = (self.total - self.done) / rate if rate > 0 else math.inf
            tail += f", ETA {_duration(left)}"
        else:
            count += f" {self.unit}s"
        speed = f"{rate:.3g} {self.unit}s/s" if math.isfinite(rate) else "- /s"
        return f"{self.desc}: {count}, {speed}, {tail}" + (f" [{note}]" if note else "")

    def _write(self, note: str = "") -> None:
        try:
            print(self.line(note), file=self.stream, flush=True)
            self._reported = True
        except (OSError, ValueError):  # the log went away: progress is not worth failing for
            self._lines = False

    def close(self, interrupted: bool = False) -> None:
        """End the bar, or write the last line (marked when the loop was interrupted)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._lines:
            if self._reported:
                self._write("interrupted" if interrupted else "done")
            self._lines = False


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False
