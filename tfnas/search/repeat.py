"""Independent repeats of a search, with per-run seeds derived from one master seed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tfnas.checks import check_int
from tfnas.search.trace import Trace


def run_seeds(seed: int, repeats: int) -> list[int]:
    """``repeats`` independent 63-bit seeds spawned from ``numpy.random.SeedSequence(seed)``."""
    check_int("seed", seed, 0)
    check_int("repeats", repeats, 1)
    children = np.random.SeedSequence(seed).spawn(repeats)
    return [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for c in children]


def repeat(search: Callable[..., Trace], repeats: int, seed: int, **kwargs: Any) -> list[Trace]:
    """Run ``search(seed=s_i, **kwargs)`` for each derived seed; every trace records its own seed
    (``trace.seed``) and the master seed and repeat number (in ``trace.settings``)."""
    if not callable(search):
        raise TypeError(f"search must be callable (random_search or rea), got {search!r}")
    traces = []
    for i, run_seed in enumerate(run_seeds(seed, repeats)):
        trace = search(seed=run_seed, **kwargs)
        trace.settings.update(master_seed=seed, repeat=i, repeats=repeats)
        traces.append(trace)
    return traces
