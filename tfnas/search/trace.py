"""The record of one search run: every evaluation, the selected cell and everything needed to
recompute a reported number (seeds, settings, scorer, time), serialisable to JSON and back."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

import numpy as np

from tfnas.space import Arch

TRACE_FORMAT = 1

CLOCKS = ("wall", "simulated")
"""``wall``: seconds measured while scoring; ``simulated``: NATS-Bench training time charged by the
accuracy oracle for every evaluation (as the reference code's ``simulate_train_eval``)."""


class Evaluation(NamedTuple):
    """One call of the scorer during a search."""

    arch: str
    score: float
    seconds: float
    """Seconds charged for this evaluation, in the trace's clock."""
    cumulative_seconds: float
    """Search time so far, this evaluation included, in the trace's clock."""


def _float_to_json(x: float) -> float | str:
    # JSON has no inf/nan; json.dumps would write non-standard tokens.
    return repr(x) if math.isinf(x) or math.isnan(x) else x


def _float_from_json(x: float | str | None) -> float:
    if isinstance(x, str):
        return float(x)
    if isinstance(x, int | float) and not isinstance(x, bool):
        return float(x)
    raise TypeError(f"expected a number in a trace, got {x!r}")


@dataclass
class Trace:
    """A search run. ``best`` is the first evaluated cell with the maximal score."""

    algorithm: str
    scorer: str
    dataset: str | None
    seed: int
    settings: dict[str, Any]
    evaluations: list[Evaluation]
    best: Arch
    best_score: float
    accuracies: dict[str, float] | None
    wall_seconds: float
    memoised: bool
    clock: str = "wall"
    distinct: int = field(default=-1)

    def __post_init__(self) -> None:
        if self.clock not in CLOCKS:
            raise ValueError(f"trace clock must be one of {CLOCKS}, got {self.clock!r}")
        if self.distinct < 0:
            self.distinct = len({e.arch for e in self.evaluations})

    @property
    def search_seconds(self) -> float:
        """Total search time in the trace's clock."""
        return self.evaluations[-1].cumulative_seconds if self.evaluations else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["format"] = TRACE_FORMAT
        data["best"] = str(self.best)
        data["best_score"] = _float_to_json(self.best_score)
        data["evaluations"] = [
            [e.arch, _float_to_json(e.score), e.seconds, e.cumulative_seconds]
            for e in self.evaluations
        ]
        return data

    def to_json(self, indent: int | None = None) -> str:
        """JSON text (strict: infinities and NaN are written as strings)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trace:
        if not isinstance(data, dict):
            raise TypeError(f"a trace must be a JSON object, got {type(data).__name__}")
        if data.get("format") != TRACE_FORMAT:
            raise ValueError(
                f"unsupported trace format {data.get('format')!r}; expected {TRACE_FORMAT}"
            )
        try:
            evaluations = [
                Evaluation(str(a), _float_from_json(s), float(t), float(c))
                for a, s, t, c in data["evaluations"]
            ]
            return cls(
                algorithm=data["algorithm"], scorer=data["scorer"], dataset=data["dataset"],
                seed=int(data["seed"]), settings=dict(data["settings"]), evaluations=evaluations,
                best=Arch.parse(data["best"]), best_score=_float_from_json(data["best_score"]),
                accuracies=data["accuracies"], wall_seconds=float(data["wall_seconds"]),
                memoised=bool(data["memoised"]), clock=data["clock"],
                distinct=int(data["distinct"]),
            )
        except KeyError as exc:
            raise ValueError(f"trace is missing the field {exc.args[0]!r}") from exc

    @classmethod
    def from_json(cls, text: str) -> Trace:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and population standard deviation (``ddof=0``, NumPy's default, as NASWOT's code)."""
    if len(values) == 0:
        return math.nan, math.nan
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std())


def summarize(traces: Sequence[Trace]) -> dict[str, tuple[float, float]]:
    """Mean ± std over repeats of what the paper's tables report for the selected cells."""
    if not traces:
        raise ValueError("summarize needs at least one trace")
    summary = {
        "score": mean_std([t.best_score for t in traces]),
        "search_seconds": mean_std([t.search_seconds for t in traces]),
        "wall_seconds": mean_std([t.wall_seconds for t in traces]),
    }
    if all(t.accuracies is not None for t in traces):
        for key in ("valid12", "test200"):
            summary[key] = mean_std([t.accuracies[key] for t in traces])  # type: ignore[index]
    return summary


def traces_to_json(traces: Sequence[Trace], indent: int | None = None) -> str:
    """A list of traces (e.g. the repeats of one experiment) as JSON text."""
    return json.dumps([t.to_dict() for t in traces], indent=indent, allow_nan=False)


def traces_from_json(text: str) -> list[Trace]:
    data = json.loads(text)
    if not isinstance(data, list):
        raise TypeError(f"expected a JSON list of traces, got {type(data).__name__}")
    return [Trace.from_dict(d) for d in data]
