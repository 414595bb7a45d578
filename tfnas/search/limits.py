"""The bounds of every search size and budget, each with the reason a message repeats.

They are generous (well past the papers' settings) but finite, so that no argument, typed by
mistake or on purpose, starts a run that never ends or fills memory. A trace keeps every
evaluation (~150 bytes each, measured: tests/test_search_memory.py) and the oracle evaluates ~10,000 cells a second.
"""

from __future__ import annotations

from tfnas.spaces import SearchSpace


def max_n(space: SearchSpace) -> tuple[int, str]:
    """The bound of random search's ``n`` in ``space`` and its reason (the space's size)."""
    return space.size, f"random search draws distinct cells and {space.described} has {space.size:,}"


def max_population(space: SearchSpace) -> tuple[int, str]:
    """The bound of REA's ``population`` in ``space`` and its reason."""
    return space.size, (f"a population cannot usefully exceed the {space.size:,} cells of "
                        f"{space.described}")


MAX_CYCLES = 100_000
WHY_CYCLES = ("over 6x the space and 100x the paper's 1,000; REA then mostly revisits cells, and "
              "every evaluation stays in the trace")

MAX_REPEATS = 10_000
WHY_REPEATS = "the papers average 30 to 500 runs; 10,000 pins a mean to 1% of its spread"

MAX_TOTAL_EVALUATIONS = 2_000_000
STATED_TRACE_BYTES = 400 * 10**6
"""What a search's traces may take at :data:`MAX_TOTAL_EVALUATIONS`, ``--json`` included (it
streams one trace at a time), above the process's own baseline: the traces measured ~120-150 bytes
per evaluation (peak RSS of ``tfnas search random --table --json`` at 10,000 and 160,000
evaluations; a cell's string is interned, so held once), ~300 MB at the bound. The interpreter and
torch come on top: ~300 MB with torch's CPU build, ~600 MB with a CUDA build (torch 2.14.1, measured
2026-12-06). The statement was "700 MB for the whole process" while only the CPU build was
supported; it is the same 400 MB for the traces. tests/test_search_memory.py asserts
slope x bound <= this."""
WHY_TOTAL = ("all runs' traces stay in memory, ~150 bytes per evaluation: under 400 MB at the "
             "bound, beside the interpreter and torch")

MAX_TIME_BUDGET = 30 * 24 * 3600
WHY_TIME_BUDGET = "30 days, over 20x NATS-Bench's largest budget of 120,000 s"
