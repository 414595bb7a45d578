"""The record of one search run: every evaluation, the selected cell and everything needed to
recompute a reported number (seeds, settings, scorer, time), serialisable to JSON and back."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

import numpy as np

from tfnas.errors import TfnasError, shown
from tfnas.spaces import DEFAULT_SPACE, Arch, UnknownSpaceError, get_space

TRACE_FORMAT = 1

CLOCKS = ("wall", "simulated")
"""``wall``: seconds measured while scoring; ``simulated``: NATS-Bench training time charged by the
accuracy oracle for every evaluation (as the reference code's ``simulate_train_eval``)."""


class TraceError(TfnasError, ValueError):
    """A trace (JSON) that is not what :meth:`Trace.to_dict` writes."""


class TraceTypeError(TraceError, TypeError):
    """A trace, or one of its fields, of the wrong JSON type."""


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
    if isinstance(x, str) and x in ("inf", "-inf", "nan"):
        return float(x)
    if isinstance(x, int | float) and not isinstance(x, bool):
        try:
            return float(x)
        except OverflowError:
            pass
    raise TraceTypeError(f"expected a number (or 'inf', '-inf', 'nan') in a trace, got {shown(x)}")


@dataclass
class Trace:
    """A search run. ``best`` is the first evaluated cell with the maximal score.

    ``space`` names the search space of the cells (``"tss"``, the default, is not written to
    JSON, so topology-space traces read and write exactly as before spaces existed).
    """

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
    space: str = DEFAULT_SPACE
    cpu_seconds: float | None = None
    """CPU seconds of this process over the run (``time.process_time``: every thread, only this
    process), beside ``wall_seconds``; None in traces written before it was recorded."""

    def __post_init__(self) -> None:
        if self.clock not in CLOCKS:
            raise TraceError(f"trace clock must be one of {CLOCKS}, got {shown(self.clock)}")
        try:
            self.space = get_space(self.space).name
        except UnknownSpaceError as exc:
            raise TraceError(f"trace field 'space': {exc}") from None
        if self.distinct < 0:
            self.distinct = len({e.arch for e in self.evaluations})

    @property
    def search_seconds(self) -> float:
        """Total search time in the trace's clock."""
        return self.evaluations[-1].cumulative_seconds if self.evaluations else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["format"] = TRACE_FORMAT
        if self.space == DEFAULT_SPACE:
            del data["space"]
        if self.cpu_seconds is None:  # traces without it read and write exactly as before
            del data["cpu_seconds"]
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
            raise TraceTypeError(f"a trace must be a JSON object, got {type(data).__name__}")
        if data.get("format") != TRACE_FORMAT:
            raise TraceError(
                f"unsupported trace format {shown(data.get('format'))}; expected {TRACE_FORMAT}"
            )
        missing = [key for key in _FIELDS if key not in data]
        if missing:
            raise TraceError(f"trace is missing the field {shown(missing[0])}")
        space_name = _text(data, "space") if "space" in data else DEFAULT_SPACE
        try:
            space = get_space(space_name)
        except UnknownSpaceError as exc:
            raise TraceError(f"trace field 'space': {exc}") from None
        try:
            return cls(
                algorithm=_text(data, "algorithm"), scorer=_text(data, "scorer"),
                dataset=_text(data, "dataset", optional=True), seed=_int(data, "seed"),
                settings=_object(data, "settings"), evaluations=_evaluations(data["evaluations"]),
                best=space.parse(_text(data, "best")),
                best_score=_float_from_json(data["best_score"]),
                accuracies=_accuracies(data["accuracies"]),
                wall_seconds=_float_from_json(data["wall_seconds"]),
                memoised=_bool(data, "memoised"), clock=_text(data, "clock"),
                distinct=_int(data, "distinct"), space=space.name,
                cpu_seconds=(None if data.get("cpu_seconds") is None
                             else _float_from_json(data["cpu_seconds"])),
            )
        except TraceError:
            raise
        except TfnasError as exc:  # a malformed arch string: say where it was
            raise TraceError(f"trace field: {exc}") from exc

    @classmethod
    def from_json(cls, text: str) -> Trace:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(_load_json(text))


_FIELDS = ("algorithm", "scorer", "dataset", "seed", "settings", "evaluations", "best",
           "best_score", "accuracies", "wall_seconds", "memoised", "clock", "distinct")


def _load_json(text: str) -> Any:
    """``json.loads`` with every failure (bad syntax, deep nesting, huge numbers) a TraceError."""
    if not isinstance(text, str | bytes):
        raise TraceTypeError(f"trace JSON must be text, got {type(text).__name__}")
    try:
        return json.loads(text)
    except RecursionError:
        raise TraceError("trace JSON is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, int digit limit
        raise TraceError(f"not valid trace JSON: {shown(str(exc))}") from None


def _wrong(key: str, expected: str, value: object) -> TraceTypeError:
    return TraceTypeError(f"trace field {key!r} must be {expected}, got {shown(value)}")


def _text(data: dict[str, Any], key: str, optional: bool = False) -> Any:
    value = data[key]
    if isinstance(value, str) or (optional and value is None):
        return value
    raise _wrong(key, "a string", value)


def _int(data: dict[str, Any], key: str) -> int:
    value = data[key]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _wrong(key, "an integer", value)


def _bool(data: dict[str, Any], key: str) -> bool:
    value = data[key]
    if isinstance(value, bool):
        return value
    raise _wrong(key, "true or false", value)


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data[key]
    if isinstance(value, dict):
        return dict(value)
    raise _wrong(key, "an object", value)


def _evaluations(rows: object) -> list[Evaluation]:
    if not isinstance(rows, list):
        raise _wrong("evaluations", "a list", rows)
    evaluations = []
    for row in rows:
        if not (isinstance(row, list) and len(row) == 4 and isinstance(row[0], str)):
            raise _wrong("evaluations", "a list of [arch, score, seconds, cumulative]", row)
        arch, score, seconds, cumulative = row
        evaluations.append(Evaluation(sys.intern(arch), _float_from_json(score), _float_from_json(seconds),
                                      _float_from_json(cumulative)))
    return evaluations


def _accuracies(value: object) -> dict[str, float] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise _wrong("accuracies", "null or an object of numbers", value)
    return {k: _float_from_json(v) for k, v in value.items()}


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and population standard deviation (``ddof=0``, NumPy's default, as NASWOT's code)."""
    if len(values) == 0:
        return math.nan, math.nan
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std())


def summarize(traces: Sequence[Trace]) -> dict[str, tuple[float, float]]:
    """Mean ± std over repeats of what the paper's tables report for the selected cells."""
    if not traces:
        raise TraceError("summarize needs at least one trace")
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


def _nested(text: str, depth: int) -> str:
    """JSON text written at ``indent=1`` moved ``depth`` levels in: every line after the first."""
    return text.replace("\n", "\n" + " " * depth)


def write_search_json(write: Callable[[str], object], summary: Mapping[str, object],
                      traces: Sequence[Trace]) -> None:
    """``{"summary": summary, "traces": [...]}`` at ``indent=1``, byte for byte what
    ``json.dumps`` writes, handed to ``write`` one trace at a time.

    Peak memory is one trace's text instead of the whole document's objects and text (several
    times the traces' own size at the bound of repeats x evaluations).
    """
    write('{\n "summary": ' + _nested(json.dumps(summary, indent=1, allow_nan=False), 1)
          + ',\n "traces": [')
    for i, trace in enumerate(traces):
        write(("," if i else "") + "\n  " + _nested(trace.to_json(indent=1), 2))
    write("\n ]\n}" if traces else "]\n}")


def traces_from_json(text: str) -> list[Trace]:
    """Inverse of :func:`traces_to_json`."""
    data = _load_json(text)
    if not isinstance(data, list):
        raise TraceTypeError(f"expected a JSON list of traces, got {type(data).__name__}")
    return [Trace.from_dict(d) for d in data]
