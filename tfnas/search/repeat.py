"""Independent repeats of a search, with per-run seeds derived from one master seed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tfnas.checks import MAX_SEED, WHY_SEED, ArgumentError, ArgumentTypeError, check_int
from tfnas.errors import shown
from tfnas.search.limits import MAX_REPEATS, MAX_TOTAL_EVALUATIONS, WHY_REPEATS, WHY_TOTAL
from tfnas.search.trace import Trace


def check_repeats(repeats: object, per_run: int | None = None) -> int:
    """``repeats`` if it is in ``1..MAX_REPEATS`` and, when each run makes at most ``per_run``
    evaluations, the runs together make at most ``MAX_TOTAL_EVALUATIONS``."""
    check_int("repeats", repeats, 1, MAX_REPEATS, WHY_REPEATS)
    if per_run is not None and repeats * per_run > MAX_TOTAL_EVALUATIONS:  # type: ignore[operator]
        raise ArgumentError(
            f"repeats x evaluations per run must be <= {MAX_TOTAL_EVALUATIONS:,} ({WHY_TOTAL}), "
            f"got {repeats:,} x {per_run:,}"
        )
    return repeats  # type: ignore[return-value]


def run_seeds(seed: int, repeats: int) -> list[int]:
    """``repeats`` independent 63-bit seeds spawned from ``numpy.random.SeedSequence(seed)``."""
    check_int("seed", seed, 0, MAX_SEED, WHY_SEED)
    check_repeats(repeats)
    children = np.random.SeedSequence(seed).spawn(repeats)
    return [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for c in children]


def _per_run(kwargs: dict[str, Any]) -> int | None:
    """The evaluations one run makes at most, when its arguments say (``n`` or ``cycles``)."""
    for key in ("n", "cycles"):
        value = kwargs.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def repeat(search: Callable[..., Trace], repeats: int, seed: int, *,
           progress: bool | None = None, **kwargs: Any) -> list[Trace]:
    """Run ``search(seed=s_i, **kwargs)`` for each derived seed; every trace records its own seed
    (``trace.seed``) and the master seed and repeat number (in ``trace.settings``). ``kwargs``
    go to every run unchanged (``space="sss"`` searches the size space).

    ``progress``: shown as :mod:`tfnas.progress` does (``None``: a bar on a terminal or in a
    notebook, a line every 30 s in logs; ``False``: nothing), beside any ``on_evaluation``.

    The runs together may make at most ``MAX_TOTAL_EVALUATIONS`` evaluations: checked up front
    when ``n``/``cycles`` say how many a run makes, else (a time budget) after each run.
    """
    if not callable(search):
        raise ArgumentTypeError(f"search must be callable (random_search or rea), got "
                                f"{type(search).__name__} {shown(search)}")
    from tfnas.progress import Progress

    per_run = _per_run(kwargs)
    check_repeats(repeats, per_run)
    name = getattr(search, "__name__", "search")
    bar = Progress(None if per_run is None else per_run * repeats, name, "eval", show=progress)
    observer = kwargs.pop("on_evaluation", None)

    def on_evaluation(evaluation: Any) -> None:
        bar.update(1)
        if observer is not None:
            observer(evaluation)

    if progress is not False or observer is not None:  # a search that takes no observer runs as is
        kwargs["on_evaluation"] = on_evaluation
    with bar:
        return _runs(search, repeats, seed, kwargs)


def _runs(search: Callable[..., Trace], repeats: int, seed: int,
          kwargs: dict[str, Any]) -> list[Trace]:
    traces = []
    total = 0
    for i, run_seed in enumerate(run_seeds(seed, repeats)):
        trace = search(seed=run_seed, **kwargs)
        trace.settings.update(master_seed=seed, repeat=i, repeats=repeats)
        traces.append(trace)
        total += len(trace.evaluations)
        if total > MAX_TOTAL_EVALUATIONS and i + 1 < repeats:
            raise ArgumentError(
                f"the first {i + 1:,} of {repeats:,} runs made {total:,} evaluations, past the "
                f"bound of {MAX_TOTAL_EVALUATIONS:,} ({WHY_TOTAL}); use fewer repeats or a "
                "smaller budget"
            )
    return traces
